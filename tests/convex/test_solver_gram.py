"""The Gram working-set solvers (gram_ws.py, gram_ce.py) against cvxpy/Clarabel.

Squared loss (one and several outputs, intercept, row weights, along a warm-started path that
reuses the cached Gram matrix) and the two-class softmax (single loss and a weighted single head,
with intercept and row weights, separable data); plus the quadratic group-lasso routine on its own.
cvxpy is imported, not skipped: these tests fail when the reference is missing.
"""

from collections import namedtuple

import cvxpy as cp
import numpy as np
import pytest
from references import assert_certified_optimum, binary_design, group_lasso_optimum

from spikeopt.convex import solve
from spikeopt.convex.gram_ws import quadratic_group_lasso
from spikeopt.convex.penalty import row_norms
from spikeopt.convex.solver import reg_max, solve_path

Head = namedtuple("Head", "name classes weight")


def _reference(D, Y, reg, loss, w=None, intercept=False, head_weight=1.0):
    """Clarabel's optimum; any non-squared loss here is one two-class head."""
    return group_lasso_optimum(D, Y, reg, loss, w, intercept, classes=2, head_weight=head_weight, tol=1e-12,
                               max_iter=500)


@pytest.mark.parametrize("outputs", [1, 3])
@pytest.mark.parametrize("intercept", [False, True])
def test_squared_gram_with_weights_and_intercept(outputs, intercept):
    D, rng = binary_design(70, 120, seed=outputs)
    Y = rng.standard_normal((70, outputs)) + D[:, :3] @ rng.standard_normal((3, outputs))
    w = 10.0 ** rng.uniform(-2, 2, 70)
    reg = 1e-2 * reg_max(D, Y, "squared", sample_weight=w, intercept=intercept)
    sol = solve(D, Y, reg, "squared", sample_weight=w, intercept=intercept, tol=1e-9)
    assert_certified_optimum(sol, _reference(D, Y, reg, "squared", w, intercept), 1e-9)
    assert sol.active.size > 20  # a large support: the support Newton steps are exercised


def test_squared_path_reuses_gram_and_matches_reference():
    D, rng = binary_design(60, 90, seed=7)
    Y = np.eye(2)[rng.integers(0, 2, 60)]
    top = reg_max(D, Y, "squared")
    regs = [0.3 * top, 0.03 * top, 0.003 * top]
    sols = solve_path(D, Y, regs, "squared", tol=1e-9)
    for reg, sol in zip(regs, sols):
        assert_certified_optimum(sol, _reference(D, Y, reg, "squared"), 1e-9)


@pytest.mark.parametrize("intercept", [False, True])
def test_two_class_softmax_gram_with_weights(intercept):
    D, rng = binary_design(80, 100, seed=3)
    y = (D[:, 0] ^ D[:, 1] ^ (rng.random(80) < 0.1)).astype(np.int64)
    w = 10.0 ** rng.uniform(-2, 2, 80)
    reg = 3e-3 * reg_max(D, y, "cross_entropy", sample_weight=w, intercept=intercept)
    sol = solve(D, y, reg, "cross_entropy", sample_weight=w, intercept=intercept, tol=1e-9)
    assert_certified_optimum(sol, _reference(D, y, reg, "cross_entropy", w, intercept), 1e-9)
    assert np.allclose(sol.coef.sum(axis=1), 0.0, atol=1e-12)  # zero-mean rows: the minimum-norm optimum


def test_single_weighted_two_class_head_separable_with_intercept():
    D, _ = binary_design(24, 150, seed=9, density=0.35)
    y = (D[:, 0] ^ D[:, 1]).astype(np.int64)
    heads = [Head("xor", 2, 0.5)]
    sol = solve(D, y[:, None], 1e-3, heads, intercept=True, tol=1e-8)
    assert_certified_optimum(sol, _reference(D, y, 1e-3, "cross_entropy", None, True, head_weight=0.5), 1e-8)
    assert np.all(np.isfinite(sol.coef))


def test_quadratic_group_lasso_matches_reference():
    rng = np.random.default_rng(5)
    X = (rng.random((50, 30)) < 0.4).astype(float)
    X[:, 29] = X[:, 28]  # collinear pair: singular Gram matrix
    G = X.T @ X / 50
    B = X.T @ rng.standard_normal((50, 2)) / 50
    regs = np.full(30, 2e-3)
    regs[0] = 0.0  # an unpenalized row
    W, Grad, _ = quadratic_group_lasso(G, B, np.zeros((30, 2)), regs, lambda W, g: False, budget=3000)
    V = cp.Variable((30, 2))
    obj = 0.5 * cp.sum_squares(X @ V) / 50 - cp.sum(cp.multiply(B, V)) + cp.sum(cp.multiply(regs, cp.norm(V, 2, axis=1)))
    prob = cp.Problem(cp.Minimize(obj))
    prob.solve(solver="CLARABEL", tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12)
    ours = 0.5 * float(np.sum(W * (G @ W))) - float(np.sum(B * W)) + float(regs @ row_norms(W))
    assert ours <= prob.value + 1e-10
    assert np.allclose(Grad, G @ W - B, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_weighted_gram_against_a_dense_product(dtype):
    """``X^T diag(h) X`` against numpy's float64 product: symmetric, zero weights dropped, float32 to round-off."""
    from spikeopt.convex.gram_ws import weighted_gram

    rng = np.random.default_rng(8)
    X = (rng.random((37, 11)) < 0.5).astype(dtype)
    h = rng.random(37)
    h[:5] = 0.0
    ref = X.astype(np.float64).T @ (h[:, None] * X.astype(np.float64))
    A = weighted_gram(X, h)
    assert A.dtype == np.float64 and np.array_equal(A, A.T)
    np.testing.assert_allclose(A, ref, rtol=1e-12 if dtype == np.float64 else 1e-6, atol=0)
