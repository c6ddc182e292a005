"""The event-digits, nmnist and dvs-gesture tasks: splits, inputs, options and errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spikeopt.tasks.base import SequenceData, option_fields
from spikeopt.tasks.events import flatten, make_events, read_nmnist_bin, to_frames, write_dvs_npy, write_nmnist_bin
from spikeopt.tasks.events.tasks import DvsGesture, EventDigits, NMnist, stratified_split
from spikeopt.tasks.registry import make_task, task_class


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("event-cache"))


def random_events(rng, n, size, t_max):
    x, y, p = rng.integers(0, size, n), rng.integers(0, size, n), rng.integers(0, 2, n)
    return make_events(x, y, p, np.sort(rng.integers(0, t_max, n)))


@pytest.fixture(scope="module")
def nmnist_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("nmnist")
    rng = np.random.default_rng(0)
    for split, per in (("Train", 6), ("Test", 2)):
        for digit in range(10):
            for k in range(per):
                n = 0 if (split, digit, k) == ("Test", 4, 1) else int(rng.integers(50, 300))  # one empty sample
                write_nmnist_bin(root / split / str(digit) / f"{k:05d}.bin", random_events(rng, n, 34, 300_000))
    return root


@pytest.fixture(scope="module")
def dvs_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("dvs")
    rng = np.random.default_rng(1)
    for split, per in (("train", 5), ("test", 1)):
        for label in range(11):
            for k in range(per):
                write_dvs_npy(root / split / str(label) / f"{k}.npy", random_events(rng, 400, 128, 6_000_000))
    return root


class ConstantModel(torch.nn.Module):
    """Always predicts class ``c`` (final-readout logits [N, classes])."""

    def __init__(self, classes: int, c: int):
        super().__init__()
        self.classes, self.c = classes, c
        self.scale = torch.nn.Parameter(torch.ones(()))

    def forward(self, x, state=None):
        out = torch.zeros(x.shape[1], self.classes)
        out[:, self.c] = self.scale
        return out, state

    def step(self, x_t, state=None):
        return self.forward(x_t[None], state)


# -------------------------------------------------------------------------------------- event-digits


def test_registry_builds_the_event_tasks():
    assert task_class("event-digits") is EventDigits
    assert task_class("nmnist") is NMnist and task_class("dvs-gesture") is DvsGesture
    for cls in (EventDigits, NMnist, DvsGesture):
        assert cls.readout == "final" and len(cls().heads) == 1
        assert all(f.metadata.get("help") for f in option_fields(cls))
    assert EventDigits().in_features == 2 * 16 * 16 and EventDigits().out_features == 10
    assert NMnist().in_features == 2 * 17 * 17 and DvsGesture().in_features == 2 * 32 * 32
    assert DvsGesture().out_features == 11


def test_event_digits_splits(cache_dir):
    task = make_task("event-digits", cache_dir=cache_dir)
    splits = task.splits(seed=0)
    assert set(splits) >= {"train", "val", "test"}
    sizes = {k: len(v) for k, v in splits.items()}
    assert sum(sizes.values()) == 1797
    assert abs(sizes["test"] - 0.2 * 1797) <= 10 and abs(sizes["val"] - 0.1 * 1797) <= 10
    for data in splits.values():
        assert isinstance(data, SequenceData)
        assert data.x.shape[0] == 10 and data.x.shape[2] == task.in_features and data.x.dtype == torch.float32
        assert data.y.shape == (len(data), 1) and data.y.dtype == torch.int64
        assert set(data.y[:, 0].tolist()) == set(range(10))
        assert set(torch.unique(data.x).tolist()) <= {0.0, 1.0}  # clip = 1: binary spike inputs
        assert data.x.sum(dim=(0, 2)).min() > 0
    again = task.splits(seed=0)
    assert torch.equal(again["train"].x, splits["train"].x) and torch.equal(again["test"].y, splits["test"].y)
    other = task.splits(seed=1)
    assert not torch.equal(other["test"].y, splits["test"].y)
    # a constant classifier scores the share of its class
    metrics = task.evaluate(ConstantModel(10, 3), splits["test"])
    assert metrics["accuracy"] == pytest.approx(float((splits["test"].y == 3).float().mean()))
    with pytest.raises(ValueError, match="x \\[T, N, 512\\]"):
        task.evaluate(ConstantModel(10, 3), SequenceData(torch.zeros(10, 2, 5), torch.zeros(2, 1, dtype=torch.int64)))


def test_event_digits_options(cache_dir):
    task = EventDigits(steps=4, downsample=2, clip=2.0, n_train=100, cache_dir=cache_dir)
    splits = task.splits(seed=2)
    assert task.in_features == 2 * 8 * 8
    assert splits["train"].x.shape == (4, 100, 128)
    assert set(torch.unique(splits["train"].x).tolist()) <= {0.0, 0.5, 1.0}
    assert 0.5 in set(torch.unique(splits["train"].x).tolist())
    for bad in (
        dict(steps=0),
        dict(size=4),
        dict(downsample=0),
        dict(clip=0),
        dict(n_train=0),
        dict(val_fraction=0.0),
        dict(val_fraction=0.5, test_fraction=0.5),
        dict(contrast=-1.0),
        dict(noise_hz=-1.0),
    ):
        with pytest.raises(ValueError, match="event-digits"):
            EventDigits(**bad)


def test_stratified_split_is_per_class():
    labels = np.repeat(np.arange(4), [10, 20, 30, 40])
    train, val, test = stratified_split(labels, (0.1, 0.2), np.random.default_rng(0))
    assert np.bincount(labels[val]).tolist() == [1, 2, 3, 4]
    assert np.bincount(labels[test]).tolist() == [2, 4, 6, 8]
    assert sorted(np.concatenate([train, val, test]).tolist()) == list(range(100))


# ------------------------------------------------------------------------------------------- N-MNIST


def test_nmnist_task_reads_and_bins_the_files(nmnist_dir):
    task = make_task("nmnist", data_dir=str(nmnist_dir), val_fraction=1 / 6)
    splits = task.splits(seed=0)
    assert {k: len(v) for k, v in splits.items()} == {"train": 50, "val": 10, "test": 20}
    for data in splits.values():
        assert data.x.shape[0] == 10 and data.x.shape[2] == 578 and data.y.dtype == torch.int64
        assert set(data.y[:, 0].tolist()) == set(range(10))
    # test samples come in file order: sample 0 is Test/0/00000.bin
    ev = read_nmnist_bin(nmnist_dir / "Test" / "0" / "00000.bin")
    expected = np.minimum(flatten(to_frames(ev, 34, 34, n_bins=10, downsample=2)), 1.0)
    assert torch.equal(splits["test"].x[:, 0], torch.from_numpy(expected))
    assert splits["test"].y[0, 0] == 0
    assert splits["test"].x[:, 9].sum() == 0  # the empty sample (Test/4/00001.bin) gives all-zero inputs
    assert splits["test"].y[9, 0] == 4


def test_nmnist_options_and_limits(nmnist_dir):
    opts = dict(data_dir=str(nmnist_dir), steps=5, downsample=1, clip=3.0, n_train=20, n_test=7, val_fraction=0.2)
    task = NMnist(denoise_us=5000.0, **opts)
    splits = task.splits(seed=1)
    assert splits["train"].x.shape == (5, 20, 2 * 34 * 34)
    assert len(splits["val"]) == 5 and len(splits["test"]) == 7
    assert float(splits["train"].x.max()) <= 1.0
    # the test subset does not depend on the seed, train/val do
    other = task.splits(seed=2)
    assert torch.equal(other["test"].y, splits["test"].y)
    assert not torch.equal(other["train"].y, splits["train"].y)
    plain = NMnist(**opts)
    assert plain.splits(seed=1)["train"].x.sum() > splits["train"].x.sum()  # denoising removed events


def test_nmnist_missing_data(tmp_path):
    with pytest.raises(ValueError, match="data_dir"):
        NMnist().splits(0)
    with pytest.raises(FileNotFoundError, match=r"Train/<digit 0-9>/\*\.bin"):
        NMnist(data_dir=str(tmp_path / "absent")).splits(0)
    with pytest.raises(ValueError, match="nmnist option downsample"):
        NMnist(downsample=0)
    with pytest.raises(ValueError, match="nmnist option denoise_us"):
        NMnist(denoise_us=-1.0)


# --------------------------------------------------------------------------------------- DVS Gesture


def test_dvs_gesture_task(dvs_dir):
    task = make_task("dvs-gesture", data_dir=str(dvs_dir), val_fraction=0.2)
    splits = task.splits(seed=0)
    assert {k: len(v) for k, v in splits.items()} == {"train": 44, "val": 11, "test": 11}
    for data in splits.values():
        assert data.x.shape[0] == 16 and data.x.shape[2] == 2048
        assert set(data.y[:, 0].tolist()) == set(range(11))
    assert task.evaluate(ConstantModel(11, 0), splits["test"])["accuracy"] == pytest.approx(1 / 11)
    short = DvsGesture(data_dir=str(dvs_dir), steps=4, duration_ms=1000.0, downsample=8, clip=5.0, val_fraction=0.2)
    sp = short.splits(seed=0)
    assert sp["test"].x.shape == (4, 11, 2 * 16 * 16)
    # only the first second of ~6 s is binned
    assert 0 < float(sp["test"].x.sum()) * 5.0 < 0.4 * 11 * 400


def test_dvs_gesture_missing_data(tmp_path):
    with pytest.raises(ValueError, match="data_dir"):
        DvsGesture().splits(0)
    with pytest.raises(FileNotFoundError, match="ibmGestureTrain"):
        DvsGesture(data_dir=str(tmp_path)).splits(0)
    with pytest.raises(ValueError, match="time_unit"):
        DvsGesture(time_unit="minutes")
    with pytest.raises(ValueError, match="duration_ms"):
        DvsGesture(duration_ms=0.0)
