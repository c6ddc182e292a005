"""The convex methods of the convex-reconstruction paper (its Appendix E): ``cvx``, ``sg-cvx``, ``cvx-sg``.

=======  ==================================  =====================================
method   hidden dynamics                     readout / last stage
=======  ==================================  =====================================
cvx      calibrated (or Gaussian) witnesses  certified convex solve
sg-cvx   SG-trained, then frozen             certified convex solve
cvx-sg   the CVX network                     SG fine-tuning of all parameters
=======  ==================================  =====================================

``cvx-sg`` fine-tunes with the ``finetune`` settings, as ``sg-sg`` does, so both get the same budget.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, Callable

import torch

from spikeopt.convex.calibrate import calibrated_witnesses
from spikeopt.convex.dictionary import LAYOUT_OF_READOUT, SpikeDictionary, row_count
from spikeopt.convex.dictionary_fill import fill_dictionary
from spikeopt.convex.witnesses import gaussian_witnesses, trained_witnesses
from spikeopt.snn.config import ModelConfig
from spikeopt.snn.network import ParallelLIFSNN
from spikeopt.tasks.base import SequenceData, Task
from spikeopt.train.base import MethodOutput, MethodSpec
from spikeopt.train.convex_config import AUTO_MIN_YIELD, ConvexConfig
from spikeopt.train.convex_stage import run_convex_stage
from spikeopt.train.stages import StageConfig, stage_splits
from spikeopt.train.surrogate import SGConfig, fit_sg, train_stage

BLOCK_NEURONS = 1024  # witness neurons drawn per block when growing to ``atoms`` (calibration cost ~ block)


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


def block_seed(seed: int, block: int) -> int:
    """Seed of witness block ``block`` of run ``seed`` (block 0 uses ``seed``; distinct for seeds < 100003)."""
    return seed + 100_003 * block


def fit_cvx(task: Task, splits: dict[str, SequenceData], seed: int, device: torch.device, *, model: ModelConfig,
            convex: ConvexConfig) -> MethodOutput:
    """Method ``cvx``: witnesses (blocks until ``convex.atoms``), certified convex readout, rebuilt network."""
    train = splits["train"]
    readout = model.resolve_readout(task.readout)
    layout = LAYOUT_OF_READOUT[readout]
    steps, samples = train.x.shape[:2]
    c = replace(convex, atoms=convex.resolved_atoms(row_count(layout, steps, samples), task.out_features))
    if c.atoms is not None:  # blocks of ~min(atoms, 1024) neurons: the model's subnetworks only set the block
        per_block = max(model.subnetworks, -(-min(c.atoms, BLOCK_NEURONS) // model.width))
        model = replace(model, subnetworks=per_block)
        max_blocks = c.max_blocks or 4 * -(-c.atoms // (per_block * model.width)) + 1
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
            min_yield=AUTO_MIN_YIELD if convex.atoms == "auto" else 0.0,
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
        "readout_leak": leak, "atoms_target": c.atoms, "atoms_setting": convex.atoms, "rate_band": list(c.rate_band),
        "near_duplicate": c.near_duplicate, "delays": list(model.delays), "blocks": records,
        "diagnostics": {k: summary[k] for k in summary if k.endswith("_fraction")},
    }
    return out


def fit_sg_cvx(task: Task, splits: dict[str, SequenceData], seed: int, device: torch.device, *,
               model: ModelConfig, sg: SGConfig, convex: ConvexConfig, stages: StageConfig) -> MethodOutput:
    """Method ``sg-cvx``: ``sg``, then its hidden layers frozen as witnesses of a certified convex readout."""
    first, splits = stage_splits(splits, stages, seed)
    pre = fit_sg(task, first, seed, device, model=model, sg=sg)
    readout = pre.model.readout
    layout = LAYOUT_OF_READOUT[readout]
    candidates = witness_sampler(task, convex, splits["train"], replace(model, subnetworks=convex.grow_candidates),
                                 layout, pre.model.readout_leak, [])
    out = convex_readout(
        task, splits["train"], trained_witnesses(pre.model), convex, device, splits.get("val"),
        candidates, seed, readout=readout, leak=pre.model.readout_leak,
    )
    out.info["timings"].update(pre.info["timings"])
    out.info["history"] = pre.info["history"]
    return out


def fit_cvx_sg(task: Task, splits: dict[str, SequenceData], seed: int, device: torch.device, *,
               model: ModelConfig, convex: ConvexConfig, finetune: SGConfig, stages: StageConfig) -> MethodOutput:
    """Method ``cvx-sg``: ``cvx``, then SG fine-tuning of all its parameters (``finetune`` budget)."""
    first, splits = stage_splits(splits, stages, seed)
    if convex.pack is None:  # fine-tune whole witness subnetworks: their unused neurons can be recruited
        convex = replace(convex, pack=False)
    if convex.refit is None:  # fine-tuning early-stops on the validation split: keep it held out
        convex = replace(convex, refit=False)
    out = fit_cvx(task, first, seed, device, model=model, convex=convex)
    for p in out.model.parameters():
        p.requires_grad_(True)
    out.info["cvx_val"] = task.evaluate(out.model, splits["val"]) if "val" in splits else None
    train_stage(out.model, task, splits, finetune, seed + 1, device, "finetune", out.info)
    return out


CVX = MethodSpec("cvx", {"model": ModelConfig, "convex": ConvexConfig}, fit_cvx,
                 summary="witnesses, certified convex readout, rebuilt network")
SG_CVX = MethodSpec("sg-cvx", {"model": ModelConfig, "sg": SGConfig, "convex": ConvexConfig, "stages": StageConfig},
                    fit_sg_cvx,
                    summary="SG-trained hidden layers, certified convex readout")
CVX_SG = MethodSpec("cvx-sg", {"model": ModelConfig, "convex": ConvexConfig, "finetune": SGConfig,
                                "stages": StageConfig}, fit_cvx_sg,
                    summary="the CVX network, then SG fine-tuning (finetune budget)")
