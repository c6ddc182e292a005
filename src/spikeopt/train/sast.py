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
and measures the time per epoch against plain (``rho = 0``) epochs: the median of 3 plain epochs
run on a copy of the initial model before training (``measure_overhead``; about 5% extra time for
30 epochs), or the run's own epochs when ``rho = 0``.
"""

from __future__ import annotations

import copy
import math
import statistics
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from spikeopt.snn.network import ParallelLIFSNN
from spikeopt.tasks.base import SequenceData, Task
from spikeopt.train.lr_schedule import check_schedule, make_scheduler
from spikeopt.train.memory import check_gradient_training
from spikeopt.train.resume import (
    check_start,
    gradient_state,
    load_state,
    restore_gradient_state,
    save_state,
)
from spikeopt.train.surrogate import prepare_training

if TYPE_CHECKING:
    from spikeopt.train.pipelines import MethodOutput

BASE_OPTIMIZERS = ("adam", "sgd")


def _number(value: object, name: str, low: float, *, open_low: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > low if open_low else value >= low)  # type: ignore[operator]
    if not ok:
        raise ValueError(f"{name} must be a finite number {'>' if open_low else '>='} {low}, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def _integer(value: object, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return value


@dataclass
class SASTConfig:
    """Settings of sharpness-aware surrogate training and of its evaluation.

    Corruption levels (evaluation only): ``drop_fraction`` of events removed, ``noise_fraction``
    noise events added per event, ``jitter_us`` timestamp std (event tasks); ``noise_std`` Gaussian
    input noise (dense tasks).
    """

    rho: float = 0.05
    optimizer: str = "adam"
    lr: float = 3e-3
    momentum: float = 0.9
    epochs: int = 30
    batch_size: int = 128
    weight_decay: float = 0.0
    two_batches: bool = False
    grad_clip: float | None = 1.0
    exact_reset_grad: bool = True
    measure_overhead: bool = True
    corruptions: bool = True
    drop_fraction: float = 0.3
    noise_fraction: float = 0.3
    jitter_us: float = 10_000.0
    noise_std: float = 0.3
    corruption_seed: int = 0
    progress: bool = True
    lr_schedule: str = "constant"  # constant, cosine or step (spikeopt/train/lr_schedule.py)
    lr_step_size: int = 10
    lr_gamma: float = 0.1
    checkpoint: str | None = None  # written after every epoch (spikeopt/train/resume.py)
    resume: bool = False  # continue from an existing checkpoint

    def __post_init__(self) -> None:
        check_schedule(self.lr_schedule, self.lr_step_size, self.lr_gamma)
        self.rho = _number(self.rho, "rho", 0.0)
        if self.optimizer not in BASE_OPTIMIZERS:
            raise ValueError(f"unknown base optimizer {self.optimizer!r}; valid: {', '.join(BASE_OPTIMIZERS)}")
        self.lr = _number(self.lr, "lr", 0.0, open_low=True)
        self.momentum = _number(self.momentum, "momentum", 0.0)
        if self.momentum >= 1.0:
            raise ValueError(f"momentum must be < 1, got {self.momentum}")
        _integer(self.epochs, "epochs", 0)
        _integer(self.batch_size, "batch_size", 1)
        self.weight_decay = _number(self.weight_decay, "weight_decay", 0.0)
        if self.grad_clip is not None:
            self.grad_clip = _number(self.grad_clip, "grad_clip", 0.0, open_low=True)
        self.drop_fraction = _number(self.drop_fraction, "drop_fraction", 0.0)
        if self.drop_fraction > 1.0:
            raise ValueError(f"drop_fraction must lie in [0, 1], got {self.drop_fraction}")
        self.noise_fraction = _number(self.noise_fraction, "noise_fraction", 0.0)
        self.jitter_us = _number(self.jitter_us, "jitter_us", 0.0)
        self.noise_std = _number(self.noise_std, "noise_std", 0.0)
        _integer(self.corruption_seed, "corruption_seed", 0)
        for name in ("two_batches", "exact_reset_grad", "measure_overhead", "corruptions", "progress"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")


# ----------------------------------------------------------------------------------- the SAM step


@dataclass(frozen=True)
class SAMStep:
    """What one SAM step saw: the loss at the original weights (ascent batch), the loss at the
    perturbed weights (descent batch) and ``||g||`` (``nan`` when ``rho = 0`` skipped the ascent)."""

    loss: float
    perturbed_loss: float
    grad_norm: float


def _grads(params: list[nn.Parameter]) -> list[Tensor | None]:
    return [p.grad for p in params]


def sam_step(
    params: list[nn.Parameter],
    ascent_loss: Callable[[], Tensor],
    descent_loss: Callable[[], Tensor],
    optimizer: torch.optim.Optimizer,
    rho: float,
    grad_clip: float | None = None,
) -> SAMStep:
    """One SAM update of ``params`` in place.

    ``ascent_loss()`` / ``descent_loss()`` run a forward pass and return the scalar loss (the same
    closure twice for plain SAM, two batches for the stochastic variant). With ``rho = 0`` the
    ascent is skipped: one gradient of ``descent_loss`` at ``w``, i.e. a plain optimizer step.
    """
    rho = _number(rho, "rho", 0.0)
    loss_value = math.nan
    norm = math.nan
    saved: list[Tensor] | None = None
    if rho > 0:
        optimizer.zero_grad(set_to_none=True)
        loss = ascent_loss()
        _check_finite(loss)
        loss.backward()
        loss_value = loss.item()
        grads = _grads(params)
        norm = math.sqrt(sum(float(g.detach().double().pow(2).sum()) for g in grads if g is not None))
        if norm > 0:
            saved = [p.detach().clone() for p in params]
            scale = rho / norm
            with torch.no_grad():
                for p, g in zip(params, grads):
                    if g is not None:
                        p.add_(g, alpha=scale)
    optimizer.zero_grad(set_to_none=True)
    loss = descent_loss()
    _check_finite(loss)
    loss.backward()
    perturbed = loss.item()
    if saved is not None:  # back to the original weights exactly (no add-then-subtract round-off)
        with torch.no_grad():
            for p, w in zip(params, saved):
                p.copy_(w)
    if grad_clip is not None:
        torch.nn.utils.clip_grad_norm_(params, grad_clip)
    optimizer.step()
    return SAMStep(perturbed if rho == 0 else loss_value, perturbed, norm)


def _check_finite(loss: Tensor) -> None:
    if not torch.isfinite(loss):
        raise FloatingPointError(f"training loss became {loss.item()}; lower --lr or --rho, or set --grad-clip")


def make_optimizer(params: list[nn.Parameter], config: SASTConfig) -> torch.optim.Optimizer:
    """The base optimizer with coupled L2 (``weight_decay * w`` added to the gradient), as in ``sg``."""
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)


# --------------------------------------------------------------------------------- evaluation


@contextmanager
def spike_mode(model: ParallelLIFSNN, mode: str) -> Iterator[ParallelLIFSNN]:
    """Run ``model`` with ``spike_mode = mode`` inside the block, restoring the previous mode after."""
    if mode not in ("hard", "smooth"):
        raise ValueError(f"spike mode must be 'hard' or 'smooth', got {mode!r}")
    old, model.spike_mode = model.spike_mode, mode
    try:
        yield model
    finally:
        model.spike_mode = old


def transfer_scores(task: Task, model: ParallelLIFSNN, data: SequenceData) -> dict[str, float]:
    """The task's headline metric with smooth and with hard spikes, and the gap ``smooth - hard``
    (positive: accuracy lost when the surrogate-forward weights are deployed with hard spikes)."""
    with spike_mode(model, "smooth"):
        smooth = next(iter(task.evaluate(model, data).values()))
    with spike_mode(model, "hard"):
        hard = next(iter(task.evaluate(model, data).values()))
    return {"smooth": smooth, "hard": hard, "gap": smooth - hard}


# ------------------------------------------------------------------------------------ training


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
    device = train.x.device
    n = len(train)
    order = torch.randperm(n, generator=order_gen).to(device)
    ascent_order = torch.randperm(n, generator=ascent_gen).to(device) if config.two_batches and rho > 0 else None
    total, count = 0.0, 0
    model.train()
    for begin in range(0, n, config.batch_size):
        batch = train.subset(order[begin : begin + config.batch_size])
        other = batch if ascent_order is None else train.subset(ascent_order[begin : begin + config.batch_size])

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
    _integer(repeats, "repeats", 1)
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
    order_gen = torch.Generator().manual_seed(seed)
    ascent_gen = torch.Generator().manual_seed(seed + 0x5A5A)
    history = SASTHistory()
    detach = model.detach_reset
    if config.exact_reset_grad:
        model.detach_reset = False
    best_state = copy.deepcopy(model.state_dict())
    start = time.perf_counter()

    def evaluate(epoch: int, loss: float | None, seconds: float | None) -> None:
        nonlocal best_state
        record: dict[str, Any] = {"epoch": epoch, "train_loss": loss, "epoch_seconds": seconds}
        if val is not None:
            scores = transfer_scores(task, model, val)
            record.update(val_smooth=scores["smooth"], val_hard=scores["hard"], val_gap=scores["gap"])
            if scores["hard"] > history.best_score:
                history.best_score, history.best_epoch = scores["hard"], epoch
                best_state = copy.deepcopy(model.state_dict())
        record["seconds"] = time.perf_counter() - start
        history.records.append(record)

    def checkpoint(epoch: int) -> None:
        if config.checkpoint is not None:
            save_state(config.checkpoint, {
                "trainer": "sast", "epoch": epoch, **gradient_state(model, optimizer, scheduler),
                "order_gen": order_gen.get_state(), "ascent_gen": ascent_gen.get_state(), "history": asdict(history),
                "best_state": best_state})

    try:
        first = 1
        if check_start(config.checkpoint, config.resume):
            saved = load_state(config.checkpoint, "sast")
            restore_gradient_state(saved, model, optimizer, scheduler)
            order_gen.set_state(saved["order_gen"])
            ascent_gen.set_state(saved["ascent_gen"])
            history = SASTHistory(**saved["history"])
            best_state, first = saved["best_state"], saved["epoch"] + 1
        else:
            if config.measure_overhead and config.epochs > 0 and config.rho > 0:
                history.plain_epoch_seconds = time_plain_epoch(model, task, train_d, config, seed)
            evaluate(0, None, None)
        bar = tqdm(range(first, config.epochs + 1), desc="sast", disable=not config.progress, leave=False)
        for epoch in bar:
            t0 = time.perf_counter()
            with spike_mode(model, "smooth"):
                loss = _run_epoch(model, params, optimizer, task, train_d, config, config.rho, order_gen, ascent_gen)
            seconds = time.perf_counter() - t0
            history.epoch_seconds.append(seconds)
            bar.set_postfix(loss=f"{loss:.4f}")
            epoch_lr = optimizer.param_groups[0]["lr"]
            if scheduler is not None:
                scheduler.step()
            evaluate(epoch, loss, seconds)
            history.records[-1]["lr"] = epoch_lr
            checkpoint(epoch)
        if config.rho == 0 and history.epoch_seconds:
            history.plain_epoch_seconds = history.median_epoch_seconds
        if val is not None:
            model.load_state_dict(best_state)
    finally:
        model.detach_reset = detach
        model.spike_mode = "hard"
        model.eval()
    return history


# ------------------------------------------------------------------------------- corruptions


def corruption_scores(
    task: Task, model: ParallelLIFSNN, splits: dict[str, SequenceData], seed: int, config: SASTConfig
) -> dict[str, Any]:
    """Smooth and hard scores on the corrupted ``test`` split: event-level corruptions for tasks
    that can re-bin their raw events (``corrupted_split``), Gaussian input noise otherwise."""
    from spikeopt.tasks.corruptions import gaussian_noise

    if "test" not in splits:
        return {"skipped": "no test split"}
    test = splits["test"]
    out: dict[str, Any] = {}
    if callable(getattr(task, "corrupted_split", None)):
        levels = {"drop": config.drop_fraction, "noise": config.noise_fraction, "jitter": config.jitter_us}
        for kind, level in levels.items():
            data = task.corrupted_split("test", seed, kind, level, config.corruption_seed)  # type: ignore[attr-defined]
            if data.y.shape != test.y.shape or not torch.equal(data.y, test.y):
                out[kind] = {"level": level, "skipped": "the corrupted split does not match the test split"}
                continue
            out[kind] = {"level": level, **transfer_scores(task, model, data)}
    else:
        noisy = gaussian_noise(test, config.noise_std, config.corruption_seed)
        assert isinstance(noisy, SequenceData)
        out["gaussian"] = {"level": config.noise_std, **transfer_scores(task, model, noisy)}
    return out


# ------------------------------------------------------------------------------------- method


def method_sast(
    task: Task, splits: dict[str, SequenceData], settings: Any, seed: int, device: torch.device
) -> MethodOutput:
    """Method ``sast``: build ``settings.model``, train with ``settings.sast`` (default `SASTConfig`),
    return the model in hard-spike mode with ``info["sast"]`` (transfer, corruptions, overhead)."""
    from spikeopt.train.pipelines import MethodOutput

    config = getattr(settings, "sast", None) or SASTConfig()
    if not isinstance(config, SASTConfig):
        raise TypeError(f"settings.sast must be a SASTConfig, got {type(config).__name__}")
    model = settings.model.build(task.in_features, task.out_features, task.readout, seed=seed).to(device)
    t0 = time.perf_counter()
    history = train_sast(model, task, splits["train"], splits.get("val"), config, seed=seed, device=device)
    t1 = time.perf_counter()
    transfer = {name: transfer_scores(task, model, data) for name, data in splits.items()}
    corrupted = corruption_scores(task, model, splits, seed, config) if config.corruptions else {}
    t2 = time.perf_counter()
    main_split = "test" if "test" in splits else next(iter(splits))
    main = transfer[main_split]
    metric = next(iter(task.evaluate(model, splits[main_split]).keys()))  # the headline metric's name
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
            "epoch_seconds": history.median_epoch_seconds,
            "plain_epoch_seconds": history.plain_epoch_seconds,
            "overhead": history.overhead,
            "grad_evals_per_step": 2 if config.rho > 0 else 1,
            "best_epoch": history.best_epoch,
        },
        "timings": {"sast_s": t1 - t0, "sast_eval_s": t2 - t1},
        "history": {"sast": history.as_dict()},
    }
    model.spike_mode = "hard"
    return MethodOutput(model, info)


__all__ = [
    "BASE_OPTIMIZERS",
    "SAMStep",
    "SASTConfig",
    "SASTHistory",
    "corruption_scores",
    "make_optimizer",
    "method_sast",
    "sam_step",
    "spike_mode",
    "time_plain_epoch",
    "train_sast",
    "transfer_scores",
]
