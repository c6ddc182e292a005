"""Sequence classification on the user's own arrays, from one ``.npz`` file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from spikeopt.tasks.base import Head, SequenceData, SequenceModel, Task, evaluate_classification
from spikeopt.tasks.series import (
    check_fraction, check_max_steps, pool_steps, stratified_holdout, to_sequence, znormalise,
)
from spikeopt.validation import check_bool


def _inputs(data: np.lib.npyio.NpzFile, key: str, path: Path) -> np.ndarray:
    x = data[key]
    if x.ndim == 2:
        x = x[:, :, None]
    if x.ndim != 3:
        raise ValueError(f"{path}: {key} must be [N, T, F] or [N, T], got shape {x.shape}")
    if x.shape[0] == 0 or x.shape[1] == 0 or x.shape[2] == 0:
        raise ValueError(f"{path}: {key} of shape {x.shape} is empty")
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer) or x.dtype == bool):
        raise TypeError(f"{path}: {key} must hold numbers, got dtype {x.dtype}")
    x = x.astype(np.float64)
    bad = ~np.isfinite(x)
    if bad.any():
        n, t, f = np.argwhere(bad)[0]
        raise ValueError(f"{path}: {key} holds NaN or inf (first at sample {n}, step {t}, feature {f}); "
                         "impute or drop those samples first")
    return x


def _labels(data: np.lib.npyio.NpzFile, key: str, path: Path, n: int) -> np.ndarray:
    y = data[key]
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"{path}: {key} must be [N] with N = {n} (one label per sample), got shape {y.shape}")
    if np.issubdtype(y.dtype, np.floating):
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise ValueError(f"{path}: {key} must hold integer class labels; found non-integer values "
                             "(map string or float classes to 0..C-1 first)")
    elif not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"{path}: {key} must hold integer class labels, got dtype {y.dtype}")
    y = y.astype(np.int64)
    if y.min() < 0:
        raise ValueError(f"{path}: {key} labels must be >= 0, found {int(y.min())}")
    return y


@dataclass
class Arrays(Task):
    """Your own sequences: ``data_file`` is an ``.npz`` with ``x`` ``[N, T, F]`` (or ``[N, T]``, F = 1)
    and integer ``y`` ``[N]`` in ``0..C-1``; optional ``x_test``/``y_test`` (same T and F).

    Without ``x_test`` a seeded stratified ``test_fraction`` of ``x`` is the test split; ``val`` is a
    seeded stratified ``val_fraction`` of the rest. The head has ``max label + 1`` classes.

    ``znorm`` is off by default here, unlike ``ucr``: arrays can be anything (spike counts, features
    on a meaningful scale, one-hot symbols), where per-series normalisation would erase information;
    turn it on for raw signal recordings. ``max_steps`` pools time as in ``ucr`` but keeps every
    step by default, since your T is your choice.
    """

    name: ClassVar[str] = "arrays"
    readout: ClassVar[str] = "final"
    description: ClassVar[str] = "Sequence classification from your own .npz (x [N, T, F], y [N])."

    data_file: str | None = field(default=None, metadata={"help": ".npz with x [N, T, F] or [N, T], y [N], "
                                                                  "optional x_test, y_test (required)"})
    znorm: bool = field(default=False, metadata={"help": "z-normalise every series and feature over time"})
    val_fraction: float = field(default=0.2, metadata={"help": "stratified fraction of the training data for validation"})
    test_fraction: float = field(default=0.2, metadata={"help": "stratified test fraction when the file has no x_test"})
    max_steps: int | None = field(default=None, metadata={"help": "average-pool time to at most this many steps"})

    def __post_init__(self) -> None:
        if not self.data_file:
            raise ValueError("task 'arrays' needs the option data_file, e.g. --data-file my_data.npz")
        self.data_file = str(self.data_file)
        self.znorm = check_bool(self.znorm, "arrays option znorm")
        check_fraction(self.name, "val_fraction", self.val_fraction)
        check_fraction(self.name, "test_fraction", self.test_fraction)
        self.max_steps = check_max_steps(self.name, self.max_steps)
        path = Path(self.data_file).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"arrays option data_file {self.data_file!r} is not a file")
        self._x, self._y, self._x_test, self._y_test = self._read(path)
        labels = self._y if self._y_test is None else np.concatenate([self._y, self._y_test])
        self._classes = max(2, int(labels.max()) + 1)

    def _read(self, path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
        try:
            data = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as err:
            raise ValueError(f"{path}: not a readable .npz file ({err})") from None
        with data:
            missing = [k for k in ("x", "y") if k not in data.files]
            if missing:
                raise ValueError(f"{path}: lacks array(s) {missing}; it holds {data.files} "
                                 "(save with np.savez(path, x=..., y=..., [x_test=..., y_test=...]))")
            if ("x_test" in data.files) != ("y_test" in data.files):
                raise ValueError(f"{path}: give both x_test and y_test, or neither")
            x = _inputs(data, "x", path)
            y = _labels(data, "y", path, x.shape[0])
            if "x_test" not in data.files:
                return x, y, None, None
            x_test = _inputs(data, "x_test", path)
            if x_test.shape[1:] != x.shape[1:]:
                raise ValueError(f"{path}: x_test is [N, {x_test.shape[1]}, {x_test.shape[2]}] but x is "
                                 f"[N, {x.shape[1]}, {x.shape[2]}]; T and F must match")
            y_test = _labels(data, "y_test", path, x_test.shape[0])
            return x, y, x_test, y_test

    def _prepare(self, x: np.ndarray) -> np.ndarray:
        return pool_steps(znormalise(x) if self.znorm else x, self.max_steps)

    @property
    def in_features(self) -> int:
        return int(self._x.shape[2])

    @property
    def heads(self) -> tuple[Head, ...]:
        return (Head("class", self._classes),)

    def splits(self, seed: int) -> dict[str, SequenceData]:
        x, y, what = self._x, self._y, self.data_file
        if self._x_test is None:
            rest, test = stratified_holdout(y, self.test_fraction, seed, "test", f"{what} (y)")
            x_test, y_test = x[test], y[test]
            x, y = x[rest], y[rest]
        else:
            x_test, y_test = self._x_test, self._y_test
        train, val = stratified_holdout(y, self.val_fraction, seed, "val", f"{what} (y)")
        return {"train": to_sequence(self._prepare(x[train]), y[train]),
                "val": to_sequence(self._prepare(x[val]), y[val]),
                "test": to_sequence(self._prepare(x_test), y_test)}

    def evaluate(self, model: SequenceModel, data: SequenceData, batch_size: int = 1024) -> dict[str, float]:
        """Accuracy of the class predicted at the last step."""
        return evaluate_classification(self, model, data, batch_size)
