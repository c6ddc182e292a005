"""Where does the hard-spike transfer gap open? Paper 004's premise, searched for (not part of the test run).

Paper 004 reports that a network trained with smooth (surrogate-forward) spikes loses accuracy when
deployed with hard spikes (N-MNIST: 0.657 at rho = 0), and that SAM closes that gap. On the
built-in event-digits at the library defaults the rho = 0 gap is about zero (README), so there is
nothing for SAM to close. This script sweeps the settings that could open it: the surrogate slope
of the smooth forward (small: smooth spikes carry graded sub-threshold values a hard spike drops),
the depth (errors of the transfer compound across layers) and the readout (``integrate`` averages
spike counts over all steps, ``final`` reads one step), at rho = 0, then runs a rho sweep at the
setting with the largest mean gap.

For each run it records the hard-spike and surrogate-forward test accuracy at the selected epoch
(selected, as in `method_sast`, on hard-spike validation accuracy: what counts at deployment), the
validation gap at the last epoch (free of that selection), and the final smooth training loss
(whether the smooth network learned at all).

    python benchmarks/sast_gap.py                                # grid + rho sweep (~25 min on 2 cores)
    python benchmarks/sast_gap.py --depths 1 --slopes 2 --seeds 0  # a quick look

Torch runs on one thread. Results are written after every run; a rerun with the same settings resumes.
"""

from __future__ import annotations

import argparse
import itertools
import json
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


def _write(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)


def _mean_std(values: list[float]) -> str:
    m = statistics.fmean(values)
    s = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{m * 100:+6.1f} ± {s * 100:4.1f}" if min(values) < 0 or m < 0.2 else f"{m * 100:6.1f} ± {s * 100:4.1f}"


def _run(task, splits, model: ModelConfig, rho: float, args, seed: int) -> dict[str, Any]:
    cfg = SASTConfig(rho=rho, epochs=args.epochs, lr=args.lr, progress=False)
    t0 = time.perf_counter()
    res = method_sast(task, splits, SimpleNamespace(model=model, sast=cfg), seed, torch.device("cpu"))
    info, hist = res.info["sast"], res.info["history"]["sast"]
    last = [r for r in hist["records"] if "val_gap" in r][-1]
    losses = [r["train_loss"] for r in hist["records"] if r.get("train_loss") is not None]
    return {
        "hard": info["hard_accuracy"], "smooth": info["clean_accuracy"], "gap": info["transfer_gap"],
        "best_epoch": hist["best_epoch"], "last_val_gap": last["val_gap"], "last_val_smooth": last["val_smooth"],
        "last_val_hard": last["val_hard"], "last_train_loss": losses[-1] if losses else None,
        "seconds": time.perf_counter() - t0,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default="event-digits")
    p.add_argument("--depths", nargs="+", type=int, default=[1, 2, 3])
    p.add_argument("--slopes", nargs="+", type=float, default=[0.1, 0.5, 2.0, 8.0])
    p.add_argument("--readouts", nargs="+", default=["integrate", "final"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    p.add_argument("--rhos", nargs="+", type=float, default=[0.1, 0.3],
                   help="rho values swept at the setting with the largest mean rho = 0 gap (with rho = 0)")
    p.add_argument("--rho-seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--subnetworks", type=int, default=16)
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--out", default="benchmarks/results/sast_gap.json")
    args = p.parse_args(argv)
    torch.set_num_threads(1)

    settings = {k: getattr(args, k) for k in ("task", "epochs", "lr", "subnetworks", "width")}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {"settings": settings, "runs": {}}
    if out.exists() and json.loads(out.read_text()).get("settings") == settings:
        data = json.loads(out.read_text())  # resume
    data["load_average_1min"] = os.getloadavg()[0]
    task = make_task(args.task)
    splits_of: dict[int, Any] = {}

    def get(depth: int, slope: float, readout: str, rho: float, seed: int) -> dict[str, Any]:
        key = f"d{depth}|s{slope:g}|{readout}|rho{rho:g}|{seed}"
        if key not in data["runs"]:
            splits = splits_of.setdefault(seed, task.splits(seed))
            model = ModelConfig(subnetworks=args.subnetworks, width=args.width, depth=depth, slope=slope,
                                surrogate="atan", readout=readout)
            row = _run(task, splits, model, rho, args, seed)
            row["model"] = asdict(model)
            data["runs"][key] = row
            _write(out, data)
            print(f"{key:34s} hard {row['hard']:.3f}  smooth {row['smooth']:.3f}  gap {row['gap']:+.3f}  "
                  f"last-epoch val gap {row['last_val_gap']:+.3f}  smooth loss {row['last_train_loss']:.3f}  "
                  f"({row['seconds']:.0f} s)", flush=True)
        return data["runs"][key]

    grid = list(itertools.product(args.depths, args.slopes, args.readouts))
    table = []
    for depth, slope, readout in grid:
        rows = [get(depth, slope, readout, 0.0, s) for s in args.seeds]
        table.append(((depth, slope, readout), rows))

    print(f"\nrho = 0 on {args.task} (test %, mean ± std over seeds {args.seeds}; gap = smooth - hard)")
    print(f"{'depth':>5s} {'slope':>5s} {'readout':>9s} {'hard':>13s} {'smooth':>13s} {'gap':>13s} "
          f"{'last-epoch val gap':>19s} {'smooth loss':>11s}")
    for (depth, slope, readout), rows in table:
        print(f"{depth:5d} {slope:5g} {readout:>9s} {_mean_std([r['hard'] for r in rows]):>13s} "
              f"{_mean_std([r['smooth'] for r in rows]):>13s} {_mean_std([r['gap'] for r in rows]):>13s} "
              f"{_mean_std([r['last_val_gap'] for r in rows]):>19s} "
              f"{statistics.fmean(r['last_train_loss'] for r in rows):11.3f}")
    focus, _ = max(table, key=lambda item: statistics.fmean(r["gap"] for r in item[1]))
    data["focus"] = {"depth": focus[0], "slope": focus[1], "readout": focus[2]}

    print(f"\nrho sweep at the largest mean gap: depth {focus[0]}, slope {focus[1]:g}, readout {focus[2]} "
          f"(seeds {args.rho_seeds})")
    print(f"{'rho':>5s} {'hard':>13s} {'smooth':>13s} {'gap':>13s}")
    sweep = {}
    for rho in [0.0, *args.rhos]:
        rows = [get(*focus, rho, s) for s in args.rho_seeds]
        sweep[f"{rho:g}"] = {k: [r[k] for r in rows] for k in ("hard", "smooth", "gap")}
        print(f"{rho:5g} {_mean_std(sweep[f'{rho:g}']['hard']):>13s} {_mean_std(sweep[f'{rho:g}']['smooth']):>13s} "
              f"{_mean_std(sweep[f'{rho:g}']['gap']):>13s}")
    data["rho_sweep"] = sweep
    _write(out, data)
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
