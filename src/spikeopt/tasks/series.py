"""Shared steps of the sequence-classification tasks that read user data (``ucr``, ``arrays``):
label maps, z-normalisation, time pooling, stratified hold-out splits, conversion to time-major.
"""

from __future__ import annotations

import numpy as np
import torch

from spikeopt.tasks.base import SequenceData
from spikeopt.tasks.metrics import split_generator
from spikeopt.validation import check_int, check_number


def check_fraction(name: str, key: str, value: object) -> None:
    check_number(value, f"{name} option {key}", 0.0, 1.0, open_low=True, open_high=True)


def check_max_steps(name: str, value: object) -> int | None:
    """``max_steps`` as given, with the command line's ``none`` / ``null`` read as None (no pooling)."""
    if isinstance(value, str) and value.strip().lower() in ("none", "null"):
        return None
    return check_int(value, f"{name} option max_steps (none: no pooling)", 1, optional=True)


def class_order(labels: list[str], declared: list[str] | None = None) -> list[str]:
    """The class order: ``declared`` when the file declares one, else the sorted labels (numerically
    when every label is a number, so ``"10"`` comes after ``"9"``)."""
    if declared:
        if len(set(declared)) != len(declared):
            raise ValueError(f"the declared classes {declared} repeat a name")
        return list(declared)
    unique = sorted(set(labels))
    try:
        return sorted(unique, key=float)
    except ValueError:
        return unique


def znormalise(x: np.ndarray) -> np.ndarray:
    """Per-series, per-dimension z-normalisation over time of ``[N, T, F]``: mean 0, std 1.

    A constant dimension (std 0) becomes all zeros instead of dividing by zero.
    """
    mean = x.mean(axis=1, keepdims=True)
    std = x.std(axis=1, keepdims=True)
    return (x - mean) / np.where(std > 0, std, 1.0)


def pool_steps(x: np.ndarray, max_steps: int | None) -> np.ndarray:
    """Average ``k = ceil(T / max_steps)`` consecutive steps of ``[N, T, F]`` into one, so at most
    ``max_steps`` remain (``ceil(T / k)``; the last window may be shorter). ``None`` or
    ``T <= max_steps``: unchanged."""
    steps = x.shape[1]
    if max_steps is None or steps <= max_steps:
        return x
    k = -(-steps // max_steps)
    out_steps = -(-steps // k)
    pad = out_steps * k - steps
    sums = np.pad(x, ((0, 0), (0, pad), (0, 0))).reshape(x.shape[0], out_steps, k, x.shape[2]).sum(axis=2)
    counts = np.full(out_steps, float(k))
    counts[-1] = k - pad
    return sums / counts[None, :, None]


def resample_length(series: np.ndarray, length: int) -> np.ndarray:
    """Linear interpolation of ``[F, L]`` onto ``length`` equally spaced points over the same span."""
    old = np.linspace(0.0, 1.0, series.shape[1])
    new = np.linspace(0.0, 1.0, length)
    if series.shape[1] == 1:
        return np.repeat(series, length, axis=1)
    return np.stack([np.interp(new, old, row) for row in series])


def stratified_holdout(labels: np.ndarray, fraction: float, seed: int, split: str, what: str) -> tuple[np.ndarray, np.ndarray]:
    """(kept, held-out) indices: every class gives ``round(fraction * n_c)`` of its ``n_c`` samples,
    at least 1 and at most ``n_c - 1``, drawn by the generator of ``(seed, split)``; each part sorted.

    A class with fewer than 2 samples cannot be split and raises an error naming it (``what``
    says which data, for the message).
    """
    labels = np.asarray(labels)
    gen = split_generator(seed, split)
    kept, held = [], []
    classes, counts = np.unique(labels, return_counts=True)
    small = [(int(c), int(n)) for c, n in zip(classes, counts) if n < 2]
    if small:
        raise ValueError(
            f"{what}: a stratified {split} split needs at least 2 samples of every class; "
            f"class(es) {', '.join(f'{c} ({n} sample)' for c, n in small)} have fewer -- add samples or drop those classes"
        )
    for c in classes:
        idx = np.flatnonzero(labels == c)
        idx = idx[torch.randperm(idx.size, generator=gen).numpy()]
        n_held = min(idx.size - 1, max(1, int(round(fraction * idx.size))))
        held.append(idx[:n_held])
        kept.append(idx[n_held:])
    return np.sort(np.concatenate(kept)), np.sort(np.concatenate(held))


def to_sequence(x: np.ndarray, y: np.ndarray) -> SequenceData:
    """``[N, T, F]`` values and ``[N]`` class indices -> time-major float32 ``SequenceData``."""
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(1, 0, 2), dtype=np.float32))
    return SequenceData(xt, torch.from_numpy(np.asarray(y, dtype=np.int64)).reshape(-1, 1))
