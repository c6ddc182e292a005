"""base.py: sequence_loss against a hand computation, SequenceData checks, registry errors."""

import math

import pytest
import torch

from spikeopt.tasks import Head, SequenceData, make_task, predict, sequence_loss, task_names
from spikeopt.tasks.registry import task_class


def _ce(logits: list[float], label: int) -> float:
    return math.log(sum(math.exp(v) for v in logits)) - logits[label]


HEADS = (Head("a", 3), Head("b", 2, weight=0.5))


def test_sequence_loss_final_readout_by_hand() -> None:
    rows = [[1.0, 2.0, 0.0, 0.5, -0.5], [0.0, 0.0, 3.0, 2.0, 1.0]]
    labels = [[1, 0], [0, 1]]
    expected = sum(_ce(r[:3], y[0]) + 0.5 * _ce(r[3:], y[1]) for r, y in zip(rows, labels)) / 2
    got = sequence_loss(torch.tensor(rows), torch.tensor(labels), HEADS)
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_sequence_loss_per_step_with_time_weights_by_hand() -> None:
    torch.manual_seed(0)
    logits = torch.randn(3, 2, 5)
    y = torch.tensor([[[0, 1], [2, 0]], [[1, 1], [0, 0]], [[2, 1], [1, 0]]])
    w = [0.5, 1.0, 1.5]
    total = 0.0
    for t in range(3):
        for n in range(2):
            row = logits[t, n].tolist()
            total += w[t] * (_ce(row[:3], int(y[t, n, 0])) + 0.5 * _ce(row[3:], int(y[t, n, 1])))
    got = sequence_loss(logits, y, HEADS, torch.tensor(w))
    assert got.item() == pytest.approx(total / 6, rel=1e-6)
    unweighted = sequence_loss(logits, y, HEADS)
    assert unweighted.item() != pytest.approx(got.item())


def test_predict_splits_heads() -> None:
    logits = torch.tensor([[0.0, 5.0, 1.0, 2.0, 1.0]])
    assert predict(logits, HEADS).tolist() == [[1, 0]]


def test_head_validation() -> None:
    with pytest.raises(ValueError, match="at least 2 classes"):
        Head("x", 1)
    with pytest.raises(ValueError, match="weight"):
        Head("x", 2, weight=-1.0)


@pytest.mark.parametrize(
    "x, y, error, message",
    [
        (torch.zeros(4, 3), torch.zeros(3, 1, dtype=torch.int64), ValueError, "time-major"),
        (torch.zeros(4, 3, 1, dtype=torch.int64), torch.zeros(3, 1, dtype=torch.int64), TypeError, "floating"),
        (torch.zeros(4, 3, 1), torch.zeros(3, 1), TypeError, "int64"),
        (torch.zeros(4, 3, 1), torch.zeros(2, 1, dtype=torch.int64), ValueError, "does not fit"),
        (torch.zeros(4, 3, 1), torch.zeros(5, 3, 1, dtype=torch.int64), ValueError, "does not fit"),
        (torch.zeros(4, 0, 1), torch.zeros(0, 1, dtype=torch.int64), ValueError, "at least one sample"),
        (torch.zeros(4, 3, 1).numpy(), torch.zeros(3, 1, dtype=torch.int64), TypeError, "torch tensors"),
    ],
)
def test_sequence_data_validation(x, y, error, message) -> None:
    with pytest.raises(error, match=message):
        SequenceData(x, y)


def test_sequence_data_subset() -> None:
    data = SequenceData(torch.arange(12.0).reshape(2, 6, 1), torch.arange(6).reshape(6, 1))
    part = data.subset(slice(1, 3))
    assert len(part) == 2 and part.y.tolist() == [[1], [2]] and part.x[:, :, 0].tolist() == [[1, 2], [7, 8]]
    assert not data.per_step and data.steps == 2


def test_registry_errors() -> None:
    with pytest.raises(ValueError, match="valid tasks: .*addition"):
        make_task("no-such-task")
    with pytest.raises(ValueError, match=r"no option\(s\) \['bogus'\].*valid options"):
        make_task("addition", bogus=1)
    for name in ("first-last-xor", "addition", "mnist-seq"):
        assert name in task_names()
        assert task_class(name).name == name


def test_check_labels_names_the_head() -> None:
    from spikeopt.tasks.base import check_labels

    heads = (Head("sum", 3), Head("carry", 2))
    good = SequenceData(torch.zeros(2, 4, 1), torch.zeros(2, 4, 2, dtype=torch.int64))
    check_labels(good, heads)
    bad_y = good.y.clone()
    bad_y[0, 0, 1] = 2
    with pytest.raises(ValueError, match="'carry' must lie in \\[0, 2\\)"):
        check_labels(SequenceData(good.x, bad_y), heads)
    with pytest.raises(ValueError, match="heads"):
        check_labels(good, heads[:1])


def test_nan_inputs_rejected() -> None:
    with pytest.raises(ValueError, match="NaN"):
        SequenceData(torch.full((2, 3, 1), float("nan")), torch.zeros(3, 1, dtype=torch.int64))


def test_per_head_argmax_and_one_hot_against_a_hand_count():
    from spikeopt.tasks.base import one_hot_heads, predict_heads

    logits = torch.tensor([[0.1, 0.9, 0.0, 5.0, 1.0], [2.0, -1.0, 0.5, 0.0, 0.0]])
    # heads of 3 and 2 classes: row 0 -> (1, 0), row 1 -> (0, 0) (first maximum on ties)
    assert predict_heads(logits, [3, 2]).tolist() == [[1, 0], [0, 0]]
    labels = torch.tensor([[2, 1], [0, 0]])
    assert one_hot_heads(labels, [3, 2]).tolist() == [[0, 0, 1, 0, 1], [1, 0, 0, 1, 0]]
    assert one_hot_heads(labels, [3, 2]).dtype == torch.float64


def test_subsets_of_checked_data_keep_their_values():
    from spikeopt.tasks.base import SequenceData

    data = SequenceData(torch.arange(24.0).reshape(2, 4, 3), torch.tensor([[0], [1], [2], [3]]))
    part = data.subset(torch.tensor([3, 1]))
    assert torch.equal(part.x, data.x[:, [3, 1]]) and part.y.tolist() == [[3], [1]]
    assert isinstance(part, SequenceData) and len(part) == 2 and part.steps == 2
