"""The convex stage of a run: the reg path, validation selection, refusal of unconverged solves, growth.

References are independent: cold single solves + reconstruct + task.evaluate, and a plain loop for reg_max.
"""

import warnings

import numpy as np
import pytest
import torch

from spikeopt.convex import build_dictionary, reconstruct, solve
from spikeopt.convex.path import auto_regs
from spikeopt.convex.solution import ConvergenceWarning
from spikeopt.convex.witnesses import gaussian_witnesses
from spikeopt.snn.config import ModelConfig
from spikeopt.tasks import make_task
from spikeopt.train.convex_stage import UnconvergedSolveError, run_convex_stage
from spikeopt.train.pipelines import ConvexConfig, MethodSettings


def gaussian_candidates(task, model_cfg, subnetworks):
    """Candidate witnesses for column generation: ``subnetworks`` fresh Gaussian subnetworks per seed."""
    from dataclasses import replace

    return lambda s: gaussian_witnesses(task.in_features, replace(model_cfg, subnetworks=subnetworks), seed=s)

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def setup():
    task = make_task("first-last-xor", steps=4, n_train=200, n_val=60, n_test=50)
    splits = task.splits(0)
    witnesses = gaussian_witnesses(task.in_features, ModelConfig(subnetworks=8, width=4), seed=0)
    return task, splits, witnesses


def _cold(task, splits, witnesses, reg, tol=1e-6):
    """An independent single solve at ``reg``, rebuilt and scored."""
    D = build_dictionary(witnesses, splits["train"].x, "final")
    sol = solve(D.atoms, splits["train"].y.numpy(), reg, loss=list(task.heads), tol=tol)
    net, _ = reconstruct(witnesses, D, sol.coef, sol.intercept, task.readout)
    return sol, task.evaluate(net, splits["train"]), task.evaluate(net, splits["val"])


def _val_loss(task, splits, witnesses, reg):
    """Mean cross-entropy of the cold network's validation logits, by torch's own function."""
    sol = _cold(task, splits, witnesses, reg)[0]
    atoms = build_dictionary(witnesses, splits["train"].x, "final").source  # (k, j) of every solved atom
    spikes = witnesses.hidden_spikes(splits["val"].x)[-1].flatten(-2).double().numpy()  # last step, [N, K*m]
    logits = spikes[:, [k * witnesses.width + j for k, j in atoms]] @ sol.coef + sol.intercept
    return float(torch.nn.functional.cross_entropy(torch.as_tensor(logits), splits["val"].y[:, 0]))


def test_selected_point_equals_an_independent_solve_and_evaluation(setup):
    task, splits, witnesses = setup
    regs = [3e-2, 1e-2, 3e-3]
    cfg = ConvexConfig(reg=regs, select="val", refit=False)  # the selected training-split solve itself
    model, info = run_convex_stage(task, splits["train"], splits["val"], witnesses, cfg, CPU)
    path = info["path"]
    assert [p["reg"] for p in path] == regs and sum(p["selected"] for p in path) == 1
    cold = {r: _cold(task, splits, witnesses, r) for r in regs}
    for p in path:  # warm-started path solutions match cold solves within the tolerance
        sol, train_m, val_m = cold[p["reg"]]
        assert abs(p["primal"] - sol.primal) <= 2e-6 and p["converged"] and p["gap"] <= 1e-6
        assert p["train"] == train_m and p["val"] == val_m
    # best validation accuracy, ties to the lower validation loss, then to the larger reg
    best = max(regs, key=lambda r: (cold[r][2]["accuracy"], -_val_loss(task, splits, witnesses, r), r))
    chosen = next(p for p in path if p["selected"])
    assert chosen["reg"] == best == info["certificate"]["reg"]
    assert task.evaluate(model, splits["val"]) == cold[best][2]  # the returned network is the selected one
    assert info["certificate"]["level"] == "dictionary"


def test_auto_path_is_scaled_to_an_independent_reg_max(setup):
    task, splits, witnesses = setup
    cfg = ConvexConfig(reg="auto", select="val")
    _, info = run_convex_stage(task, splits["train"], splits["val"], witnesses, cfg, CPU)
    # reg_max by hand: at W = 0 the softmax is uniform, Theta_0 = (onehot(y) - 1/C) / n, no intercept
    D = build_dictionary(witnesses, splits["train"].x, "final").atoms.astype(float)
    y = splits["train"].y.numpy()[:, 0]
    classes = task.heads[0].classes
    theta = (np.eye(classes)[y] - 1.0 / classes) / len(y)
    naive = max(np.linalg.norm(sum(D[i, j] * theta[i] for i in range(D.shape[0]))) for j in range(D.shape[1]))
    assert info["selection"]["reg_max"] == pytest.approx(naive, rel=1e-10)
    solved_and_skipped = [p["reg"] for p in info["path"]] + info["selection"]["skipped_after_validation_drop"]
    grid = auto_regs(naive)
    np.testing.assert_allclose(solved_and_skipped[:len(grid)], grid, rtol=1e-10)
    extra = solved_and_skipped[len(grid):]  # extended below the grid at its own ratio while the last point was best
    np.testing.assert_allclose(extra, [grid[-1] * (grid[-1] / grid[-2]) ** (i + 1) for i in range(len(extra))],
                               rtol=1e-9)
    assert info["selection"]["extended_below_grid"] == len(extra)
    assert info["selection"]["reg_spec"] == "auto" and info["selection"]["metric"] == "val.accuracy"


def test_a_path_without_validation_split_is_refused_but_one_reg_is_not(setup):
    task, splits, witnesses = setup
    with pytest.raises(ValueError, match="validation split"):
        run_convex_stage(task, splits["train"], None, witnesses, ConvexConfig(reg=[1e-2, 3e-3], select="val"), CPU)
    with pytest.raises(ValueError, match="validation split"):
        run_convex_stage(task, splits["train"], None, witnesses, ConvexConfig(reg="auto", select="val"), CPU)
    _, info = run_convex_stage(task, splits["train"], None, witnesses, ConvexConfig(reg=1e-2), CPU)
    assert len(info["path"]) == 1 and info["path"][0]["val"] is None and info["path"][0]["selected"]


def test_stopped_short_solve_is_refused_with_gap_tol_and_remedy(setup):
    task, splits, witnesses = setup
    cfg = ConvexConfig(reg=1e-3, max_iter=1)
    with pytest.raises(UnconvergedSolveError) as err:
        run_convex_stage(task, splits["train"], splits["val"], witnesses, cfg, CPU)
    text = str(err.value)
    assert "duality gap" in text and "tol 1e-06" in text and "--allow-unconverged" in text and "max_iter" in text
    assert "\n" not in text  # one line for the CLI


def test_allowed_unconverged_solve_records_its_gap(setup):
    task, splits, witnesses = setup
    cfg = ConvexConfig(reg=1e-3, max_iter=1, allow_unconverged=True)
    with pytest.warns(ConvergenceWarning):
        model, info = run_convex_stage(task, splits["train"], splits["val"], witnesses, cfg, CPU)
    cert = info["certificate"]
    assert cert["converged"] is False and cert["gap"] > cfg.tol and cert["level"] == "none"
    # the recorded gap is the one of an independent solve with the same budget
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        D = build_dictionary(witnesses, splits["train"].x, "final")
        ref = solve(D.atoms, splits["train"].y.numpy(), 1e-3, loss=list(task.heads), max_iter=1)
    assert cert["gap"] == pytest.approx(ref.gap, rel=1e-9) and not ref.converged


def test_unconverged_path_points_are_excluded_from_selection(setup):
    task, splits, witnesses = setup
    regs = [5e-2, 2e-2, 1e-3, 5e-4]
    # the largest reg converges in 2 proximal Newton steps, the smaller ones need 4-9 (was max_iter=12
    # when the budget counted coordinate-descent epochs over the rows)
    cfg = ConvexConfig(reg=regs, max_iter=3, select="val")
    _, info = run_convex_stage(task, splits["train"], splits["val"], witnesses, cfg, CPU)
    path = info["path"]
    assert any(p["converged"] for p in path) and not all(p["converged"] for p in path)
    for p in path:
        assert p["eligible"] == p["converged"]
        assert not (p["selected"] and not p["converged"])
    assert info["selection"]["excluded_unconverged"] == [p["reg"] for p in path if not p["converged"]]
    assert info["certificate"]["converged"]


def test_column_generation_in_the_stage_states_its_certificate(setup):
    task, splits, _ = setup
    small = gaussian_witnesses(task.in_features, ModelConfig(subnetworks=2, width=4), seed=3)
    settings = MethodSettings(model=ModelConfig(subnetworks=2, width=4))
    settings.convex = ConvexConfig(reg=1e-2, grow_rounds=4, grow_candidates=8, grow_add=8)
    model, info = run_convex_stage(task, splits["train"], splits["val"], small, settings.convex, CPU,
                                   gaussian_candidates(task, settings.model, 8), seed=0)
    grow = info["column_generation"]
    assert grow["added_atoms"] > 0 and len(grow["rounds"]) >= 2
    primals = [r["primal"] for r in grow["rounds"]]
    assert all(b <= a + 1e-6 for a, b in zip(primals, primals[1:]))
    level = info["certificate"]["level"]
    assert level == ("sampled" if grow["max_violation"] <= 1 else "dictionary")
    assert task.evaluate(model, splits["val"]) == grow["val"]
    assert "refit" not in info  # one given reg: nothing selected, so no refit by default


def test_a_grown_dictionary_is_refit_and_loses_its_sampled_certificate(setup):
    task, splits, _ = setup
    small = gaussian_witnesses(task.in_features, ModelConfig(subnetworks=2, width=4), seed=3)
    cfg = ConvexConfig(reg=[3e-2, 1e-2], select="val", grow_rounds=3, grow_candidates=8, grow_add=8)
    model, info = run_convex_stage(task, splits["train"], splits["val"], small, cfg, CPU,
                                   gaussian_candidates(task, ModelConfig(subnetworks=2, width=4), 8), seed=0)
    grow, refit = info["column_generation"], info["refit"]
    assert grow["added_atoms"] > 0 and refit["used"]
    assert refit["selected_before"]["val"] == refit["held_out"] == grow["val"]  # the grown network's held-out score
    # the pricing was done on the training rows only, so the refit states the dictionary certificate
    assert info["certificate"]["level"] == "dictionary" and "(refit)" in info["certificate"]["statement"]
    assert info["dictionary"]["atoms"] == grow["rounds"][-1]["atoms"]
    assert info["dictionary"]["atoms"] == grow["rounds"][-1]["atoms"]



def test_column_generation_on_a_per_step_task_rebuilds_exactly():
    from spikeopt.convex.column_generation import grow_dictionary
    from spikeopt.convex.dictionary import stack_row_weights, stack_targets

    task = make_task("addition", digits=3, n_train=64, n_val=32, n_test=32, n_ood=16, ood_factors=(2,))
    train = task.splits(0)["train"]
    model_cfg = ModelConfig(subnetworks=2, width=4)
    witnesses = gaussian_witnesses(task.in_features, model_cfg, seed=1)
    D = build_dictionary(witnesses, train.x, "trajectory")
    y = stack_targets(train.y, "trajectory")
    w = stack_row_weights(task.time_weights(train.steps), train.steps, len(train))

    def solve_fn(atoms, warm):
        return solve(atoms, y, 1e-2, loss=list(task.heads), sample_weight=w, warm_start=warm)

    first = solve_fn(D.atoms, None)
    grown = grow_dictionary(witnesses, D, first, train.x, gaussian_candidates(task, model_cfg, 4), solve_fn,
                            rounds=2, add=4, seeds=lambda r: 50 + r)
    assert sum(r.added for r in grown.rounds) > 0
    sol = grown.solution
    net, _ = reconstruct(grown.witnesses, grown.dictionary, sol.coef, sol.intercept, "per_step")
    with torch.no_grad():
        out, _ = net(train.x)  # [T, N, O], rows t * N + i as in the trajectory dictionary
    expected = grown.dictionary.atoms.astype(float) @ sol.coef + sol.intercept
    np.testing.assert_allclose(out.reshape(-1, out.shape[-1]).double().numpy(), expected, atol=1e-4)


@pytest.mark.parametrize("method", ["cvx", "sg-cvx", "cvx-sg"])
def test_every_convex_method_selects_on_the_path(method, setup):
    from spikeopt.train.pipelines import run_method
    from spikeopt.train.surrogate import SGConfig

    task, splits, _ = setup
    settings = MethodSettings(model=ModelConfig(subnetworks=4, width=4), sg=SGConfig(epochs=1, progress=False),
                              finetune=SGConfig(epochs=1, progress=False), convex=ConvexConfig(reg=[3e-2, 1e-2], select="val"))
    out = run_method(method, task, splits, settings, seed=0, device=CPU)
    path = out.info["path"]
    assert [p["reg"] for p in path] == [3e-2, 1e-2] and sum(p["selected"] for p in path) == 1
    assert all(p["val"] is not None for p in path)


def _final_rows(witnesses, source, x):
    """Last-step spikes of the solved atoms, read off the witnesses' own hidden spikes (not the dictionary code)."""
    spikes = witnesses.hidden_spikes(x)[-1].flatten(-2).double().numpy()  # [N, K*m]
    return spikes[:, [k * witnesses.width + j for k, j in source]]


@pytest.mark.parametrize("loss", ["cross_entropy", "squared"])
def test_cross_validated_reg_is_refit_on_train_and_val(setup, loss):
    task, splits, witnesses = setup
    train, val = splits["train"], splits["val"]
    cfg = ConvexConfig(reg=[3e-2, 1e-2, 3e-3], loss=loss, tol=1e-9)  # auto selection: 60 val sequences -> cv
    model, info = run_convex_stage(task, train, val, witnesses, cfg, CPU, seed=3)
    assert info["selection"]["mode"] == "cv"
    chosen = next(p for p in info["path"] if p["selected"])
    refit = info["refit"]
    assert refit["used"] and refit["reg"] == chosen["reg"] == info["certificate"]["reg"]
    assert refit["rows"] == len(train) + len(val) and refit["held_out"] == chosen["cv"]
    assert refit["selected_before"]["val"] == chosen["val"]
    assert "(refit)" in info["certificate"]["statement"] and info["certificate"]["gap"] <= 1e-9
    assert info["reconstruction"]["caratheodory_bound"] == (len(train) + len(val)) * 2 + 1  # rows x outputs + 1
    # reference: a cold solve on the witnesses' own spikes of train and val, stacked
    source = build_dictionary(witnesses, train.x, "final").source
    atoms = np.concatenate([_final_rows(witnesses, source, train.x), _final_rows(witnesses, source, val.x)])
    labels = np.concatenate([train.y.numpy(), val.y.numpy()])
    target = labels if loss == "cross_entropy" else np.eye(2)[labels[:, 0]]
    ref = solve(atoms, target, chosen["reg"], loss=list(task.heads) if loss == "cross_entropy" else "squared", tol=1e-10)
    assert info["certificate"]["primal"] == pytest.approx(ref.primal, abs=1e-8)
    with torch.no_grad():  # the returned network computes the refit readout on every train and val sequence
        out = torch.cat([model(train.x)[0], model(val.x)[0]]).double().numpy()
    np.testing.assert_allclose(out, atoms @ ref.coef + ref.intercept, atol=1e-4)


def test_refit_follows_the_setting(setup):
    task, splits, witnesses = setup
    train, val = splits["train"], splits["val"]
    off = ConvexConfig(reg=[3e-2, 1e-2], refit=False)
    model, info = run_convex_stage(task, train, val, witnesses, off, CPU, seed=3)
    chosen = next(p for p in info["path"] if p["selected"])
    assert "refit" not in info and task.evaluate(model, val) == chosen["val"]  # the training-split solve
    assert "(refit)" not in info["certificate"]["statement"]
    _, info = run_convex_stage(task, train, val, witnesses, ConvexConfig(reg=[3e-2, 1e-2], select="val"), CPU)
    # auto after validation selection too: the held-out score is the selected point's validation score
    assert info["refit"]["used"] and info["refit"]["held_out"] == next(p for p in info["path"] if p["selected"])["val"]
    _, info = run_convex_stage(task, train, val, witnesses, ConvexConfig(reg=1e-2), CPU)
    assert "refit" not in info  # auto: one given reg selects nothing, so its validation split stays held out
    _, info = run_convex_stage(task, train, val, witnesses, ConvexConfig(reg=1e-2, refit=True), CPU)
    assert info["refit"]["used"] and info["refit"]["rows"] == len(train) + len(val)  # unless asked for
    _, info = run_convex_stage(task, train, None, witnesses, ConvexConfig(reg=[3e-2, 1e-2]), CPU)
    assert "refit" not in info  # nothing to refit on


def test_a_refit_that_would_not_fit_in_memory_keeps_the_training_solve(setup, monkeypatch):
    import spikeopt.train.convex_stage as stage

    task, splits, witnesses = setup
    monkeypatch.setattr(stage, "available_memory", lambda: 1024)
    with pytest.warns(UserWarning, match="refit on train \\+ val would need"):
        model, info = run_convex_stage(task, splits["train"], splits["val"], witnesses,
                                       ConvexConfig(reg=[3e-2, 1e-2], select="val"), CPU)
    chosen = next(p for p in info["path"] if p["selected"])
    assert not info["refit"]["used"] and task.evaluate(model, splits["val"]) == chosen["val"]


def test_a_refit_that_stops_short_keeps_the_training_solve(setup, monkeypatch):
    import spikeopt.train.convex_stage as stage

    task, splits, witnesses = setup
    train, val = splits["train"], splits["val"]

    def short_on_more_rows(atoms, *args, **kwargs):  # only the refit (train + val rows) runs out of iterations
        if len(atoms) > len(train):
            kwargs.update(max_iter=1, tol=1e-14)
        return solve(atoms, *args, **kwargs)

    monkeypatch.setattr(stage, "solve", short_on_more_rows)
    cfg = ConvexConfig(reg=[3e-2, 1e-2], select="val", refit=True)
    with pytest.warns(ConvergenceWarning, match="refit"):
        model, info = run_convex_stage(task, train, val, witnesses, cfg, CPU)
    chosen = next(p for p in info["path"] if p["selected"])
    assert not info["refit"]["used"] and "kept the training-split solve" in info["refit"]["reason"]
    assert info["certificate"]["converged"] and "(refit)" not in info["certificate"]["statement"]
    assert task.evaluate(model, val) == chosen["val"]
    allowed = ConvexConfig(reg=[3e-2, 1e-2], select="val", refit=True, allow_unconverged=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        _, info = run_convex_stage(task, train, val, witnesses, allowed, CPU)
    assert info["refit"]["used"] and info["certificate"]["level"] == "none"  # allowed: kept, gap recorded
