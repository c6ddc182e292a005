"""solve_path (warm-started regularization path) and exact row compression."""

import numpy as np
import pytest

from spikeopt.convex import solve, solve_path
from spikeopt.convex.solver import reg_max

try:
    from spikeopt.tasks.base import Head
except Exception:  # pragma: no cover
    from collections import namedtuple

    Head = namedtuple("Head", "name classes weight")


def _dup_problem(kind, seed=0, n_unique=40, n=400, p=25):
    rng = np.random.default_rng(seed)
    base = rng.random((n_unique, p)) < 0.4
    idx = rng.integers(0, n_unique, n)
    D = base[idx]
    if kind == "squared":
        Yb = rng.standard_normal((n_unique, 2))
        return D, Yb[idx], "squared"
    if kind == "ce":
        return D, rng.integers(0, 3, n_unique)[idx], "cross_entropy"
    Y = np.stack([rng.integers(0, 3, n_unique), rng.integers(0, 2, n_unique)], axis=1)[idx]
    return D, Y, [Head("sum", 3, 1.0), Head("carry", 2, 0.5)]


@pytest.mark.parametrize("kind", ["squared", "ce", "multi"])
@pytest.mark.parametrize("intercept", [False, True])
def test_row_compression_is_exact(kind, intercept):
    D, Y, loss = _dup_problem(kind)
    w = np.random.default_rng(1).uniform(0.5, 2.0, D.shape[0])
    reg = 0.05 * reg_max(D, Y, loss, sample_weight=w, intercept=intercept)
    a = solve(D, Y, reg, loss, sample_weight=w, intercept=intercept, tol=1e-9, compress_rows=True)
    b = solve(D, Y, reg, loss, sample_weight=w, intercept=intercept, tol=1e-9, compress_rows=False)
    assert a.converged and b.converged
    assert abs(a.primal - b.primal) <= 2e-9
    # the compressed solution's certificate holds for the original problem
    assert a.dual <= b.primal + 1e-12 and b.dual <= a.primal + 1e-12
    np.testing.assert_allclose(a.predict(D), b.predict(D), atol=1e-3)


@pytest.mark.parametrize("kind", ["squared", "ce", "multi"])
def test_path_matches_independent_solves(kind):
    D, Y, loss = _dup_problem(kind, seed=3)
    rmax = reg_max(D, Y, loss)
    regs = [rmax * f for f in (0.01, 0.5, 0.1, 1.2, 0.03)]  # unsorted on purpose
    path = solve_path(D, Y, regs, loss, tol=1e-8)
    assert [s.reg for s in path] == pytest.approx(regs)
    for r, s in zip(regs, path):
        ind = solve(D, Y, r, loss, tol=1e-8)
        assert s.converged and s.gap <= 1e-8
        assert s.dual <= ind.primal + 1e-12 and ind.dual <= s.primal + 1e-12
        assert abs(s.primal - ind.primal) <= 2e-8
    assert np.count_nonzero(path[3].coef) == 0  # above reg_max


def test_path_validation():
    D, Y, loss = _dup_problem("squared")
    with pytest.raises(ValueError):
        solve_path(D, Y, [], loss)
    with pytest.raises(ValueError):
        solve_path(D, Y, [1e-2, -1.0], loss)
