"""The ``spikeopt results`` and ``spikeopt reproduce`` commands (cli.py dispatches here)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from spikeopt.cli import Interrupted
from spikeopt.experiments.outputs import (
    check_distinct,
    check_output_file,
    check_output_folder,
)
from spikeopt.experiments.reproduce import DB_NAME, render_report, reproduce, resolve
from spikeopt.experiments.store import RunRecord, Store, export_records
from spikeopt.experiments.suites import SUITES


def results_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="spikeopt results", description="Query and export the runs of a sweep database.")
    p.add_argument("--db", required=True, help="run database (e.g. OUT/runs.sqlite from `spikeopt reproduce`)")
    p.add_argument("--sweep", help="only sweeps matching this name pattern (* wildcards), e.g. 'table3/*'")
    p.add_argument("--status", choices=["ok", "failed"], help="only runs with this status")
    p.add_argument("--metrics", default=None,
                   help="comma-separated split.metric columns to print (default: the first test metric)")
    p.add_argument("--export", help="write the selected runs to this .csv or .json file")
    p.add_argument("--format", choices=["csv", "json"], help="export format (default: from the file suffix)")
    p.add_argument("--summary", action="store_true", help="print run counts per sweep and status only")
    return p


def cmd_results(argv: list[str]) -> int:
    args = results_parser().parse_args(argv)
    if not Path(args.db).is_file():
        raise FileNotFoundError(f"run database {args.db} does not exist; give the runs.sqlite of a sweep")
    if args.export:
        check_output_file(args.export, "--export")
        check_distinct({"--db": args.db, "--export": args.export})
    with Store(args.db, read_only=True) as store:
        if args.summary:
            for sweep, counts in sorted(store.sweeps().items()):
                print(f"{sweep}: " + "  ".join(f"{k} {v}" for k, v in sorted(counts.items())))
        records = list(store.records(sweep=args.sweep, status=args.status))
    if args.export:  # with --summary too: `--summary --export runs.csv` prints the summary and exports
        path = export_records(records, args.export, args.format)
        print(f"{len(records)} run(s) written to {path}")
        return 0
    if args.summary:
        return 0
    metrics = [m.strip() for m in args.metrics.split(",")] if args.metrics else None
    print(_format(records, metrics))
    return 0


def swept_keys(records: list[RunRecord]) -> list[str]:
    """Dotted config keys whose values differ between ``records`` (except the seed, shown anyway):
    what tells the rows of one sweep apart."""
    flat = [_flatten(r.config) for r in records]
    keys = sorted({k for f in flat for k in f})
    return [k for k in keys if k != "seed" and len({repr(f.get(k)) for f in flat}) > 1]


def _flatten(data: dict, prefix: str = "") -> dict:
    out: dict = {}
    for k, v in data.items():
        if isinstance(v, dict) and v:
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _short(key: str) -> str:
    return key.removeprefix("task_options.")


def _format(records: list[RunRecord], metrics: list[str] | None) -> str:
    if not records:
        return "no runs match"
    lines = []
    swept = [k for k in swept_keys(records) if k not in ("task", "method")]
    for r in records:
        flat = _flatten(r.config)
        params = "  ".join(f"{_short(k)}={flat.get(k, '-')}" for k in swept)
        names = metrics or [f"test.{next(iter(r.metrics.get('test', {'-': 0})))}"]
        values = "  ".join(f"{m} {v:.4f}" if (v := r.metric(m)) is not None else f"{m} -" for m in names)
        cfg = r.config
        err = f"  error: {(r.error or '').strip().splitlines()[-1]}" if r.status == "failed" and r.error else ""
        lines.append(f"{r.key}  {r.sweep:<34} {r.status:<6} {cfg.get('task', '?'):<15} {cfg.get('method', '?'):<7} "
                     f"seed {cfg.get('seed', '?')}  {params + '  ' if params else ''}{values}  ({r.seconds or 0:.1f}s){err}")
    return "\n".join(lines) + f"\n{len(records)} run(s)"


def reproduce_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="spikeopt reproduce",
        description="Run the papers' suites (paper 001's Tables 1-6 and its direct ablation, paper 003's ADMM, paper "
                    "004's SAST) on our tasks and write OUT/report.md: a claims table with verdicts, then each suite "
                    "with plots (resumable).")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="reduced protocol, minutes on 2 CPU cores (default)")
    mode.add_argument("--full", action="store_true", help="the paper's protocol as far as its text gives it (hours)")
    p.add_argument("--only", action="append", default=[], metavar="TABLE",
                   help="run only these suites: table1 ... table6, direct, sast, admm (repeat or comma-separate)")
    p.add_argument("--out", required=True, help="output folder: runs.sqlite, report.md, plots")
    p.add_argument("--workers", type=int, default=2, help="parallel worker processes (default 2; 0 = in process)")
    p.add_argument("--data-dir", default=None, metavar="DIR",
                   help="MNIST-format IDX files (MNIST, Fashion-MNIST or EMNIST layout) for the mnist-seq rows of "
                        "Tables 2 and 5 instead of the built-in 8x8 digits; give it again with --report-only")
    p.add_argument("--report-only", action="store_true", help="only re-render report.md from the stored runs")
    p.add_argument("--estimate", action="store_true",
                   help="only estimate the time per table (one probe run per run shape, SG stages cut to one epoch) "
                        "and exit; --full always prints this estimate before it starts")
    p.add_argument("--retry-failed", action="store_true", help="run failed runs again instead of skipping them")
    p.add_argument("--no-progress", action="store_true", help="hide the live progress bar")
    return p


def print_estimates(out: str, protocol: str, only: list[str] | None, workers: int, data_dir: str | None) -> None:
    """The time each table still needs, measured by probes (``experiments/estimate.py``), before any run."""
    from spikeopt.experiments.estimate import describe, describe_seconds, estimate

    p, names = resolve(protocol, only, data_dir)
    db = Path(out) / DB_NAME
    done: set[str] = set()
    if db.is_file():
        with Store(db, read_only=True) as store:
            done = store.finished()
    print(f"estimating the time of reproduce --{p.name} (probes run first)...", flush=True)
    total = 0.0
    for name in names:
        # sweep workers run one torch thread each: probe the same way, or a 2-thread probe halves the estimate
        e = estimate(SUITES[name].specs(p), done, threads=1 if workers >= 1 else None)
        total += e.wall(workers)
        print("  " + describe(name, e, workers), flush=True)
    print(f"  total: about {describe_seconds(total)} (tables that share runs count them once each; an upper estimate: "
          "early stopping only shortens runs)", flush=True)


def cmd_reproduce(argv: list[str]) -> int:
    args = reproduce_parser().parse_args(argv)
    protocol = "full" if args.full else "quick"
    only = [n.strip() for item in args.only for n in item.split(",") if n.strip()] or None
    if args.workers < 0:
        raise ValueError(f"--workers must be >= 0, got {args.workers}")
    resolve(protocol, only, args.data_dir)  # bad suite names or data folders fail before anything is created
    check_output_folder(args.out, "--out")
    t0 = time.perf_counter()
    if args.report_only:
        path = render_report(args.out, protocol, only, data_dir=args.data_dir)
        print(f"report written to {path}")
        return 0
    if args.estimate or args.full:
        print_estimates(args.out, protocol, only, args.workers, args.data_dir)
        if args.estimate:
            return 0
    try:
        path, stats = reproduce(args.out, protocol, only, workers=args.workers, progress=not args.no_progress,
                                retry_failed=args.retry_failed, data_dir=args.data_dir)
    except KeyboardInterrupt:
        db = Path(args.out) / DB_NAME
        stored = 0
        if db.is_file():
            with Store(db, read_only=True) as store:
                stored = len(store.finished())
        raise Interrupted(f"{stored} finished run(s) are stored in {db}, the next start skips them") from None
    print(f"{stats.total} runs: {stats.skipped} already stored, {stats.done} done, {stats.failed} failed; "
          f"{(time.perf_counter() - t0) / 60:.1f} min")
    print(f"report written to {path}")
    return 1 if stats.failed else 0
