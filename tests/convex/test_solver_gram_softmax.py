"""The multi-class / multi-head Gram working-set solver (gram_softmax.py) against cvxpy/Clarabel.

Ten-class and three-class softmax (row weights over four decades, intercept, separable data with
many more atoms than rows, duplicate and all-zero columns, reg near reg_max and near 0), two heads
of different loss weights, and the group-norm optimality measure on a hand-computed case. The
library routes a working set there with many rows per atom or coherent columns; these tests route every
working set there and check that the solve went through it (and one checks the routing rule).
cvxpy is imported, not skipped: these tests fail when the reference is missing.
"""

from collections import namedtuple

import cvxpy  # noqa: F401  (the reference needs it: fail, do not skip, when it is missing)
import numpy as np
import pytest
from references import assert_certified_optimum, binary_design, group_lasso_optimum

import spikeopt.convex.gram_softmax as gs
import spikeopt.convex.newton as newton
from spikeopt.convex import solve
from spikeopt.convex.gram_prox import group_violation
from spikeopt.convex.solver import reg_max

Head = namedtuple("Head", "name classes weight")


@pytest.fixture
def calls(monkeypatch):
    """Routes every multi-class working set to the Gram softmax solver and counts its solves."""
    monkeypatch.setattr(newton, "_GRAM_ROWS_PER_ATOM", 0)
    seen = []
    orig = gs.GramSoftmaxSolver.solve_ws

    def spy(self, *a, **kw):
        seen.append(1)
        return orig(self, *a, **kw)

    monkeypatch.setattr(gs.GramSoftmaxSolver, "solve_ws", spy)
    return seen


@pytest.mark.parametrize("intercept", [False, True])
@pytest.mark.parametrize("frac", [0.5, 3e-3])
def test_ten_classes_with_row_weights(intercept, frac, calls):
    D, rng = binary_design(50, 60, seed=1)
    y = (D[:, :4] @ np.array([1, 2, 3, 4]) + rng.integers(0, 2, 50)) % 10
    w = 10.0 ** rng.uniform(-2, 2, 50)
    reg = frac * reg_max(D, y, "cross_entropy", sample_weight=w, intercept=intercept)
    sol = solve(D, y, reg, "cross_entropy", sample_weight=w, intercept=intercept, tol=1e-9)
    assert_certified_optimum(sol, group_lasso_optimum(D, y, reg, "cross_entropy", w, intercept, tol=1e-12, max_iter=500), 1e-9)
    assert calls


def test_three_classes_separable_many_atoms_duplicates_and_zero_columns(calls):
    D, rng = binary_design(20, 300, seed=4, density=0.35)
    D[:, 5] = D[:, 0]  # duplicate column
    D[:, 7] = 0  # all-zero column
    y = (D[:, 0] + 2 * D[:, 1]) % 3  # separable: atoms >> rows
    for reg in (1e-3, 1e-5):
        sol = solve(D, y, reg, "cross_entropy", intercept=True, tol=1e-8)
        assert_certified_optimum(sol, group_lasso_optimum(D, y, reg, "cross_entropy", None, True, tol=1e-12, max_iter=500), 1e-8)
        assert np.all(np.isfinite(sol.coef)) and not sol.coef[7].any()
    assert calls


def test_two_heads_with_weights_and_intercept(calls):
    D, rng = binary_design(70, 90, seed=6)
    Y = np.stack([(D[:, 0] + D[:, 1] + D[:, 2]) % 3, (D[:, 3] + rng.integers(0, 2, 70)) % 2], axis=1)
    heads = [Head("a", 3, 1.0), Head("b", 2, 0.3)]
    reg = 1e-2 * reg_max(D, Y, heads, intercept=True)
    sol = solve(D, Y, reg, heads, intercept=True, tol=1e-9)
    assert_certified_optimum(sol, group_lasso_optimum(D, Y, reg, heads, None, True, tol=1e-12, max_iter=500), 1e-9)
    assert calls


def _designs(kind: str, rng) -> np.ndarray:
    """40 x 200 uint8 designs: spike counts sharing a large common part (cosines near 1, coherent)
    or binary atoms firing on 40% of the rows (cosines near 0.4: dense, yet well enough conditioned
    for the row sweeps at these sizes)."""
    if kind == "coherent":
        return (8 + (rng.random((40, 200)) < 0.5)).astype(np.uint8)
    return (rng.random((40, 200)) < 0.4).astype(np.uint8)


@pytest.mark.parametrize("kind, to_gram", [("coherent", True), ("binary", False)])
def test_few_rows_per_atom_route_by_column_coherence(kind, to_gram, monkeypatch):
    """With fewer rows than 4 per working-set atom, coherent columns (the row sweeps' coordinate
    descent crawls) go to the Gram solver and less coherent ones stay with the row sweeps, however
    dense; both certify the optimum."""
    seen = []
    orig = gs.GramSoftmaxSolver.solve_ws

    def spy(self, *a, **kw):
        seen.append(len(a[2]))  # the working set's size
        return orig(self, *a, **kw)

    monkeypatch.setattr(gs.GramSoftmaxSolver, "solve_ws", spy)
    rng = np.random.default_rng(2)
    D = _designs(kind, rng)
    y = rng.integers(0, 3, 40)
    reg = 1e-3 * reg_max(D, y, "cross_entropy")
    sol = solve(D, y, reg, "cross_entropy", tol=1e-8)
    ref = group_lasso_optimum(D, y, reg, "cross_entropy", None, False, tol=1e-12, max_iter=500)
    assert_certified_optimum(sol, ref, 1e-8)
    assert bool(seen) == to_gram
    assert all(40 < newton._GRAM_ROWS_PER_ATOM * k for k in seen)  # routed by coherence, not by rows per atom


def _csc(D: np.ndarray):
    indptr = np.concatenate([[0], np.cumsum((D != 0).sum(0))])
    rows, cols = np.nonzero(D.T)  # column-major order: column index first
    return indptr, cols, D.T[rows, cols]


@pytest.mark.parametrize("block", [1 << 22, 7, 1])
@pytest.mark.parametrize("kind", ["coherent", "binary"])
def test_coherence_condition_against_the_dense_gram(kind, block, monkeypatch):
    """The one-pass estimate equals (1 + (k-1) mu) / (1 - mu) with mu the mean off-diagonal entry of
    the normalised columns' dense Gram matrix, in one block of nonzeros or many; all-zero columns
    (inside and at the end) are left out."""
    monkeypatch.setattr(newton, "_COHERENCE_BLOCK", block)
    D = _designs(kind, np.random.default_rng(3))[:, :50].astype(np.float64)
    D[:, [7, 8, 49]] = 0.0
    U = D[:, np.linalg.norm(D, axis=0) > 0]
    U = U / np.linalg.norm(U, axis=0)
    k = U.shape[1]
    G = U.T @ U
    mu = (G.sum() - np.trace(G)) / (k * (k - 1))
    expect = (1 + (k - 1) * mu) / (1 - mu)
    assert newton.coherence_condition(_csc(D), D.shape[0]) == pytest.approx(expect, rel=1e-10)


def test_coherence_condition_by_hand():
    """Two columns at 60 degrees (cosine 1/2): (1 + 1/2) / (1 - 1/2) = 3; one column: 1; parallel
    columns: unbounded."""
    D = np.array([[2.0, 1.0], [0.0, 1.7320508075688772]])  # |(1, sqrt 3)| = 2, cosine 1/2
    assert newton.coherence_condition(_csc(D), 2) == pytest.approx(3.0, rel=1e-12)
    assert newton.coherence_condition(_csc(D[:, :1]), 2) == 1.0
    assert newton.coherence_condition(_csc(np.array([[1.0, 3.0], [2.0, 6.0]])), 2) > 1e12


def test_group_violation_by_hand():
    V = np.array([[3.0, 4.0], [0.0, 0.0], [0.0, 0.0], [1.0, 0.0]])
    G = np.array([[-0.6, -0.8], [0.3, 0.4], [1.2, 1.6], [2.0, 0.0]])
    regs = np.array([1.0, 1.0, 1.0, 0.0])  # last row unpenalized: its gradient norm counts
    # row 0: G + V/|V| = 0; row 1: |G| = 0.5 < 1 -> 0; row 2: 2 - 1 = 1; row 3: 2
    assert group_violation(V, G, regs) == pytest.approx(2.0)
    assert group_violation(V[:3], G[:3], regs[:3]) == pytest.approx(1.0)
