"""One event representation for every event-camera reader, transform and task.

An *event array* is a one-dimensional structured NumPy array of dtype `EVENT_DTYPE`:

* ``x`` (uint16): pixel column, 0 = left;
* ``y`` (uint16): pixel row, 0 = top;
* ``p`` (int8): polarity, 1 = ON (brightness went up), 0 = OFF (brightness went down);
* ``t`` (int64): timestamp in microseconds.

Event arrays are usually, but not necessarily, sorted by time (`sort_events` sorts stably).
A labelled set of samples is an `EventSamples`: all samples' events concatenated, with
``offsets`` marking where each sample starts, so that whole data sets can be binned, denoised and
cached without a Python loop over events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

EVENT_DTYPE = np.dtype([("x", np.uint16), ("y", np.uint16), ("p", np.int8), ("t", np.int64)])
"""The structured dtype of an event array: ``x``, ``y`` (uint16), ``p`` (int8, 0/1), ``t`` (int64, us)."""

_UINT16_MAX = np.iinfo(np.uint16).max


def empty_events(n: int = 0) -> np.ndarray:
    """A zero-filled event array of ``n`` events."""
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
        raise ValueError(f"empty_events needs a count n >= 0, got {n!r}")
    return np.zeros(int(n), dtype=EVENT_DTYPE)


def _integer_column(values: object, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        arr = arr.reshape(-1) if arr.ndim == 0 else arr
    if arr.ndim != 1:
        raise ValueError(f"event field {name} must be one-dimensional, got shape {arr.shape}")
    if arr.dtype == bool:
        return arr.astype(np.int64)
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not np.issubdtype(arr.dtype, np.number):
            raise TypeError(f"event field {name} must be numeric, got dtype {arr.dtype}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"event field {name} holds non-finite values")
        if np.any(arr != np.round(arr)):
            raise ValueError(f"event field {name} must hold whole numbers, got fractional values")
    return arr.astype(np.int64)


def make_events(
    x: object,
    y: object,
    p: object,
    t: object,
    *,
    sort: bool = False,
) -> np.ndarray:
    """Build an event array from four equally long columns, validating every field.

    ``x`` and ``y`` must be whole numbers in ``[0, 65535]``, ``t`` whole microseconds (int64).
    ``p`` may be 0/1, booleans, or -1/+1 (-1 is read as OFF = 0). With ``sort=True`` the events are
    sorted stably by time.
    """
    cols = {name: _integer_column(v, name) for name, v in (("x", x), ("y", y), ("p", p), ("t", t))}
    lengths = {name: c.shape[0] for name, c in cols.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"event fields must be equally long, got lengths {lengths}")
    for name in ("x", "y"):
        c = cols[name]
        if c.size and (c.min() < 0 or c.max() > _UINT16_MAX):
            raise ValueError(f"event field {name} must lie in [0, {_UINT16_MAX}], got [{c.min()}, {c.max()}]")
    cols["p"] = _normalise_polarity(cols["p"])
    out = np.empty(lengths["x"], dtype=EVENT_DTYPE)
    for name, c in cols.items():
        out[name] = c
    return sort_events(out) if sort else out


def _normalise_polarity(p: np.ndarray) -> np.ndarray:
    if p.size == 0:
        return p
    values = np.unique(p)
    if np.all(np.isin(values, (0, 1))):
        return p
    if np.all(np.isin(values, (-1, 1))):
        return (p > 0).astype(np.int64)
    raise ValueError(f"event polarity must be 0/1 (or -1/+1), got values {values[:10].tolist()}")


def validate_events(
    events: object,
    *,
    height: int | None = None,
    width: int | None = None,
    sorted_time: bool = False,
    what: str = "events",
) -> np.ndarray:
    """Check that ``events`` is an event array (dtype `EVENT_DTYPE`) and return it.

    Polarities must be 0/1; with ``height``/``width`` every ``y < height`` and ``x < width``; with
    ``sorted_time`` timestamps must be non-decreasing. Raises TypeError/ValueError naming the problem.
    """
    if not isinstance(events, np.ndarray) or events.dtype != EVENT_DTYPE:
        got = events.dtype if isinstance(events, np.ndarray) else type(events).__name__
        raise TypeError(f"{what} must be an event array of dtype {EVENT_DTYPE} (see make_events/as_events), got {got}")
    if events.ndim != 1:
        raise ValueError(f"{what} must be one-dimensional, got shape {events.shape}")
    if events.size == 0:
        return events
    p = events["p"]
    if p.min() < 0 or p.max() > 1:
        raise ValueError(f"{what} polarity must be 0 or 1, got values in [{p.min()}, {p.max()}]")
    for name, limit in (("x", width), ("y", height)):
        if limit is not None:
            top = int(events[name].max())
            if top >= limit:
                raise ValueError(
                    f"{what} field {name} reaches {top}, outside a sensor of "
                    f"{'width' if name == 'x' else 'height'} {limit}"
                )
    if sorted_time and np.any(np.diff(events["t"]) < 0):
        raise ValueError(f"{what} timestamps must be sorted (non-decreasing); use sort_events")
    return events


def sort_events(events: np.ndarray) -> np.ndarray:
    """The events sorted stably by timestamp (a copy)."""
    validate_events(events)
    return events[np.argsort(events["t"], kind="stable")]


_ALIASES = {"x": ("x",), "y": ("y",), "p": ("p", "polarity", "pol"), "t": ("t", "ts", "timestamp")}


def as_events(
    array: object,
    *,
    columns: Sequence[str] = ("x", "y", "p", "t"),
    time_scale: float = 1.0,
) -> np.ndarray:
    """Convert an event table to an event array.

    Accepts an event array (returned as is, validated), any structured array with fields
    ``x``, ``y``, ``p`` (or ``polarity``), ``t`` (or ``ts``), or an ``(N, 4)`` numeric array whose
    columns are named by ``columns`` (default ``x, y, p, t``). Timestamps are multiplied by
    ``time_scale`` (e.g. 1000 for milliseconds) and rounded to whole microseconds.
    """
    if not (time_scale > 0 and np.isfinite(time_scale)):
        raise ValueError(f"time_scale must be a positive number, got {time_scale!r}")
    arr = np.asarray(array)
    if arr.dtype == EVENT_DTYPE and time_scale == 1.0:
        return validate_events(arr)
    if arr.dtype.names is not None:
        if arr.ndim != 1:
            arr = arr.reshape(-1)
        found = {}
        for key, names in _ALIASES.items():
            hit = [n for n in names if n in arr.dtype.names]
            if not hit:
                raise ValueError(
                    f"a structured event table needs a field {key!r} (one of {names}); it has {arr.dtype.names}"
                )
            found[key] = arr[hit[0]]
    else:
        cols = tuple(columns)
        if sorted(cols) != ["p", "t", "x", "y"]:
            raise ValueError(f"columns must name x, y, p, t once each, got {cols}")
        if arr.ndim != 2 or arr.shape[1] != 4:
            raise ValueError(f"a numeric event table must have shape (N, 4) with columns {cols}, got {arr.shape}")
        found = {name: arr[:, i] for i, name in enumerate(cols)}
    t = np.asarray(found["t"])
    if time_scale != 1.0:
        t = np.rint(t.astype(np.float64) * time_scale)
    elif t.size and not np.issubdtype(t.dtype, np.integer):
        t = np.rint(t.astype(np.float64))
    return make_events(found["x"], found["y"], found["p"], t)


def concat_events(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """Concatenate event arrays (an empty list gives an empty array)."""
    arrays = [validate_events(a) for a in arrays]
    return np.concatenate(arrays) if arrays else empty_events()


@dataclass
class EventSamples:
    """Labelled event samples stored concatenated.

    ``events[offsets[i]:offsets[i+1]]`` are the events of sample ``i`` (``len(offsets) == N + 1``),
    ``labels[i]`` its class, on a ``height`` x ``width`` sensor.
    """

    events: np.ndarray
    offsets: np.ndarray
    labels: np.ndarray
    height: int
    width: int

    def __post_init__(self) -> None:
        for name in ("height", "width"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"EventSamples {name} must be an integer >= 1, got {v!r}")
            setattr(self, name, int(v))
        validate_events(self.events, height=self.height, width=self.width)
        self.offsets = np.asarray(self.offsets, dtype=np.int64)
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if self.offsets.ndim != 1 or self.offsets.size < 1:
            raise ValueError("EventSamples offsets must be a 1-d array of N + 1 positions")
        if self.offsets[0] != 0 or self.offsets[-1] != len(self.events) or np.any(np.diff(self.offsets) < 0):
            raise ValueError(
                "EventSamples offsets must start at 0, end at the number of events and never decrease"
            )
        if self.labels.shape != (self.offsets.size - 1,):
            raise ValueError(
                f"EventSamples needs one label per sample: {self.offsets.size - 1} samples, labels {self.labels.shape}"
            )

    @classmethod
    def from_list(
        cls, samples: Sequence[np.ndarray], labels: Sequence[int], height: int, width: int
    ) -> EventSamples:
        """Collect a list of per-sample event arrays and their labels."""
        samples = list(samples)
        if len(samples) != len(labels):
            raise ValueError(f"got {len(samples)} samples but {len(labels)} labels")
        counts = np.array([len(validate_events(s)) for s in samples], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(counts)])
        return cls(concat_events(samples), offsets, np.asarray(labels, dtype=np.int64), height, width)

    def __len__(self) -> int:
        return self.offsets.size - 1

    def __getitem__(self, i: int) -> np.ndarray:
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"sample {i} out of range for {n} samples")
        i %= n
        return self.events[self.offsets[i] : self.offsets[i + 1]]

    @property
    def counts(self) -> np.ndarray:
        """Events per sample ``[N]``."""
        return np.diff(self.offsets)

    @property
    def sample_index(self) -> np.ndarray:
        """The sample each event belongs to ``[len(events)]``."""
        return np.repeat(np.arange(len(self), dtype=np.int64), self.counts)

    def subset(self, index: Sequence[int] | np.ndarray) -> EventSamples:
        """The samples ``index`` (in that order), copied."""
        index = np.asarray(index, dtype=np.int64).reshape(-1)
        if index.size and (index.min() < -len(self) or index.max() >= len(self)):
            raise IndexError(f"subset index out of range for {len(self)} samples")
        index = index % max(len(self), 1)
        starts, ends = self.offsets[index], self.offsets[index + 1]
        counts = ends - starts
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        # gather all selected ranges at once
        pos = np.repeat(starts - offsets[:-1], counts) + np.arange(offsets[-1], dtype=np.int64)
        return EventSamples(self.events[pos], offsets, self.labels[index], self.height, self.width)
