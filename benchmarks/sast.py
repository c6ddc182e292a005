"""SAST rho sweep and the paper-004 closing measurement (not part of the test run).

For each task, each rho of the sweep and each seed, train with `method_sast` and record the
surrogate-forward (clean) and hard-spike test accuracy, the transfer gap, the hard-spike accuracy
under corruptions and the time per epoch against plain epochs. The best rho is the one with the
highest mean hard-spike *validation* accuracy; the table sets it against rho = 0.

    python benchmarks/sast.py                                   # the measurement in the report (~5 min)
    python benchmarks/sast.py --tasks mnist-seq --seeds 0 --epochs 5   # a quick look

Defaults: ParallelLIFSNN 16 subnetworks x 16 LIF neurons, depth 1, atan surrogate (slope 2),
Adam lr 3e-3, batch 128, 20 epochs, SAM on one batch (``--two-batches`` for the stochastic
variant); event-digits with its defaults (16x16 sensor, 10 bins), mnist-seq with 8 steps. Torch
runs on one thread (``--threads``) because timings on a shared machine are otherwise meaningless.
Results are written after every run; a rerun with the same settings resumes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch

from spikeopt.snn.config import ModelConfig
from spikeopt.tasks.registry import make_task
from spikeopt.train.sast import SASTConfig, method_sast

TASKS: dict[str, dict[str, Any]] = {"event-digits": {}, "mnist-seq": {"steps": 8}}
RHOS = [0.0, 0.05, 0.1, 0.2, 0.3, 0.4]


def _stats(values: list[float]) -> tuple[float, float]:
    values = [v for v in values if v is not None and math.isfinite(v)]
    if not values:
        return math.nan, math.nan
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def _fmt(values: list[float], scale: float = 100.0, digits: int = 1) -> str:
    m, s = _stats(values)
    return f"{m * scale:.{digits}f} ± {s * scale:.{digits}f}"


def _write(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)


def _summary(info: dict[str, Any], history: dict[str, Any]) -> dict[str, Any]:
    return {
        "val_hard": history["best_score"],
        "best_epoch": history["best_epoch"],
        "clean": info["clean_accuracy"],
        "hard": info["hard_accuracy"],
        "gap": info["transfer_gap"],
        "corruptions_hard": {k: v.get("hard") for k, v in info["corruptions"].items()},
        "corruptions_gap": {k: v.get("gap") for k, v in info["corruptions"].items()},
        "epoch_s": info["epoch_seconds"],
        "plain_epoch_s": info["plain_epoch_seconds"],
        "overhead": info["overhead"],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    p.add_argument("--rhos", nargs="+", type=float, default=RHOS)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--subnetworks", type=int, default=16)
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--two-batches", action="store_true")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="benchmarks/results/sast.json")
    p.add_argument("--png", default="benchmarks/results/sast_rho.png")
    args = p.parse_args(argv)
    if 0.0 not in args.rhos:
        p.error("the sweep must include rho = 0 (the plain surrogate-forward baseline)")
    torch.set_num_threads(args.threads)

    model = ModelConfig(subnetworks=args.subnetworks, width=args.width)
    settings_key = {
        "model": asdict(model), "epochs": args.epochs, "lr": args.lr, "two_batches": args.two_batches,
        "tasks": {t: TASKS[t] for t in args.tasks}, "threads": args.threads,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {"settings": settings_key, "runs": {}}
    if out.exists():
        old = json.loads(out.read_text())
        if old.get("settings") == settings_key:
            data = old  # resume
    start = time.perf_counter()
    for task_name in args.tasks:
        task = make_task(task_name, **TASKS[task_name])
        for seed in args.seeds:
            splits = None
            for rho in args.rhos:
                key = f"{task_name}|{rho}|{seed}"
                if key in data["runs"]:
                    continue
                splits = splits or task.splits(seed)
                cfg = SASTConfig(rho=rho, epochs=args.epochs, lr=args.lr, two_batches=args.two_batches, progress=False)
                t0 = time.perf_counter()
                res = method_sast(task, splits, SimpleNamespace(model=model, sast=cfg), seed, torch.device("cpu"))
                row = _summary(res.info["sast"], res.info["history"]["sast"])
                row["train_s"] = time.perf_counter() - t0
                data["runs"][key] = row
                _write(out, data)
                print(f"{key:26s} val_hard {row['val_hard']:.3f}  hard {row['hard']:.3f}  clean {row['clean']:.3f}  "
                      f"gap {row['gap']:+.3f}  overhead {row['overhead']:.2f}  ({row['train_s']:.0f} s)", flush=True)

    # ---------------------------------------------------------------------------------- tables
    sweeps: dict[str, dict[str, list]] = {}
    closing: dict[str, Any] = {}
    print("\nrho sweep (test, % mean ± std over seeds", args.seeds, ")")
    print(f"{'task':14s} {'rho':>5s} {'val hard':>13s} {'hard':>13s} {'clean':>13s} {'gap':>13s} {'overhead':>9s}")
    for task_name in args.tasks:
        rows = {rho: [data["runs"][f"{task_name}|{rho}|{s}"] for s in args.seeds] for rho in args.rhos}
        sweeps[task_name] = {
            "rho": list(args.rhos),
            "hard": [[r["hard"] for r in rows[rho]] for rho in args.rhos],
            "gap": [[r["gap"] for r in rows[rho]] for rho in args.rhos],
        }
        for rho in args.rhos:
            rs = rows[rho]
            print(f"{task_name:14s} {rho:5.2f} {_fmt([r['val_hard'] for r in rs]):>13s} {_fmt([r['hard'] for r in rs]):>13s} "
                  f"{_fmt([r['clean'] for r in rs]):>13s} {_fmt([r['gap'] for r in rs]):>13s} "
                  f"{_stats([r['overhead'] for r in rs])[0]:9.2f}")
        # best rho on validation (ties: the smaller rho)
        best = max(args.rhos, key=lambda rho: (_stats([r["val_hard"] for r in rows[rho]])[0], -rho))
        closing[task_name] = {"best_rho": best}
        for label, rho in (("rho=0", 0.0), ("best", best)):
            rs = rows[rho]
            closing[task_name][label] = {
                "rho": rho,
                **{k: _stats([r[k] for r in rs]) for k in ("val_hard", "hard", "clean", "gap", "overhead", "epoch_s")},
                "corruptions_hard": {
                    c: _stats([r["corruptions_hard"][c] for r in rs]) for c in rs[0]["corruptions_hard"]
                },
            }

    print("\nclosing note: rho = 0 against the best rho (chosen on hard-spike validation accuracy)")
    print(f"{'task':14s} {'':6s} {'rho':>5s} {'hard %':>13s} {'clean %':>13s} {'gap %':>13s} {'overhead':>9s}  "
          "corruptions (hard %)")
    for task_name, c in closing.items():
        for label in ("rho=0", "best"):
            e = c[label]
            corr = ", ".join(f"{k} {v[0] * 100:.1f}" for k, v in e["corruptions_hard"].items())
            print(f"{task_name:14s} {label:6s} {e['rho']:5.2f} {e['hard'][0] * 100:6.1f} ± {e['hard'][1] * 100:4.1f} "
                  f"{e['clean'][0] * 100:6.1f} ± {e['clean'][1] * 100:4.1f} {e['gap'][0] * 100:6.1f} ± {e['gap'][1] * 100:4.1f} "
                  f"{e['overhead'][0]:9.2f}  {corr}")
    data["sweeps"], data["closing"] = sweeps, closing
    data["elapsed_s"] = data.get("elapsed_s", 0.0) + time.perf_counter() - start
    _write(out, data)
    try:
        from spikeopt.plots.sast import plot_rho_sweep

        png = plot_rho_sweep(sweeps, args.png, title=f"SAST, {args.epochs} epochs, seeds {args.seeds}")
        print(f"\nwrote {out} and {png}")
    except ImportError as err:  # matplotlib is optional
        print(f"\nwrote {out}; no plot ({err})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
