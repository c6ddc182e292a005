"""How long a reproduction will take, measured before it starts.

A cost model fitted to one machine is wrong on the next, so the estimate is measured: the runs still
to do are grouped by *shape* (everything that sets the cost: task sizes, model, method, epochs; not
the seed or the selected hyperparameters, which change the numbers but not the work), one probe per
shape runs with its surrogate-gradient stages cut to one epoch (ADMM to 20 iterations), and each
stage's measured time is scaled back to its epochs (iterations). Early stopping can only make runs shorter, so the estimate is an upper
one on a machine as loaded as during the probes.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from spikeopt.experiments.config import RunConfig, config_key
from spikeopt.experiments.sweep import SweepSpec, default_run, plan

# Grid keys that select among equal-cost runs (reported separately as rows, they would still cost the same).
COST_FREE_KEYS = ("seed", "sg.lr", "sg.weight_decay", "finetune.lr", "finetune.weight_decay", "convex.reg",
                  "task_options.lambda_carry", "model.slope")
# Grid keys whose cost depends only on whether they are zero: SAM takes two gradients per step for any
# rho > 0 and one (plain surrogate-gradient steps) at rho = 0.
ZERO_OR_NOT_KEYS = ("sast.rho",)
# (config section, the timings entry its epochs cost) of each surrogate-gradient stage.
SG_STAGES = (("sg", "sg_s"), ("finetune", "finetune_s"))
ADMM_PROBE_ITERATIONS = 20


@dataclass(frozen=True)
class Estimate:
    """Runs left and the probe-based time they need, in seconds of one worker (divide by workers)."""

    runs: int
    shapes: int
    worker_seconds: float
    probe_seconds: float
    failed_runs: int = 0  # runs whose shape's probe raised: the sweep will record them as failed
    first_error: str = ""

    def wall(self, workers: int) -> float:
        return self.worker_seconds / max(1, workers)


def shape_key(config: dict[str, Any]) -> str:
    """The config with every cost-free key set to a fixed value: equal keys, equal work."""
    data = {**config, "seed": 0}
    for key in COST_FREE_KEYS[1:] + ZERO_OR_NOT_KEYS:
        section, name = key.split(".")
        if name in data.get(section, {}):
            value = 0 if key in COST_FREE_KEYS else int(data[section][name] != 0)
            data[section] = {**data[section], name: value}
    return config_key(data)


def probe_seconds(config: RunConfig, run_fn: Callable[[RunConfig], dict[str, Any]] = default_run) -> float:
    """One run of ``config`` with its SG stages cut to one epoch; the seconds the full run would take."""
    cut = config.with_values({f"{section}.epochs": 1 for section, _ in SG_STAGES
                              if getattr(config, section).epochs > 0})
    admm_scale = 1.0
    if config.method == "admm" and config.admm.iterations > ADMM_PROBE_ITERATIONS:
        # every ADMM iteration costs the same: probe a few, scale the ADMM time back
        admm_scale = config.admm.iterations / ADMM_PROBE_ITERATIONS
        cut = cut.with_values({"admm.iterations": ADMM_PROBE_ITERATIONS, "admm.warmup": None,
                               "admm.checkpoint": None})
    t0 = time.perf_counter()
    with warnings.catch_warnings():  # a probe's warnings (e.g. silent witnesses) return in the real run
        warnings.simplefilter("ignore")
        result = run_fn(cut)
    total = time.perf_counter() - t0
    timings = result.get("timings", {})
    for section, entry in SG_STAGES:
        stage = timings.get(entry)
        if stage is not None:
            total += stage * (getattr(config, section).epochs - 1)
    if admm_scale > 1.0 and timings.get("admm_s") is not None:
        total += timings["admm_s"] * (admm_scale - 1.0)
    return total


def estimate(specs: list[SweepSpec], done: set[str], run_fn: Callable[[RunConfig], dict[str, Any]] = default_run,
             threads: int | None = None) -> Estimate:
    """Probe one run per shape among the jobs of ``specs`` not in ``done`` (their keys).

    ``threads``: torch threads during the probes, as the runs will have them (sweep workers run with
    one each); ``None`` keeps the current setting (runs in this process).
    """
    todo = [(key, cfg) for key, _, cfg in plan(specs) if key not in done]
    shapes: dict[str, list[dict[str, Any]]] = {}
    for _, cfg in todo:
        shapes.setdefault(shape_key(cfg), []).append(cfg)
    t0 = time.perf_counter()
    seconds, failed, first_error = 0.0, 0, ""
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        for cfgs in shapes.values():
            start = time.perf_counter()
            try:
                seconds += probe_seconds(RunConfig.from_dict(cfgs[0]), run_fn) * len(cfgs)
            except Exception as err:  # noqa: BLE001 - the sweep records such runs as failed; the estimate goes on
                # the real runs fail the same way, after about as long (their SG stages' full epochs are unknown)
                seconds += (time.perf_counter() - start) * len(cfgs)
                failed += len(cfgs)
                first_error = first_error or f"{type(err).__name__}: {err}"
    finally:
        torch.set_num_threads(before)
    return Estimate(len(todo), len(shapes), seconds, time.perf_counter() - t0, failed, first_error)


def describe(name: str, e: Estimate, workers: int) -> str:
    """One line for the console: runs left and the estimated wall time on ``workers`` workers."""
    if not e.runs:
        return f"{name}: every run is stored"
    line = (f"{name}: {e.runs} runs left ({e.shapes} shapes probed in {e.probe_seconds:.0f} s), about "
            f"{describe_seconds(e.wall(workers))} on {max(1, workers)} worker(s)")
    if e.failed_runs:
        error = e.first_error if len(e.first_error) <= 300 else e.first_error[:297] + "..."
        line += (f"; the probe failed for {e.failed_runs} of the runs (they will be stored as failed, "
                 f"counted here at the probe's time): {error}")
    return line


def describe_seconds(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"
