"""mnist-seq: patches reassemble the images, splits partition the data, IDX folders load."""

from collections import Counter

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

from spikeopt.tasks import make_task
from spikeopt.tasks.base import option_fields
from spikeopt.tasks.idx import write_idx
from spikeopt.tasks.mnist_seq import MnistSeq


def _images(data) -> np.ndarray:
    """Reassemble [N, pixels] from the [T, N, pixels/T] patches (row-major)."""
    return data.x.transpose(0, 1).reshape(len(data), -1).numpy()


def _rows(images: np.ndarray, labels: np.ndarray) -> Counter:
    return Counter((img.tobytes(), int(lab)) for img, lab in zip(images, labels))


@pytest.mark.parametrize("steps", [8, 4, 64])
def test_builtin_digits_partition_and_reassemble(steps) -> None:
    task = MnistSeq(steps=steps)
    splits = task.splits(seed=0)
    assert list(splits) == ["train", "val", "test"]
    digits = load_digits()
    reference = _rows((digits.data / 16.0).astype(np.float32), digits.target)
    got = Counter()
    for data in splits.values():
        assert data.x.shape == (steps, len(data), 64 // steps) and data.x.dtype == torch.float32
        assert data.y.shape == (len(data), 1) and data.y.dtype == torch.int64
        assert 0.0 <= data.x.min() and data.x.max() <= 1.0
        got += _rows(_images(data), data.y[:, 0].numpy())
    assert got == reference  # every image exactly once, with its label
    assert [len(splits[s]) for s in ("val", "test")] == [round(0.2 * 1797)] * 2
    assert task.in_features == 64 // steps and task.out_features == 10


def test_first_patch_is_the_first_image_row() -> None:
    data = MnistSeq(steps=8, n_train=5).splits(1)["train"]
    img = _images(data).reshape(5, 8, 8)
    for t in range(8):
        np.testing.assert_array_equal(data.x[t].numpy(), img[:, t, :])


def test_seeds_and_n_train() -> None:
    task = MnistSeq(n_train=100)
    a, b, c = task.splits(0), task.splits(0), task.splits(1)
    assert len(a["train"]) == 100
    assert torch.equal(a["train"].x, b["train"].x) and torch.equal(a["test"].y, b["test"].y)
    assert not torch.equal(a["train"].x, c["train"].x)
    with pytest.raises(ValueError, match="n_train=5000 exceeds"):
        MnistSeq(n_train=5000).splits(0)


def test_steps_must_divide_pixels() -> None:
    with pytest.raises(ValueError, match="valid steps: 1, 2, 4, 8, 16, 32, 64"):
        MnistSeq(steps=5)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"steps": 0}, "steps"),
        ({"val_fraction": 0.0}, "val_fraction"),
        ({"test_fraction": 1.0}, "test_fraction"),
        ({"val_fraction": 0.5, "test_fraction": 0.5}, "leave training data"),
        ({"n_train": 0}, "n_train"),
    ],
)
def test_bad_options(options, message) -> None:
    with pytest.raises(ValueError, match=message):
        MnistSeq(**options)
    assert all(f.metadata.get("help") for f in option_fields(MnistSeq))


def test_zero_sized_split() -> None:
    with pytest.raises(ValueError, match="'val' would be empty; increase val_fraction"):
        MnistSeq(val_fraction=1e-4).splits(0)


def _fake_mnist(folder, n_train=30, n_test=12, side=4, gz=True, prefix="") -> dict:
    rng = np.random.default_rng(5)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, side, side), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, side, side), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test).astype(np.uint8),
    }
    for name, array in arrays.items():
        write_idx(folder / (prefix + name + (".gz" if gz else "")), array)
    return arrays


@pytest.mark.parametrize("gz, prefix", [(True, ""), (False, ""), (True, "emnist-digits-")])
def test_idx_folder(tmp_path, gz, prefix) -> None:
    arrays = _fake_mnist(tmp_path, gz=gz, prefix=prefix)
    task = make_task("mnist-seq", data_dir=str(tmp_path), steps=2, val_fraction=0.2)
    assert task.in_features == 8
    splits = task.splits(0)
    test = splits["test"]  # official t10k, in file order
    np.testing.assert_allclose(_images(test), arrays["t10k-images-idx3-ubyte"].reshape(12, 16) / 255.0, rtol=1e-6)
    assert test.y[:, 0].tolist() == arrays["t10k-labels-idx1-ubyte"].tolist()
    train_ref = _rows(arrays["train-images-idx3-ubyte"].reshape(30, 16), arrays["train-labels-idx1-ubyte"])
    got = Counter()
    for name in ("train", "val"):
        images = np.round(_images(splits[name]) * 255).astype(np.uint8)
        got += _rows(images, splits[name].y[:, 0].numpy())
    assert got == train_ref and len(splits["val"]) == 6
    with pytest.raises(ValueError, match="valid steps: 1, 2, 4, 8, 16"):
        MnistSeq(data_dir=str(tmp_path), steps=3)


def test_idx_folder_more_classes(tmp_path) -> None:
    arrays = _fake_mnist(tmp_path)
    arrays["train-labels-idx1-ubyte"][0] = 26  # one label 26 among 0..9: only valid when declared
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", arrays["train-labels-idx1-ubyte"])
    assert MnistSeq(data_dir=str(tmp_path), classes=27).heads[0].classes == 27


def test_idx_letters_infer_their_classes(tmp_path) -> None:
    _fake_mnist(tmp_path, n_train=52)
    letters = np.tile(np.arange(1, 27, dtype=np.uint8), 2)  # EMNIST letters: labels 1..26, no 0
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", letters)
    assert MnistSeq(data_dir=str(tmp_path)).heads[0].classes == 27


@pytest.mark.parametrize("which", ["train", "t10k"])
def test_corrupt_label_names_file_and_index(tmp_path, which) -> None:
    arrays = _fake_mnist(tmp_path)
    name = f"{which}-labels-idx1-ubyte"
    labels = arrays[name].copy()
    labels[7] = 200  # one flipped byte: would make a 201-class head
    write_idx(tmp_path / f"{name}.gz", labels)
    with pytest.raises(ValueError) as err:
        MnistSeq(data_dir=str(tmp_path))
    message = str(err.value)
    assert name in message and "label 200 at index 7" in message


def test_label_beyond_declared_classes(tmp_path) -> None:
    arrays = _fake_mnist(tmp_path)
    labels = arrays["train-labels-idx1-ubyte"].copy()
    labels[3] = 10
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", labels)
    with pytest.raises(ValueError, match="label 10 at index 3 is not below classes=10"):
        MnistSeq(data_dir=str(tmp_path), classes=10)
    with pytest.raises(ValueError, match="classes must be an integer >= 2"):
        MnistSeq(classes=True)


def test_missing_files(tmp_path) -> None:
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((2, 2, 2), dtype=np.uint8))
    with pytest.raises(FileNotFoundError) as err:
        MnistSeq(data_dir=str(tmp_path))
    message = str(err.value)
    assert str(tmp_path) in message and "t10k-labels-idx1-ubyte" in message and "train-labels-idx1-ubyte" in message
    with pytest.raises(FileNotFoundError, match="not a folder"):
        MnistSeq(data_dir=str(tmp_path / "nowhere"))


def test_ambiguous_prefixed_sets(tmp_path) -> None:
    _fake_mnist(tmp_path, prefix="emnist-digits-")
    _fake_mnist(tmp_path, prefix="emnist-letters-")
    with pytest.raises(ValueError, match="several train-images-idx3-ubyte files"):
        MnistSeq(data_dir=str(tmp_path))


def test_label_count_mismatch(tmp_path) -> None:
    _fake_mnist(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(3, dtype=np.uint8))
    with pytest.raises(ValueError, match="expected 12 integer labels"):
        MnistSeq(data_dir=str(tmp_path)).splits(0)


class ConstantModel(nn.Module):
    """Always predicts class ``cls``: its accuracy is the frequency of that class."""

    def __init__(self, cls: int, classes: int = 10) -> None:
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))
        self.cls, self.classes = cls, classes

    def forward(self, x, state=None):
        out = torch.zeros(x.shape[1], self.classes)  # final readout: [B, O]
        out[..., self.cls] = 1.0
        return out, state


def test_evaluate_constant_model() -> None:
    task = MnistSeq(steps=4)
    data = task.splits(0)["test"]
    metrics = task.evaluate(ConstantModel(3), data, batch_size=50)
    assert metrics == {"accuracy": pytest.approx((data.y[:, 0] == 3).float().mean().item())}
    with pytest.raises(ValueError, match="shape"):
        task.evaluate(ConstantModel(3, classes=11), data)
