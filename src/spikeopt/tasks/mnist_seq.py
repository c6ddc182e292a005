"""Sequential image classification: an image streamed as T patches, classified at the last step.

Works offline out of the box on scikit-learn's bundled 8x8 digits; point ``data_dir`` at a folder
of IDX files (MNIST, Fashion-MNIST, EMNIST, as they ship) for the real thing. Nothing is downloaded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from spikeopt.tasks.base import Head, SequenceData, SequenceModel, Task, evaluate_classification
from spikeopt.tasks.idx import read_idx, read_idx_shape
from spikeopt.tasks.metrics import split_generator
from spikeopt.tasks.series import check_fraction
from spikeopt.validation import check_int

IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def find_idx_files(folder: str | os.PathLike) -> dict[str, Path]:
    """The four IDX files in ``folder``: exact names (``.gz`` optional), else a unique ``<prefix>-<name>``
    match (EMNIST ships ``emnist-digits-train-images-idx3-ubyte.gz`` and the like)."""
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(
            f"data_dir {str(root)!r} is not a folder; it should hold {', '.join(IDX_FILES.values())} (.gz optional)"
        )
    found: dict[str, Path] = {}
    missing = []
    for key, stem in IDX_FILES.items():
        exact = [root / n for n in (stem, stem + ".gz") if (root / n).is_file()]
        matches = exact or sorted(p for p in root.glob(f"*-{stem}*") if p.name.endswith((stem, stem + ".gz")))
        if not matches:
            missing.append(stem)
        elif len(matches) > 1 and not exact:
            names = ", ".join(p.name for p in matches)
            raise ValueError(f"data_dir {str(root)!r} holds several {stem} files ({names}); use a folder with one set")
        else:
            found[key] = matches[0]
    if missing:
        raise FileNotFoundError(
            f"data_dir {str(root)!r} lacks {', '.join(missing)} (plain or .gz); expected the files "
            f"{', '.join(IDX_FILES.values())} as MNIST / Fashion-MNIST / EMNIST ship them"
        )
    return found


def _scaled(images: np.ndarray, path: Path) -> np.ndarray:
    """Pixels in [0, 1]: uint8 divided by 255; other dtypes must already lie in [0, 1]."""
    if images.dtype == np.uint8:
        return images.astype(np.float32) / 255.0
    images = images.astype(np.float32)
    if images.size and (images.min() < 0.0 or images.max() > 1.0):
        raise ValueError(f"{path}: non-uint8 pixels must lie in [0, 1], got [{images.min()}, {images.max()}]")
    return images


def _labels(labels: np.ndarray, path: Path, n: int | None = None) -> np.ndarray:
    if labels.ndim != 1 or (n is not None and labels.shape[0] != n) or not np.issubdtype(labels.dtype, np.integer):
        want = f"{n} integer labels (one per image)" if n is not None else "a 1-d array of integer labels"
        raise ValueError(f"{path}: expected {want}, got {labels.shape} {labels.dtype}")
    if labels.size and labels.min() < 0:
        i = int(np.argmax(labels < 0))
        raise ValueError(f"{path}: label {int(labels[i])} at index {i} is negative; labels must be >= 0")
    return labels.astype(np.int64)


def count_classes(labels: np.ndarray, path: Path, declared: int | None) -> int:
    """The number of classes the labels in ``path`` imply, checked so one corrupt byte cannot widen
    the head: with ``declared`` every label must be below it; without, at least 10 classes, and
    beyond those every class up to the largest label must occur (EMNIST letters 1..26 pass; one
    stray 200 among digits does not)."""
    if declared is not None:
        bad = np.flatnonzero(labels >= declared)
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"{path}: label {int(labels[i])} at index {i} is not below classes={declared} "
                             f"({bad.size} such label(s)); fix the file or raise the classes option")
        return declared
    if labels.size == 0:
        return 10
    present = np.zeros(max(10, int(labels.max()) + 1), dtype=bool)
    present[labels] = True
    absent = np.flatnonzero(~present[10:]) + 10
    if absent.size:
        gap = int(absent[0])
        bad = np.flatnonzero(labels > gap)
        i = int(bad[0])
        raise ValueError(
            f"{path}: label {int(labels[i])} at index {i} leaves class {gap}"
            f"{f'..{int(absent[-1])}' if absent.size > 1 else ''} without a sample ({bad.size} label(s) above {gap}); "
            "a corrupt label file? Fix it, or set the task option classes=K if the dataset has K classes"
        )
    return len(present)


@dataclass
class MnistSeq(Task):
    """Images streamed as ``steps`` equal patches of the row-major flattened image.

    x: ``[T, N, pixels/T]`` float32 in [0, 1]; y: ``[N, 1]`` int64; head ``digit`` read out at the
    last step. With the default ``data_dir=None`` (scikit-learn 8x8 digits, 1797 images, /16) the
    shuffled images are cut into ``test_fraction`` / ``val_fraction`` / rest for train. With IDX
    files, ``test`` is the official t10k set in file order and ``val`` is ``val_fraction`` of the
    shuffled official train set. ``n_train`` keeps the first n of the shuffled train part. The head
    has ``max(10, largest train label + 1)`` classes (EMNIST letters/balanced have more than 10).
    EMNIST stores images transposed; they are used as stored.
    """

    name: ClassVar[str] = "mnist-seq"
    readout: ClassVar[str] = "final"
    description: ClassVar[str] = "Sequential image classification: T row-major patches, class at the last step."

    steps: int = field(default=8, metadata={"help": "number of patches T; must divide the pixel count"})
    data_dir: str | None = field(
        default=None,
        metadata={"help": "folder of MNIST-style IDX files (.gz optional); None: scikit-learn 8x8 digits"},
    )
    val_fraction: float = field(default=0.2, metadata={"help": "fraction held out for validation"})
    test_fraction: float = field(
        default=0.2, metadata={"help": "fraction held out for test (built-in digits only; IDX uses t10k)"}
    )
    n_train: int | None = field(default=None, metadata={"help": "cap on training samples (None: all)"})
    classes: int | None = field(
        default=None,
        metadata={"help": "number of classes of the IDX labels (None: at least 10, more only if every class "
                          "up to the largest label has a sample)"},
    )

    def __post_init__(self) -> None:
        check_int(self.steps, "mnist-seq option steps", 1)
        for key in ("val_fraction", "test_fraction"):
            check_fraction("mnist-seq", key, getattr(self, key))
        if self.data_dir is None and self.val_fraction + self.test_fraction >= 1.0:
            raise ValueError("mnist-seq: val_fraction + test_fraction must be < 1 to leave training data")
        check_int(self.n_train, "mnist-seq option n_train", 1, optional=True)
        check_int(self.classes, "mnist-seq option classes", 2, optional=True)
        if self.data_dir is None:
            self._pixels, self._classes = 64, 10
            if self.classes is not None and self.classes != 10:
                raise ValueError("mnist-seq: the built-in digits have 10 classes; classes applies to IDX files")
        else:
            self._files = find_idx_files(self.data_dir)
            self._pixels = self._image_pixels(self._files["train_images"])
            path = self._files["train_labels"]
            self._classes = count_classes(_labels(read_idx(path), path), path, self.classes)
            path = self._files["test_labels"]  # test labels must fit the head the train labels define
            count_classes(_labels(read_idx(path), path), path, self._classes)
        if self._pixels % self.steps:
            valid = [d for d in range(1, self._pixels + 1) if self._pixels % d == 0]
            raise ValueError(
                f"mnist-seq: steps={self.steps} does not divide the {self._pixels} pixels per image; "
                f"valid steps: {', '.join(map(str, valid))}"
            )

    @staticmethod
    def _image_pixels(path: Path) -> int:
        shape = read_idx_shape(path)
        if len(shape) < 2:
            raise ValueError(f"{path}: expected images [N, H, W], got shape {shape}")
        return int(np.prod(shape[1:]))

    @property
    def in_features(self) -> int:
        return self._pixels // self.steps

    @property
    def heads(self) -> tuple[Head, ...]:
        return (Head("digit", self._classes),)

    def _load(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
        """(train images [N, P], labels, test images, labels); test is None for the built-in digits."""
        if self.data_dir is None:
            from sklearn.datasets import (
                load_digits,  # here: importing sklearn takes ~1 s; only the built-in digits need it
            )

            digits = load_digits()
            return (digits.data / 16.0).astype(np.float32), digits.target.astype(np.int64), None, None
        f = self._files
        arrays = []
        for part in ("train", "test"):
            images = read_idx(f[f"{part}_images"])
            images = _scaled(images.reshape(images.shape[0], -1), f[f"{part}_images"])
            if images.shape[1] != self._pixels:
                raise ValueError(f"{f[f'{part}_images']}: {images.shape[1]} pixels per image, train has {self._pixels}")
            arrays += [images, _labels(read_idx(f[f"{part}_labels"]), f[f"{part}_labels"], images.shape[0])]
        return arrays[0], arrays[1], arrays[2], arrays[3]

    def _sequence(self, images: np.ndarray, labels: np.ndarray, split: str) -> SequenceData:
        if len(images) == 0:
            hint = {"train": "decrease val_fraction / test_fraction", "val": "increase val_fraction"}.get(
                split, "increase test_fraction" if self.data_dir is None else "check the t10k files"
            )
            raise ValueError(f"mnist-seq split {split!r} would be empty; {hint}")
        n = images.shape[0]
        x = torch.from_numpy(np.ascontiguousarray(images)).reshape(n, self.steps, -1).transpose(0, 1).contiguous()
        return SequenceData(x, torch.from_numpy(labels).reshape(n, 1))

    def splits(self, seed: int) -> dict[str, SequenceData]:
        images, labels, test_images, test_labels = self._load()
        order = torch.randperm(len(images), generator=split_generator(seed, "permutation")).numpy()
        n_val = round(self.val_fraction * len(images))
        if test_images is None:
            n_test = round(self.test_fraction * len(images))
            test_index = order[:n_test]
            test_images, test_labels = images[test_index], labels[test_index]
            order = order[n_test:]
        val_index, train_index = order[:n_val], order[n_val:]
        if self.n_train is not None:
            if self.n_train > len(train_index):
                raise ValueError(f"mnist-seq: n_train={self.n_train} exceeds the {len(train_index)} training images")
            train_index = train_index[: self.n_train]
        return {
            "train": self._sequence(images[train_index], labels[train_index], "train"),
            "val": self._sequence(images[val_index], labels[val_index], "val"),
            "test": self._sequence(test_images, test_labels, "test"),
        }

    def evaluate(self, model: SequenceModel, data: SequenceData, batch_size: int = 1024) -> dict[str, float]:
        """Accuracy of the class predicted at the last step."""
        return evaluate_classification(self, model, data, batch_size)
