"""Metric functions on hand-computed cases."""

import pytest
import torch

from spikeopt.tasks.metrics import (
    correct_steps,
    first_error_step,
    first_error_steps,
    joint_token_accuracy,
    sequence_accuracy,
    split_generator,
    token_accuracy,
)

# T = 4 timesteps, N = 3 sequences, H = 2 heads.
TARGET = torch.zeros(4, 3, 2, dtype=torch.int64)
PRED = TARGET.clone()
PRED[2, 0, 0] = 1  # sequence 0: first error at t=2 (head 0)
PRED[2, 0, 1] = 1  #   same step, other head too
PRED[0, 1, 1] = 1  # sequence 1: first error at t=0 (head 1)
PRED[3, 1, 0] = 1  #   and again at t=3
# sequence 2: no error -> counts T = 4


def test_token_accuracy_counts_every_element() -> None:
    assert token_accuracy(PRED, TARGET) == pytest.approx(1 - 4 / 24)
    assert token_accuracy(PRED[..., 0], TARGET[..., 0]) == pytest.approx(1 - 2 / 12)
    assert token_accuracy(torch.tensor([1, 2, 3]), torch.tensor([1, 0, 3])) == pytest.approx(2 / 3)


def test_joint_token_accuracy_needs_all_heads() -> None:
    # wrong rows: (2,0), (0,1), (3,1) -> 3 of 12
    assert joint_token_accuracy(PRED, TARGET) == pytest.approx(9 / 12)


def test_sequence_metrics() -> None:
    expected = torch.tensor([[1, 0, 1], [1, 1, 1], [0, 1, 1], [1, 0, 1]], dtype=torch.bool)
    assert torch.equal(correct_steps(PRED, TARGET), expected)
    assert sequence_accuracy(PRED, TARGET) == pytest.approx(1 / 3)
    assert first_error_steps(PRED, TARGET).tolist() == [2, 0, 4]
    assert first_error_step(PRED, TARGET) == pytest.approx((2 + 0 + 4) / 3)
    # [T, N] (a single head) works the same way
    assert first_error_steps(PRED[..., 0], TARGET[..., 0]).tolist() == [2, 3, 4]
    assert sequence_accuracy(PRED[..., 0], TARGET[..., 0]) == pytest.approx(1 / 3)


def test_perfect_and_all_wrong() -> None:
    assert sequence_accuracy(TARGET, TARGET) == 1.0
    assert first_error_step(TARGET, TARGET) == 4.0
    assert first_error_step(TARGET + 1, TARGET) == 0.0
    assert joint_token_accuracy(TARGET + 1, TARGET) == 0.0


@pytest.mark.parametrize("fn", [token_accuracy, joint_token_accuracy, sequence_accuracy, first_error_step])
def test_validation(fn) -> None:
    with pytest.raises(ValueError, match="differ"):
        fn(PRED, TARGET[:3])
    with pytest.raises(TypeError, match="integer"):
        fn(PRED.float(), TARGET)
    with pytest.raises(ValueError, match="empty"):
        fn(PRED[:0], TARGET[:0])
    with pytest.raises(TypeError, match="tensors"):
        fn(PRED.tolist(), TARGET)


def test_sequence_metrics_need_time_major() -> None:
    with pytest.raises(ValueError, match=r"\[T, N\]"):
        sequence_accuracy(torch.zeros(5, dtype=torch.int64), torch.zeros(5, dtype=torch.int64))


def test_split_generator_depends_on_seed_and_split() -> None:
    def draw(seed: int, split: str) -> list[int]:
        return torch.randint(0, 1000, (8,), generator=split_generator(seed, split)).tolist()

    assert draw(0, "train") == draw(0, "train")
    assert draw(0, "train") != draw(1, "train")
    assert draw(0, "train") != draw(0, "val")
    assert draw(-1, "train") == draw(-1, "train")
    with pytest.raises(TypeError):
        split_generator(1.5, "train")  # type: ignore[arg-type]
