"""Settings of sharpness-aware surrogate training (method ``sast``) and of its robustness evaluation."""

from __future__ import annotations

from dataclasses import dataclass

from spikeopt.train.base import option
from spikeopt.train.lr_schedule import check_schedule
from spikeopt.validation import check_bool, check_choice, check_int, check_number

BASE_OPTIMIZERS = ("adam", "sgd")


def _float(value: object, name: str, low: float, *, open_low: bool = False) -> float:
    return float(check_number(value, name, low, open_low=open_low))


@dataclass
class SASTConfig:
    """Settings of sharpness-aware surrogate training and of its evaluation.

    Corruption levels (evaluation only): ``drop_fraction`` of events removed, ``noise_fraction``
    noise events added per event, ``jitter_us`` timestamp std (event tasks); ``noise_std`` Gaussian
    input noise (dense tasks).
    """

    rho: float = option(0.05, flag="rho", help="SAM perturbation radius rho (0 = plain surrogate-forward training)")
    optimizer: str = option("adam", flag="sam-optimizer", help="base optimizer: adam or sgd")
    lr: float = 3e-3
    momentum: float = option(0.9, flag="momentum", help="SGD momentum")
    epochs: int = 30
    batch_size: int = 128
    weight_decay: float = 0.0
    two_batches: bool = False
    grad_clip: float | None = 1.0
    exact_reset_grad: bool = True
    measure_overhead: bool = True
    corruptions: bool = True
    drop_fraction: float = option(0.3, flag="drop-fraction", help="evaluation: fraction of events dropped")
    noise_fraction: float = option(0.3, flag="noise-fraction", help="evaluation: noise events added, as a fraction")
    jitter_us: float = option(10_000.0, flag="jitter-us", help="evaluation: timestamp jitter std in microseconds")
    noise_std: float = option(0.3, flag="noise-std", help="evaluation: Gaussian input noise std (dense tasks)")
    corruption_seed: int = 0
    sharpness_rho: float = option(
        0.05, flag="sharpness-rho",
        help="evaluation: radius of the sharpness measurement, the same for every trained rho so they compare")
    progress: bool = True
    lr_schedule: str = "constant"  # constant, cosine or step (spikeopt/train/lr_schedule.py)
    lr_step_size: int = 10
    lr_gamma: float = 0.1
    checkpoint: str | None = None  # written after every epoch (spikeopt/train/resume.py)
    resume: bool = False  # continue from an existing checkpoint

    def __post_init__(self) -> None:
        check_schedule(self.lr_schedule, self.lr_step_size, self.lr_gamma)
        self.rho = _float(self.rho, "rho", 0.0)
        check_choice(self.optimizer, "base optimizer", BASE_OPTIMIZERS)
        self.lr = _float(self.lr, "lr", 0.0, open_low=True)
        self.momentum = _float(self.momentum, "momentum", 0.0)
        if self.momentum >= 1.0:
            raise ValueError(f"momentum must be < 1, got {self.momentum}")
        check_int(self.epochs, "epochs", 0)
        check_int(self.batch_size, "batch_size", 1)
        self.weight_decay = _float(self.weight_decay, "weight_decay", 0.0)
        if self.grad_clip is not None:
            self.grad_clip = _float(self.grad_clip, "grad_clip", 0.0, open_low=True)
        self.drop_fraction = _float(self.drop_fraction, "drop_fraction", 0.0)
        if self.drop_fraction > 1.0:
            raise ValueError(f"drop_fraction must lie in [0, 1], got {self.drop_fraction}")
        self.noise_fraction = _float(self.noise_fraction, "noise_fraction", 0.0)
        self.jitter_us = _float(self.jitter_us, "jitter_us", 0.0)
        self.noise_std = _float(self.noise_std, "noise_std", 0.0)
        check_int(self.corruption_seed, "corruption_seed", 0)
        self.sharpness_rho = _float(self.sharpness_rho, "sharpness_rho", 0.0, open_low=True)
        for name in ("two_batches", "exact_reset_grad", "measure_overhead", "corruptions", "progress"):
            check_bool(getattr(self, name), name)
