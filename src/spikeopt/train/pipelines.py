"""The training variants of the convex-reconstruction paper (its Appendix E), composed from stages.

=======  ==================================  =====================================
method   hidden dynamics                     readout / last stage
=======  ==================================  =====================================
sg       surrogate-gradient trained          surrogate-gradient trained
cvx      calibrated (or Gaussian) witnesses  certified convex solve
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

from spikeopt.convex.calibrate import calibrated_witnesses
from spikeopt.convex.cv import SELECT_MODES
from spikeopt.convex.dictionary import (
    LAYOUT_OF_READOUT,
    SpikeDictionary,
    fill_dictionary,
)
from spikeopt.convex.path import check_reg_spec
from spikeopt.convex.witnesses import gaussian_witnesses, trained_witnesses
from spikeopt.snn.config import ModelConfig
from spikeopt.snn.network import ParallelLIFSNN
from spikeopt.tasks.base import SequenceData, Task
from spikeopt.train.admm import ADMMConfig, method_admm
from spikeopt.train.convex_stage import run_convex_stage
from spikeopt.train.sast import SASTConfig, method_sast
from spikeopt.train.surrogate import SGConfig, train_sg

CONVEX_LOSSES = ("cross_entropy", "squared")
WITNESS_KINDS = ("calibrated", "gaussian")


@dataclass
class ConvexConfig:
    """Settings of the convex stage: witnesses, dictionary, solver path and column generation.

    Witnesses (``cvx``): ``witnesses="calibrated"`` (default; see :mod:`spikeopt.convex.calibrate`:
    per-neuron time constants, each bias set on ``calibration_samples`` training sequences so the
    neuron's firing statistic lands at a target drawn from ``rate_band``) or ``"gaussian"`` (the
    paper's: ``witness_scale``, ``beta_range``, ``threshold_range``). ``witness_scale`` scales the
    weights of both kinds. ``atoms=P`` draws witness blocks until the dictionary has ``P``
    informative atoms (constant, duplicate and near-duplicate columns rejected: binary atoms that
    differ on fewer than ``near_duplicate`` of the rows, integrate atoms correlated above
    ``1 - near_duplicate``; at most ``max_blocks`` blocks, default ``4 P / block + 1``);
    ``atoms=None`` rolls one block of ``model.subnetworks x model.width`` witnesses (the paper's).
    Why 8192 by default: the optimum over a larger dictionary is never worse in objective and is
    closer to the paper's "optimal over all witnesses"; the group-lasso readout keeps only a few
    hundred of them, and the working-set solver's cost grows with the active set, not with ``P``, so
    a dictionary much larger than the readout is cheap. Memory is ``rows x P`` bytes for binary
    layouts and ``4 rows x P`` for the integrate readout's float32 rates, estimated before building;
    lower ``atoms`` if the estimate is refused.
    ``progress`` prints one-line updates on stderr while a long dictionary is built.

    ``reg``: one value, a list (a path) or ``"auto"`` (a path scaled to ``reg_max``, see
    :mod:`spikeopt.convex.path`). ``select``: how a path's points are scored: ``"val"`` (the
    validation split), ``"cv"`` (5-fold cross-validation on the dictionary's rows pooled with the
    validation split, :mod:`spikeopt.convex.cv`) or ``"auto"`` (cv where the validation split has
    fewer than 250 sequences and the layout allows it, else val). ``allow_unconverged``: keep a solve that stopped
    short of ``tol`` (recorded with its gap) instead of refusing it. ``grow_rounds`` > 0 grows the
    dictionary by column generation at the selected reg: each round prices ``grow_candidates`` fresh
    witness subnetworks of the dictionary's own kind (``witnesses``) and adds up to ``grow_add``
    violating atoms.
    """

    reg: float | list[float] | str = "auto"
    select: str = "auto"
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
    witnesses: str = "calibrated"
    atoms: int | None = 8192
    rate_band: tuple[float, float] = (0.05, 0.95)
    near_duplicate: float = 0.005
    calibration_samples: int = 256
    max_blocks: int | None = None
    progress: bool = True

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
        if self.select not in SELECT_MODES:
            raise ValueError(f"unknown convex.select {self.select!r}; valid: {', '.join(SELECT_MODES)}")
        if self.loss not in CONVEX_LOSSES:
            raise ValueError(f"unknown convex loss {self.loss!r}; valid: {', '.join(CONVEX_LOSSES)}")
        if not self.tol > 0:
            raise ValueError(f"tol must be > 0, got {self.tol}")
        if not self.witness_scale > 0:
            raise ValueError(f"witness_scale must be > 0, got {self.witness_scale}")
        if self.witnesses not in WITNESS_KINDS:
            raise ValueError(f"unknown witnesses {self.witnesses!r}; valid: {', '.join(WITNESS_KINDS)}")
        if self.atoms is not None:
            if isinstance(self.atoms, float) and self.atoms.is_integer():
                self.atoms = int(self.atoms)
            if isinstance(self.atoms, bool) or not isinstance(self.atoms, int) or self.atoms < 1:
                raise ValueError(f"atoms must be a positive integer or None (one witness block), got {self.atoms!r}")
        band = tuple(float(v) for v in self.rate_band)
        if len(band) != 2 or not 0.0 < band[0] <= band[1] < 1.0:
            raise ValueError(f"rate_band must be (low, high) with 0 < low <= high < 1, got {self.rate_band!r}")
        self.rate_band = band  # type: ignore[assignment]
        if not 0.0 <= self.near_duplicate < 1.0:
            raise ValueError(f"near_duplicate must be in [0, 1), got {self.near_duplicate}")
        for name in ("beta_range", "threshold_range"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, tuple(float(v) for v in value))


@dataclass
class MethodSettings:
    """Everything a method may use; each method reads only its own parts."""

    model: ModelConfig = field(default_factory=ModelConfig.recommended)
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
    readout: str | None = None, leak: float = 1.0, dictionary: SpikeDictionary | None = None,
) -> MethodOutput:
    """Dictionary from ``witnesses`` on ``train`` (unless given), certified solves along the reg path,
    the network selected on ``val`` (see :mod:`spikeopt.train.convex_stage`). ``readout`` is the
    rebuilt network's (default: the task's); ``leak`` the integrate readout's decay."""
    model, info = run_convex_stage(task, train, val, witnesses, cfg, device, sampler, seed,
                                   readout=readout, leak=leak, dictionary=dictionary)
    return MethodOutput(model, info)


def witness_sampler(
    task: Task, c: ConvexConfig, train: SequenceData, model: ModelConfig, layout: str, leak: float,
    records: list[dict[str, Any]],
) -> Callable[[int], ParallelLIFSNN]:
    """``seed -> witnesses`` of ``model``'s size and ``c.witnesses`` kind (every draw recorded in ``records``).

    One sampler serves the dictionary (blocks until ``convex.atoms``) and column generation (fresh
    candidates), so grown atoms are of the same kind as the dictionary's.
    """

    def sample(s: int) -> ParallelLIFSNN:
        if c.witnesses == "gaussian":
            records.append({"kind": "gaussian", "seed": s})
            return gaussian_witnesses(task.in_features, model, c.witness_scale, c.beta_range, c.threshold_range, seed=s)
        # the final layout reads the last step; the others read every step (the trajectory layout is
        # the integrate statistic with leak 1: the fraction of (step, sample) rows that spike)
        net, record = calibrated_witnesses(
            train.x, model, "final" if layout == "final" else "integrate", c.rate_band, leak, c.witness_scale,
            c.calibration_samples, seed=s,
        )
        records.append(record)
        return net

    return sample


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


def block_seed(seed: int, block: int) -> int:
    """Seed of witness block ``block`` of run ``seed`` (block 0 uses ``seed``; distinct for seeds < 100003)."""
    return seed + 100_003 * block


BLOCK_NEURONS = 1024  # witness neurons drawn per block when growing to ``atoms`` (calibration cost ~ block)


def method_cvx(task, splits, settings, seed, device) -> MethodOutput:
    c, model, train = settings.convex, settings.model, splits["train"]
    if c.atoms is not None:  # blocks of ~min(atoms, 1024) neurons: the model's subnetworks only set the block
        per_block = max(model.subnetworks, -(-min(c.atoms, BLOCK_NEURONS) // model.width))
        model = replace(model, subnetworks=per_block)
        max_blocks = c.max_blocks or 4 * -(-c.atoms // (per_block * model.width)) + 1
    readout = model.resolve_readout(task.readout)
    layout = LAYOUT_OF_READOUT[readout]
    leak = model.readout_leak if readout == "integrate" else 1.0
    records: list[dict[str, Any]] = []
    sample = witness_sampler(task, c, train, model, layout, leak, records)

    t0 = time.perf_counter()
    if c.atoms is None:
        witnesses, dictionary = sample(seed), None
    else:
        dictionary, witnesses = fill_dictionary(
            lambda block: sample(block_seed(seed, block)), train.x, c.atoms, layout, leak, c.near_duplicate,
            c.chunk_size, max_blocks, device=device, progress=c.progress, seed=seed,
        )
        dictionary.warn_if_weak()
    witness_s = time.perf_counter() - t0
    candidates = witness_sampler(task, c, train, replace(model, subnetworks=c.grow_candidates), layout, leak, [])
    out = convex_readout(task, train, witnesses, c, device, splits.get("val"), candidates, seed,
                         readout=readout, leak=leak, dictionary=dictionary)
    out.info["timings"]["dictionary_s"] += witness_s  # sampling and calibrating the witnesses included
    summary = out.info["dictionary"]
    out.info["witnesses"] = {
        "kind": c.witnesses, "block_neurons": model.subnetworks * model.width, "readout": readout, "layout": layout,
        "readout_leak": leak, "atoms_target": c.atoms, "rate_band": list(c.rate_band),
        "near_duplicate": c.near_duplicate, "delays": list(model.delays), "blocks": records,
        "diagnostics": {k: summary[k] for k in summary if k.endswith("_fraction")},
    }
    return out


def method_sg_cvx(task, splits, settings, seed, device) -> MethodOutput:
    pre = method_sg(task, splits, settings, seed, device)
    readout = pre.model.readout
    layout = LAYOUT_OF_READOUT[readout]
    candidates = witness_sampler(task, settings.convex, splits["train"],
                                 replace(settings.model, subnetworks=settings.convex.grow_candidates),
                                 layout, pre.model.readout_leak, [])
    out = convex_readout(
        task, splits["train"], trained_witnesses(pre.model), settings.convex, device, splits.get("val"),
        candidates, seed, readout=readout, leak=pre.model.readout_leak,
    )
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
