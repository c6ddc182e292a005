"""spikeopt: train spiking neural networks beyond surrogate gradients.

Convex parameter reconstruction with certified optima, ADMM and sharpness-aware surrogate
training, each beside a strong surrogate-gradient baseline. Tensors are time-major ``[T, B, F]``.

The network classes load on first use, so ``spikeopt --help`` does not wait for torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

__all__ = ["LIF", "ParallelLIFSNN", "__version__", "surrogate"]


def __getattr__(name: str) -> Any:
    if name in ("LIF", "ParallelLIFSNN", "surrogate"):
        return getattr(importlib.import_module("spikeopt.snn"), name)
    raise AttributeError(f"module 'spikeopt' has no attribute {name!r}")
