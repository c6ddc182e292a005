"""Settings of ADMM training (method ``admm``), validated with messages that say what to fix."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from spikeopt.train.base import option

WARMUP_FRACTION = 0.3  # the paper's Table 1: 300 warm-up iterations of 1000


@dataclass
class ADMMConfig:
    """Settings of ADMM training; defaults are the paper's Table 1 where it gives one."""

    rho: float = option(1.0, flag="rho", help="weight rho of the dynamics penalties (Table 1)")
    sigma: float = option(0.1, flag="sigma", help="weight sigma of the spike penalties a = H(z) (Table 1)")
    delta: float = option(0.95, flag="delta", help="membrane leak delta, the LIF beta (Table 1)")
    theta: float = option(1.0, flag="theta", help="firing threshold theta (Table 1)")
    epsilon: float = option(1e-3, flag="epsilon", help="how far above theta Algorithm 1 puts a membrane that should spike")
    iterations: int = option(1000, flag="iterations", help="total ADMM iterations (Table 1)")
    warmup: int | None = option(None, flag="warmup", type=int, help="first iterations without multiplier updates "
                                "(None: 30%% of the iterations; Table 1: 300 of 1000)")
    stochastic: bool = True  # random order of layers and timesteps each iteration (the paper's choice)
    shards: int = option(1, flag="shards", help="sample shards whose Eq. (10) sums are accumulated (bounds peak memory)")
    ridge: float = 1e-8  # relative ridge on the Gram matrices of the weight update
    init_scale: float = 1.0  # initial weights N(0, init_scale^2 / fan_in)
    track_every: int = 1  # record the tracked curves every this many iterations (and at the last)
    divergence_factor: float = 1e3  # warn when a residual grows this much above its smallest value
    progress: bool = True
    checkpoint: str | None = None  # mid-run state file (spikeopt/train/resume.py), written every checkpoint_every iterations
    resume: bool = False  # continue from an existing checkpoint
    checkpoint_every: int = 10  # iterations between checkpoint writes (and always after the last)

    @property
    def warmup_iterations(self) -> int:
        """The warm-up in effect: ``warmup`` as given, else ``WARMUP_FRACTION`` of the iterations, so
        any ``iterations`` works without also setting ``warmup``."""
        return self.warmup if self.warmup is not None else int(WARMUP_FRACTION * self.iterations)

    def __post_init__(self) -> None:
        _check_number("rho", self.rho, low=0.0, open_low=True)
        _check_number("sigma", self.sigma, low=0.0, open_low=True)
        _check_number("delta", self.delta, low=0.0, high=1.0)
        _check_number("theta", self.theta, low=0.0, open_low=True)
        _check_number("epsilon", self.epsilon, low=0.0, open_low=True)
        _check_number("ridge", self.ridge, low=0.0)
        _check_number("init_scale", self.init_scale, low=0.0, open_low=True)
        _check_number("divergence_factor", self.divergence_factor, low=1.0, open_low=True)
        _check_int("iterations", self.iterations, 1)
        if self.warmup is not None:
            _check_int("warmup", self.warmup, 0)
        _check_int("shards", self.shards, 1)
        _check_int("track_every", self.track_every, 1)
        _check_int("checkpoint_every", self.checkpoint_every, 1)
        if self.checkpoint is not None and not isinstance(self.checkpoint, str):
            raise ValueError(f"admm checkpoint must be a file path or null, got {self.checkpoint!r}")
        if self.warmup is not None and self.warmup >= self.iterations:
            raise ValueError(
                f"admm warmup ({self.warmup}) must be < iterations ({self.iterations}), "
                "or the multiplier is never updated; lower warmup or raise iterations"
            )
        for name in ("stochastic", "progress", "resume"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"admm {name} must be true or false, got {getattr(self, name)!r}")


def _check_number(name: str, value: Any, low: float, high: float | None = None, open_low: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > low if open_low else value >= low) and (high is None or value <= high)
    if not ok:
        bound = (f"> {low}" if open_low else f">= {low}") + (f" and <= {high}" if high is not None else "")
        raise ValueError(f"admm {name} must be a finite number {bound}, got {value!r}")


def _check_int(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"admm {name} must be an integer >= {low}, got {value!r}")
