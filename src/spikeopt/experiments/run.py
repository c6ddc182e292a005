"""One run: config -> task splits -> method -> evaluation on every split -> a JSON-able result."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy
import torch

from spikeopt import __version__
from spikeopt.atomic import atomic_write
from spikeopt.experiments.config import RunConfig
from spikeopt.export.checkpoint import save_model
from spikeopt.synops import count_operations
from spikeopt.tasks.registry import make_task
from spikeopt.train import memory
from spikeopt.train.registry import get_method, run_method

DEVICE_HELP = "use cpu, cuda, cuda:N or auto"


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present, else the CPU; unknown or unavailable devices raise ValueError."""
    if not isinstance(name, str):
        raise ValueError(f"device must be a name such as 'cpu', got {name!r}; {DEVICE_HELP}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ValueError(f"unknown device {name!r}; {DEVICE_HELP}") from None
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"device {name!r} is not supported by spikeopt; {DEVICE_HELP}")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r} was asked for but CUDA is not available; use --device cpu or auto")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"device {name!r}: only {torch.cuda.device_count()} CUDA device(s) present")
    return device


def check_run(config: RunConfig) -> None:
    """The checks that need no data, run before anything else: the method name and the device."""
    get_method(config.method)
    resolve_device(config.device)


def check_memory(config: RunConfig, task: Any, train: Any, device: torch.device) -> None:
    """Refuse sizes that cannot fit before the model is built (the convex dictionary checks its own)."""
    m = config.model
    steps, samples = train.steps, len(train)
    dims = (task.in_features, task.out_features, m.subnetworks, m.width, m.depth)
    advice = "lower --subnetworks, --width, --depth or --batch-size"
    sections = get_method(config.method).configs
    gradient = [name for name in ("sg", "finetune", "sast") if name in sections]  # the gradient stages it runs
    if gradient:
        batch = max(getattr(config, name).batch_size for name in gradient)
        copies = 6 if "sast" in gradient else 5
        need = memory.gradient_training_bytes(steps, samples, *dims, batch, copies, gpu=device.type == "cuda")
        sizes = f"{m.subnetworks} subnetworks x {m.width} width x {m.depth} depth, T={steps}, batch {min(batch, samples)}"
        memory.check_fits(need, f"{config.method} training", sizes, advice, device)
    elif "admm" in sections:
        memory.check_admm(steps, samples, task.in_features, task.out_features, m.width, m.depth, device)


def versions() -> dict[str, str]:
    return {
        "spikeopt": __version__, "torch": torch.__version__, "numpy": np.__version__,
        "scipy": scipy.__version__, "python": platform.python_version(),
    }


def run(config: RunConfig, save: str | Path | None = None) -> dict[str, Any]:
    """Train and evaluate one configuration; optionally save the trained model to ``save``."""
    check_run(config)
    device = resolve_device(config.device)
    t0 = time.perf_counter()
    task = make_task(config.task, **config.task_options)
    splits = task.splits(config.seed)
    t_data = time.perf_counter() - t0
    check_memory(config, task, splits["train"], device)
    out = run_method(config.method, task, splits, config, config.seed, device)
    t_train = time.perf_counter() - t0 - t_data
    t1 = time.perf_counter()
    metrics = {name: task.evaluate(out.model, data) for name, data in splits.items()}
    counted = "test" if "test" in splits else list(splits)[-1]
    synops = {"split": counted, **count_operations(out.model, splits[counted].x)}
    info = dict(out.info)
    timings = {"data_s": t_data, "train_s": t_train, "evaluate_s": time.perf_counter() - t1, **info.pop("timings", {})}
    result = {
        "config": config.to_dict(),
        "task": task.config(),
        "method": config.method,
        "seed": config.seed,
        "device": str(device),
        "metrics": metrics,
        "model": {**out.model.config(), "parameters": sum(p.numel() for p in out.model.parameters())},
        "synops": synops,
        "timings": timings,
        "versions": versions(),
        **info,
    }
    if save is not None:
        save_model(out.model, save, {"run_config": config.to_dict(), "task": task.config()})
        result["model_path"] = str(save)
    return result


def write_json(data: dict[str, Any], path: str | Path) -> Path:
    """Write ``data`` as JSON atomically (temp file + rename), so a crash never leaves half a file."""
    path = Path(path)
    with atomic_write(path, "w") as fh:
        json.dump(data, fh, indent=2, default=_jsonable)
    return path


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, (np.ndarray, torch.Tensor)):
        return value.tolist()
    if isinstance(value, (tuple, set, Path)):
        return list(value) if not isinstance(value, Path) else str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
