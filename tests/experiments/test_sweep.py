"""Sweeps: selection and aggregation on a fake grid, failures recorded, resume after a kill."""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

import pytest

from spikeopt.experiments.config import RunConfig
from spikeopt.experiments.select import summarize, spec_records
from spikeopt.experiments.store import Store
from spikeopt.experiments.sweep import SweepInterrupted, SweepSpec, run_sweep

sys.path.insert(0, str(Path(__file__).parent))
import fake_runs  # noqa: E402


def _spec(**opts) -> SweepSpec:
    base = RunConfig(task="first-last-xor", task_options=dict(opts))
    return SweepSpec("fake", base, {"task_options.g": ["a", "b"], "task_options.x": [1, 2, 3]},
                     seeds=[0, 1], select="val.score", group_by=["task_options.g"])


def test_selection_and_aggregation(tmp_path):
    spec = _spec()
    with Store(tmp_path / "runs.sqlite") as store:
        stats = run_sweep(spec, store, workers=0, run_fn=fake_runs.scored_run, progress=False)
        assert (stats.total, stats.done, stats.failed) == (12, 12, 0)
        summaries = summarize(spec, spec_records(spec, store))
    assert [s.group for s in summaries] == [{"task_options.g": "a"}, {"task_options.g": "b"}]
    for s in summaries:  # seed 0 picks x=2 (test 20), seed 1 picks x=3 (test 31)
        assert s.chosen == {0: {"task_options.x": 2}, 1: {"task_options.x": 3}}
        stat = s.metrics["test.score"]
        assert stat.n == 2 and stat.mean == pytest.approx(25.5)
        assert stat.std == pytest.approx(statistics.stdev([20.0, 31.0]))


def test_failed_runs_are_recorded_and_do_not_stop_the_sweep(tmp_path):
    base = RunConfig(task_options={})
    spec = SweepSpec("f", base, {"task_options.x": [1, "bad", 3]}, seeds=[0], select="val.score")
    with Store(tmp_path / "runs.sqlite") as store:
        stats = run_sweep(spec, store, workers=0, run_fn=fake_runs.scored_run, progress=False)
        assert (stats.done, stats.failed) == (2, 1)
        failed = list(store.records(status="failed"))
        assert len(failed) == 1 and "broken on purpose" in failed[0].error
        assert failed[0].config["task_options"]["x"] == "bad"
        (summary,) = summarize(spec, spec_records(spec, store))
        assert summary.failed == 1 and summary.chosen == {0: {"task_options.x": 1}}  # tie: first in grid order
        again = run_sweep(spec, store, workers=0, run_fn=fake_runs.scored_run, progress=False)
        assert (again.skipped, again.done) == (3, 0)
        retry = run_sweep(spec, store, workers=0, run_fn=fake_runs.scored_run, progress=False, retry_failed=True)
        assert (retry.skipped, retry.failed) == (2, 1)


def _resume(tmp_path, workers: int, crash_with: str, expected: type[BaseException]) -> None:
    log = tmp_path / "log.txt"
    spec = _spec(crash_at=2, marker=str(tmp_path / "marker"), log=str(log), crash_with=crash_with)
    keys = {cfg.key() for _, cfg in spec.configs()}
    with Store(tmp_path / "runs.sqlite") as store:
        with pytest.raises(expected):
            run_sweep(spec, store, workers=workers, run_fn=fake_runs.scored_run, progress=False)
        first = store.finished()
        assert first < keys  # stopped part-way, what finished is stored
        stats = run_sweep(spec, store, workers=workers, run_fn=fake_runs.scored_run, progress=False)
        assert stats.skipped == len(first) and stats.done == len(keys) - len(first) and stats.failed == 0
        records = list(store.records())
    assert sorted(r.key for r in records) == sorted(keys)  # every run stored exactly once
    assert all(r.status == "ok" for r in records)
    second_half = log.read_text().split()[-stats.done:]
    assert not set(second_half) & first  # nothing stored before the kill ran again


def test_driver_interrupt_then_resume(tmp_path):
    _resume(tmp_path, workers=0, crash_with="interrupt", expected=KeyboardInterrupt)


def test_killed_worker_then_resume(tmp_path):
    _resume(tmp_path, workers=2, crash_with="exit", expected=SweepInterrupted)


def test_bad_specs_raise():
    base = RunConfig()
    with pytest.raises(ValueError, match="non-empty list"):
        SweepSpec("s", base, {"sg.lr": []})
    with pytest.raises(ValueError, match="not grid keys"):
        SweepSpec("s", base, {"sg.lr": [1e-3]}, group_by=["method"])
    with pytest.raises(ValueError, match="not a valid config"):
        SweepSpec("s", base, {"sg.lr": [-1.0]})
    with pytest.raises(ValueError, match="seeds"):
        SweepSpec("s", base, {"sg.lr": [1e-3]}, seeds=[0, 0])


def test_sweep_from_yaml_and_config_keys(tmp_path):
    path = tmp_path / "sweep.yaml"
    path.write_text("name: demo\nbase: {task: addition, method: cvx}\n"
                    "grid: {convex.reg: [1.0e-3, 1.0e-2], task_options.base: [2, 3]}\n"
                    "seeds: [0, 1]\nselect: val.joint_token_accuracy\ngroup_by: [task_options.base]\n")
    spec = SweepSpec.from_yaml(path)
    configs = spec.configs()
    assert len(configs) == 8 and len({cfg.key() for _, cfg in configs}) == 8
    point, cfg = configs[0]
    assert point == {"convex.reg": 1e-3, "task_options.base": 2} and cfg.convex.reg == 1e-3
    assert RunConfig.from_dict(cfg.to_dict()).key() == cfg.key()  # the key survives a JSON round trip
    with pytest.raises(ValueError, match="unknown sweep key"):
        SweepSpec.from_dict({"name": "x", "grids": {}})


def test_a_worker_dying_between_waits_interrupts_cleanly(tmp_path, monkeypatch):
    """The pool can break after a wait returns and before the next submit (a race CI hit once):
    that is the same interruption, with the finished runs stored, not a BrokenProcessPool traceback."""
    from concurrent.futures.process import BrokenProcessPool

    import spikeopt.experiments.sweep as sweep

    class BreaksOnThirdSubmit(sweep.ProcessPoolExecutor):
        submits = 0

        def submit(self, *a, **kw):
            type(self).submits += 1
            if type(self).submits == 3:
                raise BrokenProcessPool("a child process terminated abruptly")
            return super().submit(*a, **kw)

    monkeypatch.setattr(sweep, "ProcessPoolExecutor", BreaksOnThirdSubmit)
    spec = _spec()
    with Store(tmp_path / "runs.sqlite") as store:
        with pytest.raises(SweepInterrupted, match="run the sweep again"):
            run_sweep(spec, store, workers=2, run_fn=fake_runs.scored_run, progress=False)
        assert len(store.finished()) >= 1  # the run that freed the slot is stored
