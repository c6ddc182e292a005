"""ADMM (paper 003) against surrogate gradients on event-digits, for 1, 2 and 3 hidden layers.

The paper reports ~95% train accuracy with one hidden layer on N-MNIST (M = 200 samples,
T = 150, 512 neurons, 1000 iterations) and less with more layers. This is the closest setting
that runs here in a few minutes on 2 CPU cores: the built-in ``event-digits`` task (simulated
N-MNIST-style events, 16x16 sensor downsampled to 8x8, 2 polarities -> 128 inputs), ``n_train``
training samples (200 as in the paper), T = ``steps``, ``width`` neurons per hidden layer, one
subnetwork. Both methods train the same architecture (LIF hidden layers with beta = delta, theta,
subtractive reset, and the non-spiking leaky-integrator readout), on the same training samples,
both selected on the validation split (ADMM: the tracked iteration, every 10, with the best validation
accuracy; SG: the best epoch); accuracy is always that of the real spiking network.

    python benchmarks/admm.py                                  # defaults below, ~minutes
    python benchmarks/admm.py --iterations 100 --depths 1      # quicker look
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

from spikeopt.snn.network import ParallelLIFSNN
from spikeopt.tasks.registry import make_task
from spikeopt.train.admm import ADMMConfig, build_network, fit_admm
from spikeopt.train.surrogate import SGConfig, train_sg


def run_admm(task, splits, width: int, depth: int, cfg: ADMMConfig, seed: int) -> dict:
    """ADMM on the train split; with ``cfg.select`` the tracked iteration with the best validation accuracy."""
    train, val = splits["train"], splits["val"]
    t0 = time.perf_counter()
    weights, history = fit_admm(train.x, train.y, [h.classes for h in task.heads], width, depth, cfg, seed=seed,
                                val=(val.x, val.y))
    seconds = time.perf_counter() - t0
    model = build_network(weights, cfg)
    return {
        "train": task.evaluate(model, train)["accuracy"],
        "val": task.evaluate(model, val)["accuracy"],
        "test": task.evaluate(model, splits["test"])["accuracy"],
        "best_iteration": history.best_iteration if cfg.select else history.iteration[-1],
        "train_last_iteration": history.train_accuracy[-1],
        "seconds": seconds,
        "curves": history.as_dict(),
    }


def run_sg(task, splits, width: int, depth: int, admm_cfg: ADMMConfig, cfg: SGConfig, seed: int) -> dict:
    model = ParallelLIFSNN(
        task.in_features, task.out_features, subnetworks=1, width=width, depth=depth, beta=admm_cfg.delta,
        threshold=admm_cfg.theta, readout="integrate", readout_leak=admm_cfg.delta, seed=seed,
    )
    t0 = time.perf_counter()
    history = train_sg(model, task, splits["train"], splits["val"], cfg, seed=seed)  # best validation epoch
    seconds = time.perf_counter() - t0
    return {
        "train": task.evaluate(model, splits["train"])["accuracy"],
        "test": task.evaluate(model, splits["test"])["accuracy"],
        "seconds": seconds,
        "history": history.as_dict(),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--depths", nargs="+", type=int, default=[1, 2, 3])
    p.add_argument("--n-train", type=int, default=200)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--downsample", type=int, default=2)
    p.add_argument("--width", type=int, default=128)
    p.add_argument("--iterations", type=int, default=300)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--sg-epochs", type=int, default=60)
    p.add_argument("--sg-batch", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-select", action="store_true",
                   help="keep ADMM's last iteration instead of the one with the best validation accuracy")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest for these small ops)")
    p.add_argument("--out", default="benchmarks/results/admm.json")
    p.add_argument("--plots", default="benchmarks/results", help="folder for PNG plots ('' for none)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    task = make_task("event-digits", steps=args.steps, n_train=args.n_train, downsample=args.downsample)
    splits = task.splits(args.seed)
    admm_cfg = ADMMConfig(iterations=args.iterations, warmup=args.warmup, progress=False, track_every=10,
                          select=not args.no_select)
    sg_cfg = SGConfig(epochs=args.sg_epochs, batch_size=args.sg_batch, lr=3e-3, progress=False)
    print(f"event-digits: train {len(splits['train'])}, test {len(splits['test'])}, T={args.steps}, "
          f"inputs {task.in_features}, width {args.width}; ADMM {args.iterations} it (warmup {args.warmup}), "
          f"SG {args.sg_epochs} epochs x batch {args.sg_batch}", flush=True)
    rows = []
    for depth in args.depths:
        for method in ("admm", "sg"):
            if method == "admm":
                r = run_admm(task, splits, args.width, depth, admm_cfg, args.seed)
            else:
                r = run_sg(task, splits, args.width, depth, admm_cfg, sg_cfg, args.seed)
            rows.append({"method": method, "depth": depth, **r})
            chosen = f"  (iteration {r['best_iteration']})" if method == "admm" else ""
            print(f"{method:5} depth {depth}: train {r['train']:.3f}  test {r['test']:.3f}  ({r['seconds']:.0f}s){chosen}",
                  flush=True)

    print("\n| hidden layers | ADMM train | ADMM test | ADMM s | SG train | SG test | SG s |")
    print("|---|---|---|---|---|---|---|")
    for depth in args.depths:
        a = next(r for r in rows if r["method"] == "admm" and r["depth"] == depth)
        s = next(r for r in rows if r["method"] == "sg" and r["depth"] == depth)
        print(f"| {depth} | {a['train']:.3f} | {a['test']:.3f} | {a['seconds']:.0f} | "
              f"{s['train']:.3f} | {s['test']:.3f} | {s['seconds']:.0f} |")

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps({"command": " ".join(sys.argv), "args": vars(args), "admm": asdict(admm_cfg),
                               "sg": asdict(sg_cfg), "rows": rows}, indent=1))
    tmp.replace(out)
    print(f"written {out}")
    if args.plots:
        _plots(rows, args.depths, Path(args.plots))
    return 0


def _plots(rows: list[dict], depths: list[int], folder: Path) -> None:
    try:
        from spikeopt.plots.admm import plot_accuracy_vs_depth, plot_admm_curves
    except ImportError:  # pragma: no cover
        return
    series = {f"{m} {split}": {r["depth"]: r[split] for r in rows if r["method"] == m}
              for m in ("admm", "sg") for split in ("train", "test")}
    try:
        print("plot", plot_accuracy_vs_depth(series, folder / "admm_accuracy_vs_depth.png",
                                             "event-digits: accuracy vs hidden layers"))
        for r in rows:
            if r["method"] == "admm":
                print("plot", plot_admm_curves(r["curves"], folder / f"admm_curves_depth{r['depth']}.png",
                                               f"ADMM, {r['depth']} hidden layer(s)"))
    except ImportError as err:  # matplotlib missing: the numbers are still written
        print(f"no plots: {err}")


if __name__ == "__main__":
    raise SystemExit(main())
