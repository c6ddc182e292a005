"""Experiments: run configs, single runs, results."""

from spikeopt.experiments.config import RunConfig
from spikeopt.experiments.run import run, write_json

__all__ = ["RunConfig", "run", "write_json"]
