"""The paper's aggregation: per seed pick the grid point with the best validation metric, then
report the test metrics of the picked runs as mean and standard deviation over seeds.

Standard deviations are sample standard deviations (n - 1); with one seed the std is 0.
"""

from __future__ import annotations

import itertools
import math
import statistics
from dataclasses import dataclass, field
from typing import Any

from spikeopt.experiments.store import RunRecord, Store
from spikeopt.experiments.sweep import SweepSpec


@dataclass
class Stat:
    mean: float
    std: float
    n: int

    def fmt(self, digits: int = 3) -> str:
        return f"{self.mean:.{digits}f}" + (f" ± {self.std:.{digits}f}" if self.n > 1 else "")


@dataclass
class Summary:
    """One row of a result: the group's values, the point chosen per seed and aggregated metrics."""

    group: dict[str, Any]
    chosen: dict[int, dict[str, Any]] = field(default_factory=dict)
    metrics: dict[str, Stat] = field(default_factory=dict)
    runs: dict[int, RunRecord] = field(default_factory=dict)
    failed: int = 0
    missing: int = 0

    def get(self, path: str) -> Stat | None:
        return self.metrics.get(path)


def spec_records(spec: SweepSpec, store: Store) -> dict[str, RunRecord]:
    """The stored runs of ``spec`` by key (runs not yet stored are absent)."""
    keys = list({cfg.key() for _, cfg in spec.configs()})
    out: dict[str, RunRecord] = {}
    for start in range(0, len(keys), 500):
        out.update({r.key: r for r in store.records(keys=keys[start : start + 500])})
    return out


def summarize(
    spec: SweepSpec, records: dict[str, RunRecord], by: list[str] | None = None
) -> list[Summary]:
    """One :class:`Summary` per combination of the ``by`` keys (default ``spec.group_by``).

    Within a group, for each seed the ok run with the best ``spec.select`` value wins (ties: the
    first in grid order); failed or missing runs are counted and skipped. Metrics present in every
    chosen run are aggregated as ``split.metric`` -> :class:`Stat`.
    """
    by = list(spec.group_by if by is None else by)
    unknown = [k for k in by if k not in spec.grid]
    if unknown:
        raise ValueError(f"cannot group sweep {spec.name!r} by {unknown}: not grid keys {list(spec.grid)}")
    configs = spec.configs()
    out = []
    for combo in itertools.product(*(_unique(spec.grid[k]) for k in by)):
        group = dict(zip(by, combo))
        summary = Summary(group)
        for seed in spec.seeds:
            best: tuple[float, dict[str, Any], RunRecord] | None = None
            for point, cfg in configs:
                if cfg.seed != seed or any(point[k] != v for k, v in group.items()):
                    continue
                record = records.get(cfg.key())
                if record is None:
                    summary.missing += 1
                    continue
                if record.status != "ok":
                    summary.failed += 1
                    continue
                score = record.metric(spec.select)
                if score is None or math.isnan(score):
                    continue
                score = score if spec.mode == "max" else -score
                if best is None or score > best[0]:
                    best = (score, point, record)
            if best is not None:
                summary.chosen[seed] = {k: v for k, v in best[1].items() if k not in group}
                summary.runs[seed] = best[2]
        summary.metrics = aggregate(list(summary.runs.values()))
        out.append(summary)
    return out


def aggregate(records: list[RunRecord]) -> dict[str, Stat]:
    """Mean and sample std over ``records`` of every ``split.metric`` they all have."""
    if not records:
        return {}
    paths = [f"{s}.{m}" for s, ms in records[0].metrics.items() for m in ms]
    out = {}
    for path in paths:
        values = [r.metric(path) for r in records]
        if any(v is None for v in values):
            continue
        vals = [float(v) for v in values if v is not None]
        std = statistics.stdev(vals) if len(vals) > 1 else 0.0
        out[path] = Stat(statistics.fmean(vals), std, len(vals))
    return out


def _unique(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if v not in out:
            out.append(v)
    return out
