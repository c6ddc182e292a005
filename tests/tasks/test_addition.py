"""Addition: data against Python integer addition; autoregressive vs teacher-forced evaluation."""

import pytest
import torch
from torch import nn

from spikeopt.tasks import SequenceData, make_task
from spikeopt.tasks.addition import Addition
from spikeopt.tasks.base import option_fields


def _digits(x: torch.Tensor, i: int, column: int, base: int) -> list[int]:
    return [round(float(v) * (base - 1)) for v in x[:, i, column]]


def _number(digits: list[int], base: int) -> int:
    return sum(d * base**t for t, d in enumerate(digits))


class AdditionOracle(nn.Module):
    """Exact sum digit and carry out from its input, as one-hot logits.

    ``carry_zero``: always predicts carry 0 (the sum digit still uses the carry input).
    """

    def __init__(self, base: int, carry_zero: bool = False) -> None:
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))
        self.base, self.carry_zero = base, carry_zero

    def step(self, x_t, state=None):
        b = self.base
        total = torch.round(x_t[:, 0] * (b - 1)) + torch.round(x_t[:, 1] * (b - 1))
        if x_t.shape[1] == 3:
            total = total + torch.round(x_t[:, 2])
        total = total.long()
        carry = torch.zeros_like(total) if self.carry_zero else total // b
        out = [nn.functional.one_hot(total % b, b)]
        if x_t.shape[1] == 3:
            out.append(nn.functional.one_hot(carry, 2))
        return torch.cat(out, dim=1).float(), (0 if state is None else state + 1)

    def forward(self, x, state=None):
        outs = []
        for t in range(x.shape[0]):
            out, state = self.step(x[t], state)
            outs.append(out)
        return torch.stack(outs), state


@pytest.mark.parametrize("base", [2, 3, 10])
def test_carry_mode_matches_integer_addition(base) -> None:
    task = Addition(base=base, digits=4, n_train=40, n_val=5, n_test=5, n_ood=20, ood_factors=(2, 5))
    splits = task.splits(seed=1)
    assert list(splits) == ["train", "val", "test", "ood_2x", "ood_5x"]
    assert [d.steps for d in splits.values()] == [4, 4, 4, 8, 20]
    for name in ("train", "ood_5x"):
        data = splits[name]
        T = data.steps
        assert data.x.dtype == torch.float32 and data.y.dtype == torch.int64 and data.y.shape == (T, len(data), 2)
        for i in range(len(data)):
            a = _number(_digits(data.x, i, 0, base), base)
            b = _number(_digits(data.x, i, 1, base), base)
            for t in range(T):  # carry into column t
                carry_in = (a % base**t + b % base**t) >= base**t
                assert data.x[t, i, 2].item() == float(carry_in)
                assert data.y[t, i, 1].item() == int((a % base ** (t + 1) + b % base ** (t + 1)) >= base ** (t + 1))
            total = _number(data.y[:, i, 0].tolist(), base) + data.y[-1, i, 1].item() * base**T
            assert total == a + b


def test_direct_mode_is_low_digits_of_the_sum() -> None:
    base = 10
    task = Addition(base=base, digits=5, mode="direct", n_train=60, n_val=3, n_test=3, n_ood=3)
    data = task.splits(seed=2)["train"]
    assert task.in_features == 2 and [h.name for h in task.heads] == ["sum"]
    assert data.x.shape == (5, 60, 2) and data.y.shape == (5, 60, 1)
    overflow = 0
    for i in range(len(data)):
        a = _number(_digits(data.x, i, 0, base), base)
        b = _number(_digits(data.x, i, 1, base), base)
        assert _number(data.y[:, i, 0].tolist(), base) == (a + b) % base**5
        overflow += a + b >= base**5
    assert 0 < overflow < 60  # operands unrestricted: the dropped carry out occurs


def test_digits_uniform_and_seeds() -> None:
    task = Addition(base=5, digits=6, n_train=500, n_val=50, n_test=50, n_ood=50, ood_factors=(2,))
    s0, s0b, s1 = task.splits(0), task.splits(0), task.splits(1)
    digits = torch.round(s0["train"].x[..., :2] * 4).long()
    counts = torch.bincount(digits.flatten(), minlength=5).float()
    assert counts.numel() == 5 and (counts / counts.sum() - 0.2).abs().max() < 0.02
    for name in s0:
        assert torch.equal(s0[name].x, s0b[name].x) and torch.equal(s0[name].y, s0b[name].y)
        assert not torch.equal(s0[name].x, s1[name].x)
    assert not torch.equal(s0["val"].x, s0["test"].x)


def test_heads_and_time_weights() -> None:
    task = Addition(base=4, lambda_carry=0.25, ramp=2.0)
    assert [(h.name, h.classes, h.weight) for h in task.heads] == [("sum", 4, 1.0), ("carry", 2, 0.25)]
    assert task.out_features == 6 and task.in_features == 3 and task.readout == "per_step"
    w = task.time_weights(5)
    raw = torch.tensor([1 + 2.0 * t / 4 for t in range(5)])
    assert torch.allclose(w, raw / raw.mean()) and w.mean().item() == pytest.approx(1.0)
    assert torch.all(w[1:] > w[:-1])
    assert torch.equal(Addition(ramp=0.0).time_weights(7), torch.ones(7))
    assert torch.equal(task.time_weights(1), torch.ones(1))
    # loss uses the ramp: weighting only the last step's error more raises the loss
    y = torch.zeros(5, 2, 2, dtype=torch.int64)
    logits = torch.zeros(5, 2, 6)
    logits[0, :, 0] = 10.0
    logits[0, :, 4] = 10.0  # step 0 right, others uniform
    assert task.loss(logits, y).item() > Addition(base=4, lambda_carry=0.25, ramp=0.0).loss(logits, y).item()
    assert all(f.metadata.get("help") for f in option_fields(Addition))


def test_perfect_oracle_both_evaluations_agree() -> None:
    for base in (2, 10):
        task = Addition(base=base, digits=6, n_train=4, n_val=4, n_test=50, n_ood=30, ood_factors=(5,))
        splits = task.splits(0)
        for name in ("test", "ood_5x"):
            metrics = task.evaluate(AdditionOracle(base), splits[name], batch_size=16)
            names = ["joint_token_accuracy", "sum_token_accuracy", "carry_token_accuracy",
                     "joint_sequence_accuracy", "first_error_step"]
            assert list(metrics) == names + ["tf_" + n for n in names]
            T = splits[name].steps
            for n in names:
                expected = float(T) if n == "first_error_step" else 1.0
                assert metrics[n] == metrics["tf_" + n] == expected


def _hand_metrics(ok: list[list[tuple[bool, bool]]]) -> dict[str, float]:
    """Metrics from per-(sequence, step) (sum right, carry right) flags, by plain loops."""
    flat = [f for seq in ok for f in seq]
    firsts = []
    for seq in ok:
        wrong = [t for t, (s, c) in enumerate(seq) if not (s and c)]
        firsts.append(wrong[0] if wrong else len(seq))
    return {
        "joint_token_accuracy": sum(s and c for s, c in flat) / len(flat),
        "sum_token_accuracy": sum(s for s, _ in flat) / len(flat),
        "carry_token_accuracy": sum(c for _, c in flat) / len(flat),
        "joint_sequence_accuracy": sum(all(s and c for s, c in seq) for seq in ok) / len(ok),
        "first_error_step": sum(firsts) / len(firsts),
    }


def test_carry_zero_oracle_rollout_differs_from_teacher_forcing() -> None:
    task = Addition(base=2, digits=8, n_train=4, n_val=4, n_test=64, n_ood=4, ood_factors=())
    data = task.splits(3)["test"]
    metrics = task.evaluate(AdditionOracle(2, carry_zero=True), data, batch_size=10)
    T, N = data.steps, len(data)
    carry_in = [[bool(data.x[t, i, 2]) for t in range(T)] for i in range(N)]
    carry_out = [[bool(data.y[t, i, 1]) for t in range(T)] for i in range(N)]
    # teacher forced: the true carry comes in, so the sum is right; the carry is right only when it is 0
    tf = _hand_metrics([[(True, not carry_out[i][t]) for t in range(T)] for i in range(N)])
    # rollout: the fed-back carry is always 0, so the sum is right only where the true carry in is 0
    ar = _hand_metrics([[(not carry_in[i][t], not carry_out[i][t]) for t in range(T)] for i in range(N)])
    for key, value in ar.items():
        assert metrics[key] == pytest.approx(value)
        assert metrics["tf_" + key] == pytest.approx(tf[key])
    assert metrics["tf_sum_token_accuracy"] == 1.0
    assert metrics["sum_token_accuracy"] < 1.0  # the difference rollout exposes
    assert metrics["joint_token_accuracy"] < metrics["tf_joint_token_accuracy"]


def test_direct_mode_evaluate() -> None:
    task = Addition(base=3, digits=5, mode="direct", n_train=4, n_val=4, n_test=40, n_ood=4, ood_factors=())
    data = task.splits(0)["test"]
    metrics = task.evaluate(AdditionOracle(3), data)
    # the oracle sees no carry in direct mode: right exactly where the true carry in is 0
    assert list(metrics) == ["sum_token_accuracy", "sequence_accuracy", "first_error_step"]
    a = torch.round(data.x[..., 0] * 2).long()
    b = torch.round(data.x[..., 1] * 2).long()
    ok = (a + b) % 3 == data.y[..., 0]
    assert metrics["sum_token_accuracy"] == pytest.approx(ok.float().mean().item())
    assert metrics["sequence_accuracy"] == pytest.approx(ok.all(0).float().mean().item())


def test_evaluate_rejects_wrong_shapes() -> None:
    task = Addition(base=2, digits=3, n_train=4, n_val=4, n_test=4, n_ood=4, ood_factors=())
    data = task.splits(0)["test"]
    with pytest.raises(ValueError, match=r"y \[T, N, 2\]"):
        task.evaluate(AdditionOracle(2), SequenceData(data.x, data.y[..., :1]))
    with pytest.raises(ValueError, match="shape"):
        task.evaluate(AdditionOracle(3), data)  # wrong number of logits
    with pytest.raises(ValueError, match="batch_size"):
        task.evaluate(AdditionOracle(2), data, batch_size=0)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"base": 1}, "base"),
        ({"digits": 0}, "digits"),
        ({"mode": "carries"}, "mode"),
        ({"lambda_carry": -1.0}, "lambda_carry"),
        ({"ramp": -0.5}, "ramp"),
        ({"n_train": 0}, "n_train"),
        ({"n_ood": 0}, "n_ood"),
        ({"ood_factors": (2, 1)}, "ood_factors"),
        ({"ood_factors": (2, 2)}, "ood_factors"),
        ({"ood_factors": 5}, "ood_factors"),
    ],
)
def test_bad_options(options, message) -> None:
    with pytest.raises(ValueError, match=message):
        Addition(**options)


def test_make_task_and_list_factors() -> None:
    task = make_task("addition", base=3, ood_factors=[3, 4], n_ood=2, n_train=2, n_val=2, n_test=2)
    assert task.ood_factors == (3, 4)
    assert list(task.splits(0)) == ["train", "val", "test", "ood_3x", "ood_4x"]
