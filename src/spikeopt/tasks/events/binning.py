"""Event arrays -> time-major frames, spatial downsampling and background-activity denoising.

Frames are float32 event counts ``[T, 2, H, W]``: channel 0 counts OFF events (``p == 0``),
channel 1 ON events. Time bins are measured from the sample's first event ``t0`` (or ``t_start``):

* ``n_bins`` only: the span ``[t0, t1]`` (``t1`` = last event or ``t_end``) is cut into ``n_bins``
  equal bins, event at ``t`` going to bin ``floor((t - t0) * n_bins / (t1 - t0 + 1))``, so the last
  event falls in the last bin;
* ``window_us`` (with or without ``n_bins``): bin ``floor((t - t0) / window_us)``; ``n_bins``
  fixes the number of bins (later events are dropped), otherwise there are as many as needed
  to reach ``t1``.

Events before ``t0`` or after ``t1`` are dropped. ``downsample=f`` sums ``f x f`` pixel blocks
(event ``(x, y)`` lands in pixel ``(x // f, y // f)`` of a ``ceil(H/f) x ceil(W/f)`` frame).
Everything is vectorised with ``np.bincount``; whole data sets (`EventSamples`) are binned in
chunks of samples, without a Python loop over events.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from spikeopt.tasks.events.format import EventSamples, validate_events
from spikeopt.validation import check_int, check_number

_CHUNK_CELLS = 1 << 24  # output cells per bincount chunk (64 MiB of int32 counts)


def _positive_int(value: object, name: str) -> int:
    return int(check_int(value, name, 1))


def _positive_number(value: object, name: str) -> float | int:
    value = check_number(value, name, 0, open_low=True)
    return int(value) if float(value).is_integer() else float(value)


def downsampled_size(height: int, width: int, factor: int) -> tuple[int, int]:
    """Frame size ``(ceil(height / factor), ceil(width / factor))`` after summing ``factor`` blocks."""
    height = _positive_int(height, "height")
    width = _positive_int(width, "width")
    factor = _positive_int(factor, "downsample")
    return -(-height // factor), -(-width // factor)


def _bin_groups(
    x: np.ndarray,
    y: np.ndarray,
    p: np.ndarray,
    t: np.ndarray,
    group: np.ndarray,
    n_groups: int,
    t0: np.ndarray,
    t1: np.ndarray,
    n_bins: int | None,
    window_us: float | int | None,
    height: int,
    width: int,
    factor: int,
) -> np.ndarray:
    """Frames ``[n_groups, T, 2, H', W']`` of events tagged with their ``group`` (per-group t0/t1)."""
    hh, ww = downsampled_size(height, width, factor)
    if n_bins is None:
        assert window_us is not None
        spans = np.maximum(t1 - t0, 0) if n_groups else np.zeros(0, dtype=np.int64)
        n_bins = int(spans.max() // window_us) + 1 if spans.size else 0
    out = np.zeros((n_groups, n_bins, 2, hh, ww), dtype=np.float32)
    if n_bins == 0 or t.size == 0:
        return out
    g0, g1 = t0[group], t1[group]
    keep = (t >= g0) & (t <= g1)
    rel = t - g0
    if window_us is None:
        b = (rel * n_bins) // np.maximum(g1 - g0 + 1, 1)
    elif isinstance(window_us, int):
        b = rel // window_us
    else:
        b = np.floor(rel / window_us).astype(np.int64)
    keep &= (b >= 0) & (b < n_bins)
    if not keep.all():
        x, y, p, b, group = x[keep], y[keep], p[keep], b[keep], group[keep]
    cell = ((b * 2 + p) * hh + y // factor) * ww + x // factor
    per_group = n_bins * 2 * hh * ww
    # groups are binned in chunks so that the count array stays small
    chunk = max(1, _CHUNK_CELLS // per_group)
    flat = out.reshape(n_groups, per_group)
    order_known_sorted = group.size < 2 or bool(np.all(group[1:] >= group[:-1]))
    if not order_known_sorted:
        srt = np.argsort(group, kind="stable")
        group, cell = group[srt], cell[srt]
    bounds = np.searchsorted(group, np.arange(0, n_groups + chunk, chunk).clip(max=n_groups))
    for i, start in enumerate(range(0, n_groups, chunk)):
        stop = min(start + chunk, n_groups)
        lo, hi = bounds[i], bounds[i + 1]
        if lo == hi:
            continue
        idx = (group[lo:hi] - start) * per_group + cell[lo:hi]
        counts = np.bincount(idx, minlength=(stop - start) * per_group)
        flat[start:stop] = counts.reshape(stop - start, per_group)
    return out


def _check_mode(n_bins: object, window_us: object) -> tuple[int | None, float | int | None]:
    if n_bins is None and window_us is None:
        raise ValueError("give n_bins (bins over the sample's duration) and/or window_us (bin width in us)")
    nb = None if n_bins is None else _positive_int(n_bins, "n_bins")
    win = None if window_us is None else _positive_number(window_us, "window_us")
    return nb, win


def _columns(events: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return (
        events["x"].astype(np.int64),
        events["y"].astype(np.int64),
        events["p"].astype(np.int64),
        events["t"].astype(np.int64),
    )


def to_frames(
    events: np.ndarray,
    height: int,
    width: int,
    *,
    n_bins: int | None = None,
    window_us: float | None = None,
    t_start: int | None = None,
    t_end: int | None = None,
    downsample: int = 1,
) -> np.ndarray:
    """Bin one event array into float32 count frames ``[T, 2, ceil(H/f), ceil(W/f)]``.

    See the module docstring for the bin rule. ``t_start``/``t_end`` (us) override the span
    ``[first event, last event]``. With ``window_us`` only and no events the result has 0 frames.
    """
    height = _positive_int(height, "height")
    width = _positive_int(width, "width")
    factor = _positive_int(downsample, "downsample")
    nb, win = _check_mode(n_bins, window_us)
    validate_events(events, height=height, width=width)
    x, y, p, t = _columns(events)
    if t_start is not None and t_end is not None and t_end < t_start:
        raise ValueError(f"t_end ({t_end}) must not precede t_start ({t_start})")
    if t.size == 0:
        if nb is not None:
            n_frames = nb
        elif t_start is None or t_end is None:
            n_frames = 0
        else:
            n_frames = int((int(t_end) - int(t_start)) // win) + 1
        return np.zeros((n_frames, 2, *downsampled_size(height, width, factor)), dtype=np.float32)
    t0 = np.array([int(t.min()) if t_start is None else int(t_start)], dtype=np.int64)
    t1 = np.array([int(t.max()) if t_end is None else int(t_end)], dtype=np.int64)
    group = np.zeros(t.size, dtype=np.int64)
    return _bin_groups(x, y, p, t, group, 1, t0, t1, nb, win, height, width, factor)[0]


def sample_spans(samples: EventSamples) -> tuple[np.ndarray, np.ndarray]:
    """First and last timestamp of every sample (``0, -1`` for an empty sample)."""
    n = len(samples)
    t = samples.events["t"].astype(np.int64)
    first = np.zeros(n, dtype=np.int64)
    last = np.full(n, -1, dtype=np.int64)
    full = samples.counts > 0
    if full.any():
        starts = samples.offsets[:-1][full]
        first[full] = np.minimum.reduceat(t, starts)
        last[full] = np.maximum.reduceat(t, starts)
    return first, last


def samples_to_frames(
    samples: EventSamples,
    *,
    n_bins: int | None = None,
    window_us: float | None = None,
    duration_us: float | None = None,
    downsample: int = 1,
) -> np.ndarray:
    """Bin every sample into float32 count frames ``[N, T, 2, ceil(H/f), ceil(W/f)]``.

    Each sample is binned from its own first event ``t0`` as in `to_frames`. ``duration_us`` keeps
    only ``[t0, t0 + duration_us)`` of every sample (then ``n_bins`` alone cuts that fixed span).
    With ``window_us`` and no ``n_bins``, T is the largest number of windows any sample needs.
    """
    if not isinstance(samples, EventSamples):
        raise TypeError(f"samples_to_frames needs EventSamples, got {type(samples).__name__}")
    factor = _positive_int(downsample, "downsample")
    nb, win = _check_mode(n_bins, window_us)
    t0, t1 = sample_spans(samples)
    if duration_us is not None:
        dur = _positive_number(duration_us, "duration_us")
        t1 = t0 + int(math.ceil(dur)) - 1
    x, y, p, t = _columns(samples.events)
    return _bin_groups(
        x, y, p, t, samples.sample_index, len(samples), t0, t1, nb, win, samples.height, samples.width, factor
    )


def downsample_frames(frames: np.ndarray, factor: int) -> np.ndarray:
    """Sum ``factor x factor`` pixel blocks of frames ``[..., H, W]`` -> ``[..., ceil(H/f), ceil(W/f)]``."""
    factor = _positive_int(factor, "downsample")
    frames = np.asarray(frames)
    if frames.ndim < 2:
        raise ValueError(f"frames must have at least 2 dimensions [..., H, W], got shape {frames.shape}")
    h, w = frames.shape[-2:]
    hh, ww = downsampled_size(h, w, factor) if h and w else (0, 0)
    pad = [(0, 0)] * (frames.ndim - 2) + [(0, hh * factor - h), (0, ww * factor - w)]
    padded = np.pad(frames, pad)
    blocks = padded.reshape(*frames.shape[:-2], hh, factor, ww, factor)
    return blocks.sum(axis=(-3, -1)).astype(frames.dtype, copy=False)


def flatten(frames: np.ndarray) -> np.ndarray:
    """Frames ``[..., T, 2, H, W]`` -> network inputs ``[..., T, 2*H*W]`` (polarity-major)."""
    frames = np.asarray(frames)
    if frames.ndim < 4 or frames.shape[-3] != 2:
        raise ValueError(f"frames must be [..., T, 2, H, W], got shape {frames.shape}")
    return frames.reshape(*frames.shape[:-3], -1)


# ------------------------------------------------------------------------------------------ denoising

_NEIGHBOURS: Sequence[tuple[int, int]] = tuple(
    (dx, dy) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dx, dy) != (0, 0)
)


def _support_mask(
    x: np.ndarray, y: np.ndarray, t: np.ndarray, group: np.ndarray, dt: float | int, height: int, width: int
) -> np.ndarray:
    """True where an event of the same group at an 8-neighbour pixel has ``0 <= t_i - t_j < dt``.

    Sort-based: events are sorted by (pixel, time rank); for every neighbour offset one
    ``searchsorted`` finds, per event, the latest event at that neighbour pixel no later than it.
    """
    n = t.size
    keep = np.zeros(n, dtype=bool)
    if n == 0:
        return keep
    times, rank = np.unique(t, return_inverse=True)
    n_times = np.int64(times.size)
    base = group * height
    pix = (base + y) * width + x
    key = pix * n_times + rank
    order = np.argsort(key, kind="stable")
    skey, st = key[order], t[order]
    spix = skey // n_times
    for dx, dy in _NEIGHBOURS:
        nx, ny = x + dx, y + dy
        valid = (nx >= 0) & (nx < width) & (ny >= 0) & (ny < height)
        idx = np.flatnonzero(valid)
        q = (base[idx] + ny[idx]) * width + nx[idx]
        j = np.searchsorted(skey, q * n_times + rank[idx], side="right") - 1
        found = j >= 0
        idx, q, j = idx[found], q[found], j[found]
        hit = (spix[j] == q) & (t[idx] - st[j] < dt)
        keep[idx[hit]] = True
    return keep


def _check_dt(dt_us: object) -> float | int:
    return _positive_number(dt_us, "dt_us")


def _fits_keys(n_pixels_total: int, n_events: int) -> bool:
    return n_pixels_total * max(n_events, 1) < 2**62


def denoise(events: np.ndarray, dt_us: float, *, height: int | None = None, width: int | None = None) -> np.ndarray:
    """Drop events with no support: keep event ``i`` iff another event ``j`` at one of the 8
    neighbouring pixels (Chebyshev distance exactly 1; the event's own pixel does not count, nor
    does polarity matter) happened at most ``dt_us`` earlier: ``0 <= t_i - t_j < dt_us``.

    This is the causal background-activity filter (as in Tonic's ``Denoise``, there with 4
    neighbours); it is vectorised (sort + ``searchsorted``, O(N log N)). Order is preserved.
    """
    dt = _check_dt(dt_us)
    validate_events(events, height=height, width=width)
    if events.size == 0:
        return events.copy()
    x, y, _, t = _columns(events)
    height = int(y.max()) + 1 if height is None else _positive_int(height, "height")
    width = int(x.max()) + 1 if width is None else _positive_int(width, "width")
    group = np.zeros(t.size, dtype=np.int64)
    return events[_support_mask(x, y, t, group, dt, height, width)]


def denoise_samples(samples: EventSamples, dt_us: float) -> EventSamples:
    """`denoise` every sample of ``samples`` (support never crosses samples)."""
    if not isinstance(samples, EventSamples):
        raise TypeError(f"denoise_samples needs EventSamples, got {type(samples).__name__}")
    dt = _check_dt(dt_us)
    x, y, _, t = _columns(samples.events)
    h, w, n = samples.height, samples.width, len(samples)
    if _fits_keys(n * h * w, t.size):
        keep = _support_mask(x, y, t, samples.sample_index, dt, h, w)
    else:  # keys would overflow int64: one sample at a time
        keep = np.zeros(t.size, dtype=bool)
        for i in range(n):
            lo, hi = samples.offsets[i], samples.offsets[i + 1]
            zero = np.zeros(hi - lo, dtype=np.int64)
            keep[lo:hi] = _support_mask(x[lo:hi], y[lo:hi], t[lo:hi], zero, dt, h, w)
    kept_before = np.concatenate([[0], np.cumsum(keep, dtype=np.int64)])
    offsets = kept_before[samples.offsets]
    return EventSamples(samples.events[keep], offsets, samples.labels.copy(), h, w)


__all__ = [
    "denoise",
    "denoise_samples",
    "downsample_frames",
    "downsampled_size",
    "flatten",
    "sample_spans",
    "samples_to_frames",
    "to_frames",
]
