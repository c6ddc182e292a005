"""Sweeps: a grid over any config fields x seeds, run in worker processes, stored as they finish.

A :class:`SweepSpec` names a base config, a grid of dotted config keys (``sg.lr``,
``task_options.lambda_carry``, ``method`` ...) and seeds. :func:`run_sweep` runs every grid point
for every seed once: runs already in the store are skipped (so a killed sweep resumes), a run that
raises is stored as ``failed`` with its traceback and the sweep goes on. Runs with equal configs
(same hash) are shared between sweeps and run once. Selection and aggregation live in ``select.py``.
"""

from __future__ import annotations

import ctypes
import itertools
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml

from spikeopt.experiments.config import RunConfig, progress_off
from spikeopt.experiments.progress import Progress
from spikeopt.experiments.run import run
from spikeopt.experiments.store import RunRecord, Store
from spikeopt.validation import check_int

RunFn = Callable[[RunConfig], dict[str, Any]]


class SweepInterrupted(RuntimeError):
    """A worker died or the sweep was interrupted; finished runs are stored, rerun to resume."""


@dataclass
class SweepSpec:
    """A grid over dotted config keys x seeds, with the validation metric that selects a point.

    ``group_by`` names grid keys that are *not* selected over (each value is a row of the result,
    e.g. ``method`` or ``model.depth``); every other grid key is a hyperparameter chosen per seed by
    ``select`` (``split.metric``, maximised unless ``mode='min'``).
    """

    name: str
    base: RunConfig
    grid: dict[str, list[Any]] = field(default_factory=dict)
    seeds: list[int] = field(default_factory=lambda: [0])
    select: str = "val.accuracy"
    mode: str = "max"
    group_by: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a sweep needs a non-empty name")
        if not isinstance(self.base, RunConfig):
            raise TypeError(f"sweep {self.name!r}: base must be a RunConfig, got {type(self.base).__name__}")
        for key, values in self.grid.items():
            if key == "seed":
                raise ValueError(f"sweep {self.name!r}: give seeds with seeds=[...], not as a grid key")
            if not isinstance(values, (list, tuple)) or not values:
                raise ValueError(f"sweep {self.name!r}: grid key {key!r} needs a non-empty list of values")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"sweep {self.name!r}: seeds must be a non-empty list of distinct integers")
        if self.mode not in ("max", "min"):
            raise ValueError(f"sweep {self.name!r}: mode must be 'max' or 'min', got {self.mode!r}")
        if "." not in self.select:
            raise ValueError(f"sweep {self.name!r}: select must look like split.metric, e.g. val.accuracy")
        missing = [k for k in self.group_by if k not in self.grid]
        if missing:
            raise ValueError(f"sweep {self.name!r}: group_by keys {missing} are not grid keys {list(self.grid)}")
        self.configs()  # every grid point must make a valid config: fail before anything runs

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SweepSpec:
        """``{name, base: <run config>, grid: {key: [values]}, seeds, select, mode, group_by}``."""
        if not isinstance(data, dict):
            raise TypeError(f"a sweep must be a mapping, got {type(data).__name__}")
        valid = {"name", "base", "grid", "seeds", "select", "mode", "group_by"}
        unknown = sorted(set(data) - valid)
        if unknown:
            raise ValueError(f"unknown sweep key(s) {unknown}; valid keys: {sorted(valid)}")
        kwargs = {k: v for k, v in data.items() if k != "base"}
        return cls(base=RunConfig.from_dict(data.get("base") or {}), **kwargs)

    @classmethod
    def from_yaml(cls, path: str | Path) -> SweepSpec:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"sweep file {path} does not exist")
        return cls.from_dict(yaml.safe_load(path.read_text()) or {})

    def points(self) -> list[dict[str, Any]]:
        """Grid points in a fixed order (the product of the grid's values)."""
        keys = list(self.grid)
        return [dict(zip(keys, combo)) for combo in itertools.product(*(self.grid[k] for k in keys))]

    def configs(self) -> list[tuple[dict[str, Any], RunConfig]]:
        """(grid point, full config) for every point x seed."""
        out = []
        for point in self.points():
            try:
                cfg = self.base.with_values(point)
            except (ValueError, TypeError) as err:
                raise ValueError(f"sweep {self.name!r}: grid point {point} is not a valid config: {err}") from None
            for seed in self.seeds:
                out.append((point, cfg.with_values({"seed": seed})))
        return out


@dataclass
class SweepStats:
    total: int = 0
    skipped: int = 0
    done: int = 0
    failed: int = 0
    seconds: float = 0.0


def default_run(config: RunConfig) -> dict[str, Any]:
    """The real run, quiet (no per-epoch bars inside workers)."""
    config = config.override(progress_off())
    return run(config)


def _init_worker(parent: int | None = None) -> None:
    """One thread per worker; Ctrl-C is the driver's to handle; die with the driver (see below)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if parent is not None:
        die_with_parent(parent)
    torch.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")


PDEATHSIG_POLL_S = 1.0


def die_with_parent(parent: int) -> None:
    """End this worker as soon as process ``parent`` (the sweep driver) is gone, even by SIGKILL.

    Linux: the kernel sends SIGKILL when the parent dies (``prctl(PR_SET_PDEATHSIG)``). Everywhere:
    a daemon thread also polls the parent id once a second. Workers only compute and return results;
    the driver alone writes the store, so an orphan has nothing to save and exits at once.
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(PDEATHSIG_POLL_S)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="spikeopt-parent-watch", daemon=True).start()


def _execute(run_fn: RunFn, config: dict[str, Any]) -> tuple[str, dict[str, Any] | str, float]:
    """Run one config; an exception becomes ('failed', traceback) instead of stopping the sweep."""
    t0 = time.perf_counter()
    try:
        result = run_fn(RunConfig.from_dict(config))
        return "ok", result, time.perf_counter() - t0
    except Exception:  # noqa: BLE001 - any failure of one run is recorded, not raised
        return "failed", traceback.format_exc(limit=8), time.perf_counter() - t0


def _record(key: str, sweep: str, config: dict[str, Any], status: str, payload: Any, seconds: float) -> RunRecord:
    if status == "failed":
        return RunRecord(key, sweep, "failed", config, error=str(payload), seconds=seconds)
    result = dict(payload)
    metrics = result.pop("metrics", {}) or {}
    certificate = result.pop("certificate", None)
    timings = result.pop("timings", {}) or {}
    result.pop("config", None)
    return RunRecord(key, sweep, "ok", config, metrics, certificate, timings, result, seconds=seconds)


def plan(specs: list[SweepSpec]) -> list[tuple[str, str, dict[str, Any]]]:
    """Unique (key, sweep name, config dict) jobs of ``specs``, in order; shared configs once."""
    jobs: dict[str, tuple[str, str, dict[str, Any]]] = {}
    for spec in specs:
        for _, cfg in spec.configs():
            jobs.setdefault(cfg.key(), (cfg.key(), spec.name, cfg.to_dict()))
    return list(jobs.values())


def run_sweep(
    specs: SweepSpec | list[SweepSpec],
    store: Store,
    workers: int = 2,
    run_fn: RunFn = default_run,
    retry_failed: bool = False,
    progress: bool = True,
) -> SweepStats:
    """Run every not-yet-stored job of ``specs`` with ``workers`` processes (0 or 1: in this process).

    ``run_fn`` must be importable by name (a module-level function) when ``workers > 1``.
    Raises :class:`SweepInterrupted` when a worker process dies; what finished is kept.
    """
    specs = [specs] if isinstance(specs, SweepSpec) else list(specs)
    check_int(workers, "workers", 0)
    jobs = plan(specs)
    done_keys = store.finished(include_failed=not retry_failed)
    todo = [j for j in jobs if j[0] not in done_keys]
    stats = SweepStats(total=len(jobs), skipped=len(jobs) - len(todo))
    t0 = time.perf_counter()
    bar = Progress(len(jobs), stats.skipped, max(workers, 1), enabled=progress)
    try:
        if workers <= 1:
            for key, sweep, config in todo:
                bar.started()
                status, payload, seconds = _execute(run_fn, config)
                _store(store, bar, stats, _record(key, sweep, config, status, payload, seconds))
        else:
            _run_pool(todo, store, workers, run_fn, bar, stats)
    finally:
        bar.close()
        stats.seconds = time.perf_counter() - t0
    return stats


def _store(store: Store, bar: Progress, stats: SweepStats, record: RunRecord) -> None:
    store.put(record)
    if record.status == "ok":
        stats.done += 1
    else:
        stats.failed += 1
    bar.finished(record.status == "ok", record.seconds or 0.0)


Job = tuple[str, str, dict[str, Any]]
_WORKER_DIED = "a worker process died (killed or os._exit); finished runs are stored, run the sweep again to resume"


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Terminate the pool's worker processes (their unfinished runs are simply not stored)."""
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        if proc.is_alive():
            proc.terminate()


def _run_pool(todo: list[Job], store: Store, workers: int, run_fn: RunFn, bar: Progress, stats: SweepStats) -> None:
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                               initargs=(os.getpid(),))
    pending: dict[Future, Job] = {}
    queue = list(todo)
    try:
        while queue or pending:
            while queue and len(pending) < workers:  # keep exactly `workers` runs in flight
                try:
                    future = pool.submit(_execute, run_fn, queue[0][2])
                except BrokenProcessPool as err:  # a worker died after the last wait returned
                    raise SweepInterrupted(_WORKER_DIED) from err
                pending[future] = queue.pop(0)
                bar.started()
            finished, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            for fut in finished:
                key, sweep, config = pending.pop(fut)
                try:
                    status, payload, seconds = fut.result()
                except BrokenProcessPool as err:
                    raise SweepInterrupted(_WORKER_DIED) from err
                except Exception as err:  # noqa: BLE001 - e.g. a result that cannot be pickled: a failed run
                    status, payload, seconds = "failed", f"{type(err).__name__}: {err}", 0.0
                except BaseException as err:  # SystemExit / KeyboardInterrupt raised inside a worker
                    raise SweepInterrupted(f"a worker was interrupted ({type(err).__name__}); rerun to resume") from err
                _store(store, bar, stats, _record(key, sweep, config, status, payload, seconds))
    except KeyboardInterrupt:
        _stop_workers(pool)  # do not wait minutes for the runs in flight
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        for fut, (key, sweep, config) in pending.items():  # keep runs that finished while stopping
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                _store(store, bar, stats, _record(key, sweep, config, *fut.result()))
