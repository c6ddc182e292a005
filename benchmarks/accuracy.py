"""Accuracy of the training variants side by side on the paper's tasks (not part of the test run).

Every method gets the same architecture and the same seeds; the headline metric of each split is
printed as a table and everything is written as JSON.

    python benchmarks/accuracy.py --methods sg cvx sg-cvx sg-sg --seeds 0 --out benchmarks/results/accuracy.json
    python benchmarks/accuracy.py --suites xor8 add2 --methods sg --set sg.epochs=5     # quicker look
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from spikeopt.experiments.config import RunConfig
from spikeopt.experiments.run import run, write_json

# suite -> (task, task options, split/metric columns to report)
SUITES: dict[str, tuple[str, dict, list[tuple[str, str]]]] = {
    "xor8": ("first-last-xor", {"steps": 8}, [("test", "accuracy")]),
    "xor32": ("first-last-xor", {"steps": 32}, [("test", "accuracy")]),
    "add2": ("addition", {"base": 2, "digits": 8},
             [("test", "joint_token_accuracy"), ("ood_10x", "joint_token_accuracy"),
              ("test", "joint_sequence_accuracy")]),
    "mnist": ("mnist-seq", {"steps": 8}, [("test", "accuracy")]),
    "events": ("event-digits", {}, [("test", "accuracy")]),
}

BASE = [
    "model.subnetworks=32", "model.width=16", "model.depth=1",
    "sg.epochs=30", "sg.lr=3e-3", "sg.batch_size=128", "sg.progress=false",
    "finetune.epochs=10", "finetune.lr=1e-3", "finetune.progress=false",
    "convex.reg=1e-3",
]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--suites", nargs="+", default=["xor8", "xor32", "add2", "mnist"], choices=list(SUITES))
    p.add_argument("--methods", nargs="+", default=["sg", "cvx", "sg-cvx", "sg-sg"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--set", action="append", default=[], help="config override applied to every run")
    p.add_argument("--out", default="benchmarks/results/accuracy.json")
    args = p.parse_args(argv)

    rows = []
    for suite in args.suites:
        task, options, columns = SUITES[suite]
        for method in args.methods:
            values: dict[str, list[float]] = {f"{s}:{m}": [] for s, m in columns}
            for seed in args.seeds:
                cfg = RunConfig(task=task, task_options=dict(options), method=method, seed=seed)
                cfg = cfg.override(BASE + args.set)
                t0 = time.perf_counter()
                result = run(cfg)
                for s, m in columns:
                    values[f"{s}:{m}"].append(result["metrics"][s][m])
                rows.append({"suite": suite, "method": method, "seed": seed, "seconds": time.perf_counter() - t0,
                             "metrics": result["metrics"], "certificate": result.get("certificate"),
                             "reconstruction": result.get("reconstruction"), "config": result["config"]})
                cert = result.get("certificate")
                extra = f" gap {cert['gap']:.1e}" if cert else ""
                print(f"{suite:6} {method:7} seed {seed}: "
                      + "  ".join(f"{k} {v[-1]:.4f}" for k, v in values.items())
                      + f"  ({rows[-1]['seconds']:.0f}s){extra}", flush=True)
            summary = "  ".join(
                f"{k} {statistics.mean(v):.4f}" + (f"±{statistics.stdev(v):.4f}" if len(v) > 1 else "")
                for k, v in values.items()
            )
            print(f"== {suite:6} {method:7} {summary}", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_json({"command": " ".join(sys.argv), "base": BASE + args.set, "rows": rows}, args.out)
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
