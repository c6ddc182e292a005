"""What every task provides: seeded splits of time-major data, output heads, a loss and metrics.

Tasks know nothing of training methods. A method asks a task for its splits, trains a model whose
output has ``task.out_features`` logits (the heads' classes concatenated), and asks the task to
evaluate that model. The only thing a task needs from a model is the protocol below.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, Sequence

import torch
from torch import Tensor

from spikeopt.tasks.metrics import eval_mode, final_logits, joint_token_accuracy


@dataclass(frozen=True)
class Head:
    """One classification head: ``classes`` logits of the model output, weighted by ``weight`` in the loss."""

    name: str
    classes: int
    weight: float = 1.0

    def __post_init__(self) -> None:
        if self.classes < 2:
            raise ValueError(f"head {self.name!r} needs at least 2 classes, got {self.classes}")
        if not (self.weight >= 0.0):
            raise ValueError(f"head {self.name!r} needs a loss weight >= 0, got {self.weight}")


READOUTS = ("final", "per_step")


@dataclass
class SequenceData:
    """Time-major inputs and integer targets of one split.

    ``x`` is ``[T, N, F]`` float32. ``y`` is ``[N, H]`` (one label per head, readout ``"final"``)
    or ``[T, N, H]`` (a label per head at every timestep, readout ``"per_step"``), int64.
    """

    x: Tensor
    y: Tensor

    def __post_init__(self) -> None:
        if not isinstance(self.x, Tensor) or not isinstance(self.y, Tensor):
            raise TypeError("SequenceData needs torch tensors x and y")
        if self.x.dim() != 3:
            raise ValueError(f"x must be time-major [T, N, F], got shape {tuple(self.x.shape)}")
        if not self.x.is_floating_point():
            raise TypeError(f"x must be a floating tensor, got {self.x.dtype}")
        if self.y.dtype != torch.int64:
            raise TypeError(f"y must hold int64 class labels, got {self.y.dtype}")
        n = self.x.shape[1]
        if self.y.dim() == 2:
            ok = self.y.shape[0] == n
        elif self.y.dim() == 3:
            ok = self.y.shape[:2] == self.x.shape[:2]
        else:
            ok = False
        if not ok:
            raise ValueError(
                f"y of shape {tuple(self.y.shape)} does not fit x of shape {tuple(self.x.shape)}: "
                "expected [N, H] or [T, N, H]"
            )
        if n == 0:
            raise ValueError("a split must hold at least one sample; increase its size")
        if not torch.isfinite(self.x).all():
            raise ValueError("x contains NaN or inf; clean the inputs first")

    @property
    def steps(self) -> int:
        return self.x.shape[0]

    def __len__(self) -> int:
        return self.x.shape[1]

    @property
    def per_step(self) -> bool:
        return self.y.dim() == 3

    def subset(self, index: Tensor | slice) -> SequenceData:
        if self.per_step:
            return self._checked(self.x[:, index], self.y[:, index])
        return self._checked(self.x[:, index], self.y[index])

    def to(self, device: torch.device | str) -> SequenceData:
        return self._checked(self.x.to(device), self.y.to(device))

    @classmethod
    def _checked(cls, x: Tensor, y: Tensor) -> SequenceData:
        """Part or copy of data already checked on entry: not checked again, so a minibatch on a GPU
        costs no NaN scan and no device synchronisation."""
        out = object.__new__(cls)
        out.x, out.y = x, y
        return out


class SequenceModel(Protocol):
    """What a task needs from a model: a time-major forward and a single-step API."""

    def __call__(self, x: Tensor, state: Any = None) -> tuple[Tensor, Any]: ...

    def step(self, x_t: Tensor, state: Any = None) -> tuple[Tensor, Any]: ...


def check_labels(data: SequenceData, heads: tuple[Head, ...]) -> None:
    """Labels must index their head's classes; say which head is off and by how much."""
    check_label_values(data.y, [h.classes for h in heads], [repr(h.name) for h in heads])


def check_label_values(y: Tensor, head_sizes: Sequence[int], names: Sequence[str] | None = None) -> None:
    """``y [..., H]`` holds, for each head ``h``, class indices in ``[0, head_sizes[h])`` (the one label check)."""
    if y.shape[-1] != len(head_sizes):
        raise ValueError(f"y has {y.shape[-1]} label columns but the task has {len(head_sizes)} heads")
    for h, classes in enumerate(head_sizes):
        col = y[..., h]
        low, high = int(col.min()), int(col.max())
        if low < 0 or high >= classes:
            name = names[h] if names is not None else str(h)
            raise ValueError(
                f"labels of head {name} must lie in [0, {classes}), found values from {low} to {high}"
            )


def split_heads(logits: Tensor, heads: tuple[Head, ...]) -> list[Tensor]:
    """Cut the last dimension of ``logits`` into one block per head."""
    return list(torch.split(logits, [h.classes for h in heads], dim=-1))


def predict(logits: Tensor, heads: tuple[Head, ...]) -> Tensor:
    """Arg-max class of every head: ``[..., O] -> [..., H]``."""
    return predict_heads(logits, [h.classes for h in heads])


def predict_heads(logits: Tensor, head_sizes: Sequence[int]) -> Tensor:
    """Arg-max class of every head, heads given by their class counts: ``[..., sum(sizes)] -> [..., H]``."""
    blocks = torch.split(logits, list(head_sizes), dim=-1)
    return torch.stack([block.argmax(-1) for block in blocks], dim=-1)


def one_hot_heads(labels: Tensor, head_sizes: Sequence[int]) -> Tensor:
    """Concatenated one-hot targets of every head: integer ``[N, H] -> [N, sum(sizes)]`` float64."""
    blocks = [torch.nn.functional.one_hot(labels[:, h], c) for h, c in enumerate(head_sizes)]
    return torch.cat(blocks, dim=1).to(torch.float64)


def sequence_loss(
    logits: Tensor, y: Tensor, heads: tuple[Head, ...], time_weights: Tensor | None = None
) -> Tensor:
    """Weighted cross-entropy over heads (and timesteps), averaged over all rows.

    Final readout: ``mean_i sum_h weight_h CE_h``. Per-step readout: ``(1/(T N)) sum_{t,i} w_t
    sum_h weight_h CE_h``. This is the same normalisation as the convex objective
    ``(1/n) sum_rows w_row loss_row`` with one row per (sample, timestep).
    """
    total = logits.new_zeros(())
    for h, (head, block) in enumerate(zip(heads, split_heads(logits, heads))):
        ce = torch.nn.functional.cross_entropy(
            block.reshape(-1, head.classes), y[..., h].reshape(-1), reduction="none"
        ).reshape(y.shape[:-1])
        if time_weights is not None and y.dim() == 3:
            ce = ce * time_weights.to(ce).reshape(-1, 1)
        total = total + head.weight * ce.mean()
    return total


def option_fields(task_cls: type) -> list[dataclasses.Field]:
    """The user-settable options of a task class (its dataclass fields), for the CLI and `spikeopt tasks`."""
    return [f for f in dataclasses.fields(task_cls) if f.init]


class Task(ABC):
    """A task family. Subclasses are dataclasses whose fields are the task's options.

    Each field should carry ``metadata={"help": "..."}`` so the CLI can document it.
    """

    name: ClassVar[str]
    readout: ClassVar[str]  # "final" or "per_step"
    description: ClassVar[str] = ""

    @property
    @abstractmethod
    def in_features(self) -> int:
        """Input features per timestep."""

    @property
    @abstractmethod
    def heads(self) -> tuple[Head, ...]:
        """The output heads, in the order their logits are concatenated."""

    @property
    def out_features(self) -> int:
        return sum(h.classes for h in self.heads)

    @abstractmethod
    def splits(self, seed: int) -> dict[str, SequenceData]:
        """Seeded splits: always ``train``, ``val`` and ``test``; tasks may add more (``ood_2x``...)."""

    def time_weights(self, steps: int) -> Tensor | None:
        """Per-timestep loss weights for per-step tasks (``None``: all ones)."""
        return None

    def loss(self, logits: Tensor, y: Tensor) -> Tensor:
        return sequence_loss(logits, y, self.heads, self.time_weights(y.shape[0]) if y.dim() == 3 else None)

    @abstractmethod
    def evaluate(self, model: SequenceModel, data: SequenceData, batch_size: int = 1024) -> dict[str, float]:
        """Metrics of ``model`` on ``data``; the first key is the task's headline metric."""

    def config(self) -> dict[str, Any]:
        return {"name": self.name, **dataclasses.asdict(self)}  # type: ignore[call-overload]



def evaluate_classification(
    task: Task, model: SequenceModel, data: SequenceData, batch_size: int = 1024
) -> dict[str, float]:
    """Accuracy of a final-readout classifier (``model(x)`` gives ``[B, O]``), jointly over heads."""
    if data.per_step or data.x.shape[2] != task.in_features or data.y.shape[1] != len(task.heads):
        raise ValueError(
            f"{task.name} data must be x [T, N, {task.in_features}], y [N, {len(task.heads)}]; "
            f"got {tuple(data.x.shape)}, {tuple(data.y.shape)}"
        )
    with eval_mode(model):
        logits = final_logits(model, data.x, task.out_features, batch_size)
    return {"accuracy": joint_token_accuracy(predict(logits, task.heads), data.y)}
