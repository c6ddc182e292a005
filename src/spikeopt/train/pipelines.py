"""The training variants of the convex-reconstruction paper (its Appendix E), composed from stages.

=======  ==================================  =====================================
method   hidden dynamics                     readout / last stage
=======  ==================================  =====================================
sg       surrogate-gradient trained          surrogate-gradient trained
cvx      Gaussian witnesses, frozen          certified convex solve
sg-cvx   SG-trained, then frozen             certified convex solve
sg-sg    SG-trained                          SG fine-tuning (``finetune`` budget)
cvx-sg   the CVX network                     SG fine-tuning of all parameters
admm     ADMM, closed-form updates           (gradient-free, ``train/admm.py``)
sast     SAM on the surrogate-forward net    judged with hard spikes (``train/sast.py``)
=======  ==================================  =====================================

``sg-sg`` and ``cvx-sg`` fine-tune with the same ``finetune`` settings, so they get the same budget.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import torch

from spikeopt.convex.path import check_reg_spec
from spikeopt.convex.witnesses import gaussian_witnesses, trained_witnesses
from spikeopt.snn.config import ModelConfig
from spikeopt.snn.network import ParallelLIFSNN
from spikeopt.tasks.base import SequenceData, Task
from spikeopt.train.convex_stage import run_convex_stage
from spikeopt.train.admm import ADMMConfig, method_admm
from spikeopt.train.sast import SASTConfig, method_sast
from spikeopt.train.surrogate import SGConfig, train_sg

CONVEX_LOSSES = ("cross_entropy", "squared")


@dataclass
class ConvexConfig:
    """Settings of the convex stage: witnesses, dictionary, solver path and column generation.

    ``reg``: one value, a list (a path, selected on validation) or ``"auto"`` (a path scaled to
    ``reg_max``, see :mod:`spikeopt.convex.path`). ``allow_unconverged``: keep a solve that stopped
    short of ``tol`` (recorded with its gap) instead of refusing it. ``grow_rounds`` > 0 grows the
    dictionary by column generation at the selected reg: each round prices ``grow_candidates`` fresh
    Gaussian witness subnetworks and adds up to ``grow_add`` violating atoms.
    """

    reg: float | list[float] | str = "auto"
    loss: str = "cross_entropy"
    tol: float = 1e-6
    max_iter: int = 20000
    intercept: bool = False
    witness_scale: float = 1.0
    beta_range: tuple[float, float] | None = None
    threshold_range: tuple[float, float] | None = None
    merge: bool = True
    chunk_size: int = 1024
    allow_unconverged: bool = False
    grow_rounds: int = 0
    grow_candidates: int = 64
    grow_add: int = 32

    def __post_init__(self) -> None:
        self.reg = check_reg_spec(self.reg)
        if not isinstance(self.allow_unconverged, bool):
            raise TypeError(f"allow_unconverged must be true or false, got {self.allow_unconverged!r}")
        for name, low in (("max_iter", 1), ("grow_rounds", 0), ("grow_candidates", 1), ("grow_add", 1)):
            value = getattr(self, name)
            if isinstance(value, float) and value.is_integer():  # YAML reads 2e4 as a float
                value = int(value)
                setattr(self, name, value)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"convex.{name} must be an integer >= {low}, got {value!r}")
        if self.loss not in CONVEX_LOSSES:
            raise ValueError(f"unknown convex loss {self.loss!r}; valid: {', '.join(CONVEX_LOSSES)}")
        if not self.tol > 0:
            raise ValueError(f"tol must be > 0, got {self.tol}")
        if not self.witness_scale > 0:
            raise ValueError(f"witness_scale must be > 0, got {self.witness_scale}")
        for name in ("beta_range", "threshold_range"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, tuple(float(v) for v in value))


@dataclass
class MethodSettings:
    """Everything a method may use; each method reads only its own parts."""

    model: ModelConfig = field(default_factory=ModelConfig)
    sg: SGConfig = field(default_factory=SGConfig)
    finetune: SGConfig = field(default_factory=lambda: SGConfig(epochs=10, lr=1e-3))
    convex: ConvexConfig = field(default_factory=ConvexConfig)
    admm: ADMMConfig = field(default_factory=ADMMConfig)
    sast: SASTConfig = field(default_factory=SASTConfig)


@dataclass
class MethodOutput:
    model: ParallelLIFSNN
    info: dict[str, Any]


def convex_readout(
    task: Task, train: SequenceData, witnesses: ParallelLIFSNN, cfg: ConvexConfig, device: torch.device,
    val: SequenceData | None = None, sampler: Callable[[int], ParallelLIFSNN] | None = None, seed: int = 0,
) -> MethodOutput:
    """Dictionary from ``witnesses`` on ``train``, certified solves along the reg path, the network
    selected on ``val`` (see :mod:`spikeopt.train.convex_stage`)."""
    model, info = run_convex_stage(task, train, val, witnesses, cfg, device, sampler, seed)
    return MethodOutput(model, info)


def gaussian_sampler(task: Task, settings: MethodSettings) -> Callable[[int], ParallelLIFSNN]:
    """Fresh candidate witnesses for column generation: ``convex.grow_candidates`` Gaussian subnetworks."""
    c = settings.convex
    model = replace(settings.model, subnetworks=c.grow_candidates)
    return lambda s: gaussian_witnesses(task.in_features, model, c.witness_scale, c.beta_range, c.threshold_range, seed=s)


def _sg_model(task: Task, settings: MethodSettings, seed: int, device: torch.device) -> ParallelLIFSNN:
    return settings.model.build(task.in_features, task.out_features, task.readout, seed=seed).to(device)


def _train(model, task, splits, cfg, seed, device, stage: str, info: dict[str, Any]) -> None:
    t0 = time.perf_counter()
    history = train_sg(model, task, splits["train"], splits.get("val"), cfg, seed=seed, device=device)
    info.setdefault("timings", {})[f"{stage}_s"] = time.perf_counter() - t0
    info.setdefault("history", {})[stage] = history.as_dict()


def method_sg(task, splits, settings, seed, device) -> MethodOutput:
    model, info = _sg_model(task, settings, seed, device), {}
    _train(model, task, splits, settings.sg, seed, device, "sg", info)
    return MethodOutput(model, info)


def method_sg_sg(task, splits, settings, seed, device) -> MethodOutput:
    out = method_sg(task, splits, settings, seed, device)
    _train(out.model, task, splits, settings.finetune, seed + 1, device, "finetune", out.info)
    return out


def method_cvx(task, splits, settings, seed, device) -> MethodOutput:
    c = settings.convex
    witnesses = gaussian_witnesses(
        task.in_features, settings.model, c.witness_scale, c.beta_range, c.threshold_range, seed=seed
    )
    return convex_readout(task, splits["train"], witnesses, c, device, splits.get("val"),
                          gaussian_sampler(task, settings), seed)


def method_sg_cvx(task, splits, settings, seed, device) -> MethodOutput:
    pre = method_sg(task, splits, settings, seed, device)
    out = convex_readout(task, splits["train"], trained_witnesses(pre.model), settings.convex, device,
                         splits.get("val"), gaussian_sampler(task, settings), seed)
    out.info["timings"].update(pre.info["timings"])
    out.info["history"] = pre.info["history"]
    return out


def method_cvx_sg(task, splits, settings, seed, device) -> MethodOutput:
    out = method_cvx(task, splits, settings, seed, device)
    for p in out.model.parameters():
        p.requires_grad_(True)
    out.info["cvx_val"] = task.evaluate(out.model, splits["val"]) if "val" in splits else None
    _train(out.model, task, splits, settings.finetune, seed + 1, device, "finetune", out.info)
    return out


METHODS: dict[str, Callable[..., MethodOutput]] = {
    "sg": method_sg,
    "cvx": method_cvx,
    "sg-cvx": method_sg_cvx,
    "sg-sg": method_sg_sg,
    "cvx-sg": method_cvx_sg,
    "admm": method_admm,
    "sast": method_sast,
}


def run_method(
    name: str, task: Task, splits: dict[str, SequenceData], settings: MethodSettings, seed: int, device: torch.device
) -> MethodOutput:
    """Train with method ``name``; unknown names raise with the list of valid ones."""
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; valid methods: {', '.join(METHODS)}")
    torch.manual_seed(seed)
    settings = replace(settings, model=settings.model.resolved(splits["train"].steps))
    return METHODS[name](task, splits, settings, seed, device)
