"""The ``sast`` suite of ``spikeopt reproduce`` (paper 004) on stores whose records the test sets."""

from __future__ import annotations

import dataclasses

from spikeopt.experiments.protocol import QUICK
from spikeopt.experiments.reproduce import reproduce
from spikeopt.experiments.store import Store
from spikeopt.experiments.suite_sast import SAST_SUITE, best_rho, gap_slope, sizes
from spikeopt.experiments.sweep import run_sweep

TINY = dataclasses.replace(QUICK, name="tiny")


def _fake(sam_helps: bool):
    """rho = 0 loses ``0.1 * slope`` accuracy to hard spikes (a gap that grows with the slope, so the
    largest slope is where SAM is judged); with ``sam_helps`` every rho > 0 closes it and is flatter."""
    def run(config):
        rho, slope = config.sast.rho, config.model.slope
        smooth = 0.9
        gap = 0.1 * slope if rho == 0 or not sam_helps else 0.0
        if config.method == "sg":
            return {"metrics": {"val": {"accuracy": 0.8}, "test": {"accuracy": 0.8}}}
        if config.sast.epochs == 2 * sizes(TINY).epochs:  # compute-matched: plain, twice the epochs
            gap = 0.1 * slope
        hard = smooth - gap
        flat = 0.01 if rho > 0 and sam_helps else 0.05
        sast = {"clean_accuracy": smooth, "transfer_gap": gap, "overhead": 2.0 if rho else 1.0,
                "calibration": {"ece": 0.05, "bins": [{"count": 1, "accuracy": hard, "confidence": 0.9}]},
                "theory": {"sharpness": flat, "input_grad_norm": flat * 10}}
        return {"metrics": {"val": {"accuracy": hard + rho / 100}, "test": {"accuracy": hard}}, "sast": sast}
    return run


def _claims(tmp_path, sam_helps):
    with Store(tmp_path / "runs.sqlite") as store:
        run_sweep(SAST_SUITE.specs(TINY), store, workers=0, run_fn=_fake(sam_helps), progress=False)
        return store, {c.claim.split(" (")[0]: c.verdict for c in SAST_SUITE.claims(TINY, store)}


def test_sam_is_judged_at_the_slope_with_the_largest_gap_and_its_claims_follow(tmp_path):
    _, helps = _claims(tmp_path / "a", True)
    with Store(tmp_path / "a" / "runs.sqlite") as store:
        assert gap_slope(TINY, store) == max(sizes(TINY).slopes)
        assert best_rho(TINY, store, gap_slope(TINY, store)).group["sast.rho"] == max(sizes(TINY).rhos)
    assert helps["SAM raises hard-spike accuracy over rho = 0"] == "holds"
    assert helps["SAM reduces the hard-spike transfer gap"] == "holds"
    assert helps["SAM beats compute-matched surrogate-forward training"] == "holds"
    assert helps["SAM lowers the input-gradient norm"] == "holds"
    assert helps["hard-spike accuracy 31.8% -> 63.3% at rho = 0.40"] == "not testable"
    _, hurts = _claims(tmp_path / "b", False)
    assert hurts["SAM raises hard-spike accuracy over rho = 0"] == "fails"
    assert hurts["SAM reduces the hard-spike transfer gap"] == "fails"


def test_claims_without_runs_are_not_run(tmp_path):
    with Store(tmp_path / "runs.sqlite") as store:
        verdicts = {c.verdict for c in SAST_SUITE.claims(TINY, store)}
    assert verdicts == {"not run", "not testable"}


def test_report_has_the_table_and_a_reliability_diagram(tmp_path):
    path, stats = reproduce(tmp_path, TINY, only=["sast"], workers=0, run_fn=_fake(True), progress=False)
    text = path.read_text()
    assert stats.failed == 0 and "compute-matched (rho=0, 2x epochs)" in text and "SG (hard forward)" in text
    assert (tmp_path / "sast_reliability.png").is_file()
