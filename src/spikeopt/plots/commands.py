"""``spikeopt plot KIND ...``: PNGs from a saved model or a result JSON.

- ``raster MODEL.pt``: spike raster and membrane of one sample (the task saved with the model, or ``--task``);
- ``dictionary RESULT.json``: fate of the witness neurons, firing rates of the active atoms (convex results);
- ``path RESULT.json``: the solver's regularisation path (convex results);
- ``curves RESULT.json``: training curves per epoch of every stage (SG, fine-tuning, SAST) or ADMM's curves.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from spikeopt.experiments.config import parse_value
from spikeopt.export.checkpoint import load_model
from spikeopt.plots.admm import plot_admm_curves
from spikeopt.plots.dictionary import plot_dictionary
from spikeopt.plots.experiments import training_curves
from spikeopt.plots.raster import plot_raster
from spikeopt.plots.solver_path import plot_solver_path
from spikeopt.probe import record_layers
from spikeopt.tasks.registry import make_task

KINDS = ("raster", "dictionary", "path", "curves")


def _read_result(path: str) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no result file at {p}")
    try:
        data = json.loads(p.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{p} is not a JSON result ({err})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{p} is not a spikeopt result (expected a JSON object)")
    return data


def _task_from(name: str | None, options: list[str], saved: dict[str, Any] | None) -> Any:
    """The task to draw data from: ``--task`` and ``--opt`` if given, else the one saved with the model."""
    if name is None:
        if not saved or "name" not in saved:
            raise ValueError("this model file does not record its task: pass --task NAME (and --opt key=value)")
        kwargs = {k: v for k, v in saved.items() if k != "name"}
        name = saved["name"]
    else:
        kwargs = {}
    for item in options:
        if "=" not in item:
            raise ValueError(f"--opt expects key=value, got {item!r}")
        key, raw = item.split("=", 1)
        kwargs[key.replace("-", "_")] = parse_value(raw)
    return make_task(name, **kwargs)


def _raster(args: argparse.Namespace) -> Path:
    model, extra = load_model(args.source)
    task = _task_from(args.task, args.opt, extra.get("task"))
    splits = task.splits(args.seed)
    if args.split not in splits:
        raise ValueError(f"--split {args.split!r} is not a split of {task.name}; valid: {', '.join(splits)}")
    return plot_raster(model, splits[args.split].x, args.out, sample=args.sample, max_neurons=args.neurons,
                       title=f"{Path(args.source).name}: {task.name} {args.split} sample {args.sample}")


def _dictionary(args: argparse.Namespace) -> Path:
    result = _read_result(args.source)
    if "dictionary" not in result:
        raise ValueError(f"{args.source} has no 'dictionary' entry: dictionary plots need a convex result")
    active = None
    model_path = result.get("model_path")
    if model_path and Path(model_path).is_file():  # the rebuilt network's read neurons are the active atoms
        model, extra = load_model(model_path)
        task = _task_from(None, [], extra.get("task") or result.get("task"))
        x = task.splits(result.get("seed", 0))["train"].x
        spikes = record_layers(model, x)[1][-1].spikes
        read = model.output.weight.detach().abs().sum(dim=0).cpu() > 0  # whole witness subnetworks are kept
        active = spikes.float().mean(dim=(0, 1)).flatten().cpu()[read].numpy()
    return plot_dictionary(result["dictionary"], args.out, active_rates=active,
                           title=f"{Path(args.source).name}: {result.get('method', '')} dictionary")


def _path(args: argparse.Namespace) -> Path:
    result = _read_result(args.source)
    if not result.get("path"):
        raise ValueError(f"{args.source} has no solver path: path plots need a convex result")
    return plot_solver_path(result["path"], args.out, title=f"{Path(args.source).name}: solver path")


def _curves(args: argparse.Namespace) -> Path:
    result = _read_result(args.source)
    if "admm" in result and "lagrangian" in result["admm"]:
        return plot_admm_curves(result["admm"], args.out, title=f"{Path(args.source).name}: ADMM")
    history = result.get("history")
    if not isinstance(history, dict) or not history:
        raise ValueError(f"{args.source} has no training history (SG, fine-tuning, SAST or ADMM results have one)")

    metric = next(iter(result.get("metrics", {}).get("val", {}) or {"accuracy": 0}))
    panels = {stage: {result.get("method", "run"): h["records"]} for stage, h in history.items() if h.get("records")}
    return training_curves(args.out, panels, metric)


def cmd_plot(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="spikeopt plot", description="Draw a PNG from a saved model or a result JSON.")
    p.add_argument("kind", choices=KINDS, help="raster (MODEL.pt), dictionary, path or curves (RESULT.json)")
    p.add_argument("source", help="a model file (raster) or a JSON result (the others)")
    p.add_argument("--out", required=True, help="the PNG to write")
    p.add_argument("--task", default=None, help="raster: the task whose data to show (default: the model's own)")
    p.add_argument("--opt", action="append", default=[], metavar="KEY=VALUE", help="raster: a task option (repeat)")
    p.add_argument("--split", default="test", help="raster: the split to draw the sample from (default test)")
    p.add_argument("--sample", type=int, default=0, help="raster: the sample's index in the split (default 0)")
    p.add_argument("--neurons", type=int, default=64, help="raster: neurons shown per layer (default 64)")
    p.add_argument("--seed", type=int, default=0, help="raster: the seed of the task's splits (default 0)")
    args = p.parse_args(argv)
    try:
        out = {"raster": _raster, "dictionary": _dictionary, "path": _path, "curves": _curves}[args.kind](args)
    except ImportError as err:
        raise ValueError(str(err)) from None
    print(f"{args.kind} plot written to {out}")
    return 0
