"""First-last XOR: labels recomputed from x, seeding, option checks, evaluation."""

import dataclasses

import pytest
import torch
from torch import nn

from spikeopt.tasks import SequenceData, make_task
from spikeopt.tasks.base import option_fields
from spikeopt.tasks.first_last_xor import FirstLastXor


class XorOracle(nn.Module):
    """A final-readout model: one-hot logits of x[0] XOR x[-1], shape [B, 2]."""

    def __init__(self, flip: bool = False) -> None:
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))
        self.flip = flip

    def forward(self, x, state=None):
        label = (x[-1, :, 0] != x[0, :, 0]).long() ^ int(self.flip)
        return nn.functional.one_hot(label, 2).float(), state


def test_shapes_and_labels() -> None:
    task = FirstLastXor(steps=5, n_train=300, n_val=20, n_test=30)
    splits = task.splits(seed=3)
    assert list(splits) == ["train", "val", "test"]
    assert [len(s) for s in splits.values()] == [300, 20, 30]
    for data in splits.values():
        assert data.x.shape[0] == 5 and data.x.shape[2] == 1 and data.x.dtype == torch.float32
        assert data.y.dtype == torch.int64 and data.y.shape == (len(data), 1)
        assert set(data.x.unique().tolist()) <= {0.0, 1.0}
        for i in range(len(data)):
            first, last = int(data.x[0, i, 0]), int(data.x[-1, i, 0])
            assert int(data.y[i, 0]) == first ^ last
    assert 0.35 < splits["train"].y.float().mean() < 0.65  # both classes, roughly balanced
    assert task.in_features == 1 and task.out_features == 2 and task.readout == "final"


def test_seeds() -> None:
    task = FirstLastXor(steps=6, n_train=50, n_val=50, n_test=50)
    a, b, c = task.splits(0), task.splits(0), task.splits(1)
    for split in a:
        assert torch.equal(a[split].x, b[split].x) and torch.equal(a[split].y, b[split].y)
        assert not torch.equal(a[split].x, c[split].x)
    assert not torch.equal(a["train"].x, a["val"].x)
    # resizing train leaves the other splits unchanged
    bigger = FirstLastXor(steps=6, n_train=80, n_val=50, n_test=50).splits(0)
    assert torch.equal(bigger["test"].x, a["test"].x)


def test_evaluate() -> None:
    task = FirstLastXor(steps=4, n_train=10, n_val=10, n_test=64)
    data = task.splits(0)["test"]
    assert task.evaluate(XorOracle(), data, batch_size=7) == {"accuracy": 1.0}
    assert task.evaluate(XorOracle(flip=True), data) == {"accuracy": 0.0}
    model = XorOracle()
    model.train()
    task.evaluate(model, data)
    assert model.training  # train flag restored
    with pytest.raises(ValueError, match="x \\[T, N, 1\\]"):
        task.evaluate(model, SequenceData(data.x.repeat(1, 1, 2), data.y))


def test_loss_and_options() -> None:
    task = make_task("first-last-xor", steps=3, n_train=4)
    assert isinstance(task, FirstLastXor)
    assert all(f.metadata.get("help") for f in option_fields(FirstLastXor))
    assert task.config()["name"] == "first-last-xor"
    logits = torch.zeros(4, 2)
    assert task.loss(logits, torch.zeros(4, 1, dtype=torch.int64)).item() == pytest.approx(0.6931, abs=1e-4)
    assert dataclasses.replace(task, steps=4).steps == 4


@pytest.mark.parametrize(
    "options, message",
    [({"steps": 1}, "steps"), ({"n_train": 0}, "n_train"), ({"n_val": 0}, "n_val"), ({"n_test": 2.5}, "n_test")],
)
def test_bad_options(options, message) -> None:
    with pytest.raises(ValueError, match=message):
        FirstLastXor(**options)
    with pytest.raises(ValueError, match="valid options"):
        make_task("first-last-xor", step=3)
