"""Experiments: run configs, single runs, sweeps with validation selection, a run store, reports."""

from spikeopt.experiments.config import RunConfig
from spikeopt.experiments.run import run, write_json
from spikeopt.experiments.select import Stat, Summary, aggregate, summarize
from spikeopt.experiments.store import RunRecord, Store, export_records, load_records
from spikeopt.experiments.sweep import SweepInterrupted, SweepSpec, run_sweep

__all__ = [
    "RunConfig",
    "RunRecord",
    "Stat",
    "Store",
    "Summary",
    "SweepInterrupted",
    "SweepSpec",
    "aggregate",
    "export_records",
    "load_records",
    "run",
    "run_sweep",
    "summarize",
    "write_json",
]
