"""Surrogate derivatives ``f'(x)`` computed in place, in a caller's buffer.

Why: :meth:`Surrogate.derivative` builds its result from four or five fresh temporaries; on a block
of a few MiB each temporary is a fresh allocation that the CPU allocator maps from the operating
system, and the page faults cost ten times the arithmetic. Here the same operations, in the same
order (so the same values as :mod:`spikeopt.snn.surrogate`), overwrite a reused buffer.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from spikeopt.snn.surrogate import Surrogate


def derivative_into(surrogate: Surrogate, x: Tensor, out: Tensor, scratch: Tensor) -> Tensor:
    """``out = f'(x)`` for ``surrogate``; ``scratch`` (same shape) may be overwritten. Returns ``out``."""
    k = float(surrogate.slope)
    name = surrogate.name
    if name == "atan":  # (k/2) / (1 + (pi/2 k x)^2)
        torch.mul(x, 0.5 * math.pi * k, out=out)
        out.square_().add_(1.0).reciprocal_().mul_(0.5 * k)
    elif name == "sigmoid":  # k s (1 - s), s = sigmoid(k x)
        torch.mul(x, k, out=scratch)
        scratch.sigmoid_()
        torch.mul(scratch, k, out=out)
        scratch.neg_().add_(1.0)
        out.mul_(scratch)
    elif name == "fast_sigmoid":  # (k/2) / (1 + k |x|)^2
        torch.abs(x, out=out)
        out.mul_(k).add_(1.0).square_().reciprocal_().mul_(0.5 * k)
    elif name == "triangle":  # k max(1 - |k x|, 0)
        torch.mul(x, k, out=out)
        out.abs_().neg_().add_(1.0).clamp_(min=0.0).mul_(k)
    elif name == "straight_through":  # k 1[|k x| < 1/2]
        torch.mul(x, k, out=scratch)
        scratch.abs_()
        torch.lt(scratch, 0.5, out=out)
        out.mul_(k)
    else:
        out.copy_(surrogate.derivative(x))
    return out
