"""Mid-run checkpoints of a trainer (SG, SAST, ADMM), so that a killed run continues where it stopped.

The file holds everything the next epoch depends on -- weights, optimizer and scheduler state, the
minibatch generator, the history and the best weights so far -- so a resumed run takes exactly the
steps the uninterrupted run would have taken. Written atomically (temp file + rename) after every
epoch; read with ``weights_only=True`` (no arbitrary unpickling).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from spikeopt.atomic import atomic_write

FORMAT = "spikeopt.training-state/1"


def save_state(path: str | Path, state: dict[str, Any]) -> Path:
    path = Path(path)
    with atomic_write(path) as fh:
        torch.save({"format": FORMAT, **state}, fh)
    return path


def gradient_state(model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any) -> dict[str, Any]:
    """The part of a gradient trainer's checkpoint that SG and SAST share: weights, optimizer, scheduler."""
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": None if scheduler is None else scheduler.state_dict()}


def restore_gradient_state(saved: dict[str, Any], model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                           scheduler: Any) -> None:
    """Load what :func:`gradient_state` saved back into the live objects."""
    model.load_state_dict(saved["model"])
    optimizer.load_state_dict(saved["optimizer"])
    if scheduler is not None and saved["scheduler"] is not None:
        scheduler.load_state_dict(saved["scheduler"])


def load_state(path: str | Path, trainer: str) -> dict[str, Any]:
    """The state saved at ``path`` by ``trainer`` (``"sg"``, ``"sast"``, ``"admm"``); a clear error for any other file."""
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - every unreadable file gets the same answer
        raise ValueError(f"{path} is not a readable training checkpoint ({type(err).__name__}); "
                         "remove it to start afresh") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT or state.get("trainer") != trainer:
        raise ValueError(f"{path} is not a {trainer} training checkpoint of this spikeopt; remove it to start afresh")
    return state


def check_start(path: str | Path | None, resume: bool) -> bool:
    """Whether to resume from ``path``: refuses to overwrite an existing checkpoint silently."""
    if path is None:
        if resume:
            raise ValueError("resume needs a checkpoint path (--checkpoint PATH)")
        return False
    exists = Path(path).is_file()
    if exists and not resume:
        raise ValueError(f"checkpoint {path} exists: pass --resume to continue that run, or remove the file")
    return exists
