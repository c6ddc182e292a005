"""The SAM step (Foret et al. 2021) of sharpness-aware surrogate training, and its base optimizer.

``g = grad L_B(w)``, ``e = rho g / ||g||`` (global 2-norm over all trained parameters), then the
base optimizer steps with ``grad L_B'(w + e)`` from the original weights ``w``, restored exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor, nn

from spikeopt.train.sast_config import SASTConfig
from spikeopt.validation import check_number


@dataclass(frozen=True)
class SAMStep:
    """What one SAM step saw: the loss at the original weights (ascent batch), the loss at the
    perturbed weights (descent batch) and ``||g||`` (``nan`` when ``rho = 0`` skipped the ascent)."""

    loss: float
    perturbed_loss: float
    grad_norm: float


def _grads(params: list[nn.Parameter]) -> list[Tensor | None]:
    return [p.grad for p in params]


def sam_step(
    params: list[nn.Parameter],
    ascent_loss: Callable[[], Tensor],
    descent_loss: Callable[[], Tensor],
    optimizer: torch.optim.Optimizer,
    rho: float,
    grad_clip: float | None = None,
) -> SAMStep:
    """One SAM update of ``params`` in place.

    ``ascent_loss()`` / ``descent_loss()`` run a forward pass and return the scalar loss (the same
    closure twice for plain SAM, two batches for the stochastic variant). With ``rho = 0`` the
    ascent is skipped: one gradient of ``descent_loss`` at ``w``, i.e. a plain optimizer step.
    """
    rho = float(check_number(rho, "rho", 0.0))
    loss_value = math.nan
    norm = math.nan
    saved: list[Tensor] | None = None
    if rho > 0:
        optimizer.zero_grad(set_to_none=True)
        loss = ascent_loss()
        _check_finite(loss)
        loss.backward()
        loss_value = loss.item()
        grads = _grads(params)
        norm = math.sqrt(sum(float(g.detach().double().pow(2).sum()) for g in grads if g is not None))
        if norm > 0:
            saved = [p.detach().clone() for p in params]
            scale = rho / norm
            with torch.no_grad():
                for p, g in zip(params, grads):
                    if g is not None:
                        p.add_(g, alpha=scale)
    optimizer.zero_grad(set_to_none=True)
    loss = descent_loss()
    _check_finite(loss)
    loss.backward()
    perturbed = loss.item()
    if saved is not None:  # back to the original weights exactly (no add-then-subtract round-off)
        with torch.no_grad():
            for p, w in zip(params, saved):
                p.copy_(w)
    if grad_clip is not None:
        torch.nn.utils.clip_grad_norm_(params, grad_clip)
    optimizer.step()
    return SAMStep(perturbed if rho == 0 else loss_value, perturbed, norm)


def _check_finite(loss: Tensor) -> None:
    if not torch.isfinite(loss):
        raise FloatingPointError(f"training loss became {loss.item()}; lower --lr or --rho, or set --grad-clip")


def make_optimizer(params: list[nn.Parameter], config: SASTConfig) -> torch.optim.Optimizer:
    """The base optimizer with coupled L2 (``weight_decay * w`` added to the gradient), as in ``sg``."""
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
