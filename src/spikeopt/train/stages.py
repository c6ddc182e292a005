"""Training rows of the two stages of ``sg-sg``, ``sg-cvx`` and ``cvx-sg``.

Paper 001 (App. F) pretrains and fine-tunes on separate splits, so the second stage (fine-tuning or
the convex readout) sees rows the first stage never fitted. ``pretrain_fraction`` carves the training
split into two disjoint, seeded parts; left at ``None`` both stages use every training row (the
library's default: on small data a split costs each stage half its rows).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from spikeopt.tasks.base import SequenceData
from spikeopt.train.base import option
from spikeopt.validation import check_number

_PARTITION_SEED = 7_919  # offset from the run seed, so the partition is not the witnesses' stream


@dataclass
class StageConfig:
    """How the training split is shared between a two-stage method's stages."""

    pretrain_fraction: float | None = option(
        None, flag="pretrain-fraction", type=float,
        help="fraction of the training rows for the first stage of sg-sg, sg-cvx, cvx-sg; the rest train the "
             "second stage (separate pretraining and fine-tuning splits, paper 001 App. F); unset: both use all")

    def __post_init__(self) -> None:
        if self.pretrain_fraction is not None:
            check_number(self.pretrain_fraction, "stages.pretrain_fraction", 0.0, 1.0, open_low=True, open_high=True)


def stage_splits(splits: dict[str, SequenceData], config: StageConfig, seed: int
                 ) -> tuple[dict[str, SequenceData], dict[str, SequenceData]]:
    """``(first, second)``: the splits of each stage; they differ only in ``train`` (validation and test
    are shared). The partition is a seeded permutation, the same for every method of one seed."""
    if config.pretrain_fraction is None:
        return splits, splits
    train = splits["train"]
    n = len(train)
    k = round(config.pretrain_fraction * n)
    if not 1 <= k <= n - 1:
        raise ValueError(f"stages.pretrain_fraction={config.pretrain_fraction} leaves a stage without rows "
                         f"({k} of {n} training rows for the first stage); choose a fraction in [{1 / n:.3g}, "
                         f"{1 - 1 / n:.3g}] or leave it unset")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed + _PARTITION_SEED))
    first, second = order[:k].sort().values, order[k:].sort().values
    return {**splits, "train": train.subset(first)}, {**splits, "train": train.subset(second)}
