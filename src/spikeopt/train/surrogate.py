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

from spikeopt.snn.config import ModelConfig
from spikeopt.snn.network import ParallelLIFSNN
from spikeopt.tasks.base import SequenceData, Task, check_labels
from spikeopt.train.base import MethodOutput, MethodSpec, option
from spikeopt.train.loop import LoopSettings, minibatches, plain_step, run_epochs
from spikeopt.train.lr_schedule import check_schedule, make_scheduler
from spikeopt.train.stages import StageConfig, stage_splits
from spikeopt.train.memory import (
    EVAL_BATCH,
    FLOAT32,
    check_fits,
    check_gradient_training,
    network_parameters,
)
from spikeopt.validation import check_bool, check_int, check_number


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
        check_int(self.epochs, "epochs", 0)
        check_number(self.lr, "lr", 0.0, open_low=True)
        check_int(self.batch_size, "batch_size", 1)
        check_number(self.weight_decay, "weight_decay", 0.0)
        if self.grad_clip is not None:
            check_number(self.grad_clip, "grad_clip (or None)", 0.0, open_low=True)
        if self.patience is not None:
            check_int(self.patience, "patience (or None)", 1)
        check_int(self.eval_every, "eval_every", 1)
        for name in ("train_hidden", "progress", "resume"):
            check_bool(getattr(self, name), name)


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


class _SGTrainer:
    """SG's share of the loop: a plain step on every minibatch, selection by the validation headline
    metric (the first metric ``task.evaluate`` returns)."""

    trainer = "sg"

    def __init__(self, model: ParallelLIFSNN, task: Task, train: SequenceData, val: SequenceData | None,
                 params: list[torch.nn.Parameter], optimizer: torch.optim.Optimizer, config: SGConfig,
                 seed: int) -> None:
        self.model, self.task, self.train, self.val = model, task, train, val
        self.params, self.optimizer, self.config = params, optimizer, config
        self.gen = torch.Generator().manual_seed(seed)
        self.history = TrainHistory()
        self.records = self.history.records
        self.best_state = copy.deepcopy(model.state_dict())
        self.start_time = time.perf_counter()

    def start(self) -> None:
        self.evaluate(0, None, None)

    def epoch(self, epoch: int) -> float:
        model, task = self.model, self.task
        model.train()
        advice = f" at epoch {epoch}; lower --lr or set --grad-clip"
        total, count = 0.0, 0
        for batch in minibatches(self.train, self.config.batch_size, self.gen):
            loss = plain_step(self.params, lambda: task.loss(model(batch.x)[0], batch.y), self.optimizer,
                              self.config.grad_clip, advice)
            total += loss * len(batch)
            count += len(batch)
        return total / count

    def evaluate(self, epoch: int, loss: float | None, seconds: float | None) -> bool:
        record: dict[str, Any] = {"epoch": epoch, "train_loss": loss, "seconds": time.perf_counter() - self.start_time}
        improved = False
        if self.val is not None:
            self.model.eval()
            metrics = self.task.evaluate(self.model, self.val)
            record.update({f"val_{k}": v for k, v in metrics.items()})
            score = next(iter(metrics.values()))
            if score > self.history.best_score:
                self.history.best_score, self.history.best_epoch = score, epoch
                self.best_state = copy.deepcopy(self.model.state_dict())
                improved = True
        self.records.append(record)
        return improved

    def skip(self, epoch: int, loss: float, seconds: float) -> None:
        self.records.append({"epoch": epoch, "train_loss": loss, "seconds": time.perf_counter() - self.start_time})

    def state(self) -> dict[str, Any]:
        h = self.history
        return {"generator": self.gen.get_state(), "records": h.records, "best_epoch": h.best_epoch,
                "best_score": h.best_score, "best_state": self.best_state}

    def restore(self, saved: dict[str, Any]) -> None:
        self.gen.set_state(saved["generator"])
        h = self.history
        h.records, h.best_epoch, h.best_score = saved["records"], saved["best_epoch"], saved["best_score"]
        self.records = h.records
        self.best_state = saved["best_state"]


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
    trainer = _SGTrainer(model, task, train_d, val, params, optimizer, config, seed)
    run_epochs(trainer, model, optimizer, scheduler, LoopSettings(
        config.epochs, config.eval_every, config.patience, config.checkpoint, config.resume, config.progress, "sg"))
    if val is not None:
        model.load_state_dict(trainer.best_state)
    model.eval()
    return trainer.history


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
              sg: SGConfig, finetune: SGConfig, stages: StageConfig) -> MethodOutput:
    """Method ``sg-sg``: ``sg``, then fine-tuning with the ``finetune`` budget (that of ``cvx-sg``)."""
    first, second = stage_splits(splits, stages, seed)
    out = fit_sg(task, first, seed, device, model=model, sg=sg)
    train_stage(out.model, task, second, finetune, seed + 1, device, "finetune", out.info)
    return out


SG = MethodSpec("sg", {"model": ModelConfig, "sg": SGConfig}, fit_sg,
                summary="surrogate-gradient training of hidden layers and readout")
SG_SG = MethodSpec("sg-sg", {"model": ModelConfig, "sg": SGConfig, "finetune": SGConfig, "stages": StageConfig},
                   fit_sg_sg,
                   summary="SG training, then SG fine-tuning (finetune budget)")
