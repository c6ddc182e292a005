"""A reproduce driver killed (SIGKILL) or interrupted (Ctrl-C = SIGINT) leaves no worker running,
a consistent store, and a resume that runs every remaining run exactly once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

import spikeopt
from spikeopt.cli import main
from spikeopt.experiments import reproduce as reproduce_mod
from spikeopt.experiments.reproduce import resolve
from spikeopt.experiments.sweep import plan
from spikeopt.experiments.suites import SUITES

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
import fake_runs  # noqa: E402

SRC = str(Path(spikeopt.__file__).resolve().parents[1])  # the spikeopt under test
DRIVER = f"""
import sys
sys.path.insert(0, {str(HERE)!r})
import fake_runs
import spikeopt.experiments.reproduce as r
r.default_run = fake_runs.slow_paper_run
from spikeopt.cli import main
sys.exit(main(sys.argv[1:]))
"""
LIMIT_S = 60.0  # generous bound for slow shared machines; orphans used to live as long as their run


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        return state not in ("Z", "X")  # a zombie has exited
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def _wait(predicate, what: str) -> None:
    deadline = time.monotonic() + LIMIT_S
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


def _start(tmp_path: Path) -> tuple[subprocess.Popen, list[int]]:
    (tmp_path / "slow").write_text("")
    env = {**os.environ, "SPIKEOPT_TEST_DIR": str(tmp_path), "PYTHONPATH": SRC,
           "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", DRIVER, "reproduce", "--out", str(tmp_path / "out"), "--only", "table1",
         "--workers", "2", "--no-progress"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    sleeping = lambda: sorted(tmp_path.glob("sleeping-*"))  # noqa: E731
    try:
        _wait(lambda: len(sleeping()) == 2 or proc.poll() is not None, "two workers in a long run")
        assert proc.poll() is None, proc.communicate()
    except BaseException:
        proc.kill()  # never leave the driver behind (its workers follow it)
        (tmp_path / "slow").unlink(missing_ok=True)
        raise
    return proc, [int(p.name.split("-")[1]) for p in sleeping()]


def _resume_and_check(tmp_path: Path, monkeypatch) -> None:
    db = tmp_path / "out" / "runs.sqlite"
    with sqlite3.connect(db) as con:  # the store is consistent: integrity ok, whole rows only
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = con.execute("SELECT key, status, metrics FROM runs").fetchall()
    assert all(status == "ok" and metrics for _, status, metrics in rows)
    (tmp_path / "slow").unlink()
    monkeypatch.setenv("SPIKEOPT_TEST_DIR", str(tmp_path))
    monkeypatch.setattr(reproduce_mod, "default_run", fake_runs.slow_paper_run)
    assert main(["reproduce", "--out", str(tmp_path / "out"), "--only", "table1", "--workers", "0",
                 "--no-progress"]) == 0
    p, names = resolve("quick", ["table1"])
    jobs = {key for key, _, _ in plan([s for n in names for s in SUITES[n].specs(p)])}
    finished = Counter((tmp_path / "log").read_text().split())
    assert set(finished) == jobs and set(finished.values()) == {1}  # every run exactly once


def test_sigkill_of_the_driver_ends_its_workers(tmp_path, monkeypatch):
    proc, workers = _start(tmp_path)
    proc.kill()
    proc.wait()
    _wait(lambda: not any(_alive(pid) for pid in workers), f"orphaned workers {workers} to exit")
    _resume_and_check(tmp_path, monkeypatch)


def test_ctrl_c_prints_one_line_and_exits_130(tmp_path, monkeypatch):
    proc, workers = _start(tmp_path)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=LIMIT_S)
    assert proc.returncode == 130
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "stored in" in lines[0] and "resume with: spikeopt reproduce --out" in lines[0]
    _wait(lambda: not any(_alive(pid) for pid in workers), f"workers {workers} to exit")
    _resume_and_check(tmp_path, monkeypatch)
