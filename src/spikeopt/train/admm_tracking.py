"""What ADMM records while it runs: every term of the Lagrangian, the real spiking network's train
accuracy, and a divergence watch (the paper's Figures 3 and 4)."""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import torch
from torch import Tensor

from spikeopt.tasks.base import predict_heads
from spikeopt.train.admm_config import ADMMConfig
from spikeopt.train.admm_state import (
    DTYPE,
    Shard,
    all_reduce_,
    dynamics_residual,
    heaviside,
    primal_residual,
    spiking_rollout,
)


def lagrangian_terms(weights: Sequence[Tensor], shards: Sequence[Shard], cfg: ADMMConfig) -> dict[str, Any]:
    """Sums over shards (and processes) of every term of Eq. (2), per layer where the paper plots them."""
    n_layers = len(weights)
    loss = torch.zeros((), dtype=DTYPE)
    primal = torch.zeros((), dtype=DTYPE)
    inner = torch.zeros((), dtype=DTYPE)
    z_sq = torch.zeros(n_layers, dtype=DTYPE)
    a_sq = torch.zeros(max(n_layers - 1, 1), dtype=DTYPE)
    for shard in shards:
        loss += ((shard.z[-1][-1] - shard.y) ** 2).sum().cpu()
        res = primal_residual(shard, weights[-1], cfg)
        primal += (res**2).sum().cpu()
        inner += (res * shard.lam).sum().cpu()
        for layer in range(n_layers):
            z_sq[layer] += (dynamics_residual(shard, layer, weights[layer], cfg) ** 2).sum().cpu()
        for layer in range(n_layers - 1):
            a_sq[layer] += ((shard.a[layer] - heaviside(shard.z[layer], cfg.theta)) ** 2).sum().cpu()
    all_reduce_(loss, primal, inner, z_sq, a_sq)
    a_sq = a_sq[: n_layers - 1]
    lagrangian = loss + 0.5 * cfg.rho * z_sq.sum() + 0.5 * cfg.sigma * a_sq.sum() + inner
    return {
        "lagrangian": float(lagrangian),
        "target_loss": float(loss),
        "primal_residual": float(primal.sqrt()),
        "z_residual": [float(v) for v in z_sq.sqrt()],
        "a_residual": [float(v) for v in a_sq.sqrt()],
    }


def spiking_forward(weights: Sequence[Tensor], x: Tensor, cfg: ADMMConfig) -> Tensor:
    """The real network's output at the last step (what its accuracy is judged on)."""
    return spiking_rollout(weights, x, cfg, record=False)[2][-1]


def correct_count(out: Tensor, labels: Tensor, head_sizes: Sequence[int]) -> Tensor:
    """How many rows have every head's arg-max equal to its label."""
    pred = predict_heads(out, head_sizes)
    return (pred == labels.to(pred.device)).all(-1).sum()


def spiking_accuracy(
    weights: Sequence[Tensor], shards: Sequence[Shard], labels: Sequence[Tensor], head_sizes: Sequence[int],
    cfg: ADMMConfig,
) -> float:
    """Accuracy of the real spiking network over all shards (and processes)."""
    counts = torch.zeros(2, dtype=DTYPE)
    for shard, lab in zip(shards, labels):
        counts[0] += float(correct_count(spiking_forward(weights, shard.x, cfg), lab, head_sizes))
        counts[1] += lab.shape[0]
    all_reduce_(counts)
    return float(counts[0] / counts[1])


@dataclass
class ADMMHistory:
    """Tracked curves (the paper's Figures 3 and 4) and train accuracy of the real spiking network."""

    iteration: list[int] = field(default_factory=list)
    lagrangian: list[float] = field(default_factory=list)
    target_loss: list[float] = field(default_factory=list)
    primal_residual: list[float] = field(default_factory=list)
    z_residual: list[list[float]] = field(default_factory=list)  # [record][layer], output layer last
    a_residual: list[list[float]] = field(default_factory=list)  # [record][hidden layer]
    train_accuracy: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)  # when a validation split is tracked
    best_iteration: int | None = None  # the tracked iteration with the best validation accuracy
    seconds: list[float] = field(default_factory=list)
    diverged: bool = False

    def record(self, iteration: int, terms: dict[str, Any], accuracy: float, seconds: float) -> None:
        self.iteration.append(iteration)
        for key in ("lagrangian", "target_loss", "primal_residual", "z_residual", "a_residual"):
            getattr(self, key).append(terms[key])
        self.train_accuracy.append(accuracy)
        self.seconds.append(seconds)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_divergence(history: ADMMHistory, factor: float) -> None:
    """Raise on non-finite values; warn once when a residual exceeds ``factor * max(its minimum, 1)``.

    The minimum is taken from iteration 1 on (the initialisation satisfies every constraint) and is
    floored at 1 so that growth from a numerically zero residual is not mistaken for divergence.
    """
    last = [history.lagrangian[-1], history.primal_residual[-1], *history.z_residual[-1], *history.a_residual[-1]]
    if not all(math.isfinite(v) for v in last):
        raise FloatingPointError(
            f"ADMM diverged to non-finite values at iteration {history.iteration[-1]}; "
            "raise sigma or rho, lower init_scale, or raise ridge"
        )
    if history.diverged:
        return
    series = {"primal residual": history.primal_residual}
    for layer in range(len(history.z_residual[-1])):
        series[f"z residual of layer {layer + 1}"] = [r[layer] for r in history.z_residual]
    for name, values in series.items():
        if len(values) < 3:  # the first record is the consistent initialisation (residuals ~ 0)
            return
        low = min(values[1:])
        if values[-1] > factor * max(low, 1.0):
            history.diverged = True
            warnings.warn(
                f"ADMM residuals diverge: the {name} grew from {low:.3g} to {values[-1]:.3g} by iteration "
                f"{history.iteration[-1]}; try a larger rho or sigma, more warmup, or a smaller init_scale",
                RuntimeWarning,
                stacklevel=3,
            )
            return
