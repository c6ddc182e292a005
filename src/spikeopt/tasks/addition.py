"""Multi-digit addition, one digit column per timestep: a probe of length generalisation.

Fitting short sums is easy; extrapolating to 2x-10x longer operands needs a reusable carry rule.
The carry-augmented protocol (Appendix F of the seed paper) supervises the carry at every step and
evaluates by autoregressive rollout, where the model must feed its own predicted carry back in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import Tensor

from spikeopt.tasks.base import Head, SequenceData, SequenceModel, Task, predict
from spikeopt.tasks.metrics import (
    check_batch_size,
    check_logits,
    eval_mode,
    first_error_step,
    forward_in_batches,
    joint_token_accuracy,
    model_device,
    sequence_accuracy,
    split_generator,
    token_accuracy,
)
from spikeopt.validation import check_choice, check_int, check_number

MODES = ("carry", "direct")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass
class Addition(Task):
    """Add two ``digits``-digit base-``base`` numbers, least significant digit first.

    Step ``t`` sees digit column ``t`` of both operands, each digit drawn uniformly from
    ``0..base-1`` (seeded per split by ``(seed, split name)``).

    * ``mode="carry"``: input ``(a_t/(b-1), b_t/(b-1), c_t)`` with ``c_t`` the carry into column
      ``t`` (``c_0 = 0``); targets ``[sum digit, carry out]``, y ``[T, N, 2]``; heads ``sum``
      (``base`` classes) and ``carry`` (2 classes, loss weight ``lambda_carry``). The carry out of
      the last column is the (n+1)-th digit of the sum, so y holds the whole sum.
    * ``mode="direct"``: input ``(a_t/(b-1), b_t/(b-1))``, y ``[T, N, 1]``, head ``sum`` only. The
      target is the n low digits of the sum, i.e. ``(a + b) mod base**n``: the final carry out is
      dropped (operands are drawn unrestricted, so it is set in about half the samples).

    Loss weights per timestep ramp up linearly, ``w_t = 1 + ramp * t / (T-1)`` normalised to mean 1
    (all ones for ``ramp = 0`` or T = 1): later columns sit at the end of longer carry chains.

    Splits: ``train``, ``val``, ``test`` at length ``digits``; ``ood_{f}x`` at length ``f * digits``
    for every ``f`` in ``ood_factors`` (``n_ood`` samples each).
    """

    name: ClassVar[str] = "addition"
    readout: ClassVar[str] = "per_step"
    description: ClassVar[str] = "Multi-digit addition, one digit column per step; OOD splits 2x-10x longer."

    base: int = field(default=2, metadata={"help": "number base b (>= 2)"})
    digits: int = field(default=8, metadata={"help": "operand digits n at training length (T = n)"})
    mode: str = field(
        default="carry",
        metadata={"help": "'carry': carry in as input, predict sum digit and carry out; 'direct': operands only"},
    )
    lambda_carry: float = field(default=1.0, metadata={"help": "loss weight of the carry head (carry mode)"})
    ramp: float = field(
        default=1.0, metadata={"help": "timestep weight ramp: w_t = 1 + ramp*t/(T-1), normalised to mean 1"}
    )
    n_train: int = field(default=2048, metadata={"help": "training samples"})
    n_val: int = field(default=512, metadata={"help": "validation samples"})
    n_test: int = field(default=1024, metadata={"help": "in-distribution test samples"})
    n_ood: int = field(default=512, metadata={"help": "samples in each longer (OOD) split"})
    ood_factors: tuple[int, ...] = field(
        default=(2, 5, 10), metadata={"help": "OOD lengths as multiples of digits (splits ood_{f}x)"}
    )

    def __post_init__(self) -> None:
        for key, minimum in (("base", 2), ("digits", 1), ("n_train", 1), ("n_val", 1), ("n_test", 1), ("n_ood", 1)):
            check_int(getattr(self, key), f"addition option {key}", minimum)
        check_choice(self.mode, "addition option mode", MODES)
        for key in ("lambda_carry", "ramp"):
            check_number(getattr(self, key), f"addition option {key}", 0.0)
        if isinstance(self.ood_factors, (str, bytes)) or not hasattr(self.ood_factors, "__iter__"):
            raise ValueError(f"addition option ood_factors must be a sequence of integers, got {self.ood_factors!r}")
        self.ood_factors = tuple(self.ood_factors)
        bad = [f for f in self.ood_factors if not _is_int(f) or f < 2]
        if bad or len(set(self.ood_factors)) != len(self.ood_factors):
            raise ValueError(
                f"addition option ood_factors must hold distinct integers >= 2, got {self.ood_factors!r}"
            )

    @property
    def in_features(self) -> int:
        return 3 if self.mode == "carry" else 2

    @property
    def heads(self) -> tuple[Head, ...]:
        if self.mode == "carry":
            return (Head("sum", self.base), Head("carry", 2, weight=float(self.lambda_carry)))
        return (Head("sum", self.base),)

    def time_weights(self, steps: int) -> Tensor:
        """Ramped per-timestep loss weights ``[T]``, mean 1 (see the class docstring)."""
        if not _is_int(steps) or steps < 1:
            raise ValueError(f"time_weights needs steps >= 1, got {steps!r}")
        if steps == 1:
            return torch.ones(1)
        w = 1.0 + self.ramp * torch.arange(steps, dtype=torch.float64) / (steps - 1)
        return (w / w.mean()).to(torch.float32)

    def make_split(self, length: int, n: int, generator: torch.Generator) -> SequenceData:
        """``n`` random sums of ``length``-digit operands."""
        b = self.base
        a_digits = torch.randint(0, b, (length, n), generator=generator)
        b_digits = torch.randint(0, b, (length, n), generator=generator)
        carry_in = torch.zeros(length, n, dtype=torch.int64)
        total = torch.empty(length, n, dtype=torch.int64)
        carry = torch.zeros(n, dtype=torch.int64)
        for t in range(length):
            carry_in[t] = carry
            total[t] = a_digits[t] + b_digits[t] + carry
            carry = total[t] // b
        features = [a_digits / (b - 1), b_digits / (b - 1)]
        if self.mode == "carry":
            features.append(carry_in.to(torch.float32))
            y = torch.stack([total % b, total // b], dim=-1)
        else:
            y = (total % b).unsqueeze(-1)
        return SequenceData(torch.stack(features, dim=-1).to(torch.float32), y)

    def splits(self, seed: int) -> dict[str, SequenceData]:
        n = self.digits
        plan = {"train": (n, self.n_train), "val": (n, self.n_val), "test": (n, self.n_test)}
        for f in self.ood_factors:
            plan[f"ood_{f}x"] = (f * self.digits, self.n_ood)
        return {split: self.make_split(length, n, split_generator(seed, split)) for split, (length, n) in plan.items()}

    def _check_data(self, data: SequenceData) -> None:
        heads = len(self.heads)
        if not data.per_step or data.x.shape[2] != self.in_features or data.y.shape[2] != heads:
            raise ValueError(
                f"addition ({self.mode} mode) data must be x [T, N, {self.in_features}], y [T, N, {heads}]; "
                f"got {tuple(data.x.shape)}, {tuple(data.y.shape)}"
            )

    def rollout(self, model: SequenceModel, x: Tensor, batch_size: int = 1024) -> Tensor:
        """Autoregressive predictions ``[T, N, 2]`` (carry mode): the carry input at step t > 0 is the
        model's own carry prediction at t-1 (0 at t = 0); ``x[:, :, 2]`` is ignored."""
        check_batch_size(batch_size)
        device = model_device(model)
        preds = []
        for start in range(0, x.shape[1], batch_size):
            xb = x[:, start : start + batch_size].to(device)
            state = None
            carry = torch.zeros(xb.shape[1], dtype=xb.dtype, device=device)
            steps = []
            for t in range(xb.shape[0]):
                x_t = torch.cat([xb[t, :, :2], carry.unsqueeze(1)], dim=1)
                out_t, state = model.step(x_t, state)
                check_logits(out_t, (xb.shape[1], self.out_features), "model.step output")
                p = predict(out_t, self.heads)
                carry = p[:, 1].to(xb.dtype)
                steps.append(p.cpu())
            preds.append(torch.stack(steps))
        return torch.cat(preds, dim=1)

    @staticmethod
    def _carry_metrics(pred: Tensor, y: Tensor, prefix: str) -> dict[str, float]:
        return {
            f"{prefix}joint_token_accuracy": joint_token_accuracy(pred, y),
            f"{prefix}sum_token_accuracy": token_accuracy(pred[..., 0], y[..., 0]),
            f"{prefix}carry_token_accuracy": token_accuracy(pred[..., 1], y[..., 1]),
            f"{prefix}joint_sequence_accuracy": sequence_accuracy(pred, y),
            f"{prefix}first_error_step": first_error_step(pred, y),
        }

    def evaluate(self, model: SequenceModel, data: SequenceData, batch_size: int = 1024) -> dict[str, float]:
        """Carry mode: autoregressive metrics, then the same five teacher-forced (prefix ``tf_``).

        ``joint`` counts a timestep right only when sum digit and carry are both right;
        ``first_error_step`` is the mean 0-based index of the first wrong timestep, ``T`` for a
        sequence without error. Direct mode has no fed-back input, so one (teacher-forced) pass
        gives ``sum_token_accuracy``, ``sequence_accuracy``, ``first_error_step``.
        """
        self._check_data(data)
        y = data.y.cpu()
        with eval_mode(model):
            tf_pred = predict(forward_in_batches(model, data.x, self.out_features, batch_size), self.heads)
            if self.mode == "direct":
                return {
                    "sum_token_accuracy": token_accuracy(tf_pred, y),
                    "sequence_accuracy": sequence_accuracy(tf_pred, y),
                    "first_error_step": first_error_step(tf_pred, y),
                }
            ar_pred = self.rollout(model, data.x, batch_size)
        return {**self._carry_metrics(ar_pred, y, ""), **self._carry_metrics(tf_pred, y, "tf_")}
