"""The arrays task: shapes, labels, errors, seeded stratified splits, and the command line."""

import json

import numpy as np
import pytest

from spikeopt.cli import main
from spikeopt.tasks import make_task


def save(path, **arrays):
    np.savez(path, **arrays)
    return str(path)


def test_values_time_major_and_given_test(tmp_path):
    x = np.arange(6 * 3 * 2, dtype=np.float32).reshape(6, 3, 2)
    x_test = -np.arange(2 * 3 * 2, dtype=np.float32).reshape(2, 3, 2)
    f = save(tmp_path / "d.npz", x=x, y=np.array([0, 1, 0, 1, 0, 1]), x_test=x_test, y_test=np.array([1, 0]))
    task = make_task("arrays", data_file=f, val_fraction=0.34)
    assert task.in_features == 2 and task.heads[0].classes == 2
    s = task.splits(0)
    assert s["test"].x[:, 1, :].tolist() == [[-6, -7], [-8, -9], [-10, -11]]  # x_test[1] is [T, F]
    assert s["test"].y[:, 0].tolist() == [1, 0]
    assert len(s["train"]) == 4 and len(s["val"]) == 2
    for part in ("train", "val"):  # each sample i holds the values 6 i .. 6 i + 5, with its label i % 2
        for n in range(len(s[part])):
            first = int(s[part].x[0, n, 0])
            assert s[part].x[:, n, :].flatten().tolist() == list(range(first, first + 6))
            assert int(s[part].y[n, 0]) == (first // 6) % 2


def test_two_dimensional_x_and_znorm(tmp_path):
    x = np.array([[1.0, 3.0], [2.0, 2.0], [0.0, 4.0], [5.0, 5.0]])
    f = save(tmp_path / "d.npz", x=x, y=np.array([0, 0, 1, 1]), x_test=x[:2], y_test=np.array([0, 1]))
    raw = make_task("arrays", data_file=f).splits(0)["test"]
    assert raw.x[:, 0, 0].tolist() == [1, 3] and raw.x.shape == (2, 2, 1)
    normed = make_task("arrays", data_file=f, znorm=True).splits(0)["test"]
    assert normed.x[:, 0, 0].tolist() == [-1, 1] and normed.x[:, 1, 0].tolist() == [0, 0]


def test_carved_test_split_is_stratified_and_seeded(tmp_path):
    y = np.repeat([0, 1, 2], 10)
    x = np.arange(30, dtype=np.float64)[:, None, None] * np.ones((1, 4, 1))
    f = save(tmp_path / "d.npz", x=x, y=y)
    task = make_task("arrays", data_file=f, test_fraction=0.2, val_fraction=0.25)
    a, b, c = task.splits(3), task.splits(3), task.splits(4)
    assert np.bincount(a["test"].y[:, 0].numpy()).tolist() == [2, 2, 2]
    assert np.bincount(a["val"].y[:, 0].numpy()).tolist() == [2, 2, 2]
    ids = sorted(int(v) for part in a.values() for v in part.x[0, :, 0])
    assert ids == list(range(30))  # a partition
    for part in a.values():
        assert all(int(v) // 10 == int(lab) for v, lab in zip(part.x[0, :, 0], part.y[:, 0]))
    assert a["test"].x.equal(b["test"].x) and not a["test"].x.equal(c["test"].x)


@pytest.mark.parametrize(
    "arrays, message",
    [
        (dict(x=np.zeros((4, 2, 2, 2)), y=np.zeros(4, int)), r"x must be \[N, T, F\] or \[N, T\]"),
        (dict(x=np.zeros((4, 3)), y=np.zeros(5, int)), r"y must be \[N\] with N = 4"),
        (dict(x=np.full((4, 3), np.nan), y=np.zeros(4, int)), r"x holds NaN or inf \(first at sample 0"),
        (dict(x=np.zeros((4, 3)), y=np.array([0, 1.5, 0, 1])), "must hold integer class labels"),
        (dict(x=np.zeros((4, 3)), y=np.array(["a", "b", "a", "b"])), "must hold integer class labels"),
        (dict(x=np.zeros((4, 3)), y=np.array([0, -1, 0, 1])), "labels must be >= 0"),
        (dict(x=np.zeros((4, 3))), r"lacks array\(s\) \['y'\]"),
        (dict(x=np.zeros((4, 3)), y=np.zeros(4, int), x_test=np.zeros((2, 3))), "both x_test and y_test"),
        (dict(x=np.zeros((4, 3)), y=np.zeros(4, int), x_test=np.zeros((2, 4)), y_test=np.zeros(2, int)),
         "T and F must match"),
        (dict(x=np.zeros((6, 3)), y=np.array([0, 0, 0, 0, 0, 1])), r"at least 2 samples of every class; class\(es\) 1"),
    ],
)
def test_errors(tmp_path, arrays, message):
    f = save(tmp_path / "d.npz", **arrays)
    with pytest.raises((ValueError, TypeError), match=message):
        make_task("arrays", data_file=f).splits(0)


def test_missing_file_and_option(tmp_path):
    with pytest.raises(ValueError, match="needs the option data_file"):
        make_task("arrays")
    with pytest.raises(FileNotFoundError, match="is not a file"):
        make_task("arrays", data_file=str(tmp_path / "none.npz"))


def test_cli_trains_sg_on_arrays(tmp_path):
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1], 20)
    x = rng.normal(size=(40, 5, 3)).astype(np.float32) + y[:, None, None]
    f = save(tmp_path / "d.npz", x=x, y=y)
    out = tmp_path / "r.json"
    assert main(["train", "--task", "arrays", "--data-file", f, "--method", "sg", "--subnetworks", "2",
                 "--width", "4", "--epochs", "1", "--no-progress", "--out", str(out)]) == 0
    assert set(json.loads(out.read_text())["metrics"]) >= {"train", "val", "test"}
