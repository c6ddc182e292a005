"""Cost of our solve alone, in CPU seconds and full-dictionary passes (no peers; quick to rerun).

    python benchmarks/solver_passes.py --steps 16 --losses squared cross_entropy --regs 1e-2 1e-3
    python benchmarks/solver_passes.py --instances mnist addition --losses cross_entropy --compare

``--instances``: ``xor`` (below), ``mnist`` (mnist-seq, 10 classes) and ``addition`` (two heads,
trajectory layout, ramped row weights), as in ``solver.py``. ``--compare`` solves every
multi-class / multi-head point three times, alternating the working-set solvers: the row sweeps
(``newton.py``), the Gram solver (``gram_softmax.py``) and the library's routing between them
(``auto``: by rows per atom and column coherence); without it only ``auto`` runs.

First-last-XOR dictionary (as in ``solver.py``, N = 4,000 rows), one thread. Prints CPU seconds,
the certified gap, ``ConvexSolution.n_passes`` and ``time/pass`` = CPU time / CPU time of one
product ``D^T Theta`` over the whole compact design. Targets (issue 11): <= 200 passes at 1e-3,
<= 1,000 at 1e-4.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse
import sys
import time
import warnings


from _meta import run_meta  # noqa: E402 (benchmarks/ on sys.path)
from solver import addition_instance, ce_loss, mnist_instance, one_pass_cpu, onehot, xor_instance  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--rows", type=int, default=4000)
    ap.add_argument("--losses", nargs="+", default=["squared", "cross_entropy"])
    ap.add_argument("--regs", type=float, nargs="+", default=[1e-2, 1e-3, 1e-4])
    ap.add_argument("--instances", nargs="+", default=["xor"], choices=["xor", "mnist", "addition"])
    ap.add_argument("--compare", action="store_true", help="row sweeps vs Gram solver on multi-class CE")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from spikeopt.convex.solver import solve

    import spikeopt.convex.newton as newton

    meta = run_meta()
    routing = newton._GRAM_ROWS_PER_ATOM, newton._GRAM_CONDITION
    for inst in args.instances:
        if inst == "xor":
            name, (D, y, w, heads) = f"xor-T{args.steps}-N{args.rows}", xor_instance(args.steps, args.rows)
        else:
            name, (D, y, w, heads) = inst, (mnist_instance() if inst == "mnist" else addition_instance())
        print(f"{name}: D {D.shape[0]} x {D.shape[1]}; load average {meta['load_average_1min']:.2f}", flush=True)
        for loss_kind in args.losses:
            Y = onehot(y, heads) if loss_kind == "squared" else y
            loss = "squared" if loss_kind == "squared" else ce_loss(heads)
            c = Y.shape[1] if loss_kind == "squared" else sum(h.classes for h in heads)
            pass_s = one_pass_cpu(D, c)
            multi = loss_kind != "squared" and c > 2
            inf = float("inf")
            modes = [("rows", (inf, inf)), ("gram", (0, 0.0))] if (args.compare and multi) else []
            modes.append(("auto", routing))
            with warnings.catch_warnings():  # compile the kernels before any timing
                warnings.simplefilter("ignore")
                for _, route in modes:
                    newton._GRAM_ROWS_PER_ATOM, newton._GRAM_CONDITION = route
                    solve(D, Y, args.regs[0], loss, sample_weight=w, max_iter=30)
            for reg in args.regs:
                for mode, route in modes:
                    newton._GRAM_ROWS_PER_ATOM, newton._GRAM_CONDITION = route
                    t = time.process_time()
                    s = solve(D, Y, reg, loss, sample_weight=w, max_iter=1_000_000)
                    el = time.process_time() - t
                    print(f"{loss_kind:14s} {mode:4s} reg {reg:7.0e}  CPU {el:8.2f}s  gap {s.gap:.1e}  "
                          f"converged {s.converged}  pass {pass_s * 1e3:.1f} ms  passes {s.n_passes:7.0f}  "
                          f"time/pass {el / pass_s:7.0f}  active {len(s.active)}", flush=True)
            newton._GRAM_ROWS_PER_ATOM, newton._GRAM_CONDITION = routing
    return 0


if __name__ == "__main__":
    sys.exit(main())
