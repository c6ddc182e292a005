"""The store, `spikeopt results` export round trip, and the reproduce report rendered from a database."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

from spikeopt.cli import main
from spikeopt.experiments.protocol import QUICK
from spikeopt.experiments.reproduce import render_report, reproduce
from spikeopt.experiments.store import RunRecord, Store, load_records

sys.path.insert(0, str(Path(__file__).parent))
import fake_runs  # noqa: E402

TINY = dataclasses.replace(QUICK, name="tiny", lambda_grid=(0.5, 1.0), add_train_sizes=(64, 128))


def _records() -> list[RunRecord]:
    return [
        RunRecord("k1", "s/a", "ok", {"task": "addition", "method": "cvx", "seed": 0, "sg": {"lr": 0.001}},
                  {"test": {"acc": 0.25, "x": 1.0}}, {"primal": 1.5, "dual": 1.25, "gap": 0.25}, {"train_s": 1.0},
                  {"note": [1, 2]}, None, 2.5, 100.0),
        RunRecord("k2", "s/b", "failed", {"task": "first-last-xor", "method": "sg", "seed": 1}, error="Traceback\nboom",
                  seconds=0.1, finished_at=101.0),
    ]


def test_store_put_is_keyed_and_filterable(tmp_path):
    with Store(tmp_path / "db.sqlite") as store:
        for r in _records():
            store.put(r)
        store.put(_records()[0])  # same key: replaced, not duplicated
        assert store.finished() == {"k1", "k2"} and store.finished(include_failed=False) == {"k1"}
        assert [r.key for r in store.records(sweep="s/*", status="failed")] == ["k2"]
        assert store.get("k1") == _records()[0]
        assert store.sweeps() == {"s/a": {"ok": 1}, "s/b": {"failed": 1}}
    with pytest.raises(ValueError, match="status"):
        RunRecord("k", "s", "running", {})


@pytest.mark.parametrize("suffix", ["csv", "json"])
def test_results_export_round_trips(tmp_path, suffix, capsys):
    db = tmp_path / "db.sqlite"
    with Store(db) as store:
        for r in _records():
            store.put(r)
    out = tmp_path / f"runs.{suffix}"
    assert main(["results", "--db", str(db), "--export", str(out)]) == 0
    assert load_records(out) == _records()
    assert main(["results", "--db", str(db), "--status", "failed"]) == 0
    assert "boom" in capsys.readouterr().out
    assert main(["results", "--db", str(tmp_path / "missing.sqlite")]) == 2


def test_report_renders_from_stored_database(tmp_path):
    path, stats = reproduce(tmp_path, TINY, workers=0, run_fn=fake_runs.paper_run, progress=False)
    assert stats.failed == 0 and stats.done == stats.total > 0
    text = path.read_text()
    for n in range(1, 7):
        assert f"## Table {n}:" in text
    assert "0.954" in text and "▲" in text and "▼" in text  # paper values beside ours, marked
    pngs = {p.name for p in tmp_path.glob("*.png")}
    assert {"carry_sensitivity.png", "table6_accuracy_vs_train_size.png", "table4_accuracy_vs_depth.png",
            "table5_accuracy_vs_steps.png", "training_curves_xor-horizon-1.png"} <= pngs
    path.unlink()
    again = render_report(tmp_path, TINY)  # from the database alone, no runs
    assert again.read_text().split("## Table 1")[1] == text.split("## Table 1")[1]
    resumed, stats2 = reproduce(tmp_path, TINY, only=["table3"], workers=0, run_fn=fake_runs.paper_run,
                                progress=False)
    assert stats2.done == 0 and stats2.skipped == stats2.total


def test_reproduce_rejects_unknown_suite(tmp_path):
    assert main(["reproduce", "--quick", "--only", "table9", "--out", str(tmp_path)]) == 2


def test_table1_shows_the_objective_in_nats_and_in_bits(tmp_path):
    path, _ = reproduce(tmp_path, TINY, only=["table1"], workers=0, run_fn=fake_runs.paper_run, progress=False)
    text = path.read_text()
    assert "| primal (nats) | primal (bits) |" in text
    # the fake certificate's primal 0.5 nats is 0.5 / ln 2 = 0.72135 bits (hand-computed)
    assert "| 0.5000 | 0.7213 |" in text and "in bits a zero readout scores 1.000" in text
