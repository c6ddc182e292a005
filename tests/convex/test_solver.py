"""convex.solve against cvxpy/Clarabel, the certificate, budgets, inputs and validation."""

from collections import namedtuple
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.sparse as sp
from references import group_lasso_optimum

from spikeopt.convex import ConvexSolution, solve
from spikeopt.convex.solution import ConvergenceWarning
from spikeopt.convex.solver import reg_max

try:
    from spikeopt.tasks.base import Head
except Exception:  # pragma: no cover - the solver only needs duck-typed heads
    Head = namedtuple("Head", "name classes weight")

N, P = 60, 15
HEADS = [Head("sum", 3, 1.0), Head("carry", 2, 0.5)]
REG_FRACTIONS = [1e-3, 0.1, 0.5, 1.5]  # of reg_max; the last one gives W = 0


def _problem(kind, seed=0):
    rng = np.random.default_rng(seed)
    D = rng.random((N, P)) < 0.4
    w = rng.uniform(0.2, 2.0, N)
    if kind == "squared1":
        Y, loss = rng.standard_normal(N), "squared"
    elif kind == "squared3":
        Y, loss = rng.standard_normal((N, 3)), "squared"
    elif kind == "ce":
        Y, loss = rng.integers(0, 3, N), "cross_entropy"
    elif kind == "multi":
        Y, loss = np.stack([rng.integers(0, 3, N), rng.integers(0, 2, N)], axis=1), HEADS
    else:
        raise ValueError(kind)
    return D, Y, loss, w


def _cvxpy_optimum(D, Y, reg, loss, w, intercept):
    return group_lasso_optimum(D, Y, reg, loss, w, intercept, classes=3)


@pytest.mark.parametrize("kind", ["squared1", "squared3", "ce", "multi"])
@pytest.mark.parametrize("intercept", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_matches_cvxpy(kind, intercept, weighted):
    import cvxpy  # noqa: F401  (a reference test: fails, never skips)
    D, Y, loss, w = _problem(kind)
    w = w if weighted else None
    rmax = reg_max(D, Y, loss, sample_weight=w, intercept=intercept)
    tol = 1e-8
    for frac in REG_FRACTIONS:
        reg = frac * rmax
        sol = solve(D, Y, reg, loss, sample_weight=w, intercept=intercept, tol=tol)
        ref = _cvxpy_optimum(D, Y, reg, loss, w, intercept)
        assert sol.converged
        assert sol.gap <= tol
        assert sol.dual <= sol.primal
        assert sol.dual <= ref + 1e-9, (frac, sol.dual - ref)
        assert abs(sol.primal - ref) <= 1e-6 * max(1.0, abs(ref))
        assert sol.gap == pytest.approx(sol.primal - sol.dual)
        # the reported primal is the objective at the returned point
        Z = sol.predict(D)
        assert np.allclose(Z, D.astype(float) @ sol.coef + sol.intercept)
        if not intercept:
            assert np.all(sol.intercept == 0.0)
        if frac > 1.0:
            assert np.all(sol.coef == 0.0) and sol.active.size == 0
        for it, pr, du in sol.history:
            assert du <= ref + 1e-9 and pr >= ref - 1e-9


def test_solution_fields():
    D, Y, loss, w = _problem("multi", seed=1)
    sol = solve(D, Y, 1e-2, loss, intercept=True, sample_weight=w)
    assert isinstance(sol, ConvexSolution)
    assert sol.coef.shape == (P, 5) and sol.coef.dtype == np.float64
    assert sol.intercept.shape == (5,)
    assert sol.loss == "multi_head" and sol.reg == 1e-2
    assert sol.heads == (("sum", 3, 1.0), ("carry", 2, 0.5))
    np.testing.assert_array_equal(sol.active, np.flatnonzero(np.linalg.norm(sol.coef, axis=1) > 0))
    assert sol.time > 0 and sol.n_iter > 0 and len(sol.history) >= 1
    with pytest.raises(AttributeError):
        sol.gap = 0.0  # frozen


def test_duck_typed_heads_and_classes_keyword():
    D, Y, _, _ = _problem("multi", seed=2)
    heads = [SimpleNamespace(name="a", classes=3, weight=1.0), SimpleNamespace(name="b", classes=2, weight=0.5)]
    s1 = solve(D, Y, 1e-2, heads)
    s2 = solve(D, Y, 1e-2, HEADS)
    assert s1.primal == pytest.approx(s2.primal, abs=1e-6)
    # classes= adds never-seen classes to a single cross-entropy
    y = np.random.default_rng(0).integers(0, 2, N)
    s3 = solve(D, y, 1e-2, "cross_entropy", classes=4)
    assert s3.coef.shape == (P, 4) and s3.converged


def test_above_reg_max_is_exactly_zero():
    for kind in ["squared3", "ce", "multi"]:
        D, Y, loss, w = _problem(kind, seed=3)
        for intercept in (False, True):
            rmax = reg_max(D, Y, loss, sample_weight=w, intercept=intercept)
            sol = solve(D, Y, rmax * (1 + 1e-6), loss, sample_weight=w, intercept=intercept)
            assert np.all(sol.coef == 0.0) and sol.converged and 0.0 <= sol.gap <= 1e-12
            below = solve(D, Y, rmax * 0.9, loss, sample_weight=w, intercept=intercept)
            assert below.active.size > 0


def test_budget_exhausted_warns_with_honest_gap():
    D, Y, loss, w = _problem("ce", seed=4)
    reg = 1e-3 * reg_max(D, Y, loss)
    with pytest.warns(ConvergenceWarning, match="duality gap"):
        sol = solve(D, Y, reg, loss, tol=1e-12, max_iter=2)
    assert not sol.converged
    assert sol.gap > 1e-12 and sol.n_iter <= 2
    ref = _cvxpy_optimum(D, Y, reg, loss, None, False)  # a reference: fails, never skips, without cvxpy
    assert sol.dual <= ref + 1e-9 <= sol.primal + 2e-9
    assert sol.primal - ref <= sol.gap + 1e-9
    D, Y, loss, w = _problem("squared3", seed=4)
    with pytest.warns(ConvergenceWarning):
        sol = solve(D, Y, 1e-4, loss, tol=1e-14, max_iter=1)
    assert not sol.converged and sol.gap > 0 and sol.dual <= sol.primal


def test_warm_start():
    D, Y, loss, w = _problem("ce", seed=5)
    cold = solve(D, Y, 5e-3, loss, intercept=True, tol=1e-9)
    prev = solve(D, Y, 1e-2, loss, intercept=True, tol=1e-9)
    warm = solve(D, Y, 5e-3, loss, intercept=True, tol=1e-9, warm_start=prev)
    assert warm.primal == pytest.approx(cold.primal, abs=1e-8)
    again = solve(D, Y, 5e-3, loss, intercept=True, tol=1e-9, warm_start=(cold.coef, cold.intercept))
    assert again.n_iter <= 1 and again.converged
    solve(D, Y, 5e-3, loss, intercept=True, warm_start=cold.coef)  # coef alone is fine
    with pytest.raises(ValueError, match="warm_start"):
        solve(D, Y, 5e-3, loss, warm_start=np.zeros((P + 1, 3)))


def test_input_types_agree():
    import torch
    D, Y, loss, w = _problem("squared3", seed=6)
    ref = solve(D, Y, 1e-2, loss, intercept=True, sample_weight=w, tol=1e-10)
    Dsparse = sp.random(N, P, density=0.05, random_state=0, format="csr")
    Dsparse.data[:] = 1.0
    for Din in (torch.tensor(D), sp.csr_matrix(D), D.astype(np.uint8), D.astype(np.float32)):
        sol = solve(Din, torch.tensor(Y) if not sp.issparse(Din) else Y, 1e-2, loss, intercept=True,
                    sample_weight=w, tol=1e-10)
        assert sol.primal == pytest.approx(ref.primal, abs=1e-9)
        assert np.allclose(sol.predict(Din), ref.predict(D))
    # a genuinely sparse design stays sparse internally; compare with its dense copy
    ys = np.random.default_rng(0).integers(0, 3, N)
    s1 = solve(Dsparse, ys, 1e-3, "cross_entropy", intercept=True, tol=1e-9)
    s2 = solve(Dsparse.toarray(), ys, 1e-3, "cross_entropy", intercept=True, tol=1e-9)
    assert s1.primal == pytest.approx(s2.primal, abs=1e-8)


def test_duplicate_zero_and_constant_columns():
    D, Y, loss, w = _problem("squared3", seed=7)
    D = D.astype(float)
    base = solve(D, Y, 1e-2, loss, intercept=True, tol=1e-10)
    D2 = np.hstack([D, D[:, :4], np.zeros((N, 1)), np.ones((N, 1))])
    dup = solve(D2, Y, 1e-2, loss, intercept=True, tol=1e-10)
    assert dup.primal == pytest.approx(base.primal, abs=1e-8)
    assert np.all(dup.coef[-2:] == 0.0)  # the zero and the constant column (absorbed by b)


def test_zero_weight_rows_are_ignored():
    D, Y, loss, w = _problem("ce", seed=8)
    w = w.copy()
    w[:10] = 0.0
    full = solve(D, Y, 1e-2, loss, sample_weight=w, intercept=True, tol=1e-10)
    # dropping those rows gives the same minimiser; the objective is scaled by n_kept / n
    kept = solve(D[10:], Y[10:], 1e-2 * N / (N - 10), loss, sample_weight=w[10:], intercept=True, tol=1e-10,
                 classes=3)
    assert full.primal == pytest.approx(kept.primal * (N - 10) / N, abs=1e-8)


def test_absent_class_with_intercept():
    D, Y, loss, w = _problem("ce", seed=9)
    Y = np.where(Y == 1, 0, Y)  # class 1 never occurs
    sol = solve(D, Y, 1e-2, loss, intercept=True, tol=1e-9, classes=3)
    assert sol.converged and sol.intercept[1] <= -1e3 and np.all(sol.coef[:, 1] == 0.0)
    ref = _cvxpy_optimum(D, Y, 1e-2, loss, None, True)
    assert sol.dual <= ref + 1e-9 and abs(sol.primal - ref) <= 1e-6


@pytest.mark.parametrize(
    "kwargs, err, match",
    [
        (dict(reg=0.0), ValueError, "reg"),
        (dict(reg=-1.0), ValueError, "reg"),
        (dict(reg=np.nan), ValueError, "reg"),
        (dict(tol=0.0), ValueError, "tol"),
        (dict(max_iter=0), ValueError, "max_iter"),
        (dict(loss="hinge"), ValueError, "unknown loss"),
        (dict(sample_weight=-np.ones(N)), ValueError, "nonnegative"),
        (dict(sample_weight=np.ones(N - 1)), ValueError, "sample_weight"),
        (dict(Y=np.ones(N - 1)), ValueError, "rows"),
        (dict(Y=np.full(N, np.inf)), ValueError, "NaN or inf"),
        (dict(D=np.zeros((N, 0))), ValueError, "empty"),
        (dict(D=np.zeros((0, P)), Y=np.zeros(0)), ValueError, "empty"),
        (dict(D=np.zeros((N, P, 2))), ValueError, "2-D"),
        (dict(D=np.full((N, P), np.nan)), ValueError, "NaN"),
        (dict(loss="cross_entropy", Y=np.arange(N) % 3 + 0.5), ValueError, "integer"),
        (dict(loss="cross_entropy", Y=np.arange(N) % 3 - 1), ValueError, ">= 0"),
        (dict(loss="cross_entropy", Y=np.arange(N) % 4, classes=3), ValueError, "< classes"),
        (dict(loss="squared", classes=3), ValueError, "classes"),
        (dict(loss=HEADS, Y=np.zeros((N, 3), dtype=int)), ValueError, "one label column per head"),
        (dict(loss=HEADS, Y=np.stack([np.zeros(N, int), np.full(N, 2)], 1)), ValueError, "carry"),
        (dict(loss=[SimpleNamespace(name="x", classes=2, weight=-1.0)], Y=np.zeros(N, int)), ValueError, "weight"),
        (dict(loss=[object()]), TypeError, "heads"),
    ],
)
def test_validation_errors(kwargs, err, match):
    rng = np.random.default_rng(0)
    args = dict(D=rng.random((N, P)) < 0.4, Y=rng.standard_normal(N), reg=1e-2, loss="squared")
    args.update(kwargs)
    D, Y, reg, loss = args.pop("D"), args.pop("Y"), args.pop("reg"), args.pop("loss")
    with pytest.raises(err, match=match):
        solve(D, Y, reg, loss, **args)


def test_realistic_size_squared_is_fast_and_certified():
    rng = np.random.default_rng(0)
    n, p = 2000, 300
    D = rng.random((n, p)) < 0.3
    coef = np.zeros(p)
    coef[rng.choice(p, 10, replace=False)] = rng.standard_normal(10)
    s = D @ coef
    y = np.sign(s - np.median(s))
    sol = solve(D, y, 1e-3, tol=1e-6)
    assert sol.converged and sol.gap <= 1e-6 and sol.time < 10.0


def test_datafit_instance_as_loss():
    from spikeopt.convex.datafits import CrossEntropy, Squared

    D, Y, loss, w = _problem("squared3", seed=10)
    a = solve(D, Y, 1e-2, "squared", sample_weight=w, intercept=True, tol=1e-10)
    b = solve(D, None, 1e-2, Squared(Y, w), intercept=True, tol=1e-10)
    assert b.primal == pytest.approx(a.primal, abs=1e-12) and b.loss == "squared"
    D, Y, loss, w = _problem("ce", seed=10)
    c = solve(D, None, 1e-2, CrossEntropy(Y, 4), tol=1e-9)
    assert c.coef.shape == (P, 4) and c.converged
    with pytest.raises(ValueError, match="Y=None"):
        solve(D, Y, 1e-2, CrossEntropy(Y, 4))
