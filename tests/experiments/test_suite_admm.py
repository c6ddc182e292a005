"""The ``admm`` suite of ``spikeopt reproduce`` (paper 003) on stores whose curves the test sets."""

from __future__ import annotations

import dataclasses

from spikeopt.experiments.protocol import QUICK
from spikeopt.experiments.reproduce import reproduce
from spikeopt.experiments.store import Store
from spikeopt.experiments.suite_admm import ADMM_SUITE, sizes
from spikeopt.experiments.sweep import run_sweep

TINY = dataclasses.replace(QUICK, name="tiny")


def _fake(paper_like: bool):
    """Curves like the paper's (accuracy falling with depth, loss still falling, primal residual dropping
    after the warm-up) or the opposite."""
    def run(config):
        depth, n = config.model.depth, config.admm.iterations
        it = list(range(0, n + 1, 10))
        acc = (0.97 - 0.2 * (depth - 1)) if paper_like else 0.5 + 0.1 * depth
        loss = [10.0 - i / n for i in it] if paper_like else [10.0] * len(it)
        primal = [1.0 if i <= 0.3 * n else (1e-7 if paper_like else 0.5) for i in it]
        curves = {"iteration": it, "lagrangian": loss, "target_loss": loss, "primal_residual": primal,
                  "z_residual": [[1.0] * (depth + 1)] * len(it), "a_residual": [[1.0] * depth] * len(it),
                  "train_accuracy": [acc] * len(it), "val_accuracy": [acc] * len(it), "best_iteration": it[-1]}
        return {"metrics": {s: {"accuracy": acc} for s in ("train", "val", "test")}, "admm": curves}
    return run


def _verdicts(tmp_path, paper_like):
    with Store(tmp_path / "runs.sqlite") as store:
        run_sweep(ADMM_SUITE.specs(TINY), store, workers=0, run_fn=_fake(paper_like), progress=False)
        return [c.verdict for c in ADMM_SUITE.claims(TINY, store)]


def test_paper_like_curves_make_every_claim_hold_and_the_opposite_fail(tmp_path):
    assert _verdicts(tmp_path / "a", True)[:4] == ["holds"] * 4
    assert _verdicts(tmp_path / "b", False)[:4] == ["fails"] * 4


def test_without_runs_every_claim_is_not_run(tmp_path):
    with Store(tmp_path / "runs.sqlite") as store:
        assert {c.verdict for c in ADMM_SUITE.claims(TINY, store)} == {"not run"}


def test_report_shows_each_depth_and_the_curves(tmp_path):
    path, stats = reproduce(tmp_path, TINY, only=["admm"], workers=0, run_fn=_fake(True), progress=False)
    text = path.read_text()
    assert stats.failed == 0 and all(f"\n| {d} |" in text for d in sizes(TINY).depths)
    assert (tmp_path / "admm_curves_depth2.png").is_file()
