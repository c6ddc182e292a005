"""Shared sequence helpers of ucr / arrays against naive loops and hand-computed cases."""

import numpy as np
import pytest

from spikeopt.tasks.series import class_order, pool_steps, resample_length, stratified_holdout


@pytest.mark.parametrize("steps, max_steps", [(5, 2), (7, 3), (10, 10), (9, 4), (1, 1)])
def test_pool_steps_against_a_loop(steps, max_steps):
    x = np.random.default_rng(steps).normal(size=(3, steps, 2))
    k = -(-steps // max_steps)
    expected = np.stack([x[:, s:s + k].mean(axis=1) for s in range(0, steps, k)], axis=1)
    out = pool_steps(x, max_steps)
    assert out.shape[1] <= max_steps and np.allclose(out, expected)


def test_pool_steps_by_hand():
    x = np.arange(5.0).reshape(1, 5, 1)  # windows of 3: (0+1+2)/3, (3+4)/2
    assert pool_steps(x, 2)[0, :, 0].tolist() == [1.0, 3.5]
    assert pool_steps(x, None) is x


def test_resample_length_by_hand():
    assert resample_length(np.array([[0.0, 2.0, 4.0]]), 5).tolist() == [[0, 1, 2, 3, 4]]
    assert resample_length(np.array([[3.0]]), 3).tolist() == [[3, 3, 3]]


def test_class_order():
    assert class_order(["b", "a", "b"]) == ["a", "b"]
    assert class_order(["10", "9", "-1"]) == ["-1", "9", "10"]
    assert class_order(["x"], ["z", "x"]) == ["z", "x"]
    with pytest.raises(ValueError, match="repeat"):
        class_order(["x"], ["x", "x"])


def test_stratified_holdout_small_classes():
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 2])
    kept, held = stratified_holdout(labels, 0.2, 0, "val", "data")
    assert np.bincount(labels[held]).tolist() == [1, 1, 1]  # at least 1 per class, never all of it
    assert sorted(np.concatenate([kept, held]).tolist()) == list(range(10))
    with pytest.raises(ValueError, match=r"class\(es\) 1 \(1 sample\)"):
        stratified_holdout(np.array([0, 0, 1]), 0.5, 0, "val", "data")
