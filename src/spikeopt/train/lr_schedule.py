"""Learning-rate schedules for the gradient trainers (SG, fine-tuning, SAST), stepped once per epoch.

``constant`` (the default, what the trainers always did), ``cosine`` (from ``lr`` down to 0 over the
epochs, Loshchilov & Hutter's SGDR without restarts) and ``step`` (times ``gamma`` every ``step_size``
epochs). Why in the library: a long SG run without decay ends noisy, and comparing methods fairly
means giving the SG baseline the schedule the best libraries use.
"""

from __future__ import annotations

import math

import torch

LR_SCHEDULES = ("constant", "cosine", "step")


def check_schedule(schedule: str, step_size: int, gamma: float) -> None:
    if schedule not in LR_SCHEDULES:
        raise ValueError(f"unknown lr_schedule {schedule!r}; valid: {', '.join(LR_SCHEDULES)}")
    if isinstance(step_size, bool) or not isinstance(step_size, int) or step_size < 1:
        raise ValueError(f"lr_step_size must be a positive integer (epochs between decays), got {step_size!r}")
    if not (isinstance(gamma, (int, float)) and 0 < gamma <= 1 and math.isfinite(gamma)):
        raise ValueError(f"lr_gamma must be a number in (0, 1] (the decay factor), got {gamma!r}")


def make_scheduler(
    optimizer: torch.optim.Optimizer, schedule: str, epochs: int, step_size: int = 10, gamma: float = 0.1,
) -> torch.optim.lr_scheduler.LRScheduler | None:
    """The scheduler to ``step()`` after each epoch, or ``None`` for ``constant``."""
    check_schedule(schedule, step_size, gamma)
    if schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(epochs, 1))
    if schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=gamma)
    return None
