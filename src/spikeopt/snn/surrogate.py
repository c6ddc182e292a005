"""Surrogate spike functions: a Heaviside forward with the derivative of a smooth step backward.

Each surrogate is defined by a smooth step function ``f`` (0 at -inf, 1 at +inf, ``f(0) = 1/2``)
whose steepness is set by ``slope``. The spike is ``1[x > 0]`` in the forward pass and ``f'(x)`` in
the backward pass. ``f`` itself is exposed too: the sharpness-aware method runs networks with ``f``
in the forward pass ("surrogate-forward"), and ``f -> Heaviside`` as ``slope -> inf``.

=================  =========================================================  ===============
name               smooth step ``f(x)``                                       default slope
=================  =========================================================  ===============
atan               ``1/2 + arctan(pi/2 * k x) / pi`` (snnTorch's ``ATan``)     2.0
sigmoid            ``sigmoid(k x)`` (snnTorch's ``sigmoid``)                   25.0
fast_sigmoid       ``1/2 + k x / (2 (1 + k|x|))``                              25.0
triangle           the CDF of a triangle kernel of half-width ``1/k``          1.0
straight_through   ``clamp(k x + 1/2, 0, 1)`` (clipped straight-through)       1.0
=================  =========================================================  ===============

``atan`` and ``sigmoid`` have exactly snnTorch's backward. snnTorch's ``fast_sigmoid`` backward is
``1/(1+k|x|)^2``, which is ``2/k`` times ours: we keep ``f'`` the derivative of a true 0-to-1 step so
that the surrogate-forward model is a smoothing of the spiking one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

from spikeopt.validation import check_choice, check_number


def _atan_f(x: Tensor, k: float) -> Tensor:
    return 0.5 + torch.atan(0.5 * math.pi * k * x) / math.pi


def _atan_df(x: Tensor, k: float) -> Tensor:
    return (0.5 * k) / (1.0 + (0.5 * math.pi * k * x) ** 2)


def _sigmoid_f(x: Tensor, k: float) -> Tensor:
    return torch.sigmoid(k * x)


def _sigmoid_df(x: Tensor, k: float) -> Tensor:
    s = torch.sigmoid(k * x)
    return k * s * (1.0 - s)


def _fast_sigmoid_f(x: Tensor, k: float) -> Tensor:
    return 0.5 + 0.5 * k * x / (1.0 + k * x.abs())


def _fast_sigmoid_df(x: Tensor, k: float) -> Tensor:
    return 0.5 * k / (1.0 + k * x.abs()) ** 2


def _triangle_f(x: Tensor, k: float) -> Tensor:
    kx = (k * x).clamp(-1.0, 1.0)
    return torch.where(kx < 0, 0.5 * (1.0 + kx) ** 2, 1.0 - 0.5 * (1.0 - kx) ** 2)


def _triangle_df(x: Tensor, k: float) -> Tensor:
    return k * (1.0 - (k * x).abs()).clamp(min=0.0)


def _ste_f(x: Tensor, k: float) -> Tensor:
    return (k * x + 0.5).clamp(0.0, 1.0)


def _ste_df(x: Tensor, k: float) -> Tensor:
    return k * ((k * x).abs() < 0.5).to(x.dtype)


_SMOOTH: dict[str, tuple[Callable[[Tensor, float], Tensor], Callable[[Tensor, float], Tensor], float]] = {
    "atan": (_atan_f, _atan_df, 2.0),
    "sigmoid": (_sigmoid_f, _sigmoid_df, 25.0),
    "fast_sigmoid": (_fast_sigmoid_f, _fast_sigmoid_df, 25.0),
    "triangle": (_triangle_f, _triangle_df, 1.0),
    "straight_through": (_ste_f, _ste_df, 1.0),
}

SURROGATES = tuple(_SMOOTH)


def _make_function(name: str) -> type[torch.autograd.Function]:
    derivative = _SMOOTH[name][1]

    class SpikeFunction(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x: Tensor, slope: float) -> Tensor:  # type: ignore[override]
            ctx.save_for_backward(x)
            ctx.slope = slope
            return (x > 0).to(x.dtype)

        @staticmethod
        def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
            (x,) = ctx.saved_tensors
            return grad * derivative(x, ctx.slope), None

    SpikeFunction.__name__ = SpikeFunction.__qualname__ = "".join(p.title() for p in name.split("_")) + "Spike"
    return SpikeFunction


SPIKE_FUNCTIONS: dict[str, type[torch.autograd.Function]] = {name: _make_function(name) for name in _SMOOTH}


@dataclass(frozen=True)
class Surrogate:
    """A named surrogate with its slope; ``spike`` is hard forward / smooth backward."""

    name: str = "atan"
    slope: float | None = None

    def __post_init__(self) -> None:
        check_choice(self.name, "surrogate", SURROGATES)
        if self.slope is None:
            object.__setattr__(self, "slope", _SMOOTH[self.name][2])
        check_number(self.slope, "surrogate slope", 0.0, open_low=True)
        object.__setattr__(self, "slope", float(self.slope))

    def spike(self, x: Tensor) -> Tensor:
        """``1[x > 0]`` forward, ``f'(x)`` backward."""
        return SPIKE_FUNCTIONS[self.name].apply(x, self.slope)

    def smooth(self, x: Tensor) -> Tensor:
        """The smooth step ``f(x)`` itself (differentiable by ordinary autograd)."""
        return _SMOOTH[self.name][0](x, self.slope)

    def derivative(self, x: Tensor) -> Tensor:
        """``f'(x)``, the surrogate gradient."""
        return _SMOOTH[self.name][1](x, self.slope)


def surrogate(name: str | Surrogate = "atan", slope: float | None = None) -> Surrogate:
    """Look a surrogate up by name (``atan``, ``sigmoid``, ``fast_sigmoid``, ``triangle``, ``straight_through``)."""
    if isinstance(name, Surrogate):
        return name if slope is None else Surrogate(name.name, slope)
    return Surrogate(name, slope)


def heaviside(x: Tensor) -> Tensor:
    """The hard spike ``1[x > 0]`` with no gradient (for inference and dictionaries)."""
    return (x > 0).to(x.dtype)
