"""The dense support Newton direction against autograd: the Hessian of the true objective, solved by pinv.

Reference: torch.autograd.functional.hessian of ``sum_i (w_i/n) sum_heads a CE(z_i) + reg sum_j ||W_j||``
over the support rows of ``W`` and the intercept, projected on zero-mean softmax blocks and
solved with a pseudo-inverse, which knows nothing of how ``support_dense`` builds its matrix.
"""

import numpy as np
import pytest
import torch

from spikeopt.convex.support_dense import DAMPING_LADDER, damped_directions, dense_pays, row_hessians, support_hessian


def _objective(X, y_heads, wn, heads, reg, m):
    """Flat (W rows, intercept) -> objective, in torch float64."""
    X = torch.as_tensor(X)
    wn = torch.as_tensor(wn)

    def f(v):
        V = v.reshape(m + 1, -1)
        W, b = V[:m], V[m]
        Z = X @ W + b
        loss = 0.0
        for (s0, e0, a), y in zip(heads, y_heads):
            loss = loss + a * (wn * torch.nn.functional.cross_entropy(Z[:, s0:e0], torch.as_tensor(y),
                                                                          reduction="none")).sum()
        return loss + reg * torch.linalg.norm(W, dim=1).sum()

    return f


def _centering(c, heads):
    C = np.eye(c)
    for s0, e0, _ in heads:
        C[s0:e0, s0:e0] -= 1.0 / (e0 - s0)
    return C


@pytest.mark.parametrize("heads", [[(0, 4, 1.0)], [(0, 3, 1.0), (3, 5, 0.5)]])
def test_direction_solves_the_projected_autograd_hessian(heads):
    rng = np.random.default_rng(0)
    n, m, reg = 14, 4, 0.07
    c = heads[-1][1]
    X = (rng.random((n, m)) < 0.5).astype(float) + rng.normal(0, 0.1, (n, m))
    y_heads = [rng.integers(0, e0 - s0, n) for s0, e0, _ in heads]
    wn = rng.random(n) / n
    W = rng.normal(0, 1.0, (m, c))
    b = rng.normal(0, 0.5, c)
    C1 = _centering(c, heads)
    W, b = W @ C1, b @ C1  # the solver's iterates are zero-mean per softmax block
    v0 = torch.as_tensor(np.vstack([W, b]).reshape(-1), dtype=torch.float64).requires_grad_(True)
    f = _objective(X, y_heads, wn, heads, reg, m)
    grad = torch.autograd.grad(f(v0), v0)[0].numpy().reshape(m + 1, c)
    H = torch.autograd.functional.hessian(f, v0.detach()).numpy()
    Cbig = np.kron(np.eye(m + 1), C1)
    g = grad @ C1
    ref = -(np.linalg.pinv(Cbig @ H @ Cbig) @ g.reshape(-1)).reshape(m + 1, c)

    Z = X @ W + b
    P = np.zeros_like(Z)
    for s0, e0, _ in heads:
        E = np.exp(Z[:, s0:e0] - Z[:, s0:e0].max(axis=1, keepdims=True))
        P[:, s0:e0] = E / E.sum(axis=1, keepdims=True)
    blocks = tuple(np.array(v) for v in zip(*[(s0, e0, a, True) for s0, e0, a in heads]))
    norms = np.linalg.norm(W, axis=1)
    a_pen = np.append(reg / norms, 0.0)
    U = np.vstack([W / norms[:, None], np.zeros(c)])
    Xb = np.hstack([X, np.ones((n, 1))])
    C = np.repeat(C1[None], m + 1, axis=0)
    M = support_hessian(Xb, row_hessians(P, wn, blocks), a_pen, U, C)
    rungs, steps = zip(*damped_directions(M, g))
    assert rungs == tuple(DAMPING_LADDER)
    assert [r for r, _ in damped_directions(M, g, last=1e-3)] == [1e-4, 1e-3, 1e-2, 1e-1, 1.0]  # one rung below
    np.testing.assert_allclose(steps[0], ref, rtol=1e-8, atol=1e-10)  # undamped: Newton
    for x in steps:
        np.testing.assert_allclose(x @ C1, x, atol=1e-12)  # stays in the zero-mean subspace
        assert float(np.sum(g * x)) < 0.0
    norms = [np.linalg.norm(x) for x in steps]
    assert all(a > b for a, b in zip(norms, norms[1:]))  # damping shortens the step (trust-region path)
    mu = np.trace(Cbig @ H @ Cbig + np.eye(Cbig.shape[0]) - Cbig) / Cbig.shape[0]  # the last, largest damping
    lm = -(np.linalg.pinv(Cbig @ (H + mu * np.eye(H.shape[0])) @ Cbig) @ g.reshape(-1)).reshape(m + 1, c)
    np.testing.assert_allclose(steps[-1], lm, rtol=1e-8, atol=1e-10)


def test_duplicate_support_columns_fall_back_to_least_squares():
    """Two identical atoms with parallel rows: the Hessian is singular along (u, -u); still a descent direction."""
    rng = np.random.default_rng(1)
    n, c = 10, 3
    x = (rng.random(n) < 0.5).astype(float)
    X = np.stack([x, x], axis=1)
    W = np.array([[1.0, -0.5, -0.5], [2.0, -1.0, -1.0]])
    Z = X @ W
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    P = E / E.sum(axis=1, keepdims=True)
    blocks = (np.array([0]), np.array([c]), np.array([1.0]), np.array([True]))
    C1 = np.eye(c) - 1.0 / c
    g = rng.normal(size=(2, c)) @ C1
    norms = np.linalg.norm(W, axis=1)
    M = support_hessian(X, row_hessians(P, np.full(n, 1.0 / n), blocks), 0.1 / norms, W / norms[:, None],
                        np.repeat(C1[None], 2, axis=0))
    x_dir = next(damped_directions(M, g))[1]
    assert np.all(np.isfinite(x_dir)) and float(np.sum(g * x_dir)) < 0.0


def test_dense_pays_only_when_cheaper_than_the_products_and_small_enough():
    assert dense_pays(n=80, m=49, c=10, products=1600)      # ACSF1's support: CG ran ~1,400 products
    assert not dense_pays(n=80, m=49, c=10, products=50)    # a first, capped CG step is cheaper
    assert not dense_pays(n=60000, m=150, c=10, products=200)  # forming costs about m c / 4 products
    assert not dense_pays(n=10, m=400, c=10, products=10**9)  # 4,000^2 floats: over the memory cap
