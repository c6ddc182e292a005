"""Checkpoints: one file holding a network's weights, buffers and full configuration."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from spikeopt.snn.network import ParallelLIFSNN

FORMAT = "spikeopt.ParallelLIFSNN/1"


def save_model(model: ParallelLIFSNN, path: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write ``model`` (and optional JSON-able ``extra``, e.g. the run config) atomically to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "config": model.config(),
        "spike_mode": model.spike_mode,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "extra": extra or {},
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def load_model(path: str | Path, map_location: str | torch.device = "cpu") -> tuple[ParallelLIFSNN, dict[str, Any]]:
    """The network saved at ``path`` and its ``extra`` dict."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    payload = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path} is not a spikeopt model file (expected format {FORMAT})")
    state = payload["state_dict"]
    model = ParallelLIFSNN(beta=state["beta"], threshold=state["threshold"], **payload["config"])
    model = model.to(dtype=state["weights.0"].dtype)
    model.load_state_dict(state)
    model.spike_mode = payload.get("spike_mode", "hard")
    return model.eval(), payload.get("extra", {})
