"""Every shipped example config loads, names a known task and method, and makes a valid task."""

from pathlib import Path

import pytest

from spikeopt.experiments.config import RunConfig
from spikeopt.experiments.run import check_run
from spikeopt.tasks.registry import task_class

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.yaml"))


def test_examples_exist():
    assert len(EXAMPLES) >= 4
    methods = {RunConfig.from_yaml(p).method for p in EXAMPLES}
    assert {"sg", "cvx", "admm", "sast"} <= methods


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_loads(path):
    cfg = RunConfig.from_yaml(path)
    check_run(cfg)
    task_class(cfg.task)(**cfg.task_options)  # options valid (event-digits' data is built lazily)
    assert cfg.admm.warmup_iterations < cfg.admm.iterations
    assert RunConfig.from_dict(cfg.to_dict()) == cfg
