"""Learning-rate schedules for the gradient trainers (SG, fine-tuning, SAST), stepped once per epoch.

``constant`` (the default, what the trainers always did), ``cosine`` (from ``lr`` down to 0 over the
epochs, Loshchilov & Hutter's SGDR without restarts) and ``step`` (times ``gamma`` every ``step_size``
epochs). Why in the library: a long SG run without decay ends noisy, and comparing methods fairly
means giving the SG baseline the schedule the best libraries use.
"""

from __future__ import annotations

import torch

from spikeopt.validation import check_choice, check_int, check_number

LR_SCHEDULES = ("constant", "cosine", "step")


def check_schedule(schedule: str, step_size: int, gamma: float) -> None:
    check_choice(schedule, "lr_schedule", LR_SCHEDULES)
    check_int(step_size, "lr_step_size (epochs between decays)", 1)
    check_number(gamma, "lr_gamma (the decay factor)", 0.0, 1.0, open_low=True)


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
