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

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from spikeopt.convex.dictionary import build_dictionary, stack_row_weights, stack_targets
from spikeopt.convex.reconstruct import reconstruct
from spikeopt.convex.witnesses import gaussian_witnesses, trained_witnesses
from spikeopt.snn.config import ModelConfig
from spikeopt.snn.network import ParallelLIFSNN
from spikeopt.tasks.base import SequenceData, Task, check_labels
from spikeopt.train.admm import ADMMConfig, method_admm
from spikeopt.train.sast import SASTConfig, method_sast
from spikeopt.train.surrogate import SGConfig, train_sg

CONVEX_LOSSES = ("cross_entropy", "squared")


@dataclass
class ConvexConfig:
    """Settings of the convex stage: witnesses, dictionary and solver."""

    reg: float = 1e-3
    loss: str = "cross_entropy"
    tol: float = 1e-6
    max_iter: int = 20000
    intercept: bool = False
    witness_scale: float = 1.0
    beta_range: tuple[float, float] | None = None
    threshold_range: tuple[float, float] | None = None
    merge: bool = True
    chunk_size: int = 1024

    def __post_init__(self) -> None:
        if not self.reg > 0:
            raise ValueError(f"reg must be > 0, got {self.reg}")
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
    task: Task, train: SequenceData, witnesses: ParallelLIFSNN, cfg: ConvexConfig, device: torch.device
) -> MethodOutput:
    """Dictionary from ``witnesses`` on ``train``, certified solve, reconstructed network."""
    from spikeopt.convex.solver import solve

    check_labels(train, task.heads)
    layout = "trajectory" if task.readout == "per_step" else "final"
    t0 = time.perf_counter()
    dictionary = build_dictionary(witnesses, train.x, layout, cfg.chunk_size, device=device)
    t1 = time.perf_counter()
    targets = stack_targets(train.y, layout)
    weights = stack_row_weights(task.time_weights(train.steps), train.steps, len(train)) if layout == "trajectory" else None
    if cfg.loss == "cross_entropy":
        loss: Any = list(task.heads)
        y = targets
    else:  # one-hot targets for all heads, concatenated; head weights do not apply to squared loss
        blocks = [np.eye(h.classes)[targets[:, i]] for i, h in enumerate(task.heads)]
        loss, y = "squared", np.concatenate(blocks, axis=1)
    solution = solve(
        dictionary.atoms, y, cfg.reg, loss=loss, sample_weight=weights, intercept=cfg.intercept,
        tol=cfg.tol, max_iter=cfg.max_iter,
    )
    t2 = time.perf_counter()
    model, report = reconstruct(witnesses, dictionary, solution.coef, solution.intercept, task.readout, cfg.merge)
    model = model.to(device)
    info = {
        "certificate": {
            "primal": solution.primal, "dual": solution.dual, "gap": solution.gap,
            "n_iter": solution.n_iter, "converged": solution.converged, "reg": cfg.reg, "loss": cfg.loss,
        },
        "dictionary": dictionary.summary(),
        "reconstruction": report.as_dict(),
        "timings": {"dictionary_s": t1 - t0, "solve_s": t2 - t1, "reconstruct_s": time.perf_counter() - t2},
    }
    return MethodOutput(model, info)


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
    return convex_readout(task, splits["train"], witnesses, c, device)


def method_sg_cvx(task, splits, settings, seed, device) -> MethodOutput:
    pre = method_sg(task, splits, settings, seed, device)
    out = convex_readout(task, splits["train"], trained_witnesses(pre.model), settings.convex, device)
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
    settings = dataclasses.replace(settings, model=settings.model.resolved(splits["train"].steps))
    return METHODS[name](task, splits, settings, seed, device)
