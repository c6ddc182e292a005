"""The support Newton-CG step, one change at a time, alternating before / after in one run (one thread, CPU time).

    python benchmarks/support_newton_cg.py --switch dtype --out benchmarks/results/support_cg_dtype.json
    python benchmarks/support_newton_cg.py --switch routing --pipeline mnist events ucr-OSULeaf ucr-BasicMotions \
        --out benchmarks/results/ws_routing_condition_pipeline.json
    python benchmarks/support_newton_cg.py --switch preconditioner --regs 1e-2 1e-3 1e-4 \
        --out benchmarks/results/support_cg_preconditioner.json

On a support that the model steps no longer change, ``convex/newton.py`` takes Newton-CG steps whose
Hessian products read the support columns as a dense block twice (``X_S V`` then ``X_S^T H U``).
With many rows and a large support (the multi-head addition dictionary: 10,681 distinct rows x 856
active atoms at 1e-3, 5 outputs) these steps are most of a solve. ``--switch`` picks the change:

- ``dtype``: ``newton._CG_DTYPE`` float64 (before) vs float32 (the default): the products are bound
  by memory bandwidth, so the block's type sets their cost;
- ``preconditioner``: ``gram_softmax._GRAM_PRECONDITIONER`` off (CG preconditioned by the Hessian's
  diagonal) vs on (the default: by the Cholesky factor of the curvature-bound Gram's support block,
  which the Gram solver's model step has already formed); only working sets routed to the Gram
  solver (many rows per atom) take it.
- ``routing``: which multi-class / multi-head working sets go to the Gram solver
  (``newton._GRAM_CONDITION``): only those with many rows per atom (before) vs also those whose
  columns are coherent (the default: ``newton.coherence_condition`` at least 500, as the calibrated
  default dictionaries' spike counts are).

``--pipeline SUITE ...`` times what a user feels instead: the default ``spikeopt train --method cvx``
run (``benchmarks/accuracy.py --defaults``: calibrated witnesses, 8,192 atoms, the ``auto`` path with
its validation or cross-validation selection) on each suite, the switch off then on, per seed, and
records wall and CPU seconds, the selected reg, the suite's test metric and the path's largest gap.

The line search, the exact dense step and the certificate are float64 in both. Prints CPU seconds,
the certified gap, the primal difference between the two, counted passes and ``time/pass`` (CPU
time over the CPU time of one product ``D^T Theta`` over the whole design).
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse
import json
import statistics
import sys
import time
import warnings

import numpy as np
from _meta import run_meta  # noqa: E402 (benchmarks/ on sys.path)
from solver import addition_instance, ce_loss, mnist_instance, one_pass_cpu, xor_instance  # noqa: E402

INSTANCES = {"addition": addition_instance, "mnist": mnist_instance, "xor": lambda: xor_instance(16, 4000)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--instances", nargs="+", default=["addition", "mnist", "xor"], choices=list(INSTANCES))
    ap.add_argument("--regs", type=float, nargs="+", default=[1e-2, 1e-3])
    ap.add_argument("--repeats", type=int, default=2, help="alternating repeats of each pair; medians reported")
    ap.add_argument("--switch", choices=["dtype", "preconditioner", "routing"], default="dtype")
    ap.add_argument("--pipeline", nargs="+", default=None, metavar="SUITE",
                    help="time the default CVX run on these accuracy.py suites instead of single solves")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0], help="with --pipeline")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    import spikeopt.convex.gram_softmax as gram_softmax
    import spikeopt.convex.newton as newton
    from spikeopt.convex.solver import solve

    module, name, modes = {
        "dtype": (newton, "_CG_DTYPE", {"float64": np.float64, "float32": np.float32}),
        "preconditioner": (gram_softmax, "_GRAM_PRECONDITIONER", {"diagonal": False, "gram": True}),
        "routing": (newton, "_GRAM_CONDITION", {"rows_per_atom": float("inf"), "condition": newton._GRAM_CONDITION}),
    }[args.switch]
    default = getattr(module, name)
    before, after = modes
    rows = []
    meta = run_meta()
    if args.pipeline:
        rows = pipeline(args.pipeline, args.seeds, module, name, modes)
        args.instances = []
    for inst in args.instances:
        D, y, w, heads = INSTANCES[inst]()
        loss, c = ce_loss(heads), sum(h.classes for h in heads)
        pass_s = one_pass_cpu(D, c)
        print(f"{inst}: D {D.shape[0]} x {D.shape[1]}, {c} outputs, one pass {pass_s * 1e3:.1f} ms; "
              f"load average {os.getloadavg()[0]:.2f}", flush=True)
        with warnings.catch_warnings():  # compile the kernels before any timing
            warnings.simplefilter("ignore")
            solve(D, y, args.regs[0], loss, sample_weight=w, max_iter=30)
        for reg in args.regs:
            runs: dict[str, list] = {m: [] for m in modes}
            for _ in range(args.repeats):
                for mode, value in modes.items():
                    setattr(module, name, value)
                    t = time.process_time()
                    s = solve(D, y, reg, loss, sample_weight=w, max_iter=1_000_000)
                    runs[mode].append((time.process_time() - t, s))
            setattr(module, name, default)
            row = {"switch": args.switch, "instance": inst, "reg": reg, "rows": int(D.shape[0]),
                   "atoms": int(D.shape[1]), "outputs": c, "pass_ms": pass_s * 1e3}
            for mode, got in runs.items():
                cpu = statistics.median(t for t, _ in got)
                s = got[-1][1]
                row[mode] = {"cpu_s": cpu, "cpu_s_all": [t for t, _ in got], "gap": s.gap, "primal": s.primal,
                             "converged": bool(s.converged), "passes": s.n_passes, "time_per_pass": cpu / pass_s,
                             "active": int(len(s.active))}
                print(f"  reg {reg:7.0e} {mode}: CPU {cpu:7.2f} s  gap {s.gap:.1e}  passes {s.n_passes:7.0f}  "
                      f"time/pass {cpu / pass_s:6.0f}  active {len(s.active)}", flush=True)
            row["speedup"] = row[before]["cpu_s"] / row[after]["cpu_s"]
            row["primal_difference"] = abs(row[before]["primal"] - row[after]["primal"])
            print(f"  reg {reg:7.0e} {before} / {after} CPU: {row['speedup']:.2f}x, "
                  f"primal difference {row['primal_difference']:.1e}", flush=True)
            rows.append(row)
    meta["load_average_1min_end"] = os.getloadavg()[0]
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"meta": meta, "rows": rows}, f, indent=1)
    return 0


def pipeline(suites: list[str], seeds: list[int], module, name: str, modes: dict) -> list[dict]:
    """The default CVX run per suite and seed with the switch at each setting (alternating)."""
    from accuracy import DEFAULTS, suite_spec

    from spikeopt.experiments.config import RunConfig
    from spikeopt.experiments.run import run

    default, rows = getattr(module, name), []
    for suite in suites:
        task, options, columns = suite_spec(suite)
        split, metric = columns[0]  # the suite's headline metric (accuracy; addition: joint token accuracy)
        for seed in seeds:
            row = {"pipeline": suite, "seed": seed}
            for mode, value in modes.items():
                setattr(module, name, value)
                wall, cpu = time.perf_counter(), time.process_time()
                try:
                    result = run(RunConfig(task=task, task_options=dict(options), method="cvx",
                                           seed=seed).override(DEFAULTS))
                finally:
                    setattr(module, name, default)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                path = result.get("path") or []
                gaps = [p["gap"] for p in path if isinstance(p, dict) and p.get("gap") is not None]
                row[mode] = {"wall_s": wall, "cpu_s": cpu, "metric": f"{split}.{metric}",
                             "value": result["metrics"][split][metric],
                             "reg": (result.get("selection") or {}).get("selected_reg"),
                             "largest_path_gap": max(gaps) if gaps else None,
                             "timings": result.get("timings")}
                print(f"{suite} seed {seed} {mode}: wall {wall:7.1f} s  CPU {cpu:7.1f} s  {split}.{metric} "
                      f"{row[mode]['value']:.4f}  reg {row[mode]['reg']}  largest gap "
                      f"{row[mode]['largest_path_gap']}", flush=True)
            first, second = modes
            row["speedup_cpu"] = row[first]["cpu_s"] / row[second]["cpu_s"]
            print(f"{suite} seed {seed}: {first} / {second} CPU {row['speedup_cpu']:.2f}x", flush=True)
            rows.append(row)
    return rows


if __name__ == "__main__":
    sys.exit(main())
