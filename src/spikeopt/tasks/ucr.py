"""UCR / UEA time-series classification read from local archive files (nothing is downloaded)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from spikeopt.tasks.base import Head, SequenceData, SequenceModel, Task, evaluate_classification
from spikeopt.tasks.series import (
    check_fraction, check_max_steps, class_order, pool_steps, resample_length, stratified_holdout, to_sequence, znormalise,
)
from spikeopt.tasks.ucr_files import RawSeries, find_ucr_files, read_ucr
from spikeopt.validation import check_bool

UNEQUAL = ("error", "resample")


@dataclass
class Ucr(Task):
    """A UCR / UEA archive data set: ``NAME_TRAIN``/``NAME_TEST`` as ``.ts`` (sktime/UEA) or ``.tsv``
    (UCR 2018), in ``data_dir`` or ``data_dir/NAME``; univariate or multivariate.

    x: ``[T, N, F]`` (F = dimensions), y: ``[N, 1]``, classified at the last step. ``test`` is the
    archive's TEST file; ``val`` is a seeded stratified ``val_fraction`` of TRAIN. Classes are the
    ``@classLabel`` order, else the sorted TRAIN labels; a TEST label not seen in TRAIN is an error.

    Preprocessing, in this order:

    - Missing values (``?`` / NaN inside a series) are refused with the file and line: impute them
      before (the archive ships imputed versions of its few such sets).
    - Unequal lengths: ``unequal_length="error"`` (default) refuses and names the file, line and
      lengths; ``"resample"`` linearly interpolates every series onto the longest TRAIN length.
    - ``znorm`` (default on): each series and dimension to mean 0, std 1 over time. Standard for
      UCR: most sets are published z-normalised and the archive's reference results assume it; it
      removes offset and scale, which are nuisance there, and puts inputs on the scale the LIF
      witnesses and thresholds are calibrated for.
    - ``max_steps`` (default 64): average-pool ``ceil(T / max_steps)`` consecutive steps so at most
      64 remain. SG training time and BPTT memory grow linearly in T and its gradients fade over
      hundreds of steps, while the UCR shapes survive 2-25x smoothing (GunPoint 150 -> 50 steps,
      ArrowHead 251 -> 63, ACSF1 1460 -> 64); ``none`` keeps every step.
    """

    name: ClassVar[str] = "ucr"
    readout: ClassVar[str] = "final"
    description: ClassVar[str] = "UCR/UEA time-series classification from local .ts / .tsv files."

    data_dir: str | None = field(
        default=None, metadata={"help": "folder holding NAME_TRAIN/NAME_TEST .ts or .tsv (or NAME/ with them) (required)"}
    )
    dataset: str | None = field(default=None, metadata={"help": "data set NAME, e.g. GunPoint (required)"})
    znorm: bool = field(default=True, metadata={"help": "z-normalise every series and dimension over time"})
    val_fraction: float = field(default=0.2, metadata={"help": "stratified fraction of TRAIN held out for validation"})
    max_steps: int | None = field(
        default=64, metadata={"help": "average-pool time to at most this many steps (none: keep all)"}
    )
    unequal_length: str = field(
        default="error", metadata={"help": "series of unequal length: error, or resample to the longest TRAIN length"}
    )

    def __post_init__(self) -> None:
        if not self.data_dir or not self.dataset:
            raise ValueError("task 'ucr' needs the options data_dir and dataset, e.g. "
                             "--data-dir ~/UCRArchive_2018 --dataset GunPoint (nothing is downloaded)")
        self.data_dir, self.dataset = str(self.data_dir), str(self.dataset)
        self.znorm = check_bool(self.znorm, "ucr option znorm")
        check_fraction(self.name, "val_fraction", self.val_fraction)
        self.max_steps = check_max_steps(self.name, self.max_steps)
        if self.unequal_length not in UNEQUAL:
            raise ValueError(f"ucr option unequal_length must be one of {list(UNEQUAL)}, got {self.unequal_length!r}")
        self._train_path, self._test_path = find_ucr_files(self.data_dir, self.dataset)
        self._cache: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]] | None = None

    def _data(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
        """(train x [N, T, F], labels, test x, labels, class names), read once."""
        if self._cache is None:
            train, test = read_ucr(self._train_path), read_ucr(self._test_path)
            if train.series[0].shape[0] != test.series[0].shape[0]:
                raise ValueError(f"{test.path}: {test.series[0].shape[0]} dimensions, "
                                 f"but {train.path} has {train.series[0].shape[0]}")
            classes = class_order(train.labels, train.classes)
            index = {c: i for i, c in enumerate(classes)}
            seen = set(train.labels)
            for raw in (train, test):
                for label, line in zip(raw.labels, raw.lines):
                    if label not in seen:  # only possible in TEST
                        raise ValueError(f"{raw.path}:{line}: label {label!r} never occurs in {train.path.name}; "
                                         "a class must have training samples -- remove it from TEST or add it to TRAIN")
                    if label not in index:
                        raise ValueError(f"{raw.path}:{line}: label {label!r} is not among the declared classes {classes}")
            length = max(s.shape[1] for s in train.series)
            x_train, x_test = self._equal(train, length), self._equal(test, length)
            y_train = np.array([index[v] for v in train.labels], dtype=np.int64)
            y_test = np.array([index[v] for v in test.labels], dtype=np.int64)
            self._cache = (self._prepare(x_train), y_train, self._prepare(x_test), y_test, classes)
        return self._cache

    def _equal(self, raw: RawSeries, length: int) -> np.ndarray:
        """``[N, L, F]`` of one file: refuse missing values; equal lengths or resample (the option)."""
        for s, line in zip(raw.series, raw.lines):
            if np.isnan(s).any():
                raise ValueError(f"{raw.path}:{line}: missing values ('?' or NaN) inside a series; impute them "
                                 "first (e.g. linear interpolation) -- ucr does not guess them")
        lengths = [s.shape[1] for s in raw.series]
        if self.unequal_length == "resample":
            return np.stack([resample_length(s, length).T for s in raw.series])
        if min(lengths) != max(lengths) or lengths[0] != length:
            odd = next(i for i, n in enumerate(lengths) if n != length)
            raise ValueError(f"{raw.path}:{raw.lines[odd]}: series of {lengths[odd]} steps, but the TRAIN series have "
                             f"{length} (lengths here {min(lengths)}..{max(lengths)}); pass --unequal-length resample "
                             "to interpolate every series onto the longest TRAIN length")
        return np.stack([s.T for s in raw.series])

    def _prepare(self, x: np.ndarray) -> np.ndarray:
        return pool_steps(znormalise(x) if self.znorm else x, self.max_steps)

    @property
    def in_features(self) -> int:
        return int(self._data()[0].shape[2])

    @property
    def heads(self) -> tuple[Head, ...]:
        return (Head("class", len(self._data()[4])),)

    @property
    def classes(self) -> list[str]:
        """Class names in index order (class ``i`` is logit ``i``)."""
        return list(self._data()[4])

    def splits(self, seed: int) -> dict[str, SequenceData]:
        x, y, x_test, y_test, _ = self._data()
        train, val = stratified_holdout(y, self.val_fraction, seed, "val", str(self._train_path))
        return {"train": to_sequence(x[train], y[train]), "val": to_sequence(x[val], y[val]),
                "test": to_sequence(x_test, y_test)}

    def evaluate(self, model: SequenceModel, data: SequenceData, batch_size: int = 1024) -> dict[str, float]:
        """Accuracy of the class predicted at the last step."""
        return evaluate_classification(self, model, data, batch_size)
