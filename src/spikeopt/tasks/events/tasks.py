"""Event-camera classification tasks: the built-in ``event-digits`` and the real N-MNIST and DVS Gesture.

All three bin each sample into ``steps`` frames over its duration (see `binning`), optionally
sum ``downsample x downsample`` pixel blocks, and feed the flattened frames as inputs:
``x [T, N, 2*H*W]`` float32 (polarity-major: the OFF frame, then the ON frame), with

    x = min(count, clip) / clip       (in [0, 1]; the default clip = 1 gives binary spike inputs)

where ``count`` is the number of events of one polarity in one (downsampled) pixel and time bin.
Targets are ``y [N, 1]`` int64 class labels, read out once at the end (``readout = "final"``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, ClassVar

import numpy as np
import torch

from spikeopt.tasks.base import Head, SequenceData, SequenceModel, Task, evaluate_classification
from spikeopt.tasks.events.binning import denoise_samples, downsampled_size, samples_to_frames
from spikeopt.tasks.events.corrupt import check_corruption, corrupt_samples
from spikeopt.tasks.events.format import EventSamples
from spikeopt.tasks.events.readers import (
    DVS_GESTURE_CLASSES,
    DVS_GESTURE_SENSOR,
    NMNIST_CLASSES,
    NMNIST_SENSOR,
    TIME_UNITS,
    dvs_gesture_index,
    load_dvs_gesture,
    load_nmnist,
    nmnist_index,
)
from spikeopt.tasks.events.simulate import EventDigitsConfig, load_event_digits
from spikeopt.validation import check_int, check_number

# real data sets are read, denoised and binned a chunk of files at a time, to bound memory
_NMNIST_FILES_PER_CHUNK = 1024  # ~4k events per file
_DVS_FILES_PER_CHUNK = 16  # ~10^5-10^6 events per file
_SPLITS = ("train", "val", "test")

# a transform of raw event samples before denoising and binning: (samples, chunk start) -> samples
EventTransform = Callable[[EventSamples, int], EventSamples]


# ------------------------------------------------------------------------------------------ helpers


def _check_int(task: str, key: str, value: object, minimum: int, optional: bool = False) -> None:
    check_int(value, f"{task} option {key}", minimum, optional=optional)


def _check_number(task: str, key: str, value: object, low: float, high: float | None = None, *, open_low=False) -> None:
    check_number(value, f"{task} option {key}", low, high, open_low=open_low, open_high=True)


def stratified_split(
    labels: np.ndarray, fractions: tuple[float, ...], rng: np.random.Generator
) -> list[np.ndarray]:
    """Split sample indices per class: part ``k`` gets ``round(fractions[k] * class size)`` of every
    class, the first part the rest. Each part is shuffled."""
    labels = np.asarray(labels)
    parts: list[list[np.ndarray]] = [[] for _ in range(len(fractions) + 1)]
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        start = 0
        sizes = [int(round(f * idx.size)) for f in fractions]
        for k, size in enumerate(sizes, start=1):
            parts[k].append(idx[start : start + size])
            start += size
        parts[0].append(idx[start:])
    return [rng.permutation(np.concatenate(p)) if p else np.zeros(0, dtype=np.int64) for p in parts]


def _frames_to_inputs(frames: np.ndarray, clip: float) -> np.ndarray:
    """``[N, T, 2, H, W]`` counts -> ``[N, T, 2*H*W]`` float32 ``min(count, clip) / clip``."""
    n, steps = frames.shape[:2]
    out = np.minimum(frames.reshape(n, steps, -1), np.float32(clip))
    out *= np.float32(1.0 / clip)
    return out


def _to_split(inputs: np.ndarray, labels: np.ndarray, what: str) -> SequenceData:
    if inputs.shape[0] == 0:
        raise ValueError(f"the {what} split is empty; give it more samples (check the fractions and limits)")
    x = torch.from_numpy(np.ascontiguousarray(inputs.transpose(1, 0, 2)))
    y = torch.from_numpy(np.asarray(labels, dtype=np.int64)).reshape(-1, 1)
    return SequenceData(x, y)


def _inputs_from_files(
    load: Callable[[np.ndarray], EventSamples],
    index: np.ndarray,
    *,
    steps: int,
    downsample: int,
    clip: float,
    denoise_us: float,
    duration_us: float | None = None,
    chunk: int = _NMNIST_FILES_PER_CHUNK,
    transform: EventTransform | None = None,
) -> np.ndarray:
    """Read the files ``index`` a chunk at a time, (transform,) denoise, bin and scale: ``[N, T, F]`` float32."""
    parts = []
    for start in range(0, index.size, chunk):
        samples = load(index[start : start + chunk])
        if transform is not None:
            samples = transform(samples, start)
        if denoise_us > 0:
            samples = denoise_samples(samples, denoise_us)
        frames = samples_to_frames(samples, n_bins=steps, duration_us=duration_us, downsample=downsample)
        parts.append(_frames_to_inputs(frames, clip))
    if not parts:
        return np.zeros((0, steps, 0), dtype=np.float32)
    return np.concatenate(parts, axis=0)


def _limit(index: np.ndarray, n: int | None) -> np.ndarray:
    return index if n is None else index[:n]


class _EventClassification(Task):
    """Shared parts of the event-camera classification tasks (not a task itself)."""

    readout: ClassVar[str] = "final"
    n_classes: ClassVar[int]
    sensor: ClassVar[tuple[int, int]]

    downsample: int
    steps: int

    @property
    def frame_size(self) -> tuple[int, int]:
        """``(H, W)`` of one (downsampled) frame."""
        return downsampled_size(*self.sensor, self.downsample)

    @property
    def in_features(self) -> int:
        h, w = self.frame_size
        return 2 * h * w

    @property
    def heads(self) -> tuple[Head, ...]:
        return (Head("class", self.n_classes),)

    def evaluate(self, model: SequenceModel, data: SequenceData, batch_size: int = 1024) -> dict[str, float]:
        """Classification accuracy of the final-step logits (shapes checked, model in eval mode)."""
        return evaluate_classification(self, model, data, batch_size)

    def splits(self, seed: int) -> dict[str, SequenceData]:
        """Seeded ``train``, ``val`` and ``test`` splits (see the class docstring)."""
        return self._build(seed)

    def _build(
        self, seed: int, transform: EventTransform | None = None, names: tuple[str, ...] = _SPLITS
    ) -> dict[str, SequenceData]:
        """The splits ``names`` of seed ``seed``, each sample's raw events passed through ``transform``
        (if given) before denoising and binning; shared by `splits` and `corrupted_split`."""
        raise NotImplementedError

    def corrupted_split(
        self, split: str, seed: int, kind: str, level: float, corruption_seed: int = 0
    ) -> SequenceData:
        """Split ``split`` of ``splits(seed)`` (same samples, same order) with its raw events corrupted
        (``drop`` / ``noise`` / ``jitter`` at ``level``, see `corrupt`) and re-binned with this task's
        settings: robustness is measured on what a degraded sensor would have recorded."""
        if split not in _SPLITS:
            raise ValueError(f"split must be one of {', '.join(_SPLITS)}, got {split!r}")
        check_corruption(kind, level)

        def transform(samples: EventSamples, start: int) -> EventSamples:
            return corrupt_samples(samples, kind, level, seed=[int(corruption_seed), int(start)])

        return self._build(seed, transform, (split,))[split]


# -------------------------------------------------------------------------------------- event-digits


@dataclass
class EventDigits(_EventClassification):
    """Simulated N-MNIST-style recordings of scikit-learn's 1797 bundled 8x8 digits (10 classes).

    Each digit is upsampled into a ``size x size`` sensor and moved along N-MNIST's three saccades
    (triangle path, ``saccade_ms`` each); an event-camera model with contrast threshold
    ``contrast`` turns the log-intensity changes into ON/OFF events (see `simulate`). Nothing is
    downloaded; the simulated events are cached on disk (``cache_dir``, ``$SPIKEOPT_CACHE`` or
    ``~/.cache/spikeopt``) keyed by the simulation options. Each sample's events are binned into
    ``steps`` frames over its duration; inputs as in the module docstring.

    Splits are stratified by class and seeded: ``test_fraction`` and ``val_fraction`` of the digits,
    the rest (at most ``n_train``) for training.
    """

    name: ClassVar[str] = "event-digits"
    description: ClassVar[str] = "Built-in N-MNIST-style event digits simulated from scikit-learn's digits."
    n_classes: ClassVar[int] = 10

    steps: int = field(default=10, metadata={"help": "time bins T over each sample's ~300 ms"})
    size: int = field(default=16, metadata={"help": "sensor side in pixels (digits upsampled from 8x8)"})
    downsample: int = field(default=1, metadata={"help": "sum downsample x downsample pixel blocks"})
    clip: float = field(default=1.0, metadata={"help": "inputs are min(count, clip) / clip (1 = binary spikes)"})
    n_train: int | None = field(default=None, metadata={"help": "at most this many training samples (None: all)"})
    val_fraction: float = field(default=0.1, metadata={"help": "fraction of the digits for validation"})
    test_fraction: float = field(default=0.2, metadata={"help": "fraction of the digits for testing"})
    contrast: float = field(default=0.2, metadata={"help": "event-camera contrast threshold (log intensity)"})
    saccade_ms: float = field(default=100.0, metadata={"help": "duration of each of the three saccades (ms)"})
    noise_hz: float = field(default=0.0, metadata={"help": "background noise events per pixel per second"})
    data_seed: int = field(default=0, metadata={"help": "seed of the event simulation (not of the splits)"})
    cache_dir: str | None = field(
        default=None,
        metadata={"help": "cache folder (default $SPIKEOPT_CACHE/event-digits, else ~/.cache/spikeopt/event-digits)"},
    )

    def __post_init__(self) -> None:
        task = self.name
        _check_int(task, "steps", self.steps, 1)
        _check_int(task, "size", self.size, 8)
        _check_int(task, "downsample", self.downsample, 1)
        _check_int(task, "n_train", self.n_train, 1, optional=True)
        _check_int(task, "data_seed", self.data_seed, 0)
        _check_number(task, "clip", self.clip, 0.0, open_low=True)
        _check_number(task, "val_fraction", self.val_fraction, 0.0, 1.0, open_low=True)
        _check_number(task, "test_fraction", self.test_fraction, 0.0, 1.0, open_low=True)
        if self.val_fraction + self.test_fraction >= 1.0:
            total = self.val_fraction + self.test_fraction
            raise ValueError(f"{task} options val_fraction + test_fraction must be < 1, got {total}")
        _check_number(task, "contrast", self.contrast, 0.0, open_low=True)
        _check_number(task, "saccade_ms", self.saccade_ms, 0.0, open_low=True)
        _check_number(task, "noise_hz", self.noise_hz, 0.0)
        if self.cache_dir is not None and not isinstance(self.cache_dir, str):
            self.cache_dir = str(self.cache_dir)

    @property
    def sensor(self) -> tuple[int, int]:  # type: ignore[override]
        return (self.size, self.size)

    def simulation_config(self) -> EventDigitsConfig:
        """The parameters of the simulated data set (its cache key)."""
        return EventDigitsConfig(
            size=self.size,
            contrast=float(self.contrast),
            saccade_ms=float(self.saccade_ms),
            noise_hz=float(self.noise_hz),
            seed=int(self.data_seed),
        )

    def events(self) -> EventSamples:
        """The simulated event samples (from the cache when possible)."""
        return load_event_digits(self.simulation_config(), cache_dir=self.cache_dir)

    def _build(
        self, seed: int, transform: EventTransform | None = None, names: tuple[str, ...] = _SPLITS
    ) -> dict[str, SequenceData]:
        samples = self.events()
        rng = np.random.default_rng([int(seed), 0xE7])
        train, val, test = stratified_split(samples.labels, (self.val_fraction, self.test_fraction), rng)
        parts = {"train": _limit(train, self.n_train), "val": val, "test": test}
        if transform is None:  # bin everything once
            frames = samples_to_frames(samples, n_bins=self.steps, downsample=self.downsample)
            inputs = _frames_to_inputs(frames, self.clip)
            return {name: _to_split(inputs[parts[name]], samples.labels[parts[name]], name) for name in names}
        out = {}
        for name in names:
            part = transform(samples.subset(parts[name]), 0)
            frames = samples_to_frames(part, n_bins=self.steps, downsample=self.downsample)
            out[name] = _to_split(_frames_to_inputs(frames, self.clip), part.labels, name)
        return out


# ------------------------------------------------------------------------------ recorded data sets


class _RecordedEvents(_EventClassification):
    """Shared parts of the tasks that read a recorded data set from ``data_dir`` (N-MNIST, DVS
    Gesture): option checks, the seeded split of the training files, and binning the files."""

    data_dir: str | None
    denoise_us: float
    clip: float
    n_train: int | None
    n_test: int | None
    val_fraction: float

    def _check_options(self) -> None:
        name = self.name
        _check_int(name, "steps", self.steps, 1)
        _check_int(name, "downsample", self.downsample, 1)
        for key in ("n_train", "n_test"):
            _check_int(name, key, getattr(self, key), 1, optional=True)
        _check_number(name, "denoise_us", self.denoise_us, 0.0)
        _check_number(name, "clip", self.clip, 0.0, open_low=True)
        _check_number(name, "val_fraction", self.val_fraction, 0.0, 1.0, open_low=True)
        if self.data_dir is not None and not isinstance(self.data_dir, str):
            self.data_dir = str(self.data_dir)

    def _need_data_dir(self) -> str:
        if not self.data_dir:
            raise ValueError(
                f"task {self.name!r} reads a local copy of the data set and needs the option data_dir "
                "(nothing is downloaded); see spikeopt.tasks.events.readers for the folder layout"
            )
        return self.data_dir

    def _split_indices(
        self, seed: int, labels: np.ndarray, test_labels: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Seeded stratified train/val indices of the training files, and the test files' indices."""
        rng = np.random.default_rng([int(seed), 0xE8])
        train, val = stratified_split(labels, (self.val_fraction,), rng)
        if self.n_train is not None and self.n_train < train.size:
            # keep the validation split in proportion to the limited training split
            n_val = max(1, int(round(self.n_train * self.val_fraction / (1.0 - self.val_fraction))))
            train, val = train[: self.n_train], val[:n_val]
        test = np.arange(test_labels.size)
        if self.n_test is not None and self.n_test < test.size:
            test = np.random.default_rng(0xE9).permutation(test.size)[: self.n_test]
        return train, val, test

    def _splits_from_files(
        self,
        loader: Callable[[str], Callable[[np.ndarray], EventSamples]],
        train: np.ndarray,
        val: np.ndarray,
        test: np.ndarray,
        labels: np.ndarray,
        test_labels: np.ndarray,
        duration_us: float | None = None,
        chunk: int = _NMNIST_FILES_PER_CHUNK,
        transform: EventTransform | None = None,
        names: tuple[str, ...] = _SPLITS,
    ) -> dict[str, SequenceData]:
        opts = dict(
            chunk=chunk,
            steps=self.steps,
            downsample=self.downsample,
            clip=float(self.clip),
            denoise_us=float(self.denoise_us),
            duration_us=duration_us,
            transform=transform,
        )
        out = {}
        for name, split, idx, lab in (
            ("train", "train", train, labels),
            ("val", "train", val, labels),
            ("test", "test", test, test_labels),
        ):
            if name not in names:
                continue
            inputs = _inputs_from_files(loader(split), idx, **opts)  # type: ignore[arg-type]
            out[name] = _to_split(inputs, lab[idx], name)
        return out


# --------------------------------------------------------------------------------------------- N-MNIST


@dataclass
class NMnist(_RecordedEvents):
    """N-MNIST (Orchard et al. 2015): MNIST digits recorded by a moving ATIS camera, 34x34, 10 classes.

    Reads the ``.bin`` files under ``data_dir`` (``Train/<digit>/*.bin``, ``Test/<digit>/*.bin``;
    see `readers`); nothing is downloaded. Each sample (~300 ms) is binned into ``steps`` frames
    over its duration, after optional denoising (``denoise_us``) and with ``downsample`` (2 gives
    17x17 frames, 578 inputs). ``val`` is a seeded stratified ``val_fraction`` of the training
    files; ``n_train``/``n_test`` limit the splits to seeded random subsets (the test subset does
    not depend on the seed).
    """

    name: ClassVar[str] = "nmnist"
    description: ClassVar[str] = "N-MNIST event-camera digits read from a local folder (34x34, 10 classes)."
    n_classes: ClassVar[int] = NMNIST_CLASSES
    sensor: ClassVar[tuple[int, int]] = NMNIST_SENSOR

    data_dir: str | None = field(
        default=None, metadata={"help": "folder holding Train/<digit>/*.bin and Test/<digit>/*.bin (required)"}
    )
    steps: int = field(default=10, metadata={"help": "time bins T over each sample's duration"})
    downsample: int = field(default=2, metadata={"help": "sum downsample x downsample pixel blocks (2: 17x17)"})
    denoise_us: float = field(
        default=0.0, metadata={"help": "drop events without an 8-neighbour event in the last denoise_us us (0: off)"}
    )
    clip: float = field(default=1.0, metadata={"help": "inputs are min(count, clip) / clip (1 = binary spikes)"})
    n_train: int | None = field(default=None, metadata={"help": "at most this many training samples (None: all)"})
    n_test: int | None = field(default=None, metadata={"help": "at most this many test samples (None: all 10000)"})
    val_fraction: float = field(default=0.1, metadata={"help": "fraction of the training files held out for val"})

    def __post_init__(self) -> None:
        self._check_options()

    def _build(
        self, seed: int, transform: EventTransform | None = None, names: tuple[str, ...] = _SPLITS
    ) -> dict[str, SequenceData]:
        data_dir = self._need_data_dir()
        paths, labels = nmnist_index(data_dir, "train")
        test_paths, test_labels = nmnist_index(data_dir, "test")
        train, val, test = self._split_indices(seed, labels, test_labels)

        def loader(split: str) -> Callable[[np.ndarray], EventSamples]:
            return lambda idx: load_nmnist(data_dir, split, index=idx)

        return self._splits_from_files(loader, train, val, test, labels, test_labels, transform=transform, names=names)


# ----------------------------------------------------------------------------------------- DVS Gesture


@dataclass
class DvsGesture(_RecordedEvents):
    """IBM DVS Gesture: 11 hand gestures recorded with a 128x128 DVS, read from ``.npy`` samples.

    Accepts ``data_dir/train/<label>/*.npy`` + ``data_dir/test/<label>/*.npy`` or Tonic's
    ``ibmGestureTrain``/``ibmGestureTest`` folders (see `readers` for both layouts and their time
    units); nothing is downloaded. Each sample (its first ``duration_ms`` if given, else all of it)
    is binned into ``steps`` frames, after optional denoising and with ``downsample`` (4 gives
    32x32 frames, 2048 inputs). Splits as for ``nmnist``.
    """

    name: ClassVar[str] = "dvs-gesture"
    description: ClassVar[str] = "IBM DVS Gesture read from local .npy samples (128x128, 11 classes)."
    n_classes: ClassVar[int] = DVS_GESTURE_CLASSES
    sensor: ClassVar[tuple[int, int]] = DVS_GESTURE_SENSOR

    data_dir: str | None = field(
        default=None,
        metadata={"help": "folder with train/<label>/*.npy + test/<label>/*.npy, or Tonic's ibmGesture* (required)"},
    )
    steps: int = field(default=16, metadata={"help": "time bins T over each sample (or its first duration_ms)"})
    downsample: int = field(default=4, metadata={"help": "sum downsample x downsample pixel blocks (4: 32x32)"})
    duration_ms: float | None = field(
        default=None, metadata={"help": "bin only the first duration_ms of each sample (None: the whole sample)"}
    )
    denoise_us: float = field(
        default=0.0, metadata={"help": "drop events without an 8-neighbour event in the last denoise_us us (0: off)"}
    )
    clip: float = field(default=1.0, metadata={"help": "inputs are min(count, clip) / clip (1 = binary spikes)"})
    time_unit: str | None = field(
        default=None, metadata={"help": "unit of the files' timestamps: us, ms or s (None: the layout's default)"}
    )
    n_train: int | None = field(default=None, metadata={"help": "at most this many training samples (None: all)"})
    n_test: int | None = field(default=None, metadata={"help": "at most this many test samples (None: all)"})
    val_fraction: float = field(default=0.1, metadata={"help": "fraction of the training files held out for val"})

    def __post_init__(self) -> None:
        self._check_options()
        if self.duration_ms is not None:
            _check_number(self.name, "duration_ms", self.duration_ms, 0.0, open_low=True)
        if self.time_unit is not None and self.time_unit not in TIME_UNITS:
            raise ValueError(
                f"{self.name} option time_unit must be one of {sorted(TIME_UNITS)} or None, got {self.time_unit!r}"
            )

    def _build(
        self, seed: int, transform: EventTransform | None = None, names: tuple[str, ...] = _SPLITS
    ) -> dict[str, SequenceData]:
        data_dir = self._need_data_dir()
        _, labels, _ = dvs_gesture_index(data_dir, "train")
        _, test_labels, _ = dvs_gesture_index(data_dir, "test")
        train, val, test = self._split_indices(seed, labels, test_labels)

        def loader(split: str) -> Callable[[np.ndarray], EventSamples]:
            return lambda idx: load_dvs_gesture(data_dir, split, index=idx, time_unit=self.time_unit)

        duration = None if self.duration_ms is None else float(self.duration_ms) * 1000.0
        return self._splits_from_files(
            loader, train, val, test, labels, test_labels, duration_us=duration, chunk=_DVS_FILES_PER_CHUNK,
            transform=transform, names=names,
        )


__all__ = ["DvsGesture", "EventDigits", "NMnist", "stratified_split"]
