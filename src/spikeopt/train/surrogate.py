"""Surrogate-gradient training (method ``sg``): BPTT with Adam, validation-based model selection.

The objective is the task's loss plus weight decay ``(weight_decay / 2) * ||params||^2``, applied as
Adam's coupled L2 term (its gradient ``weight_decay * param`` is added to the loss gradient): this is
the weight-decay-regularised objective of the convex-reconstruction paper. Fine-tuning (``sg-sg``,
``cvx-sg``) is the same loop started from a given model.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from tqdm.auto import tqdm

from spikeopt.snn.config import ModelConfig
from spikeopt.snn.network import ParallelLIFSNN
from spikeopt.tasks.base import SequenceData, Task, check_labels
from spikeopt.train.base import MethodOutput, MethodSpec, option
from spikeopt.train.lr_schedule import check_schedule, make_scheduler
from spikeopt.train.memory import (
    EVAL_BATCH,
    FLOAT32,
    check_fits,
    check_gradient_training,
    network_parameters,
)
from spikeopt.train.resume import (
    check_start,
    gradient_state,
    load_state,
    restore_gradient_state,
    save_state,
)


@dataclass
class SGConfig:
    """Settings of surrogate-gradient training."""

    epochs: int = option(30, flag="epochs", help="training epochs")
    lr: float = option(3e-3, flag="lr", help="learning rate (Adam)")
    batch_size: int = option(128, flag="batch-size", help="minibatch size")
    weight_decay: float = option(0.0, flag="weight-decay", help="weight decay (L2 coefficient)")
    grad_clip: float | None = option(1.0, flag="grad-clip", help="gradient-norm clipping")
    patience: int | None = option(None, flag="patience", type=int, help="early-stopping patience in epochs")
    eval_every: int = 1
    train_hidden: bool = True
    progress: bool = True
    lr_schedule: str = "constant"  # constant, cosine or step (spikeopt/train/lr_schedule.py)
    lr_step_size: int = 10
    lr_gamma: float = 0.1
    checkpoint: str | None = None  # written after every epoch (spikeopt/train/resume.py)
    resume: bool = False  # continue from an existing checkpoint

    def __post_init__(self) -> None:
        check_schedule(self.lr_schedule, self.lr_step_size, self.lr_gamma)
        if self.epochs < 0:
            raise ValueError(f"epochs must be >= 0, got {self.epochs}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be a finite number > 0, got {self.lr}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if self.grad_clip is not None and self.grad_clip <= 0:
            raise ValueError(f"grad_clip must be > 0 or None, got {self.grad_clip}")
        if self.patience is not None and self.patience < 1:
            raise ValueError(f"patience must be >= 1 or None, got {self.patience}")
        if self.eval_every < 1:
            raise ValueError(f"eval_every must be >= 1, got {self.eval_every}")


@dataclass
class TrainHistory:
    """Per-evaluation records: epoch, mean training loss, validation metrics, seconds so far."""

    records: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    best_score: float = -math.inf

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def prepare_training(
    model: ParallelLIFSNN, task: Task, train: SequenceData, val: SequenceData | None,
    device: torch.device | str | None,
) -> tuple[torch.device, SequenceData]:
    """Checks and placement every gradient trainer does first: labels fit the heads; model and
    training data on ``device`` (default: where the model is)."""
    for data in (train, val):
        if data is not None:
            check_labels(data, task.heads)
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model.to(device)
    return device, train.to(device)


def _check_memory(model: ParallelLIFSNN, steps: int, samples: int, batch_size: int, device) -> None:
    """The up-front memory check; the blocked rollout (``model.uses_blocked_rollout()``) holds far less
    than the all-steps-at-once estimate of :func:`check_gradient_training` (flat in T without checkpoints)."""
    if not model.uses_blocked_rollout():
        check_gradient_training(model, steps, samples, batch_size, "SG training", device=device)
        return
    params = network_parameters(model.in_features, model.out_features, model.subnetworks, model.width, model.depth)
    batch, eval_batch = min(batch_size, samples), min(EVAL_BATCH, samples)
    need = FLOAT32 * 5 * params + model.rollout_bytes(steps, batch, True) + model.rollout_bytes(steps, eval_batch, False)
    sizes = f"{model.subnetworks} subnetworks x {model.width} width x {model.depth} depth, T={steps}, batch {batch}"
    check_fits(need, "SG training", sizes, "lower --subnetworks, --width, --depth or --batch-size", device)


def train_sg(
    model: ParallelLIFSNN,
    task: Task,
    train: SequenceData,
    val: SequenceData | None,
    config: SGConfig | None = None,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> TrainHistory:
    """Train ``model`` in place by BPTT; keep the weights that scored best on ``val``.

    The selection score is the first metric ``task.evaluate`` returns (the task's headline metric).
    Without ``val`` the last epoch's weights are kept. ``epochs=0`` only evaluates.
    """
    config = config or SGConfig()
    _check_memory(model, train.steps, len(train), config.batch_size, device)
    device, train_d = prepare_training(model, task, train, val, device)
    params = [p for p in model.parameters()] if config.train_hidden else list(model.output.parameters())
    optimizer = torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    scheduler = make_scheduler(optimizer, config.lr_schedule, config.epochs, config.lr_step_size, config.lr_gamma)
    gen = torch.Generator().manual_seed(seed)
    history = TrainHistory()
    best_state = copy.deepcopy(model.state_dict())
    start = time.perf_counter()
    stale = 0

    def evaluate(epoch: int, loss: float | None) -> bool:
        nonlocal best_state
        record: dict[str, Any] = {"epoch": epoch, "train_loss": loss, "seconds": time.perf_counter() - start}
        improved = False
        if val is not None:
            model.eval()
            metrics = task.evaluate(model, val)
            record.update({f"val_{k}": v for k, v in metrics.items()})
            score = next(iter(metrics.values()))
            if score > history.best_score:
                history.best_score, history.best_epoch = score, epoch
                best_state = copy.deepcopy(model.state_dict())
                improved = True
        history.records.append(record)
        return improved

    def checkpoint(epoch: int) -> None:
        if config.checkpoint is not None:
            save_state(config.checkpoint, {
                "trainer": "sg", "epoch": epoch, **gradient_state(model, optimizer, scheduler), "generator": gen.get_state(),
                "records": history.records, "best_epoch": history.best_epoch, "best_score": history.best_score,
                "best_state": best_state, "stale": stale})

    first = 1
    if check_start(config.checkpoint, config.resume):
        saved = load_state(config.checkpoint, "sg")
        restore_gradient_state(saved, model, optimizer, scheduler)
        gen.set_state(saved["generator"])
        history.records, history.best_epoch, history.best_score = saved["records"], saved["best_epoch"], saved["best_score"]
        best_state, stale, first = saved["best_state"], saved["stale"], saved["epoch"] + 1
    else:
        evaluate(0, None)
    bar = tqdm(range(first, config.epochs + 1), desc="sg", disable=not config.progress, leave=False)
    for epoch in bar:
        model.train()
        order = torch.randperm(len(train_d), generator=gen).to(device)
        total, count = 0.0, 0
        for begin in range(0, len(train_d), config.batch_size):
            batch = train_d.subset(order[begin : begin + config.batch_size])
            out, _ = model(batch.x)
            loss = task.loss(out, batch.y)
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"training loss became {loss.item()} at epoch {epoch}; lower --lr or set --grad-clip"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
            optimizer.step()
            total += loss.item() * len(batch)
            count += len(batch)
        mean_loss = total / count
        bar.set_postfix(loss=f"{mean_loss:.4f}")
        epoch_lr = optimizer.param_groups[0]["lr"]
        if scheduler is not None:
            scheduler.step()
        if epoch % config.eval_every == 0 or epoch == config.epochs:
            stale = 0 if evaluate(epoch, mean_loss) else stale + config.eval_every
            history.records[-1]["lr"] = epoch_lr
            if config.patience is not None and stale >= config.patience:
                checkpoint(config.epochs)  # stopped early: a resume has nothing left to do
                break
        else:
            history.records.append({"epoch": epoch, "train_loss": mean_loss, "seconds": time.perf_counter() - start,
                                    "lr": epoch_lr})
        checkpoint(epoch)
    if val is not None:
        model.load_state_dict(best_state)
    model.eval()
    return history


# ------------------------------------------------------------------------------------ methods


def train_stage(model: ParallelLIFSNN, task: Task, splits: dict[str, SequenceData], config: SGConfig, seed: int,
                device: torch.device, stage: str, info: dict[str, Any]) -> None:
    """Train ``model`` with ``config`` and record the stage's time and history in ``info``."""
    t0 = time.perf_counter()
    history = train_sg(model, task, splits["train"], splits.get("val"), config, seed=seed, device=device)
    info.setdefault("timings", {})[f"{stage}_s"] = time.perf_counter() - t0
    info.setdefault("history", {})[stage] = history.as_dict()


def fit_sg(task: Task, splits: dict[str, SequenceData], seed: int, device: torch.device, *, model: ModelConfig,
           sg: SGConfig) -> MethodOutput:
    """Method ``sg``: build ``model`` and train every parameter by surrogate gradients."""
    net, info = model.build(task.in_features, task.out_features, task.readout, seed=seed).to(device), {}
    train_stage(net, task, splits, sg, seed, device, "sg", info)
    return MethodOutput(net, info)


def fit_sg_sg(task: Task, splits: dict[str, SequenceData], seed: int, device: torch.device, *, model: ModelConfig,
              sg: SGConfig, finetune: SGConfig) -> MethodOutput:
    """Method ``sg-sg``: ``sg``, then fine-tuning with the ``finetune`` budget (that of ``cvx-sg``)."""
    out = fit_sg(task, splits, seed, device, model=model, sg=sg)
    train_stage(out.model, task, splits, finetune, seed + 1, device, "finetune", out.info)
    return out


SG = MethodSpec("sg", {"model": ModelConfig, "sg": SGConfig}, fit_sg,
                summary="surrogate-gradient training of hidden layers and readout")
SG_SG = MethodSpec("sg-sg", {"model": ModelConfig, "sg": SGConfig, "finetune": SGConfig}, fit_sg_sg,
                   summary="SG training, then SG fine-tuning (finetune budget)")
