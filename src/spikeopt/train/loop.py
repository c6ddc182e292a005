"""The one epoch loop of the gradient methods (SG, fine-tuning, SAST).

They differ only in their **step** (a plain optimizer step, or SAM's ascent-then-descent) and their
**score** (the validation headline metric, or the hard-spike metric of a smooth-trained network).
Everything else is shared here: the seeded minibatch order, the learning-rate schedule, evaluation
every ``eval_every`` epochs with early stopping, keeping the best weights, mid-run checkpoints and
resuming from them (``train/resume.py``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Protocol

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from spikeopt.tasks.base import SequenceData
from spikeopt.train.resume import (
    check_start,
    gradient_state,
    load_state,
    restore_gradient_state,
    save_state,
)


def minibatches(data: SequenceData, batch_size: int, gen: torch.Generator) -> Iterator[SequenceData]:
    """``data`` in batches of one seeded shuffle (the generator's next permutation)."""
    order = torch.randperm(len(data), generator=gen).to(data.x.device)
    for begin in range(0, len(data), batch_size):
        yield data.subset(order[begin : begin + batch_size])


def check_finite(loss: Tensor, advice: str) -> None:
    """Stop at the first non-finite training loss, saying what to change."""
    if not torch.isfinite(loss):
        raise FloatingPointError(f"training loss became {loss.item()}{advice}")


def plain_step(params: list[nn.Parameter], loss_fn: Callable[[], Tensor], optimizer: torch.optim.Optimizer,
               grad_clip: float | None, advice: str) -> float:
    """One gradient step: loss, backward, optional clipping of the global gradient norm, optimizer step."""
    optimizer.zero_grad(set_to_none=True)
    loss = loss_fn()
    check_finite(loss, advice)
    loss.backward()
    if grad_clip is not None:
        torch.nn.utils.clip_grad_norm_(params, grad_clip)
    optimizer.step()
    return loss.item()


class EpochTrainer(Protocol):
    """What a gradient method supplies to :func:`run_epochs`."""

    trainer: str  # the checkpoint's trainer name ("sg", "sast")
    records: list[dict[str, Any]]  # one per epoch, the loop adds the epoch's learning rate

    def start(self) -> None:
        """A fresh run (not resumed): record epoch 0."""

    def epoch(self, epoch: int) -> float:
        """Train one epoch; the mean training loss."""

    def evaluate(self, epoch: int, loss: float, seconds: float) -> bool:
        """Score and record ``epoch``; whether it is the best so far."""

    def skip(self, epoch: int, loss: float, seconds: float) -> None:
        """Record an epoch that is not evaluated (``eval_every > 1``)."""

    def state(self) -> dict[str, Any]:
        """Everything of the trainer's own a checkpoint must hold (generators, history, best weights)."""

    def restore(self, saved: dict[str, Any]) -> None:
        """Load what :meth:`state` saved."""


@dataclass(frozen=True)
class LoopSettings:
    """The loop's share of a trainer's config."""

    epochs: int
    eval_every: int = 1
    patience: int | None = None
    checkpoint: str | None = None
    resume: bool = False
    progress: bool = True
    desc: str = "train"


def run_epochs(trainer: EpochTrainer, model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any,
               loop: LoopSettings) -> None:
    """Epochs ``1..loop.epochs`` of ``trainer`` (continuing a checkpoint where one is resumed)."""
    stale = 0

    def checkpoint(epoch: int) -> None:
        if loop.checkpoint is not None:
            save_state(loop.checkpoint, {"trainer": trainer.trainer, "epoch": epoch,
                                         **gradient_state(model, optimizer, scheduler), **trainer.state(),
                                         "stale": stale})

    first = 1
    if check_start(loop.checkpoint, loop.resume):
        saved = load_state(loop.checkpoint, trainer.trainer)  # type: ignore[arg-type]
        restore_gradient_state(saved, model, optimizer, scheduler)
        trainer.restore(saved)
        stale, first = saved.get("stale", 0), saved["epoch"] + 1
    else:
        trainer.start()
    bar = tqdm(range(first, loop.epochs + 1), desc=loop.desc, disable=not loop.progress, leave=False)
    for epoch in bar:
        t0 = time.perf_counter()
        loss = trainer.epoch(epoch)
        seconds = time.perf_counter() - t0
        bar.set_postfix(loss=f"{loss:.4f}")
        epoch_lr = optimizer.param_groups[0]["lr"]
        if scheduler is not None:
            scheduler.step()
        if epoch % loop.eval_every == 0 or epoch == loop.epochs:
            stale = 0 if trainer.evaluate(epoch, loss, seconds) else stale + loop.eval_every
            trainer.records[-1]["lr"] = epoch_lr
            if loop.patience is not None and stale >= loop.patience:
                checkpoint(loop.epochs)  # stopped early: a resume has nothing left to do
                break
        else:
            trainer.skip(epoch, loss, seconds)
            trainer.records[-1]["lr"] = epoch_lr
        checkpoint(epoch)

