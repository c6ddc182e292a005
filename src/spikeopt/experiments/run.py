"""One run: config -> task splits -> method -> evaluation on every split -> a JSON-able result."""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy
import torch

from spikeopt.experiments.config import RunConfig
from spikeopt.export.checkpoint import save_model
from spikeopt.tasks.registry import make_task
from spikeopt.train.pipelines import run_method


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present, else the CPU; an unavailable CUDA request raises."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but CUDA is not available; use --device cpu or auto")
    return device


def versions() -> dict[str, str]:
    from spikeopt import __version__

    return {
        "spikeopt": __version__, "torch": torch.__version__, "numpy": np.__version__,
        "scipy": scipy.__version__, "python": platform.python_version(),
    }


def run(config: RunConfig, save: str | Path | None = None) -> dict[str, Any]:
    """Train and evaluate one configuration; optionally save the trained model to ``save``."""
    t0 = time.perf_counter()
    task = make_task(config.task, **config.task_options)
    splits = task.splits(config.seed)
    t_data = time.perf_counter() - t0
    device = resolve_device(config.device)
    out = run_method(config.method, task, splits, config, config.seed, device)
    t_train = time.perf_counter() - t0 - t_data
    t1 = time.perf_counter()
    metrics = {name: task.evaluate(out.model, data) for name, data in splits.items()}
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
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2, default=_jsonable)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, (np.ndarray, torch.Tensor)):
        return value.tolist()
    if isinstance(value, (tuple, set, Path)):
        return list(value) if not isinstance(value, Path) else str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
