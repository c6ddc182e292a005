"""Readers and writers for the N-MNIST and DVS Gesture files as distributed.

N-MNIST ``.bin`` files
    Each event is 40 bits = 5 bytes (Orchard et al. 2015; ``Read_Ndataset.m``)::

        byte 0: x (0..33)            byte 1: y (0..33)
        byte 2: bit 7 = polarity (1 = ON, 0 = OFF), bits 6..0 = timestamp bits 22..16
        byte 3: timestamp bits 15..8 byte 4: timestamp bits 7..0

    i.e. ``t = ((b2 & 0x7F) << 16) | (b3 << 8) | b4`` microseconds, a 23-bit big-endian number.
    The Matlab reader ``Read_Ndataset.m`` does no more than this. The Python readers that most
    people use (Orchard's ``eventvision.py``, which Tonic's ``read_mnist_file`` copies) also handle
    *timestamp-overflow markers*: a record with ``y == 240`` (its ``x``, polarity and time bits are
    ignored) is not an event; it adds ``2**13`` us to its own timestamp and to every later record's
    timestamp, and is then dropped. We implement exactly that reading, with the increment as a
    parameter (``overflow_increment``, default ``2**13`` as in eventvision.py/Tonic; a 23-bit counter
    would logically wrap at ``2**23``, pass that if your files need it). The released recordings
    last about 300 ms < 2**23 us and hold no markers, so both readings agree on them.

    Layout accepted: ``<data_dir>/Train/<digit>/*.bin`` and ``<data_dir>/Test/<digit>/*.bin``
    (the layout of the unzipped ``Train.zip``/``Test.zip``), or the same under
    ``<data_dir>/NMNIST/`` (where Tonic's ``NMNIST(save_to=data_dir)`` extracts them). The sensor is
    34 x 34; the label is the digit folder's name.

DVS Gesture ``.npy`` files (11 classes, 128 x 128 sensor)
    One file per sample holding either an ``(N, 4)`` numeric array with columns ``x, y, p, t``
    or a structured array with fields ``x``, ``y``, ``p`` (or ``polarity``), ``t`` (or ``ts``).
    Two layouts are accepted:

    * class folders: ``<data_dir>/train/<label>/<sample>.npy`` and ``<data_dir>/test/<label>/<sample>.npy``
      with ``<label>`` in ``0..10``; timestamps in microseconds unless told otherwise;
    * Tonic's preprocessed archives: ``<data_dir>/ibmGestureTrain/<user>_<lighting>/<label>.npy`` and
      ``<data_dir>/ibmGestureTest/...`` (also under ``<data_dir>/DVSGesture/``), the label being the
      file's stem; these hold float timestamps in *milliseconds* (Tonic multiplies by 1000), which is
      this layout's default ``time_unit``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from spikeopt.tasks.events.format import EVENT_DTYPE, EventSamples, as_events, make_events, validate_events

NMNIST_SENSOR = (34, 34)
"""N-MNIST sensor (height, width)."""
NMNIST_CLASSES = 10
NMNIST_OVERFLOW_Y = 240
NMNIST_OVERFLOW_INCREMENT = 2**13

DVS_GESTURE_SENSOR = (128, 128)
"""DVS Gesture sensor (height, width)."""
DVS_GESTURE_CLASSES = 11

TIME_UNITS = {"us": 1.0, "ms": 1000.0, "s": 1e6}

PathLike = str | os.PathLike


# ---------------------------------------------------------------------------------------------- N-MNIST


def decode_nmnist(raw: bytes | np.ndarray, *, overflow_increment: int = NMNIST_OVERFLOW_INCREMENT) -> np.ndarray:
    """Decode the bytes of one N-MNIST ``.bin`` file into an event array (see the module docstring)."""
    data = np.frombuffer(raw, dtype=np.uint8) if isinstance(raw, (bytes, bytearray, memoryview)) else np.asarray(raw)
    if data.dtype != np.uint8 or data.ndim != 1:
        raise TypeError("decode_nmnist needs bytes or a 1-d uint8 array")
    if data.size % 5:
        raise ValueError(f"an N-MNIST file holds 5-byte events, but got {data.size} bytes (not a multiple of 5)")
    rec = data.reshape(-1, 5).astype(np.int64)
    x, y = rec[:, 0], rec[:, 1]
    p = rec[:, 2] >> 7
    t = ((rec[:, 2] & 0x7F) << 16) | (rec[:, 3] << 8) | rec[:, 4]
    marker = y == NMNIST_OVERFLOW_Y
    if marker.any():
        # a marker adds the increment to itself and to every later record
        t = t + np.cumsum(marker) * int(overflow_increment)
    keep = ~marker
    return make_events(x[keep], y[keep], p[keep], t[keep])


def read_nmnist_bin(path: PathLike, *, overflow_increment: int = NMNIST_OVERFLOW_INCREMENT) -> np.ndarray:
    """Read one N-MNIST ``.bin`` file into an event array."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"N-MNIST file {path} does not exist")
    try:
        return decode_nmnist(path.read_bytes(), overflow_increment=overflow_increment)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None


def encode_nmnist(events: np.ndarray, *, overflow_increment: int = NMNIST_OVERFLOW_INCREMENT) -> bytes:
    """Encode an event array in the N-MNIST 5-byte format.

    Timestamps of ``2**23`` us or more are written with overflow markers (records ``x = 0, y = 240``,
    polarity and time bits 0) so that `decode_nmnist` with the same ``overflow_increment`` reads
    them back exactly; that needs the events sorted by time.
    """
    events = validate_events(events)
    inc = int(overflow_increment)
    if not 1 <= inc <= 2**23:
        raise ValueError(f"overflow_increment must lie in [1, 2**23], got {overflow_increment!r}")
    if events.size == 0:
        return b""
    x = events["x"].astype(np.int64)
    y = events["y"].astype(np.int64)
    t = events["t"].astype(np.int64)
    if x.max() > 255 or y.max() > 255:
        raise ValueError("the N-MNIST format stores x and y in one byte each (0..255)")
    if np.any(y == NMNIST_OVERFLOW_Y):
        raise ValueError(f"y == {NMNIST_OVERFLOW_Y} is reserved for overflow markers in the N-MNIST format")
    if t.min() < 0:
        raise ValueError("the N-MNIST format stores non-negative timestamps only")
    need = np.maximum(0, -(-(t - (2**23 - 1)) // inc))  # markers needed before each event
    markers = np.maximum.accumulate(need)
    residual = t - markers * inc
    if np.any(residual < 0) or np.any(residual >= 2**23):
        raise ValueError("timestamps of 2**23 us or more can only be written when the events are sorted by time")
    new = np.diff(np.concatenate([[0], markers]))  # markers to insert before each event
    n_rec = events.size + int(new.sum())
    rec = np.zeros((n_rec, 5), dtype=np.uint8)
    pos = np.arange(events.size) + np.cumsum(new)  # record index of each event
    is_marker = np.ones(n_rec, dtype=bool)
    is_marker[pos] = False
    rec[is_marker, 1] = NMNIST_OVERFLOW_Y
    rec[pos, 0] = x
    rec[pos, 1] = y
    rec[pos, 2] = (events["p"].astype(np.int64) << 7) | (residual >> 16)
    rec[pos, 3] = (residual >> 8) & 0xFF
    rec[pos, 4] = residual & 0xFF
    return rec.tobytes()


def write_nmnist_bin(
    path: PathLike, events: np.ndarray, *, overflow_increment: int = NMNIST_OVERFLOW_INCREMENT
) -> Path:
    """Write an event array as an N-MNIST ``.bin`` file (parent folders are created); returns the path."""
    path = Path(path)
    payload = encode_nmnist(events, overflow_increment=overflow_increment)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(payload)
    return path


def _split_name(split: str, names: dict[str, str]) -> str:
    if split not in names:
        raise ValueError(f"split must be one of {sorted(names)}, got {split!r}")
    return names[split]


def nmnist_index(data_dir: PathLike, split: str = "train") -> tuple[list[Path], np.ndarray]:
    """The ``.bin`` files of an N-MNIST split (``"train"`` or ``"test"``), sorted, and their labels."""
    folder = _split_name(split, {"train": "Train", "test": "Test"})
    root = Path(data_dir).expanduser()
    candidates = [root / folder, root / "NMNIST" / folder]
    expected = f"<data_dir>/{folder}/<digit 0-9>/*.bin (or <data_dir>/NMNIST/{folder}/...)"
    base = next((c for c in candidates if c.is_dir()), None)
    if base is None:
        raise FileNotFoundError(
            f"N-MNIST {split} split not found: expected {expected} with data_dir={root}, "
            f"but neither {candidates[0]} nor {candidates[1]} is a folder"
        )
    paths: list[Path] = []
    labels: list[int] = []
    for digit in range(NMNIST_CLASSES):
        files = sorted((base / str(digit)).glob("*.bin"))
        paths.extend(files)
        labels.extend([digit] * len(files))
    if not paths:
        raise FileNotFoundError(f"N-MNIST {split} split: no .bin files in {base}/<digit 0-9>/ (expected {expected})")
    return paths, np.asarray(labels, dtype=np.int64)


def load_nmnist(
    data_dir: PathLike,
    split: str = "train",
    *,
    index: Sequence[int] | np.ndarray | None = None,
    overflow_increment: int = NMNIST_OVERFLOW_INCREMENT,
) -> EventSamples:
    """Read an N-MNIST split (or the files ``index`` of `nmnist_index`'s list) into `EventSamples`."""
    paths, labels = nmnist_index(data_dir, split)
    if index is not None:
        index = np.asarray(index, dtype=np.int64).reshape(-1)
        paths, labels = [paths[i] for i in index], labels[index]
    h, w = NMNIST_SENSOR
    samples = [read_nmnist_bin(p, overflow_increment=overflow_increment) for p in paths]
    for path, ev in zip(paths, samples):
        if ev.size and (ev["x"].max() >= w or ev["y"].max() >= h):
            raise ValueError(f"{path}: events outside the {w}x{h} N-MNIST sensor")
    return EventSamples.from_list(samples, labels, h, w)


# ------------------------------------------------------------------------------------------ DVS Gesture


def _time_scale(time_unit: str) -> float:
    if time_unit not in TIME_UNITS:
        raise ValueError(f"time_unit must be one of {sorted(TIME_UNITS)}, got {time_unit!r}")
    return TIME_UNITS[time_unit]


def read_dvs_npy(path: PathLike, *, time_unit: str = "us") -> np.ndarray:
    """Read one DVS Gesture sample saved with `numpy.save` into an event array.

    The file holds an ``(N, 4)`` numeric array with columns ``x, y, p, t`` or a structured array
    with fields ``x``, ``y``, ``p``, ``t``; its timestamps are in ``time_unit`` (``"us"``, ``"ms"``
    or ``"s"``) and are rounded to whole microseconds.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"DVS Gesture file {path} does not exist")
    scale = _time_scale(time_unit)
    try:
        array = np.load(path, allow_pickle=False)
        if array.dtype.names is None and array.size == 0:
            array = np.zeros((0, 4))
        return as_events(array, time_scale=scale)
    except (ValueError, TypeError, OSError) as err:
        raise ValueError(f"{path}: not a readable event table: {err}") from None


def write_dvs_npy(
    path: PathLike, events: np.ndarray, *, structured: bool = False, time_unit: str = "us"
) -> Path:
    """Save an event array as a DVS Gesture ``.npy`` sample (parent folders are created).

    By default an ``(N, 4)`` int64 array with columns ``x, y, p, t`` (t in microseconds);
    ``time_unit="ms"`` writes float64 milliseconds as in Tonic's archives; ``structured=True``
    writes the event array itself (dtype `EVENT_DTYPE`, always microseconds).
    """
    events = validate_events(events)
    scale = _time_scale(time_unit)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if structured:
        if time_unit != "us":
            raise ValueError("a structured event array always stores microseconds; use time_unit='us'")
        array: np.ndarray = events
    else:
        cols = [events["x"], events["y"], events["p"], events["t"]]
        if scale == 1.0:
            array = np.stack([c.astype(np.int64) for c in cols], axis=1)
        else:
            array = np.stack([c.astype(np.float64) for c in cols[:3]] + [events["t"] / scale], axis=1)
    with open(path, "wb") as fh:  # np.save(path) would append ".npy" to other suffixes
        np.save(fh, array, allow_pickle=False)
    return path


def _int_name(name: str) -> int | None:
    return int(name) if name.isdigit() else None


def dvs_gesture_index(data_dir: PathLike, split: str = "train") -> tuple[list[Path], np.ndarray, str]:
    """The ``.npy`` files of a DVS Gesture split, their labels and the layout's default time unit.

    Looks for the class-folder layout (``<data_dir>/<split>/<label>/*.npy``, unit ``"us"``) and then
    Tonic's layout (``<data_dir>[/DVSGesture]/ibmGesture{Train,Test}/<recording>/<label>.npy``,
    unit ``"ms"``); see the module docstring.
    """
    split_dir = _split_name(split, {"train": "train", "test": "test"})
    tonic_dir = _split_name(split, {"train": "ibmGestureTrain", "test": "ibmGestureTest"})
    root = Path(data_dir).expanduser()
    paths: list[Path] = []
    labels: list[int] = []
    class_root = root / split_dir
    if class_root.is_dir():
        for sub in sorted(class_root.iterdir(), key=lambda q: (len(q.name), q.name)):
            label = _int_name(sub.name)
            if not sub.is_dir() or label is None:
                continue
            files = sorted(sub.glob("*.npy"))
            paths.extend(files)
            labels.extend([label] * len(files))
        unit = "us"
    if not paths:
        for base in (root / tonic_dir, root / "DVSGesture" / tonic_dir):
            if base.is_dir():
                for f in sorted(base.rglob("*.npy")):
                    label = _int_name(f.stem)
                    if label is not None:
                        paths.append(f)
                        labels.append(label)
                if paths:
                    break
        unit = "ms"
    if not paths:
        raise FileNotFoundError(
            f"DVS Gesture {split} split not found under data_dir={root}: expected "
            f"{class_root}/<label 0-10>/<sample>.npy (timestamps in us), or Tonic's "
            f"{root / tonic_dir}/<recording>/<label>.npy (timestamps in ms; also under {root / 'DVSGesture'})"
        )
    bad = sorted({lab for lab in labels if not 0 <= lab < DVS_GESTURE_CLASSES})
    if bad:
        raise ValueError(f"DVS Gesture labels must lie in 0..{DVS_GESTURE_CLASSES - 1}, found {bad} under {root}")
    return paths, np.asarray(labels, dtype=np.int64), unit


def load_dvs_gesture(
    data_dir: PathLike,
    split: str = "train",
    *,
    index: Sequence[int] | np.ndarray | None = None,
    time_unit: str | None = None,
) -> EventSamples:
    """Read a DVS Gesture split (or the files ``index`` of `dvs_gesture_index`'s list).

    ``time_unit=None`` uses the layout's default (``"us"`` for class folders, ``"ms"`` for Tonic's).
    """
    paths, labels, unit = dvs_gesture_index(data_dir, split)
    unit = unit if time_unit is None else time_unit
    _time_scale(unit)
    if index is not None:
        index = np.asarray(index, dtype=np.int64).reshape(-1)
        paths, labels = [paths[i] for i in index], labels[index]
    h, w = DVS_GESTURE_SENSOR
    samples = []
    for path in paths:
        ev = read_dvs_npy(path, time_unit=unit)
        if ev.size and (ev["x"].max() >= w or ev["y"].max() >= h):
            raise ValueError(f"{path}: events outside the {w}x{h} DVS Gesture sensor")
        samples.append(ev)
    return EventSamples.from_list(samples, labels, h, w)


# ------------------------------------------------------------------------------------------ Tonic


def from_tonic(dataset: Any, *, limit: int | None = None) -> Iterator[tuple[np.ndarray, int]]:
    """Yield ``(event array, label)`` for the samples of a Tonic dataset (e.g. ``tonic.datasets.NMNIST``).

    Tonic samples are ``(events, target)`` pairs with structured events (fields ``x, y, p, t``, t in
    us), converted here with `as_events`. Tonic is never required: this function does not even
    import it, so any indexable of such pairs works. Build the Tonic dataset without a frame
    ``transform`` so that its samples stay raw events.
    """
    n = len(dataset)
    if limit is not None:
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        n = min(n, limit)
    for i in range(n):
        item = dataset[i]
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise TypeError(f"sample {i}: expected an (events, target) pair, got {type(item).__name__}")
        events, target = item
        events = np.asarray(events)
        if events.dtype.names is None:
            raise TypeError(
                f"sample {i}: expected Tonic's structured events (fields x, y, p, t), got an array of dtype "
                f"{events.dtype}; build the Tonic dataset without a frame transform"
            )
        yield as_events(events), int(np.asarray(target).reshape(-1)[0])


def samples_from_tonic(
    dataset: Any, height: int | None = None, width: int | None = None, *, limit: int | None = None
) -> EventSamples:
    """All (or ``limit``) samples of a Tonic dataset as `EventSamples`.

    The sensor defaults to the dataset's ``sensor_size`` attribute, which Tonic gives as
    ``(width, height, polarities)``.
    """
    if height is None or width is None:
        size = getattr(dataset, "sensor_size", None)
        if size is None or len(size) < 2:
            raise ValueError("pass height and width: the dataset has no sensor_size (width, height, polarities)")
        width = int(size[0]) if width is None else width
        height = int(size[1]) if height is None else height
    pairs = list(from_tonic(dataset, limit=limit))
    return EventSamples.from_list([p[0] for p in pairs], [p[1] for p in pairs], height, width)


__all__ = [
    "DVS_GESTURE_CLASSES",
    "DVS_GESTURE_SENSOR",
    "EVENT_DTYPE",
    "NMNIST_CLASSES",
    "NMNIST_OVERFLOW_INCREMENT",
    "NMNIST_SENSOR",
    "decode_nmnist",
    "dvs_gesture_index",
    "encode_nmnist",
    "from_tonic",
    "load_dvs_gesture",
    "load_nmnist",
    "nmnist_index",
    "read_dvs_npy",
    "read_nmnist_bin",
    "samples_from_tonic",
    "write_dvs_npy",
    "write_nmnist_bin",
]
