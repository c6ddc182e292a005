"""First-last XOR: the label needs the first bit remembered across the whole sequence.

A minimal memory probe: the answer depends on the input at t = 0 and at t = T-1 only, so a
model that forgets (or cannot carry state) sits at chance level.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch

from spikeopt.tasks.base import (
    Head,
    SequenceData,
    SequenceModel,
    Task,
    evaluate_classification,
)
from spikeopt.tasks.metrics import split_generator
from spikeopt.validation import check_int


@dataclass
class FirstLastXor(Task):
    """XOR of the first and last of ``steps`` random bits.

    x: ``[T, N, 1]`` float32 bits in {0, 1}, each drawn uniformly and independently; y: ``[N, 1]``
    int64, ``x[0] XOR x[T-1]``. One head ``xor`` with 2 classes, read out at the final step.
    Defaults: T = 8, 4000 / 1000 / 1000 train / val / test samples. Each split is drawn from its
    own generator seeded by ``(seed, split name)``, so splits are independent draws (with only
    2**T distinct sequences, identical sequences can occur in several splits) and resizing one
    split leaves the others unchanged.
    """

    name: ClassVar[str] = "first-last-xor"
    readout: ClassVar[str] = "final"
    description: ClassVar[str] = "XOR of the first and last bit of a random bit sequence (memory probe)."

    steps: int = field(default=8, metadata={"help": "sequence length T (>= 2)"})
    n_train: int = field(default=4000, metadata={"help": "training samples"})
    n_val: int = field(default=1000, metadata={"help": "validation samples"})
    n_test: int = field(default=1000, metadata={"help": "test samples"})

    def __post_init__(self) -> None:
        for key, minimum in (("steps", 2), ("n_train", 1), ("n_val", 1), ("n_test", 1)):
            value = getattr(self, key)
            check_int(value, f"first-last-xor option {key}", minimum)

    @property
    def in_features(self) -> int:
        return 1

    @property
    def heads(self) -> tuple[Head, ...]:
        return (Head("xor", 2),)

    def _draw(self, n: int, generator: torch.Generator) -> SequenceData:
        bits = torch.randint(0, 2, (self.steps, n, 1), generator=generator)
        return SequenceData(bits.to(torch.float32), bits[0] ^ bits[-1])

    def splits(self, seed: int) -> dict[str, SequenceData]:
        sizes = {"train": self.n_train, "val": self.n_val, "test": self.n_test}
        return {split: self._draw(n, split_generator(seed, split)) for split, n in sizes.items()}

    def evaluate(self, model: SequenceModel, data: SequenceData, batch_size: int = 1024) -> dict[str, float]:
        """Accuracy of the last-step prediction."""
        return evaluate_classification(self, model, data, batch_size)
