"""The solver on a real few-row, many-class dictionary: the default CVX path on a small UCR set.

    python benchmarks/solver_small_n.py --suite ucr-ACSF1 --seed 0

What ``spikeopt train --method cvx`` solves on a 10-class UCR set with 80 training sequences: the
default witnesses' spike-count dictionary (8,192+ atoms, float32), multi-class cross-entropy with an
intercept, the ``reg='auto'`` path (8 points from reg_max down), each point warm-started from the
previous one. Data with far more atoms than rows is separable at small reg. There most rows have
``p (1 - p) ~ 0`` and the support Hessian is ill-conditioned, which is where the working-set solver is slowest.
Prints CPU seconds, iterations, counted passes and the gap per point (one thread). The pipeline
also solves five cross-validation folds per point, so a run costs about six times this.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from _meta import run_meta  # noqa: E402
from accuracy import suite_spec  # noqa: E402
from readout_features import witnesses_for  # noqa: E402

HERE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--suite", default="ucr-ACSF1")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(HERE / "results" / "solver_small_n.json"))
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from spikeopt.convex.dictionary import build_dictionary
    from spikeopt.convex.path import auto_regs
    from spikeopt.convex.solver import reg_max, solve
    from spikeopt.experiments.run import write_json
    from spikeopt.tasks import make_task

    task_name, options, _ = suite_spec(args.suite)
    task = make_task(task_name, **options)
    train = task.splits(args.seed)["train"]
    witnesses = witnesses_for(task, train, args.seed)
    D = build_dictionary(witnesses, train.x, "integrate").atoms
    y = train.y[:, 0].numpy()
    regs = auto_regs(reg_max(D, y, "cross_entropy", intercept=True))
    print(f"{args.suite} seed {args.seed}: {D.shape[0]} rows x {D.shape[1]} atoms, {len(set(y.tolist()))} classes")
    rows, warm = [], None
    for reg in regs:
        c0 = time.process_time()
        sol = solve(D, y, reg, "cross_entropy", intercept=True, tol=1e-6, warm_start=warm)
        cpu = time.process_time() - c0
        warm = sol
        rows.append({"reg": reg, "cpu_s": cpu, "n_iter": sol.n_iter, "active": int(len(sol.active)),
                     "gap": sol.gap, "converged": sol.converged, "passes": sol.n_passes})
        print(f"reg {reg:.2e}  CPU {cpu:7.2f} s  iterations {sol.n_iter:6d}  active {len(sol.active):4d}  "
              f"passes {sol.n_passes:7.0f}  gap {sol.gap:.1e}", flush=True)
    total = sum(r["cpu_s"] for r in rows)
    print(f"path: {total:.1f} CPU-s")
    write_json({"command": " ".join(sys.argv), "meta": run_meta(suite=args.suite, seed=args.seed,
                                                                  shape=list(D.shape)),
                "path": rows, "cpu_s": total}, Path(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
