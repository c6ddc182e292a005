"""Cross-validated scoring of a reg path: folds, and pooled scores checked against rebuilt networks.

The reference for a fold is independent of the dictionary-row shortcut the code takes: a cold
solve on the fold's training rows, the network rebuilt from it, run on the held-out *sequences*.
"""

import numpy as np
import pytest
import torch

from spikeopt.convex import build_dictionary, reconstruct, solve
from spikeopt.convex.cv import CV_FOLDS, fold_indices
from spikeopt.convex.witnesses import gaussian_witnesses
from spikeopt.snn.config import ModelConfig
from spikeopt.tasks import make_task
from spikeopt.train.convex_stage import run_convex_stage
from spikeopt.train.pipelines import ConvexConfig

CPU = torch.device("cpu")


def test_folds_partition_rows_and_stratify():
    labels = np.array([0] * 23 + [1] * 7 + [2] * 3)
    folds = fold_indices(labels, 5, seed=4)
    joined = np.concatenate(folds)
    assert sorted(joined.tolist()) == list(range(len(labels)))  # a partition
    sizes = [len(f) for f in folds]
    assert max(sizes) - min(sizes) <= 1
    for cls, count in ((0, 23), (1, 7)):  # each class spread as evenly as the fold count allows
        per_fold = [int(np.sum(labels[f] == cls)) for f in folds]
        assert max(per_fold) - min(per_fold) <= 1 and sum(per_fold) == count
    assert [f.tolist() for f in fold_indices(labels, 5, seed=4)] == [f.tolist() for f in folds]  # seeded
    with pytest.raises(ValueError, match="folds"):
        fold_indices(labels[:3], 5, seed=0)


@pytest.fixture(scope="module")
def small():
    task = make_task("first-last-xor", steps=4, n_train=120, n_val=40, n_test=20)
    splits = task.splits(1)
    witnesses = gaussian_witnesses(task.in_features, ModelConfig(subnetworks=6, width=4), seed=2)
    return task, splits, witnesses


@pytest.mark.parametrize("loss", ["cross_entropy", "squared"])
def test_pooled_scores_equal_rebuilt_fold_networks_on_held_out_sequences(small, loss):
    task, splits, witnesses = small
    train, val = splits["train"], splits["val"]
    regs = [3e-2, 1e-2]
    cfg = ConvexConfig(reg=regs, select="cv", loss=loss, tol=1e-9)
    _, info = run_convex_stage(task, train, val, witnesses, cfg, CPU, seed=7)
    assert info["selection"]["mode"] == "cv"
    D = build_dictionary(witnesses, train.x, "final")
    y = train.y.numpy()
    folds = fold_indices(y[:, 0], CV_FOLDS, seed=7)
    for point in info["path"]:
        correct = 0
        for held in folds:
            fit = np.setdiff1d(np.arange(len(y)), held)
            target = y[fit] if loss == "cross_entropy" else np.eye(2)[y[fit, 0]]
            sol = solve(D.atoms[fit], target, point["reg"], loss=list(task.heads) if loss == "cross_entropy"
                        else "squared", tol=1e-9)
            net, _ = reconstruct(witnesses, D, sol.coef, sol.intercept, task.readout)
            with torch.no_grad():
                out, _ = net(train.x[:, held])
            correct += int((out.argmax(-1).numpy() == y[held, 0]).sum())
        n_val = len(val)
        expected = (correct + point["val"]["accuracy"] * n_val) / (len(y) + n_val)
        assert point["cv"]["accuracy"] == pytest.approx(expected, abs=1e-12)
        assert point["cv"]["rows"] == len(y) + n_val
    best = max(info["path"], key=lambda p: (p["cv"]["accuracy"], -p["cv"]["loss"], p["reg"]))
    assert best["selected"]


def test_auto_selection_uses_cv_for_small_validation_and_cv_needs_no_validation(small):
    task, splits, witnesses = small
    _, info = run_convex_stage(task, splits["train"], splits["val"], witnesses, ConvexConfig(reg=[3e-2, 1e-2]), CPU)
    assert info["selection"]["mode"] == "cv"  # 40 validation sequences < 250
    _, info = run_convex_stage(task, splits["train"], None, witnesses, ConvexConfig(reg=[3e-2, 1e-2]), CPU)
    assert info["selection"]["mode"] == "cv" and all(p["val"] is None for p in info["path"])
    assert info["path"][0]["cv"]["rows"] == len(splits["train"])


def test_cv_is_refused_where_rows_are_not_sequences():
    task = make_task("addition", digits=3, n_train=32, n_val=16, n_test=16, n_ood=8, ood_factors=(2,))
    splits = task.splits(0)
    witnesses = gaussian_witnesses(task.in_features, ModelConfig(subnetworks=2, width=4), seed=1)
    with pytest.raises(ValueError, match="select=val"):
        run_convex_stage(task, splits["train"], splits["val"], witnesses, ConvexConfig(reg=[1e-2, 3e-3], select="cv"),
                         CPU)
    _, info = run_convex_stage(task, splits["train"], splits["val"], witnesses, ConvexConfig(reg=[1e-2, 3e-3]), CPU)
    assert info["selection"]["mode"] == "val"  # auto falls back to the validation split
