"""Time estimates of a reproduction: probes per run shape, SG stages scaled from one epoch."""

from __future__ import annotations

import pytest
import torch

from spikeopt.experiments.config import RunConfig
from spikeopt.experiments.estimate import describe, estimate, probe_seconds, shape_key
from spikeopt.experiments.sweep import SweepSpec, plan


def _base(**values) -> RunConfig:
    return RunConfig(task="first-last-xor", task_options={"steps": 4}).with_values(dict(values))


def test_seeds_and_selected_hyperparameters_share_a_shape_but_sizes_do_not():
    a = _base(method="sg-sg").to_dict()
    same = _base(**{"method": "sg-sg", "sg.lr": 0.1, "sg.weight_decay": 1e-3, "convex.reg": 0.5}).to_dict()
    same["seed"] = 7
    assert shape_key(a) == shape_key(same)
    for other in ({"sg.epochs": 3}, {"task_options.steps": 8}, {"model.depth": 2}, {"method": "sg"}):
        assert shape_key(_base(**{"method": "sg-sg", **other}).to_dict()) != shape_key(a), other


def test_surrogate_slope_is_cost_free_and_sam_rho_counts_only_as_zero_or_not():
    def key(rho, slope):
        return shape_key(_base(method="sast", **{"sast.rho": rho, "model.slope": slope}).to_dict())
    # the slope shapes the backward pass, not its cost; any rho > 0 takes SAM's two gradients per step
    assert key(0.1, 0.5) == key(0.3, 8.0) == key(0.05, 2.0)
    assert key(0.0, 0.5) == key(0.0, 8.0) != key(0.1, 0.5)


def test_probe_cuts_sg_stages_to_one_epoch_and_scales_their_time_back():
    seen = []

    def fake(config):
        seen.append((config.sg.epochs, config.finetune.epochs))
        return {"timings": {"sg_s": 2.0, "finetune_s": 0.5}}
    seconds = probe_seconds(_base(method="sg-sg", **{"sg.epochs": 10, "finetune.epochs": 5}), fake)
    assert seen == [(1, 1)]
    # hand-computed: the probe's own (tiny) wall time + 2.0 x 9 more epochs + 0.5 x 4 more epochs = 20 + wall
    assert 20.0 <= seconds < 20.5


def test_estimate_probes_one_run_per_shape_and_skips_stored_runs():
    calls = []

    def fake(config):
        calls.append(config.task_options["steps"])
        return {"timings": {}}
    spec = SweepSpec("s", _base(method="cvx"), {"convex.reg": [1e-3, 1e-2], "task_options.steps": [4, 8]}, [0, 1, 2],
                     group_by=["task_options.steps"])
    e = estimate([spec], set(), fake)
    assert (e.runs, e.shapes) == (12, 2) and sorted(calls) == [4, 8]
    done = {key for key, _, cfg in plan([spec]) if cfg["task_options"]["steps"] == 8}
    calls.clear()
    e2 = estimate([spec], done, fake)
    assert (e2.runs, e2.shapes, calls) == (6, 1, [4])
    assert describe("t", estimate([spec], {k for k, _, _ in plan([spec])}, fake), 2) == "t: every run is stored"
    assert e.wall(2) == pytest.approx(e.worker_seconds / 2)


def test_cli_estimate_only_prints_and_stores_nothing(tmp_path, capsys, monkeypatch):
    import spikeopt.experiments.estimate as est
    from spikeopt.cli import main

    threads = []
    monkeypatch.setattr(est, "default_run", lambda config: threads.append(torch.get_num_threads()) or {"timings": {}})
    monkeypatch.setattr(est.estimate, "__defaults__", (est.default_run, None))
    assert main(["reproduce", "--quick", "--only", "table1", "--estimate", "--out", str(tmp_path)]) == 0
    assert threads and set(threads) == {1}  # the default 2 workers run one thread each, so do the probes
    out = capsys.readouterr().out
    assert "table1: 16 runs left (4 shapes" in out and "total: about" in out
    assert not (tmp_path / "runs.sqlite").exists()


def test_probes_run_with_the_workers_thread_count_and_restore_it():
    seen = []
    before = torch.get_num_threads()
    spec = SweepSpec("s", _base(method="cvx"), {"task_options.steps": [4, 8]}, [0], group_by=["task_options.steps"])
    estimate([spec], set(), lambda config: seen.append(torch.get_num_threads()) or {"timings": {}}, threads=1)
    assert seen == [1, 1] and torch.get_num_threads() == before


def test_admm_probes_a_few_iterations_and_scales_them_back():
    from spikeopt.experiments.estimate import ADMM_PROBE_ITERATIONS

    seen = []

    def fake(config):
        seen.append(config.admm.iterations)
        return {"timings": {"admm_s": 0.5}}
    seconds = probe_seconds(_base(**{"method": "admm", "admm.iterations": 10 * ADMM_PROBE_ITERATIONS}), fake)
    assert seen == [ADMM_PROBE_ITERATIONS]
    assert 4.5 <= seconds < 5.0  # 0.5 s for a tenth of the iterations: 0.5 x 9 more, plus the probe's wall time


def test_a_failing_probe_is_reported_and_the_other_shapes_are_still_estimated():
    def fake(config):
        if config.task_options["steps"] == 8:
            raise ValueError("the convex solve at reg 0.0001 stopped short")
        return {"timings": {}}
    spec = SweepSpec("s", _base(method="cvx"), {"task_options.steps": [4, 8]}, [0, 1, 2],
                     group_by=["task_options.steps"])
    e = estimate([spec], set(), fake)
    assert (e.runs, e.shapes, e.failed_runs) == (6, 2, 3)
    assert e.first_error == "ValueError: the convex solve at reg 0.0001 stopped short"
    line = describe("t", e, 1)
    assert line.startswith("t: 6 runs left (2 shapes") and "the probe failed for 3 of the runs" in line
    assert "stopped short" in line
