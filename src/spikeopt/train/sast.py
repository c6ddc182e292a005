"""Sharpness-aware surrogate training (method ``sast``, paper 004): SAM on a surrogate-forward SNN.

The network is trained in ``spike_mode="smooth"``: every spike ``1[u > theta]`` is replaced in the
forward pass by the surrogate's smooth step ``f(u - theta)``, so the training objective is an
ordinary smooth risk and backpropagation gives its exact gradient (the reset path is made
differentiable too, ``exact_reset_grad``). Each step is SAM (Foret et al. 2021):

1. ``g = grad L_B(w)``, ``e = rho * g / ||g||`` (global 2-norm over all trained parameters);
2. ``g' = grad L_B'(w + e)``; the weights go back to ``w`` exactly and the base optimizer (Adam or
   SGD, coupled L2 ``weight_decay``, optional clipping of ``g'``) steps with ``g'``.

``B' = B`` by default; ``two_batches=True`` draws the ascent batch ``B`` from a second, independent
shuffle (the paper's stochastic variant whose convergence it proves). ``rho = 0`` skips step 1 and
is exactly plain surrogate-forward training (same batches, same updates, one gradient per step).

The same weights are deployed with hard spikes. Model selection therefore scores every epoch by the
**hard-spike** validation metric, the accuracy that counts at deployment; the smooth model's score
and the transfer gap ``smooth - hard`` are recorded beside it. `method_sast` also evaluates the
final model under input corruptions (event-level for event tasks, Gaussian noise for dense ones)
records the calibration of the hard-spike test predictions (ECE, reliability bins) and paper
004's theory-alignment measurements (sharpness at a fixed radius, input-gradient norm), and
measures the time per epoch against plain (``rho = 0``) epochs: the median of 3 plain epochs
run on a copy of the initial model before training (``measure_overhead``; about 5% extra time for
30 epochs), or the run's own epochs when ``rho = 0``.
"""

from __future__ import annotations

import copy
import math
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from spikeopt.snn.config import ModelConfig
from spikeopt.snn.network import ParallelLIFSNN, spike_mode
from spikeopt.tasks.base import SequenceData, Task
from spikeopt.tasks.calibration import calibration_scores
from spikeopt.tasks.robustness import (
    corruption_scores,
    sharpness_scores,
    transfer_scores,
)
from spikeopt.train.base import MethodOutput, MethodSpec
from spikeopt.train.loop import LoopSettings, minibatches, run_epochs
from spikeopt.train.lr_schedule import make_scheduler
from spikeopt.train.memory import check_gradient_training
from spikeopt.train.sam import SAMStep, make_optimizer, sam_step
from spikeopt.train.sast_config import BASE_OPTIMIZERS, SASTConfig
from spikeopt.train.surrogate import prepare_training
from spikeopt.validation import check_int


@dataclass
class SASTHistory:
    """Per-epoch records (train loss, val smooth/hard/gap, seconds), the selected epoch and timings."""

    records: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    best_score: float = -math.inf
    epoch_seconds: list[float] = field(default_factory=list)
    plain_epoch_seconds: float | None = None

    @property
    def mean_epoch_seconds(self) -> float | None:
        return statistics.fmean(self.epoch_seconds) if self.epoch_seconds else None

    @property
    def median_epoch_seconds(self) -> float | None:
        return statistics.median(self.epoch_seconds) if self.epoch_seconds else None

    @property
    def overhead(self) -> float | None:
        """Median SAST epoch time over the median plain epoch time (about 2 for SAM, 1 for
        ``rho = 0``); medians, because other processes on a shared machine make single epochs noisy."""
        median = self.median_epoch_seconds
        if median is None or not self.plain_epoch_seconds:
            return None
        return median / self.plain_epoch_seconds

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(
            mean_epoch_seconds=self.mean_epoch_seconds,
            median_epoch_seconds=self.median_epoch_seconds,
            overhead=self.overhead,
        )
        return out


def _run_epoch(
    model: ParallelLIFSNN,
    params: list[nn.Parameter],
    optimizer: torch.optim.Optimizer,
    task: Task,
    train: SequenceData,
    config: SASTConfig,
    rho: float,
    order_gen: torch.Generator,
    ascent_gen: torch.Generator,
) -> float:
    """One pass over ``train`` (smooth spikes) in batches of a seeded shuffle; the mean loss at ``w``."""
    two = config.two_batches and rho > 0
    ascent_batches = minibatches(train, config.batch_size, ascent_gen) if two else None
    total, count = 0.0, 0
    model.train()
    for batch in minibatches(train, config.batch_size, order_gen):
        other = batch if ascent_batches is None else next(ascent_batches)

        def descent() -> Tensor:
            return task.loss(model(batch.x)[0], batch.y)

        def ascent() -> Tensor:
            return task.loss(model(other.x)[0], other.y)

        step = sam_step(params, ascent, descent, optimizer, rho, config.grad_clip)
        rows = len(other) if rho > 0 else len(batch)  # step.loss is the loss at w on these rows
        total += step.loss * rows
        count += rows
    return total / count


def time_plain_epoch(
    model: ParallelLIFSNN, task: Task, train: SequenceData, config: SASTConfig, seed: int = 0, repeats: int = 3
) -> float:
    """Median seconds of ``repeats`` plain (``rho = 0``) surrogate-forward epochs on a copy of
    ``model``: the reference for the SAM overhead, same settings, same data, ``model`` untouched."""
    check_int(repeats, "repeats", 1)
    clone = copy.deepcopy(model)
    params = [p for p in clone.parameters() if p.requires_grad]
    optimizer = make_optimizer(params, config)
    gen, spare = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed)
    times = []
    with spike_mode(clone, "smooth"):
        for _ in range(repeats):
            start = time.perf_counter()
            _run_epoch(clone, params, optimizer, task, train, config, 0.0, gen, spare)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


class _SASTTrainer:
    """SAST's share of the loop: a SAM step on the smooth network, selection by the hard-spike
    validation score (what counts at deployment), the smooth score and the gap recorded beside it."""

    trainer = "sast"

    def __init__(self, model: ParallelLIFSNN, task: Task, train: SequenceData, val: SequenceData | None,
                 params: list[nn.Parameter], optimizer: torch.optim.Optimizer, config: SASTConfig, seed: int) -> None:
        self.model, self.task, self.train, self.val = model, task, train, val
        self.params, self.optimizer, self.config, self.seed = params, optimizer, config, seed
        self.order_gen = torch.Generator().manual_seed(seed)
        self.ascent_gen = torch.Generator().manual_seed(seed + 0x5A5A)
        self.history = SASTHistory()
        self.records = self.history.records
        self.best_state = copy.deepcopy(model.state_dict())
        self.start_time = time.perf_counter()

    def start(self) -> None:
        c = self.config
        if c.measure_overhead and c.epochs > 0 and c.rho > 0:
            self.history.plain_epoch_seconds = time_plain_epoch(self.model, self.task, self.train, c, self.seed)
        self.evaluate(0, None, None)

    def epoch(self, epoch: int) -> float:
        with spike_mode(self.model, "smooth"):
            return _run_epoch(self.model, self.params, self.optimizer, self.task, self.train, self.config,
                              self.config.rho, self.order_gen, self.ascent_gen)

    def evaluate(self, epoch: int, loss: float | None, seconds: float | None) -> bool:
        if seconds is not None:
            self.history.epoch_seconds.append(seconds)
        record: dict[str, Any] = {"epoch": epoch, "train_loss": loss, "epoch_seconds": seconds}
        improved = False
        if self.val is not None:
            scores = transfer_scores(self.task, self.model, self.val)
            record.update(val_smooth=scores["smooth"], val_hard=scores["hard"], val_gap=scores["gap"])
            if scores["hard"] > self.history.best_score:
                self.history.best_score, self.history.best_epoch = scores["hard"], epoch
                self.best_state = copy.deepcopy(self.model.state_dict())
                improved = True
        record["seconds"] = time.perf_counter() - self.start_time
        self.records.append(record)
        return improved

    def skip(self, epoch: int, loss: float, seconds: float) -> None:  # not reached: SAST evaluates every epoch
        self.history.epoch_seconds.append(seconds)
        self.records.append({"epoch": epoch, "train_loss": loss, "epoch_seconds": seconds,
                             "seconds": time.perf_counter() - self.start_time})

    def state(self) -> dict[str, Any]:
        return {"order_gen": self.order_gen.get_state(), "ascent_gen": self.ascent_gen.get_state(),
                "history": asdict(self.history), "best_state": self.best_state}

    def restore(self, saved: dict[str, Any]) -> None:
        self.order_gen.set_state(saved["order_gen"])
        self.ascent_gen.set_state(saved["ascent_gen"])
        self.history = SASTHistory(**saved["history"])
        self.records = self.history.records
        self.best_state = saved["best_state"]


def train_sast(
    model: ParallelLIFSNN,
    task: Task,
    train: SequenceData,
    val: SequenceData | None,
    config: SASTConfig | None = None,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> SASTHistory:
    """Train ``model`` in place with SAST; keep the weights with the best hard-spike ``val`` score.

    Without ``val`` the last epoch's weights are kept. The model comes back in hard-spike mode, in
    eval mode, with its ``detach_reset`` setting unchanged. With the same seed the batches are
    those of ``train_sg``, so ``rho = 0`` on a smooth model reproduces it.
    """
    config = config or SASTConfig()
    if not isinstance(model, ParallelLIFSNN):
        raise TypeError(f"train_sast needs a ParallelLIFSNN, got {type(model).__name__}")
    check_gradient_training(model, train.steps, len(train), config.batch_size, "SAST training", copies=6,
                            device=device)
    device, train_d = prepare_training(model, task, train, val, device)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters")
    optimizer = make_optimizer(params, config)
    scheduler = make_scheduler(optimizer, config.lr_schedule, config.epochs, config.lr_step_size, config.lr_gamma)
    detach = model.detach_reset
    if config.exact_reset_grad:
        model.detach_reset = False
    trainer = _SASTTrainer(model, task, train_d, val, params, optimizer, config, seed)
    try:
        run_epochs(trainer, model, optimizer, scheduler, LoopSettings(
            config.epochs, checkpoint=config.checkpoint, resume=config.resume, progress=config.progress, desc="sast"))
        history = trainer.history
        if config.rho == 0 and history.epoch_seconds:
            history.plain_epoch_seconds = history.median_epoch_seconds
        if val is not None:
            model.load_state_dict(trainer.best_state)
    finally:
        model.detach_reset = detach
        model.spike_mode = "hard"
        model.eval()
    return history


def fit_sast(
    task: Task, splits: dict[str, SequenceData], seed: int, device: torch.device, *, model: ModelConfig,
    sast: SASTConfig,
) -> MethodOutput:
    """Method ``sast``: build ``model``, train it with ``sast``, return it in hard-spike mode with
    ``info["sast"]`` (transfer, corruptions, overhead)."""
    config = sast
    if not isinstance(config, SASTConfig):
        raise TypeError(f"the sast section must be a SASTConfig, got {type(config).__name__}")
    net = model.build(task.in_features, task.out_features, task.readout, seed=seed).to(device)
    t0 = time.perf_counter()
    history = train_sast(net, task, splits["train"], splits.get("val"), config, seed=seed, device=device)
    t1 = time.perf_counter()
    transfer = {name: transfer_scores(task, net, data) for name, data in splits.items()}
    corrupted = corruption_scores(task, net, splits, seed, config) if config.corruptions else {}
    main_split = "test" if "test" in splits else next(iter(splits))
    with spike_mode(net, "hard"):  # calibration of what is deployed: the hard-spike network
        calibration = calibration_scores(task, net, splits[main_split])
    theory = sharpness_scores(task, net, splits["train"], config.sharpness_rho)
    t2 = time.perf_counter()
    main = transfer[main_split]
    metric = next(iter(task.evaluate(net, splits[main_split]).keys()))  # the headline metric's name
    info = {
        "sast": {
            "rho": config.rho,
            "two_batches": config.two_batches,
            "optimizer": config.optimizer,
            "selection": "best hard-spike validation score" if "val" in splits else "last epoch",
            "metric": metric,
            "split": main_split,
            "clean_accuracy": main["smooth"],
            "hard_accuracy": main["hard"],
            "transfer_gap": main["gap"],
            "transfer": transfer,
            "corruptions": corrupted,
            "calibration": calibration,
            "theory": theory,
            "epoch_seconds": history.median_epoch_seconds,
            "plain_epoch_seconds": history.plain_epoch_seconds,
            "overhead": history.overhead,
            "grad_evals_per_step": 2 if config.rho > 0 else 1,
            "best_epoch": history.best_epoch,
        },
        "timings": {"sast_s": t1 - t0, "sast_eval_s": t2 - t1},
        "history": {"sast": history.as_dict()},
    }
    net.spike_mode = "hard"
    return MethodOutput(net, info)


SAST = MethodSpec("sast", {"model": ModelConfig, "sast": SASTConfig}, fit_sast,
                  summary="SAM on the surrogate-forward network, judged with hard spikes")


def method_sast(task: Task, splits: dict[str, SequenceData], settings: Any, seed: int,
                device: torch.device | str) -> MethodOutput:
    """The former entry point (kept for callers of ``spikeopt.train.sast``): ``settings`` is any
    object with a ``model`` and, optionally, a ``sast`` section (default :class:`SASTConfig`).
    New code calls :func:`fit_sast` or ``run_method("sast", ...)``."""
    sast = getattr(settings, "sast", None)
    if sast is None:
        sast = SASTConfig()
    return fit_sast(task, splits, seed, torch.device(device), model=settings.model, sast=sast)


__all__ = [
    "BASE_OPTIMIZERS",
    "SAST",
    "SAMStep",
    "SASTConfig",
    "SASTHistory",
    "corruption_scores",
    "fit_sast",
    "make_optimizer",
    "method_sast",
    "sam_step",
    "spike_mode",
    "time_plain_epoch",
    "train_sast",
    "transfer_scores",
]
