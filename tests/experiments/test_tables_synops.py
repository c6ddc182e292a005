"""The reproduction tables show each method's stored SynOps per sample beside its accuracy."""

from __future__ import annotations

import dataclasses
import statistics
import sys
from pathlib import Path

from spikeopt.experiments.protocol import QUICK
from spikeopt.experiments.reproduce import reproduce
from spikeopt.experiments.tables import t1_specs

sys.path.insert(0, str(Path(__file__).parent))
import fake_runs

TINY = dataclasses.replace(QUICK, name="tiny", lambda_grid=(0.5, 1.0), add_train_sizes=(64, 128))
CODE = {"cvx": 1, "sg-cvx": 2, "sg": 3, "sg-sg": 4, "cvx-sg": 5}


def _total(cfg) -> float:
    """A SynOps count that says which method, depth, width and seed it came from."""
    return 1000.0 * CODE[cfg.method] + 10.0 * cfg.model.depth + cfg.model.subnetworks / 4 + 3.0 * cfg.seed


def _run_with_synops(config):
    out = fake_runs.paper_run(config)
    out["synops"] = {"split": "test", "synops_per_sample": {"total": _total(config)}}
    return out


def _table(text: str, title: str) -> list[dict[str, str]]:
    """The first Markdown table after ``title`` as a list of {header: cell}."""
    lines = text.split(title, 1)[1].splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("|"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    cells = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines[start:end]]
    return [dict(zip(cells[0], row, strict=True)) for row in cells[2:]]


def _expected(method: str, depth: int, subnetworks: int) -> tuple[float, float]:
    vals = [1000.0 * CODE[method] + 10.0 * depth + subnetworks / 4 + 3.0 * s for s in TINY.seeds]
    return statistics.fmean(vals), statistics.stdev(vals)


def _check(cell: str, mean: float, std: float) -> None:
    shown_mean, shown_std = (float(v) for v in cell.split("±"))
    assert abs(shown_mean - mean) <= 5e-4 * mean and abs(shown_std - std) <= 0.05 * std, (cell, mean, std)


def test_tables_show_the_stored_synops(tmp_path):
    assert len(TINY.seeds) == 2
    tables = [f"table{n}" for n in range(1, 7)]  # the suites of paper 001's tables, which show SynOps
    path, stats = reproduce(tmp_path, TINY, only=tables, workers=0, run_fn=_run_with_synops, progress=False)
    assert stats.failed == 0
    text = path.read_text()

    t1 = _table(text, "## Table 1")
    assert len(t1) == len(TINY.table1_counts)
    depth = t1_specs(TINY)[0].base.model.depth
    for row in t1:
        _check(row["SynOps/sample (ours)"], *_expected("cvx", depth, int(row["K"])))

    t2 = _table(text, "## Table 2")
    assert t2
    for row in t2:
        depth = int(row["setting"].split("depth ")[1].rstrip(")"))
        for kind in ("CVX", "SG"):
            variant = row[f"best {kind} variant (ours)"].rsplit("(", 1)[1].rstrip(")")
            _check(row[f"SynOps/sample ({kind})"], *_expected(variant, depth, TINY.subnetworks))

    t4 = [r for r in _table(text, "## Table 4") if r["depth (ours)"] != "—"]  # paper rows beyond ours
    assert [int(r["depth (ours)"]) for r in t4] == list(TINY.xor_depths)
    for row in t4:
        _check(row["CVX SynOps/sample"], *_expected("cvx", int(row["depth (ours)"]), TINY.subnetworks))
        _check(row["SG SynOps/sample"], *_expected("sg", int(row["depth (ours)"]), TINY.subnetworks))

    for title, header in (("## Table 3", "SynOps/sample (test)"), ("## Table 5", "CVX SynOps/sample"),
                          ("## Table 6", "SG SynOps/sample")):
        rows = _table(text, title)
        shown = [r[header] for r in rows if r[header] != "—"]
        assert shown and all(float(c.split("±")[0]) > 1000 for c in shown), title


def test_runs_without_synops_leave_the_column_empty(tmp_path):
    path, _ = reproduce(tmp_path, TINY, only=["table1"], workers=0, run_fn=fake_runs.paper_run, progress=False)
    rows = _table(path.read_text(), "## Table 1")
    assert rows and all(r["SynOps/sample (ours)"] == "—" for r in rows)
