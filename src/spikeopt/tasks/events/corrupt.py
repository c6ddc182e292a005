"""Event-level corruptions of `EventSamples`: dropped events, added noise events, timestamp jitter.

These model what goes wrong on a real event camera (missed events, background activity, timing
noise), so they act on the events themselves, before binning; the corrupted samples are then binned
with the task's usual settings (``EventDigits.corrupted_split`` and friends). Everything is
vectorised over all samples at once and seeded: the same ``(samples, level, seed)`` gives the same
result. Counts are exact per sample (not Bernoulli draws), so a level means the same thing for a
short and a long recording:

* ``drop``: remove ``round(level * n_i)`` events of sample ``i``, chosen uniformly without replacement;
* ``noise``: add ``round(level * n_i)`` events, uniform over the sensor's pixels, both polarities
  and the sample's own time span ``[t0_i, t1_i]``;
* ``jitter``: add ``round(N(0, level^2))`` microseconds to every timestamp, clipped to the sample's
  original span (so that binning over ``[t0_i, t1_i]`` keeps the same bin grid).

Within each sample the output events are sorted by time (stably).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from spikeopt.tasks.events.binning import sample_spans
from spikeopt.tasks.events.format import EVENT_DTYPE, EventSamples
from spikeopt.validation import check_number

EVENT_CORRUPTIONS = ("drop", "noise", "jitter")

Seed = int | Sequence[int]


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _rng(seed: Seed) -> np.random.Generator:
    words = [seed] if _is_int(seed) else list(seed) if isinstance(seed, (list, tuple, np.ndarray)) else None
    if not words or not all(_is_int(w) and w >= 0 for w in words):
        raise ValueError(f"seed must be an integer >= 0 or a non-empty sequence of them, got {seed!r}")
    return np.random.default_rng([int(w) for w in words])


def _check_samples(samples: object) -> EventSamples:
    if not isinstance(samples, EventSamples):
        raise TypeError(f"event corruptions need EventSamples, got {type(samples).__name__}")
    return samples


def _check_level(value: object, name: str, high: float | None = None) -> float:
    return float(check_number(value, name, 0.0, high))


def _rebuild(samples: EventSamples, events: np.ndarray, group: np.ndarray) -> EventSamples:
    """Samples from events tagged with their sample ``group`` (any order): sorted by (sample, time)."""
    order = np.lexsort((events["t"], group))
    counts = np.bincount(group, minlength=len(samples)).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return EventSamples(events[order], offsets, samples.labels.copy(), samples.height, samples.width)


def drop_events(samples: EventSamples, fraction: float, seed: Seed = 0) -> EventSamples:
    """Remove ``round(fraction * n_i)`` uniformly chosen events from every sample ``i``."""
    samples = _check_samples(samples)
    fraction = _check_level(fraction, "drop fraction", 1.0)
    rng = _rng(seed)
    group = samples.sample_index
    n_drop = np.rint(fraction * samples.counts).astype(np.int64)
    # rank every event within its sample by a random key; the n_drop lowest ranks go
    order = np.lexsort((rng.random(group.size), group))
    rank = np.empty(group.size, dtype=np.int64)
    rank[order] = np.arange(group.size, dtype=np.int64) - samples.offsets[group[order]]
    keep = rank >= n_drop[group]
    return _rebuild(samples, samples.events[keep], group[keep])


def add_noise_events(samples: EventSamples, fraction: float, seed: Seed = 0) -> EventSamples:
    """Add ``round(fraction * n_i)`` uniformly random events to every sample ``i`` (pixels, polarity
    and timestamps in the sample's span ``[t0_i, t1_i]``); empty samples stay empty."""
    samples = _check_samples(samples)
    fraction = _check_level(fraction, "noise fraction")
    rng = _rng(seed)
    n_add = np.rint(fraction * samples.counts).astype(np.int64)
    owner = np.repeat(np.arange(len(samples), dtype=np.int64), n_add)
    t0, t1 = sample_spans(samples)
    noise = np.empty(owner.size, dtype=EVENT_DTYPE)
    noise["x"] = rng.integers(0, samples.width, owner.size)
    noise["y"] = rng.integers(0, samples.height, owner.size)
    noise["p"] = rng.integers(0, 2, owner.size)
    noise["t"] = rng.integers(t0[owner], t1[owner], endpoint=True) if owner.size else 0
    events = np.concatenate([samples.events, noise])
    group = np.concatenate([samples.sample_index, owner])
    return _rebuild(samples, events, group)


def jitter_events(samples: EventSamples, std_us: float, seed: Seed = 0) -> EventSamples:
    """Add Gaussian noise of std ``std_us`` microseconds to every timestamp (rounded to whole us),
    clipped to each sample's original span so that its bin grid does not move."""
    samples = _check_samples(samples)
    std_us = _check_level(std_us, "jitter std_us")
    rng = _rng(seed)
    group = samples.sample_index
    t0, t1 = sample_spans(samples)
    events = samples.events.copy()
    shift = np.rint(rng.normal(0.0, 1.0, group.size) * std_us).astype(np.int64)
    events["t"] = np.clip(events["t"] + shift, t0[group], t1[group])
    return _rebuild(samples, events, group)


_KINDS: dict[str, Callable[[EventSamples, float, Seed], EventSamples]] = {
    "drop": drop_events,
    "noise": add_noise_events,
    "jitter": jitter_events,
}


def check_corruption(kind: str, level: float) -> None:
    """Fail early (before any data is read) on an unknown ``kind`` or an impossible ``level``."""
    if kind not in _KINDS:
        raise ValueError(f"unknown event corruption {kind!r}; valid: {', '.join(EVENT_CORRUPTIONS)}")
    _check_level(level, f"{kind} level", 1.0 if kind == "drop" else None)


def corrupt_samples(samples: EventSamples, kind: str, level: float, seed: Seed = 0) -> EventSamples:
    """Apply corruption ``kind`` (``drop``: fraction, ``noise``: added events per event, ``jitter``:
    std in us) at ``level``."""
    check_corruption(kind, level)
    return _KINDS[kind](samples, level, seed)


__all__ = [
    "EVENT_CORRUPTIONS",
    "add_noise_events",
    "check_corruption",
    "corrupt_samples",
    "drop_events",
    "jitter_events",
]
