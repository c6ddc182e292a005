"""``spikeopt reproduce``: run the suites of the paper's tables and write ``report.md`` with plots.

All runs go into ``<out>/runs.sqlite``; running again with the same protocol skips what is stored,
so an interrupted reproduction resumes, and ``render_report`` alone rebuilds the report.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from spikeopt.experiments.claims import render_claims
from spikeopt.experiments.protocol import PROTOCOLS, Protocol
from spikeopt.experiments.report import header
from spikeopt.experiments.store import Store
from spikeopt.experiments.suites import SUITES
from spikeopt.experiments.sweep import RunFn, SweepStats, default_run, run_sweep
from spikeopt.tasks.mnist_seq import find_idx_files

DB_NAME = "runs.sqlite"


def resolve(protocol: str | Protocol, only: list[str] | None,
            data_dir: str | Path | None = None) -> tuple[Protocol, list[str]]:
    """Check the protocol, the suite names and ``data_dir`` (MNIST-format IDX files for mnist-seq, checked
    before any run starts); errors list the valid ones."""
    if isinstance(protocol, str):
        if protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {protocol!r}; valid: {', '.join(PROTOCOLS)}")
        protocol = PROTOCOLS[protocol]
    if data_dir is not None:
        find_idx_files(data_dir)  # a wrong folder fails now, not after hours of other tables
        protocol = replace(protocol, mnist_data_dir=str(Path(data_dir).resolve()))
    names = list(only or SUITES)
    bad = [n for n in names if n not in SUITES]
    if bad:
        raise ValueError(f"unknown suite(s) {bad}; valid: {', '.join(SUITES)} (e.g. --only table3)")
    return protocol, names


def reproduce(
    out: str | Path, protocol: str | Protocol = "quick", only: list[str] | None = None, workers: int = 2,
    run_fn: RunFn | None = None, progress: bool = True, retry_failed: bool = False,
    data_dir: str | Path | None = None,
) -> tuple[Path, SweepStats]:
    """Run the suites (all runs in one pool, shared configs once), then write the report.

    ``data_dir``: MNIST / Fashion-MNIST / EMNIST IDX files that mnist-seq (Tables 2 and 5) runs on instead
    of the built-in 8x8 digits. ``run_fn`` defaults to this module's ``default_run``, looked up at call time."""
    run_fn = run_fn or default_run
    p, names = resolve(protocol, only, data_dir)
    out = Path(out)
    specs = [spec for n in names for spec in SUITES[n].specs(p)]
    with Store(out / DB_NAME) as store:
        stats = run_sweep(specs, store, workers=workers, run_fn=run_fn, retry_failed=retry_failed,
                          progress=progress)
    return render_report(out, p, names, stats), stats


def render_report(out: str | Path, protocol: str | Protocol = "quick", only: list[str] | None = None,
                  stats: SweepStats | None = None, data_dir: str | Path | None = None) -> Path:
    """Write ``<out>/report.md`` (and plots) from the runs stored in ``<out>/runs.sqlite``; pass the
    ``data_dir`` the runs used (their configs name it, so other runs are not mixed in)."""
    p, names = resolve(protocol, only, data_dir)
    out = Path(out)
    db = out / DB_NAME
    if not db.is_file():
        raise FileNotFoundError(f"no run database at {db}; run `spikeopt reproduce --out {out}` first")
    extra = []
    if stats is not None:
        extra = [f"Runs: {stats.total} in total, {stats.skipped} already stored, {stats.done} run now, "
                 f"{stats.failed} failed; sweep time {stats.seconds / 60:.1f} min.", ""]
    parts = [header(f"spikeopt reproduce --{p.name}", p.describe(), extra)]
    sections, claims = [], []
    with Store(db) as store:
        for n in names:
            suite = SUITES[n]
            body = suite.render(p, store, out)
            claims += suite.claims(p, store)
            notes = "".join(f"\n- {x}" for x in suite.notes)
            sections.append(f"## {suite.title}\n\n{body}\n{notes}\n")
    parts.append(f"## Claims: the papers' statements beside ours\n\n{render_claims(claims)}\n")
    parts += sections
    path = out / "report.md"
    path.write_text("\n".join(parts))
    return path
