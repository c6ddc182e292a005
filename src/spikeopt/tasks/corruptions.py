"""Input corruptions of dense time-major data, for robustness evaluation (not for training).

A corruption is a seeded function of a split: the same ``(data, level, seed)`` always gives the same
corrupted split, so every model of a comparison is scored on the very same corrupted inputs.
Event data is corrupted at the event level instead (`spikeopt.tasks.events.corrupt`), before
binning, because noise on binned counts is not what an event camera produces.
"""

from __future__ import annotations

import torch
from torch import Tensor

from spikeopt.tasks.base import SequenceData
from spikeopt.validation import check_int, check_number

DENSE_CORRUPTIONS = ("gaussian",)


def _check_seed(seed: object) -> int:
    return check_int(seed, "seed", 0)


def gaussian_noise(data: SequenceData | Tensor, std: float, seed: int = 0) -> SequenceData | Tensor:
    """``x + std * N(0, 1)`` elementwise, drawn from a generator seeded with ``seed``.

    Takes a `SequenceData` (labels kept) or a bare floating tensor and returns the same kind. The
    noise is drawn on the CPU, so the result does not depend on the device the data lives on.
    ``std = 0`` returns an unchanged copy. Values are not clipped: the corruption is purely additive.
    """
    check_number(std, "std", 0)
    seed = _check_seed(seed)
    x = data.x if isinstance(data, SequenceData) else data
    if not isinstance(x, Tensor) or not x.is_floating_point():
        raise TypeError(f"gaussian_noise needs SequenceData or a floating torch.Tensor, got {type(data).__name__}")
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(x.shape, generator=gen, dtype=torch.float32).to(device=x.device, dtype=x.dtype)
    noisy = x + float(std) * noise
    if isinstance(data, SequenceData):
        return SequenceData(noisy, data.y.clone())
    return noisy


def corrupt_dense(data: SequenceData, kind: str, level: float, seed: int = 0) -> SequenceData:
    """Apply the dense corruption ``kind`` (``gaussian``: ``level`` is the noise std) to a split."""
    if kind not in DENSE_CORRUPTIONS:
        raise ValueError(f"unknown dense corruption {kind!r}; valid: {', '.join(DENSE_CORRUPTIONS)}")
    if not isinstance(data, SequenceData):
        raise TypeError(f"corrupt_dense needs SequenceData, got {type(data).__name__}")
    out = gaussian_noise(data, level, seed)
    assert isinstance(out, SequenceData)
    return out


__all__ = ["DENSE_CORRUPTIONS", "corrupt_dense", "gaussian_noise"]
