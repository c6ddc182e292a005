"""Independent references shared by several test modules (on the test path via pyproject's pytest.pythonpath).

``group_lasso_optimum``: the optimal value of the convex readout problem by cvxpy + Clarabel, a
general-purpose conic solver that shares no code with ``spikeopt.convex``. cvxpy is imported at
the top: a test that uses it fails, never skips, when the test extra is missing.
"""

from __future__ import annotations

import warnings
from typing import Any

import cvxpy as cp
import numpy as np


def group_lasso_optimum(D: Any, Y: Any, reg: float, loss: Any, w: Any = None, intercept: bool = False,
                        classes: int | None = None, head_weight: float = 1.0, tol: float = 1e-11,
                        max_iter: int = 400) -> float:
    """min over (W, b) of  (1/n) sum_i w_i loss_i(D W + b) + reg sum_j ||W_j||_2.

    ``loss``: ``"squared"`` (0.5 ||z - y||^2 on float targets), ``"cross_entropy"`` (one head of
    ``classes`` classes, default ``max(Y) + 1``, weighted ``head_weight``) or a list of heads
    (objects with ``classes`` and ``weight``), their logit blocks side by side.
    """
    D = np.asarray(D, dtype=float)
    n, p = D.shape
    w = np.ones(n) if w is None else np.asarray(w, dtype=float)
    if isinstance(loss, str) and loss == "squared":
        Yf = np.asarray(Y, dtype=float).reshape(n, -1)
        heads, c = None, Yf.shape[1]
    else:
        if isinstance(loss, str):
            heads = [(int(classes if classes is not None else np.max(Y) + 1), head_weight)]
        else:
            heads = [(h.classes, h.weight) for h in loss]
        Yi = np.asarray(Y).reshape(n, -1)
        c = sum(k for k, _ in heads)
    W = cp.Variable((p, c))
    Z = D @ W
    if intercept:
        Z = Z + np.ones((n, 1)) @ cp.Variable((1, c))
    if heads is None:
        F = 0.5 * cp.sum(cp.multiply(w[:, None], cp.square(Z - Yf))) / n
    else:
        F, off = 0, 0
        for h, (k, a) in enumerate(heads):
            Zh = Z[:, off:off + k]
            onehot = np.eye(k)[Yi[:, h]]
            F = F + a * (w @ (cp.log_sum_exp(Zh, axis=1) - cp.sum(cp.multiply(onehot, Zh), axis=1))) / n
            off += k
    prob = cp.Problem(cp.Minimize(F + reg * cp.sum(cp.norm(W, 2, axis=1))))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prob.solve(solver="CLARABEL", tol_gap_abs=tol, tol_gap_rel=tol, tol_feas=tol, max_iter=max_iter)
    return float(prob.value)


def assert_certified_optimum(sol: Any, ref: float, tol: float) -> None:
    """``sol`` converged to gap <= ``tol``, its dual is a true lower bound of the reference optimum
    ``ref``, and its primal matches ``ref`` to 2e-6 (relative)."""
    assert sol.converged and sol.gap <= tol
    assert sol.dual <= sol.primal
    assert sol.dual <= ref + 1e-8, sol.dual - ref  # the certified lower bound really is one
    assert abs(sol.primal - ref) <= 2e-6 * max(1.0, abs(ref)), (sol.primal, ref)


def binary_design(n: int, p: int, seed: int, density: float = 0.3) -> tuple[np.ndarray, np.random.Generator]:
    """A seeded ``n x p`` uint8 0/1 design of the given density, and the generator for what follows."""
    rng = np.random.default_rng(seed)
    return (rng.random((n, p)) < density).astype(np.uint8), rng
