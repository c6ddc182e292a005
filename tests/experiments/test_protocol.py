"""The reproduction protocol follows paper 001's App. F where its text is explicit."""

from __future__ import annotations

import pytest

from spikeopt.experiments.protocol import PROTOCOLS
from spikeopt.experiments.tables import TABLE_SUITES


@pytest.mark.parametrize("name", list(PROTOCOLS))
def test_sg_weight_decay_is_swept_over_the_cvx_regularisation_grid(name):
    p = PROTOCOLS[name]
    specs = [s for suite in TABLE_SUITES for s in suite.specs(p)]
    sg = [s for s in specs if s.grid["method"][0] in ("sg", "sg-sg")]
    assert sg, "the tables train SG"
    for spec in sg:
        # selected over (not a row) and equal to the CVX grid: "the SG and CVX regularization grids are both"
        assert spec.grid["sg.weight_decay"] == list(p.reg_grid), spec.name
        assert "sg.weight_decay" not in spec.group_by
    cvx = [s for s in specs if s.grid["method"][0] in ("cvx", "sg-cvx")]
    assert all(s.grid["convex.reg"] == list(p.reg_grid) for s in cvx)


@pytest.mark.parametrize("name", list(PROTOCOLS))
def test_every_run_uses_separate_pretraining_and_finetuning_rows(name):
    p = PROTOCOLS[name]
    for suite in TABLE_SUITES:
        for spec in suite.specs(p):
            fraction = spec.base.stages.pretrain_fraction
            assert fraction is not None and 0 < fraction < 1, spec.name
