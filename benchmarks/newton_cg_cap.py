"""Support Newton steps: a fixed conjugate-gradient cap against one that grows while capped steps repeat.

    python benchmarks/newton_cg_cap.py                     # mnist-seq, solver.py's addition, Table 6's shape
    python benchmarks/newton_cg_cap.py --instances mnist --regs 1e-3

The row-sweep working-set solver (``convex/newton.py``) polishes a fixed support with Newton-CG
steps. With a fixed cap of 50 CG iterations, separable multi-head cross-entropy at small reg (few
rows per atom, most rows with p(1 - p) ~ 0, an ill-conditioned Hessian) crawled: Table 6's addition
run at 512 training sequences, reg 1e-4, stopped at gap 1.7e-6 after 20,000 iterations. The
library now doubles the cap (up to ``_CG_MAX_GROWN``) when a capped step is followed by another
Newton step on the same support. This script solves each instance both ways, alternating, one
thread, and prints CPU seconds, iterations and the certified gap; ``fixed`` is the old behaviour
(the cap never grows). ``mnist`` and ``addition`` as in ``solver.py``; ``table6-512`` is Table 6's
addition shape at 512 training sequences (base 2, lambda_carry 2, 32 x 32 Gaussian witnesses).
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse
import json
import sys
import time
import warnings

from _meta import run_meta  # noqa: E402 (benchmarks/ on sys.path)
from solver import addition_instance, ce_loss, mnist_instance  # noqa: E402


def table6_instance(n: int = 512, seed: int = 0):
    """Table 6's addition shape (base 2, 8 digits, lambda_carry 2, 32 x 32 Gaussian witnesses, depth 1)."""
    from spikeopt.convex.dictionary import build_dictionary, stack_row_weights, stack_targets
    from spikeopt.convex.witnesses import gaussian_witnesses
    from spikeopt.snn.config import ModelConfig
    from spikeopt.tasks.addition import Addition

    task = Addition(base=2, digits=8, n_train=n, n_val=1, n_test=1, n_ood=1, lambda_carry=2.0)
    train = task.splits(seed)["train"]
    witnesses = gaussian_witnesses(task.in_features, ModelConfig(subnetworks=32, width=32, depth=1), seed=seed)
    d = build_dictionary(witnesses, train.x, "trajectory")
    y = stack_targets(train.y, "trajectory")
    w = stack_row_weights(task.time_weights(train.steps), train.steps, len(train))
    return d.atoms, y, w, task.heads


INSTANCES = {"mnist": mnist_instance, "addition": addition_instance, "table6-512": table6_instance}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--instances", nargs="+", default=list(INSTANCES), choices=list(INSTANCES))
    ap.add_argument("--regs", type=float, nargs="+", default=[1e-3, 1e-4])
    ap.add_argument("--max-iter", type=int, default=20000)
    ap.add_argument("--out", default="benchmarks/results/newton_cg_cap.json")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    import spikeopt.convex.newton as newton
    from spikeopt.convex.solution import ConvergenceWarning
    from spikeopt.convex.solver import solve

    grown = newton._CG_MAX_GROWN
    meta = run_meta()
    rows = []
    print(f"load average {meta['load_average_1min']:.2f}; fixed: cap {newton._CG_MAX}; grow: up to {grown}")
    print(f"{'instance':14s} {'reg':>7s} {'mode':>6s} {'cpu s':>8s} {'iters':>6s} {'gap':>9s} {'primal':>16s}")
    for inst in args.instances:
        D, y, w, heads = INSTANCES[inst]()
        for reg in args.regs:
            for mode in ("fixed", "grow"):  # alternated per point: the same load for both
                newton._CG_MAX_GROWN = newton._CG_MAX if mode == "fixed" else grown
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    t0 = time.process_time()
                    sol = solve(D, y, reg, ce_loss(heads), sample_weight=w, tol=1e-6, max_iter=args.max_iter)
                    cpu = time.process_time() - t0
                row = {"instance": inst, "rows": D.shape[0], "atoms": D.shape[1], "reg": reg, "mode": mode,
                       "cpu_s": cpu, "n_iter": sol.n_iter, "gap": sol.gap, "converged": sol.converged,
                       "primal": sol.primal}
                rows.append(row)
                print(f"{inst:14s} {reg:7.0e} {mode:>6s} {cpu:8.1f} {sol.n_iter:6d} {sol.gap:9.2e} {sol.primal:16.10f}"
                      + ("" if sol.converged else "  NOT CONVERGED"), flush=True)
    newton._CG_MAX_GROWN = grown
    with open(args.out, "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=1)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
