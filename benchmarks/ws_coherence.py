"""Which multi-class working-set solver is faster, by the working set's estimated conditioning.

    python benchmarks/ws_coherence.py --suites gaussian-mnist mnist ucr-OSULeaf events \
        --out benchmarks/results/ws_coherence.json

For each suite, one regularisation path is solved three times with warm starts, alternating:
every multi-class / multi-head working set on the row sweeps (``newton.py``), every one on the
Gram solver (``gram_softmax.py``), and the library's routing (``auto``). Each working-set solve
is recorded with its rows ``n``, atoms ``k``, nonzero fraction and
``newton.coherence_condition`` (the equicorrelated Gram condition number from the columns' mean
cosine), and its CPU time; the table sums the time per band of that condition, so the crossover
between the two solvers can be read off (how ``newton._GRAM_CONDITION`` was chosen). Working sets
with ``n >= 4k`` go to the Gram solver under ``auto`` whatever their conditioning.

Suites: ``gaussian-mnist`` is ``solver.py``'s mnist-seq dictionary from the paper's Gaussian
witnesses (binary, sparse), path 1e-2, 1e-3, 1e-4; any ``accuracy.py`` suite runs the library's
default CVX pipeline once (seed 0) and replays the path its first solve and reg sequence define
(the calibrated defaults: spike counts). One thread; CPU seconds.
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

import numpy as np
from _meta import run_meta  # noqa: E402 (benchmarks/ on sys.path)
from solver import ce_loss, mnist_instance  # noqa: E402

BANDS = (0, 100, 300, 1000, 3000, float("inf"))


def captured_path(suite: str):
    """``(D, Y, loss, kwargs, regs, warm)`` of a suite's default CVX path (first solve's problem)."""
    if suite == "gaussian-mnist":
        D, y, _, heads = mnist_instance()
        return D, y, ce_loss(heads), {}, [1e-2, 1e-3, 1e-4], False
    from accuracy import DEFAULTS, suite_spec

    import spikeopt.train.convex_stage as stage
    from spikeopt.experiments.config import RunConfig
    from spikeopt.experiments.run import run

    seen: dict = {"regs": []}
    solve = stage.solve

    def record(D, Y, reg, loss, **kw):
        if not seen["regs"]:
            seen.update(D=np.asarray(D), Y=Y, loss=loss, kw={k: v for k, v in kw.items() if k != "warm_start"})
        seen["regs"].append(reg)
        return solve(D, Y, reg, loss, **kw)

    stage.solve = record
    try:
        task, options, _ = suite_spec(suite)
        run(RunConfig(task=task, task_options=dict(options), method="cvx", seed=0).override(DEFAULTS))
    finally:
        stage.solve = solve
    regs = list(dict.fromkeys(seen["regs"]))  # the path's regs (cross-validation folds reuse them)
    return seen["D"], seen["Y"], seen["loss"], seen["kw"], regs, True


def replay(problem, mode: str, newton, solve) -> dict:
    """Solve the path under one routing mode, recording every working-set solve."""
    D, Y, loss, kw, regs, chain = problem
    routes = {"rows": (float("inf"), float("inf")), "gram": (0, 0.0),
              "auto": (newton._GRAM_ROWS_PER_ATOM, newton._GRAM_CONDITION)}
    default = newton._GRAM_ROWS_PER_ATOM, newton._GRAM_CONDITION
    calls: list[dict] = []
    inner = newton.WorkingSetSolver.solve_ws

    def timed(self, W0, b0, ws, *a, **k):
        t = time.process_time()
        out = inner(self, W0, b0, ws, *a, **k)
        dt = time.process_time() - t
        cols = self.ctx.design.columns(ws) if self.gram is not None else None
        if cols is not None and len(ws):
            calls.append({"n": self.ctx.n, "k": len(ws), "density": float(cols[0][-1] / (self.ctx.n * len(ws))),
                          "condition": newton.coherence_condition(cols, self.ctx.n), "cpu_s": dt})
        return out

    newton.WorkingSetSolver.solve_ws = timed
    newton._GRAM_ROWS_PER_ATOM, newton._GRAM_CONDITION = routes[mode]
    try:
        warm, total, points = None, 0.0, []
        for reg in regs:
            t = time.process_time()
            sol = solve(D, Y, reg, loss, warm_start=warm if chain else None, **{"max_iter": 1_000_000, **kw})
            dt = time.process_time() - t
            total += dt
            points.append({"reg": reg, "cpu_s": dt, "gap": sol.gap, "primal": sol.primal})
            warm = sol
    finally:
        newton.WorkingSetSolver.solve_ws = inner
        newton._GRAM_ROWS_PER_ATOM, newton._GRAM_CONDITION = default
    return {"cpu_s": total, "points": points, "working_sets": calls}


def bands(calls: list[dict]) -> list[dict]:
    out = []
    for lo, hi in zip(BANDS[:-1], BANDS[1:]):
        sel = [c for c in calls if lo <= c["condition"] < hi and c["n"] < 4 * c["k"]]
        if sel:
            out.append({"band": [lo, hi], "calls": len(sel), "cpu_s": sum(c["cpu_s"] for c in sel),
                        "k": [min(c["k"] for c in sel), max(c["k"] for c in sel)],
                        "density": [min(c["density"] for c in sel), max(c["density"] for c in sel)]})
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--suites", nargs="+", default=["gaussian-mnist", "mnist", "ucr-OSULeaf", "events"])
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    import spikeopt.convex.newton as newton
    from spikeopt.convex.solver import solve

    rows = []
    for suite in args.suites:
        problem = captured_path(suite)
        D = problem[0]
        print(f"{suite}: D {D.shape[0]} x {D.shape[1]}, {len(problem[4])} regs; "
              f"load average {os.getloadavg()[0]:.2f}", flush=True)
        with warnings.catch_warnings():  # compile the kernels before any timing
            warnings.simplefilter("ignore")
            solve(D, problem[1], problem[4][0], problem[2], **{**problem[3], "max_iter": 30})
        row = {"suite": suite, "shape": list(D.shape)}
        for mode in ("rows", "gram", "auto"):
            r = replay(problem, mode, newton, solve)
            row[mode] = {"cpu_s": r["cpu_s"], "points": r["points"], "bands": bands(r["working_sets"])}
            print(f"  {mode:4s} path CPU {r['cpu_s']:7.2f} s  largest gap {max(p['gap'] for p in r['points']):.1e}",
                  flush=True)
        print("  few rows per atom (n < 4k), CPU s by estimated condition: band | rows | gram", flush=True)
        for lo, hi in zip(BANDS[:-1], BANDS[1:]):
            cells = []
            for mode in ("rows", "gram"):
                b = [x for x in row[mode]["bands"] if x["band"][0] == lo]
                cells.append(f"{b[0]['cpu_s']:6.2f} s ({b[0]['calls']:3d} sets, k {b[0]['k'][0]}-{b[0]['k'][1]}, "
                             f"density {b[0]['density'][0]:.2f}-{b[0]['density'][1]:.2f})" if b else "-")
            if cells != ["-", "-"]:
                print(f"    [{lo:g}, {hi:g}) | {cells[0]} | {cells[1]}", flush=True)
        rows.append(row)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"command": "benchmarks/ws_coherence.py " + " ".join(sys.argv[1:]), "meta": run_meta(),
                       "rows": rows}, f, indent=1, default=float)
        print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
