"""A built-in N-MNIST-style event data set simulated from scikit-learn's bundled digits.

N-MNIST (Orchard et al. 2015) was recorded by moving an event camera in front of static MNIST
digits along three saccades that trace a triangle. `simulate_events` replays that on any
grey-level images:

1. the image moves along the triangle ``(0, 0) -> (A/2, A) -> (A, 0) -> (0, 0)`` (pixels, x right,
   y down; centred on the triangle's centroid), one straight saccade of ``saccade_ms`` each,
   sampled at ``steps_per_saccade`` simulation steps per saccade; sub-pixel positions are
   rendered by bilinear interpolation (zero outside the image);
2. every pixel keeps a reference log intensity ``R`` (initially the first frame's value plus a
   seeded offset uniform in ``[-C/2, C/2]``, as a real pixel's state is unknown); whenever the log
   intensity ``L = log(log_eps + I)`` (``I`` in ``[0, 1]``) has moved ``k >= 1`` contrast
   thresholds ``C`` away from ``R``, the pixel emits ``k`` events (ON if ``L`` rose, OFF if it
   fell) and ``R`` moves by ``k C``: one event per threshold crossing. Each crossing gets the
   time where the linearly interpolated ``L`` between two steps crosses its level;
3. optional background noise: Poisson events at ``noise_hz`` per pixel, uniform in time, place
   and polarity.

Everything is vectorised over images and pixels per simulation step. `load_event_digits` builds
the data set from ``sklearn.datasets.load_digits`` (1797 8x8 digits, 10 classes, bundled with
scikit-learn, so nothing is downloaded), upsampled bilinearly to ``size - 2*pad`` pixels inside a
``size x size`` sensor, and caches it as ``.npz`` in a folder keyed by all generation parameters:
``cache_dir`` if given, else ``$SPIKEOPT_CACHE/event-digits`` if that variable is set, else
``~/.cache/spikeopt/event-digits``. Cache files are written atomically (temp file + ``os.replace``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spikeopt.atomic import atomic_write
from spikeopt.tasks.events.format import EVENT_DTYPE, EventSamples
from spikeopt.validation import check_int, check_number

CACHE_ENV = "SPIKEOPT_CACHE"
CACHE_SUBDIR = "event-digits"
FORMAT_VERSION = 1


def default_cache_dir() -> Path:
    """``$SPIKEOPT_CACHE/event-digits`` if the variable is set, else ``~/.cache/spikeopt/event-digits``."""
    root = os.environ.get(CACHE_ENV)
    base = Path(root).expanduser() if root else Path("~/.cache/spikeopt").expanduser()
    return base / CACHE_SUBDIR


# ----------------------------------------------------------------------------------------- geometry


def saccade_path(steps_per_saccade: int, amplitude: float) -> np.ndarray:
    """Image offsets ``[3 * steps_per_saccade + 1, 2]`` (dx, dy) along the triangle, centroid at 0."""
    check_int(steps_per_saccade, "steps_per_saccade", 1)
    a = float(amplitude)
    vertices = np.array([[0.0, 0.0], [a / 2, a], [a, 0.0], [0.0, 0.0]])
    vertices -= vertices[:3].mean(axis=0)
    s = np.arange(steps_per_saccade) / steps_per_saccade
    legs = [vertices[i] + s[:, None] * (vertices[i + 1] - vertices[i]) for i in range(3)]
    return np.concatenate(legs + [vertices[3:4]], axis=0)


def _shift_int(images: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """Move image content by whole pixels (+dx right, +dy down), zero fill."""
    out = np.zeros_like(images)
    h, w = images.shape[-2:]
    if abs(dx) >= w or abs(dy) >= h:
        return out
    src_y = slice(max(0, -dy), h - max(0, dy))
    dst_y = slice(max(0, dy), h - max(0, -dy))
    src_x = slice(max(0, -dx), w - max(0, dx))
    dst_x = slice(max(0, dx), w - max(0, -dx))
    out[..., dst_y, dst_x] = images[..., src_y, src_x]
    return out


def shift_bilinear(images: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """Images ``[..., H, W]`` with content moved by ``(dx, dy)`` pixels, bilinear, zero outside:
    ``out[y, x] = img(y - dy, x - dx)``."""
    ix, iy = math.floor(dx), math.floor(dy)
    fx, fy = dx - ix, dy - iy
    out = np.zeros_like(images)
    for ox, wx in ((0, 1.0 - fx), (1, fx)):
        for oy, wy in ((0, 1.0 - fy), (1, fy)):
            weight = wx * wy
            if weight > 1e-12:
                out += np.asarray(weight, dtype=images.dtype) * _shift_int(images, ix + ox, iy + oy)
    return out


def _upsample_bilinear(images: np.ndarray, out_size: int) -> np.ndarray:
    """``[N, h, w]`` -> ``[N, out_size, out_size]`` by bilinear interpolation (pixel centres aligned)."""
    n, h, w = images.shape

    def axis(src: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = (np.arange(out_size) + 0.5) * src / out_size - 0.5
        pos = np.clip(pos, 0, src - 1)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, src - 1)
        return lo, hi, pos - lo

    ylo, yhi, fy = axis(h)
    xlo, xhi, fx = axis(w)
    rows = images[:, ylo, :] * (1 - fy)[None, :, None] + images[:, yhi, :] * fy[None, :, None]
    return rows[:, :, xlo] * (1 - fx)[None, None, :] + rows[:, :, xhi] * fx[None, None, :]


def digit_images(size: int = 16, pad: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1797 digits as ``[N, size, size]`` float32 intensities in ``[0, 1]`` and labels.

    Each 8x8 digit is upsampled bilinearly to ``size - 2*pad`` pixels and centred with ``pad``
    (default ``max(1, size // 8)``) black pixels around it, room for the saccades.
    """
    from sklearn.datasets import load_digits  # here: importing sklearn takes ~1 s; only a simulation needs it

    size, pad = _check_geometry(size, pad)
    digits = load_digits()
    small = digits.images.astype(np.float64) / 16.0
    inner = _upsample_bilinear(small, size - 2 * pad)
    out = np.zeros((small.shape[0], size, size), dtype=np.float32)
    out[:, pad : size - pad, pad : size - pad] = np.clip(inner, 0.0, 1.0)
    return out, digits.target.astype(np.int64)


def _check_geometry(size: int, pad: int | None) -> tuple[int, int]:
    check_int(size, "size", 8)
    pad = max(1, int(size) // 8) if pad is None else check_int(pad, "pad", 0)
    if size - 2 * pad < 4:
        raise ValueError(f"pad must leave >= 4 pixels of digit, got pad {pad!r} for size {size}")
    return int(size), int(pad)


# ---------------------------------------------------------------------------------------- simulator


def simulate_events(
    images: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    contrast: float = 0.2,
    saccade_ms: float = 100.0,
    steps_per_saccade: int = 30,
    amplitude: float | None = None,
    log_eps: float = 0.1,
    noise_hz: float = 0.0,
    seed: int = 0,
) -> EventSamples:
    """Simulate N-MNIST-style saccade events for grey-level ``images [N, H, W]`` in ``[0, 1]``.

    See the module docstring. ``amplitude`` (the triangle's size in pixels) defaults to
    ``max(1, W / 8)``. Returns `EventSamples` (events sorted by time within each sample).
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 3 or images.shape[0] < 1:
        raise ValueError(f"images must be [N, H, W] with N >= 1, got shape {images.shape}")
    if not np.all(np.isfinite(images)) or images.min() < 0 or images.max() > 1:
        raise ValueError("images must hold intensities in [0, 1]")
    n, h, w = images.shape
    labels = np.zeros(n, dtype=np.int64) if labels is None else np.asarray(labels, dtype=np.int64)
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape ({n},), got {labels.shape}")
    for name, value in (("contrast", contrast), ("saccade_ms", saccade_ms), ("log_eps", log_eps)):
        check_number(value, name, 0.0, open_low=True)
    check_number(noise_hz, "noise_hz", 0.0)
    check_int(steps_per_saccade, "steps_per_saccade", 1)
    amplitude = max(1.0, w / 8) if amplitude is None else float(check_number(amplitude, "amplitude", 0.0))

    rng = np.random.default_rng(seed)
    path = saccade_path(steps_per_saccade, amplitude)
    n_steps = path.shape[0] - 1
    duration_us = int(round(3 * saccade_ms * 1000))
    step_t = np.rint(np.linspace(0, duration_us, n_steps + 1)).astype(np.int64)
    c = float(contrast)
    npix = h * w

    def log_frame(k: int) -> np.ndarray:
        return np.log(log_eps + shift_bilinear(images, path[k, 0], path[k, 1])).reshape(-1)

    prev = log_frame(0)
    ref = prev + rng.uniform(-0.5 * c, 0.5 * c, size=prev.shape)
    chunks: list[tuple[np.ndarray, ...]] = []
    for k in range(1, n_steps + 1):
        cur = log_frame(k)
        diff = cur - ref
        count = np.floor(np.abs(diff) / c).astype(np.int64)
        idx = np.flatnonzero(count)
        if idx.size:
            cnt = count[idx]
            sign = np.sign(diff[idx])
            rep = np.repeat(idx, cnt)
            first = np.cumsum(cnt) - cnt
            m = np.arange(rep.size) - np.repeat(first, cnt) + 1  # crossing number 1..k
            level = np.repeat(ref[idx], cnt) + np.repeat(sign, cnt) * m * c
            l0, l1 = prev[rep], cur[rep]
            delta = l1 - l0
            frac = np.divide(level - l0, delta, out=np.ones_like(level), where=np.abs(delta) > 1e-12)
            frac = np.clip(frac, 0.0, 1.0)
            t = step_t[k - 1] + np.rint(frac * (step_t[k] - step_t[k - 1])).astype(np.int64)
            pix = rep % npix
            chunks.append((rep // npix, pix % w, pix // w, np.repeat(sign > 0, cnt), t))
            ref[idx] += sign * cnt * c
        prev = cur
    if noise_hz > 0:
        counts = rng.poisson(noise_hz * npix * duration_us * 1e-6, size=n)
        total = int(counts.sum())
        chunks.append(
            (
                np.repeat(np.arange(n), counts),
                rng.integers(0, w, total),
                rng.integers(0, h, total),
                rng.integers(0, 2, total).astype(bool),
                rng.integers(0, duration_us + 1, total),
            )
        )
    if chunks:
        sample, x, y, p, t = (np.concatenate(parts) for parts in zip(*chunks))
    else:
        sample = x = y = t = np.zeros(0, dtype=np.int64)
        p = np.zeros(0, dtype=bool)
    order = np.argsort(sample * (duration_us + 1) + t, kind="stable")
    events = np.empty(order.size, dtype=EVENT_DTYPE)
    events["x"], events["y"], events["p"], events["t"] = x[order], y[order], p[order], t[order]
    offsets = np.concatenate([[0], np.cumsum(np.bincount(sample, minlength=n))]).astype(np.int64)
    return EventSamples(events, offsets, labels, h, w)


# --------------------------------------------------------------------------------------------- cache


@dataclass(frozen=True)
class EventDigitsConfig:
    """Every parameter that determines the simulated data set (and so its cache key)."""

    size: int = 16
    pad: int | None = None
    contrast: float = 0.2
    saccade_ms: float = 100.0
    steps_per_saccade: int = 30
    amplitude: float | None = None
    log_eps: float = 0.1
    noise_hz: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        _check_geometry(self.size, self.pad)

    def key(self) -> str:
        """A short hash of the parameters (and the file-format version)."""
        payload = json.dumps({"version": FORMAT_VERSION, **self.as_dict()}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def as_dict(self) -> dict:
        return {k: (float(v) if isinstance(v, float) else v) for k, v in dataclasses.asdict(self).items()}


def cache_path(config: EventDigitsConfig, cache_dir: str | os.PathLike | None = None) -> Path:
    """Where the data set of ``config`` is cached."""
    folder = default_cache_dir() if cache_dir is None else Path(cache_dir).expanduser()
    return folder / f"event-digits-{config.key()}.npz"


def build_event_digits(config: EventDigitsConfig) -> EventSamples:
    """Simulate the whole data set of ``config`` (no cache)."""
    images, labels = digit_images(config.size, config.pad)
    return simulate_events(
        images,
        labels,
        contrast=config.contrast,
        saccade_ms=config.saccade_ms,
        steps_per_saccade=config.steps_per_saccade,
        amplitude=config.amplitude,
        log_eps=config.log_eps,
        noise_hz=config.noise_hz,
        seed=config.seed,
    )


def _save(path: Path, samples: EventSamples, config: EventDigitsConfig) -> None:
    with atomic_write(path) as fh:
        ev = samples.events
        t_small = ev["t"].size == 0 or ev["t"].max() < 2**31
        np.savez(  # uncompressed: 100x faster to write than savez_compressed, ~2.4x larger
            fh,
            x=ev["x"],
            y=ev["y"],
            p=ev["p"],
            t=ev["t"].astype(np.int32) if t_small else ev["t"],
            offsets=samples.offsets,
            labels=samples.labels,
            shape=np.array([samples.height, samples.width], dtype=np.int64),
            config=np.array(json.dumps(config.as_dict(), sort_keys=True)),
        )


def _load(path: Path, config: EventDigitsConfig) -> EventSamples | None:
    """The cached data set, or None when the file is unreadable or holds other parameters."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if json.loads(str(data["config"])) != json.loads(json.dumps(config.as_dict(), sort_keys=True)):
                return None
            events = np.empty(data["x"].shape[0], dtype=EVENT_DTYPE)
            for name in ("x", "y", "p", "t"):
                events[name] = data[name]
            h, w = (int(v) for v in data["shape"])
            return EventSamples(events, data["offsets"], data["labels"], h, w)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
        return None


def load_event_digits(
    config: EventDigitsConfig | None = None,
    *,
    cache_dir: str | os.PathLike | None = None,
    use_cache: bool = True,
    **params: object,
) -> EventSamples:
    """The simulated event-digits data set, from the cache when it holds it, else built and cached.

    Pass an `EventDigitsConfig` or its fields as keywords (``load_event_digits(size=32)``).
    ``use_cache=False`` neither reads nor writes the cache.
    """
    if config is None:
        config = EventDigitsConfig(**params)  # type: ignore[arg-type]
    elif params:
        raise ValueError("pass either a config or its parameters, not both")
    if not use_cache:
        return build_event_digits(config)
    path = cache_path(config, cache_dir)
    if path.is_file():
        cached = _load(path, config)
        if cached is not None:
            return cached
    samples = build_event_digits(config)
    _save(path, samples, config)
    return samples


__all__ = [
    "CACHE_ENV",
    "EventDigitsConfig",
    "build_event_digits",
    "cache_path",
    "default_cache_dir",
    "digit_images",
    "load_event_digits",
    "saccade_path",
    "shift_bilinear",
    "simulate_events",
]
