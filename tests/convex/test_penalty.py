"""GroupL2 penalty: value, prox (vs brute force), dual norm, subdifferential distance."""

import numpy as np
import pytest
from scipy.optimize import minimize

from spikeopt.convex.penalty import GroupL2, row_norms


def test_value_and_dual_norm():
    pen = GroupL2(0.5)
    W = np.array([[3.0, 4.0], [0.0, 0.0], [1.0, 0.0]])
    assert pen.value(W) == pytest.approx(0.5 * 6.0)
    assert pen.dual_norm(W) == pytest.approx(5.0 / 0.5)


@pytest.mark.parametrize("reg", [0.0, -1.0, np.nan, np.inf])
def test_bad_reg(reg):
    with pytest.raises(ValueError):
        GroupL2(reg)


def test_prox_matches_brute_force():
    rng = np.random.default_rng(0)
    pen = GroupL2(0.7)
    V = rng.standard_normal((6, 3)) * np.array([[0.1], [0.5], [1.0], [2.0], [0.3], [4.0]])
    steps = rng.uniform(0.2, 2.0, 6)
    P = pen.prox(V, steps)
    for j in range(6):

        def obj(w, j=j):
            return 0.5 * np.sum((w - V[j]) ** 2) / steps[j] + pen.reg * np.sqrt(np.sum(w**2) + 1e-300)

        best = minimize(obj, V[j], method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-14, "maxiter": 20000})
        assert obj(P[j]) <= best.fun + 1e-9
        np.testing.assert_allclose(P[j], best.x, atol=1e-4)
    # scalar step equals the same per-row step
    np.testing.assert_allclose(pen.prox(V, 0.9), pen.prox(V, np.full(6, 0.9)))
    # rows with ||V_j|| <= reg * step are exactly zero
    small = row_norms(V) <= pen.reg * steps
    assert np.all(P[small] == 0.0)


def test_subdiff_distance_zero_at_prox():
    rng = np.random.default_rng(1)
    pen = GroupL2(0.4)
    V = rng.standard_normal((8, 4))
    step = 0.8
    W = pen.prox(V, step)
    # W = prox(V) <=> (V - W)/step in reg * d||W||, i.e. grad = (W - V)/step satisfies -grad in reg d||W||
    dist = pen.subdiff_distance(W, (W - V) / step)
    np.testing.assert_allclose(dist, 0.0, atol=1e-12)
    # away from the optimum the distance is positive
    assert pen.subdiff_distance(W + 0.1, (W - V) / step).max() > 1e-3
