"""CVX with the reg path selected on validation vs the old fixed reg, and with column generation.

Variants, alternated seed by seed in one run (same task, architecture, witnesses and seed):

- ``fixed``: ``convex.reg=1e-3`` (the old default, one solve);
- ``auto``: ``convex.reg=auto`` (8 warm-started points, selected on validation; the new default);
- ``auto+grow``: ``auto``, then ``convex.grow_rounds`` rounds of column generation at the selected reg;
- ``auto-wide`` (control, not in the default list): ``auto`` with as many witness subnetworks sampled
  up front as ``auto+grow`` samples in all (16 + candidates x (rounds + 1)), to tell column
  generation's gain from that of a bigger dictionary.

Prints and writes per run: validation and test headline metric, selected reg, active atoms,
subnetworks, certificate level, largest sampled violation, wall and CPU seconds (1 thread); medians
over seeds and the time ratio to ``fixed`` measured in the same run.

    python benchmarks/convex_path.py --suites xor8 mnist --seeds 0 1 --out benchmarks/results/convex_path.json
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _meta import run_meta  # noqa: E402

from spikeopt.experiments.config import RunConfig  # noqa: E402
from spikeopt.experiments.run import run, write_json  # noqa: E402

SUITES = {"xor8": ("first-last-xor", {"steps": 8}), "mnist": ("mnist-seq", {"steps": 8})}
BASE = ["method=cvx", "device=cpu", "model.subnetworks=16", "model.width=32", "model.depth=1"]


def variants(rounds: int, candidates: int, add: int) -> dict[str, list[str]]:
    grow = [f"convex.grow_rounds={rounds}", f"convex.grow_candidates={candidates}", f"convex.grow_add={add}"]
    wide = f"model.subnetworks={16 + candidates * (rounds + 1)}"
    return {"fixed": ["convex.reg=1e-3"], "auto": ["convex.reg=auto"], "auto+grow": ["convex.reg=auto", *grow],
            "auto-wide": ["convex.reg=auto", wide]}


def one(task: str, options: dict, seed: int, sets: list[str]) -> dict:
    cfg = RunConfig(task=task, task_options=dict(options), seed=seed).override(BASE + sets)
    w0, c0 = time.perf_counter(), time.process_time()
    result = run(cfg)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    grow = result.get("column_generation") or {}
    return {
        "val": next(iter(result["metrics"]["val"].values())), "test": next(iter(result["metrics"]["test"].values())),
        "reg": result["certificate"]["reg"], "active_atoms": result["reconstruction"]["active_atoms"],
        "subnetworks": result["reconstruction"]["subnetworks"], "atoms": result["dictionary"]["atoms"],
        "level": result["certificate"]["level"], "gap": result["certificate"]["gap"],
        "max_violation": grow.get("max_violation"), "added_atoms": grow.get("added_atoms"),
        "wall_s": wall, "cpu_s": cpu, "timings": result["timings"], "path": result["path"],
        "grow_rounds": grow.get("rounds"),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--suites", nargs="+", default=["xor8", "mnist"], choices=list(SUITES))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    p.add_argument("--variants", nargs="+", default=["fixed", "auto", "auto+grow"])
    p.add_argument("--reference", default="fixed", help="variant the time ratios are taken against")
    p.add_argument("--grow-rounds", type=int, default=3)
    p.add_argument("--grow-candidates", type=int, default=64)
    p.add_argument("--grow-add", type=int, default=32)
    p.add_argument("--out", default="benchmarks/results/convex_path.json")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    meta = run_meta()
    table = variants(args.grow_rounds, args.grow_candidates, args.grow_add)
    rows = []
    for suite in args.suites:
        task, options = SUITES[suite]
        for seed in args.seeds:
            for name in args.variants:  # alternated: every seed runs every variant back to back
                row = {"suite": suite, "variant": name, "seed": seed, **one(task, options, seed, table[name])}
                rows.append(row)
                print(f"{suite:6} {name:10} seed {seed}: val {row['val']:.4f} test {row['test']:.4f} reg {row['reg']:.2e} "
                      f"active {row['active_atoms']} subnets {row['subnetworks']} atoms {row['atoms']} {row['level']}"
                      + (f" viol {row['max_violation']:.2f} +{row['added_atoms']}" if row["max_violation"] is not None else "")
                      + f"  wall {row['wall_s']:.1f}s cpu {row['cpu_s']:.1f}s", flush=True)
    summary = []
    for suite in args.suites:
        for name in args.variants:
            sel = [r for r in rows if r["suite"] == suite and r["variant"] == name]
            ratio = [r["wall_s"] / f["wall_s"] for r in sel for f in rows
                     if f["suite"] == suite and f["variant"] == args.reference and f["seed"] == r["seed"]]
            s = {"suite": suite, "variant": name, "median_val": statistics.median(r["val"] for r in sel),
                 "median_test": statistics.median(r["test"] for r in sel),
                 "median_wall_s": statistics.median(r["wall_s"] for r in sel),
                 "median_cpu_s": statistics.median(r["cpu_s"] for r in sel),
                 "reference": args.reference, "median_wall_ratio": statistics.median(ratio) if ratio else None,
                 "median_cpu_ratio": statistics.median(
                     r["cpu_s"] / f["cpu_s"] for r in sel for f in rows
                     if f["suite"] == suite and f["variant"] == args.reference and f["seed"] == r["seed"]) if ratio else None}
            summary.append(s)
            print(f"== {suite:6} {name:10} val {s['median_val']:.4f} test {s['median_test']:.4f} "
                  f"wall {s['median_wall_s']:.1f}s cpu {s['median_cpu_s']:.1f}s"
                  + (f" (wall {s['median_wall_ratio']:.2f}x, cpu {s['median_cpu_ratio']:.2f}x {args.reference})"
                     if ratio else ""), flush=True)
    meta["load_average_1min_end"] = os.getloadavg()[0]
    write_json({"meta": meta, "base": BASE, "variants": table, "summary": summary, "rows": rows}, args.out)
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
