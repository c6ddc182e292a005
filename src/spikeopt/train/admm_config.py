"""Settings of ADMM training (method ``admm``), validated with messages that say what to fix."""

from __future__ import annotations

from dataclasses import dataclass

from spikeopt.train.base import option
from spikeopt.validation import check_bool, check_int, check_number

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
    select: bool = option(True, flag="select", type=bool,
                          help="keep the tracked iteration with the best validation accuracy (when a validation "
                               "split exists) instead of the last")
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
        check_number(self.rho, "admm rho", 0.0, open_low=True)
        check_number(self.sigma, "admm sigma", 0.0, open_low=True)
        check_number(self.delta, "admm delta", 0.0, high=1.0)
        check_number(self.theta, "admm theta", 0.0, open_low=True)
        check_number(self.epsilon, "admm epsilon", 0.0, open_low=True)
        check_number(self.ridge, "admm ridge", 0.0)
        check_number(self.init_scale, "admm init_scale", 0.0, open_low=True)
        check_number(self.divergence_factor, "admm divergence_factor", 1.0, open_low=True)
        check_int(self.iterations, "admm iterations", 1)
        if self.warmup is not None:
            check_int(self.warmup, "admm warmup", 0)
        check_int(self.shards, "admm shards", 1)
        check_int(self.track_every, "admm track_every", 1)
        check_int(self.checkpoint_every, "admm checkpoint_every", 1)
        if self.checkpoint is not None and not isinstance(self.checkpoint, str):
            raise ValueError(f"admm checkpoint must be a file path or null, got {self.checkpoint!r}")
        if self.warmup is not None and self.warmup >= self.iterations:
            raise ValueError(
                f"admm warmup ({self.warmup}) must be < iterations ({self.iterations}), "
                "or the multiplier is never updated; lower warmup or raise iterations"
            )
        for name in ("stochastic", "select", "progress", "resume"):
            check_bool(getattr(self, name), f"admm {name}")

