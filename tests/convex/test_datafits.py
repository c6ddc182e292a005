"""Datafits: gradients vs finite differences, conjugates vs Fenchel-Young, dual helpers."""

import numpy as np
import pytest

from spikeopt.convex.datafits import ABSENT_CLASS_LOGIT, CrossEntropy, MultiHead, Squared

N = 9


def _weights(rng, weighted):
    return rng.uniform(0.2, 2.0, N) if weighted else None


def _make(kind, rng, weighted=False):
    w = _weights(rng, weighted)
    if kind == "squared":
        return Squared(rng.standard_normal((N, 3)), w)
    if kind == "squared1":
        return Squared(rng.standard_normal(N), w)
    if kind == "ce":
        return CrossEntropy(rng.integers(0, 4, N), 4, w)
    if kind == "multi":
        ya, yb = rng.integers(0, 3, N), rng.integers(0, 2, N)
        return MultiHead([(CrossEntropy(ya, 3, w), slice(0, 3), 1.0), (CrossEntropy(yb, 2, w), slice(3, 5), 0.5)])
    raise ValueError(kind)


KINDS = ["squared", "squared1", "ce", "multi"]


def _random_domain_point(fit, rng, scale=1.0):
    """A residual R with -R in the domain of every row's conjugate (R = e_y - q for CE blocks)."""
    c = fit.n_outputs
    if isinstance(fit, Squared):
        return scale * rng.standard_normal((N, c))
    if isinstance(fit, CrossEntropy):
        Q = rng.dirichlet(np.ones(c), N)
        R = -Q
        R[np.arange(N), fit.y] += 1.0
        return R
    R = np.zeros((N, c))
    for f, cols, a in zip(fit.fits, fit.blocks, fit.alphas):
        R[:, cols] = a * _random_domain_point(f, rng)
    return R


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("weighted", [False, True])
def test_gradient_matches_finite_differences(kind, weighted):
    rng = np.random.default_rng(0)
    fit = _make(kind, rng, weighted)
    Z = rng.standard_normal((N, fit.n_outputs))
    G = fit.gradient(Z)
    h = 1e-6
    num = np.zeros_like(Z)
    for i in range(N):
        for k in range(fit.n_outputs):
            E = np.zeros_like(Z)
            E[i, k] = h
            num[i, k] = (fit.value(Z + E) - fit.value(Z - E)) / (2 * h)
    np.testing.assert_allclose(G, num, atol=1e-8, rtol=1e-6)
    np.testing.assert_allclose(G, -fit.wn[:, None] * fit.residual(Z), atol=1e-15)


@pytest.mark.parametrize("kind", KINDS)
def test_lipschitz_bound(kind):
    rng = np.random.default_rng(1)
    fit = _make(kind, rng, weighted=True)
    L = fit.lipschitz()
    for _ in range(20):
        Z1 = 3 * rng.standard_normal((N, fit.n_outputs))
        Z2 = Z1 + rng.standard_normal(Z1.shape) * rng.uniform(0.01, 3)
        lhs = np.linalg.norm(fit.gradient(Z1) - fit.gradient(Z2))
        assert lhs <= L * np.linalg.norm(Z1 - Z2) * (1 + 1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_fenchel_young(kind):
    rng = np.random.default_rng(2)
    fit = _make(kind, rng)
    Z = 2 * rng.standard_normal((N, fit.n_outputs))
    loss = fit.loss_rows(Z)
    # inequality at random points of the domain: l(z) + l*(u) >= <z, u>
    for _ in range(10):
        U = -_random_domain_point(fit, rng, scale=2.0)
        conj = fit.conjugate_rows(U)
        assert np.all(np.isfinite(conj))
        assert np.all(loss + conj >= np.einsum("ij,ij->i", Z, U) - 1e-12)
    # equality at u = grad l(z) = -residual
    U = -fit.residual(Z)
    np.testing.assert_allclose(loss + fit.conjugate_rows(U), np.einsum("ij,ij->i", Z, U), atol=1e-12)
    # the accurate dual term is -l*(-r)
    R = fit.residual(Z)
    np.testing.assert_allclose(fit.dual_rows(R), -fit.conjugate_rows(-R), atol=1e-12)


def test_cross_entropy_conjugate_domain():
    fit = CrossEntropy(np.array([0, 1, 2]), 3)
    U = np.zeros((3, 3))
    U[0, 1] = 0.5  # q = e_0 + u has sum 1.5: off the simplex
    U[1, 0] = -0.1  # q_0 = -0.1 < 0
    out = fit.conjugate_rows(U)
    assert np.isinf(out[0]) and np.isinf(out[1]) and out[2] == 0.0


@pytest.mark.parametrize("kind", KINDS)
def test_shrink_keeps_domain(kind):
    rng = np.random.default_rng(3)
    fit = _make(kind, rng)
    R = _random_domain_point(fit, rng)
    for s in [0.0, 0.3, 1.0]:
        assert np.all(np.isfinite(fit.conjugate_rows(-fit.shrink(R, s))))
    # s = 0 is the "zero residual" point: -l*(0) = min l = 0 for all these losses
    assert abs(fit.dual_value(fit.shrink(R, 0.0))) < 1e-15


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("weighted", [False, True])
def test_balance_and_optimal_intercept(kind, weighted):
    rng = np.random.default_rng(4)
    fit = _make(kind, rng, weighted)
    Z0 = rng.standard_normal((N, fit.n_outputs))
    b = fit.optimal_intercept(Z0)
    Z = Z0 + b
    # stationarity in b: sum_i w_i grad l = 0
    np.testing.assert_allclose(fit.gradient(Z).sum(axis=0), 0.0, atol=1e-13)
    # and it is a minimum
    for _ in range(5):
        assert fit.value(Z) <= fit.value(Z + 1e-3 * rng.standard_normal(fit.n_outputs)) + 1e-15
    for R in (fit.residual(Z), _random_domain_point(fit, rng)):
        Rb = fit.balance(R)
        np.testing.assert_allclose(fit.weights @ Rb, 0.0, atol=1e-13)
        assert np.all(np.isfinite(fit.conjugate_rows(-Rb)))


def test_absent_class_intercept():
    y = np.array([0, 0, 1, 3, 1, 3, 0])  # class 2 never occurs
    fit = CrossEntropy(y, 4)
    b = fit.optimal_intercept(np.zeros((7, 4)))
    assert b[2] == ABSENT_CLASS_LOGIT
    np.testing.assert_allclose(np.exp(b[[0, 1, 3]]) / np.exp(b[[0, 1, 3]]).sum(), [3 / 7, 2 / 7, 2 / 7], atol=1e-13)
    R = fit.balance(fit.residual(np.zeros((7, 4)) + b))
    np.testing.assert_allclose(R.sum(axis=0), 0.0, atol=1e-14)


@pytest.mark.parametrize("kind", KINDS)
def test_bregman_rows(kind):
    rng = np.random.default_rng(5)
    fit = _make(kind, rng)
    Z0 = 2 * rng.standard_normal((N, fit.n_outputs))
    for scale in [1e-9, 1e-4, 1e-1, 3.0]:
        Z1 = Z0 + scale * rng.standard_normal(Z0.shape)
        br = fit.bregman_rows(Z0, Z1)
        naive = fit.loss_rows(Z1) - fit.loss_rows(Z0) + np.einsum("ij,ij->i", fit.residual(Z0), Z1 - Z0)
        assert np.all(br >= 0)
        np.testing.assert_allclose(br, naive, rtol=1e-6, atol=1e-13)
        # curvature bound: D_l(z0, z1) <= curvature/2 ||z1 - z0||^2
        assert np.all(br <= 0.5 * fit.curvature * ((Z1 - Z0) ** 2).sum(axis=1) * (1 + 1e-9) + 1e-300)


def test_weights_validation():
    with pytest.raises(ValueError, match="nonnegative"):
        Squared(np.zeros(3), [1.0, -1.0, 1.0])
    with pytest.raises(ValueError, match="positive sum"):
        Squared(np.zeros(3), [0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="entries"):
        Squared(np.zeros(3), [1.0, 1.0])
    with pytest.raises(ValueError, match="NaN"):
        Squared(np.zeros(3), [1.0, np.nan, 1.0])


def test_label_validation():
    with pytest.raises(ValueError, match="< classes"):
        CrossEntropy(np.array([0, 1, 3]), 3)
    with pytest.raises(ValueError, match=">= 0"):
        CrossEntropy(np.array([0, -1, 1]))
    with pytest.raises(ValueError, match="integer"):
        CrossEntropy(np.array([0.0, 1.5, 1.0]))
    assert CrossEntropy(np.array([0.0, 2.0, 1.0])).classes == 3  # integral floats are fine
