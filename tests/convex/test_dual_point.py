"""The solution's dual point prices atoms: every solved atom at <= reg, and the same with or without row compression."""

import numpy as np
import pytest

from spikeopt.convex import solve


def _problem(seed=0, n=200, p=40):
    rng = np.random.default_rng(seed)
    D = (rng.random((n // 4, p)) < 0.4).astype(np.uint8)
    D = np.repeat(D, 4, axis=0)  # repeated rows: row compression kicks in
    y = (D[:, 0] ^ D[:, 1]).astype(np.int64)
    return D, y


@pytest.mark.parametrize("loss", ["squared", "cross_entropy"])
def test_solved_atoms_price_below_reg(loss):
    D, y = _problem()
    Y = np.eye(2)[y] if loss == "squared" else y
    sol = solve(D, Y, 1e-2, loss=loss)
    assert sol.dual_point.shape == (D.shape[0], 2)
    prices = sol.price(D)
    assert prices.max() <= sol.reg * (1 + 1e-9)
    # an independent computation of the same number: D^T Theta by a plain loop over atoms
    theta = sol.dual_point
    naive = np.array([np.linalg.norm(sum(D[i, j] * theta[i] for i in range(D.shape[0]))) for j in range(D.shape[1])])
    np.testing.assert_allclose(prices, naive, rtol=1e-10, atol=1e-14)


def test_dual_point_same_with_and_without_row_compression():
    D, y = _problem(1)
    a = solve(D, y, 5e-3, loss="cross_entropy", tol=1e-10, compress_rows=True)
    b = solve(D, y, 5e-3, loss="cross_entropy", tol=1e-10, compress_rows=False)
    new = (np.random.default_rng(3).random((D.shape[0], 7)) < 0.5).astype(np.uint8)
    np.testing.assert_allclose(a.price(new), b.price(new), atol=1e-4)


def test_new_atom_pricing_above_reg_improves_objective():
    rng = np.random.default_rng(2)
    n = 120
    y = rng.integers(0, 2, n)
    D = (rng.random((n, 10)) < 0.5).astype(np.uint8)
    reg = 2e-2
    sol = solve(D, y, reg, loss="cross_entropy", tol=1e-9)
    informative = y[:, None].astype(np.uint8)  # the label itself: prices far above reg
    assert sol.price(informative)[0] > reg
    bigger = solve(np.hstack([D, informative]), y, reg, loss="cross_entropy", tol=1e-9)
    assert bigger.primal < sol.primal - 1e-6


def test_price_rejects_wrong_rows():
    D, y = _problem()
    sol = solve(D, y, 1e-2, loss="cross_entropy")
    with pytest.raises(ValueError, match="atoms must have shape"):
        sol.price(D[:10])
