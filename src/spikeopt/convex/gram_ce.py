r"""Working-set subproblem of a two-class softmax loss: proximal Newton on the weighted Gram matrix.

Why: with two classes the optimum has zero-mean coefficient rows (the loss only sees the logit
difference, the group norm is smallest at zero mean), so ``W_j = w_j e`` with
``e = (-1, 1)/sqrt(2)`` and ``||W_j|| = |w_j|``: the problem is an l1-penalised logistic regression
in ``w``. Its Hessian in ``w`` is ``X^T diag(h) X`` with ``h_i = 2 a (w_i/n) p_i0 p_i1``
(``a`` the loss weight), one ``k x k`` BLAS product per Newton step. Each proximal Newton model is
the quadratic group lasso of :func:`.gram_ws.quadratic_group_lasso` (coordinate descent at
``k^2`` per epoch, exact Newton on the support), solved far more accurately than a few sweeps
over the rows could afford, followed by a backtracking line search on the true objective in the
cancellation-free Bregman form of :mod:`.newton`. An intercept is one more, unpenalized column of
ones.

The working-set duality gap is computed exactly as in :mod:`.newton` (explicit predictions,
balanced residual, feasible scaling), and the outer loop certifies every result over all atoms.
"""

from __future__ import annotations

import numpy as np

from .gram_prox import ColumnCache, backtrack, solve_model
from .gram_ws import weighted_gram
from .newton import feasible_scale
from .penalty import row_norms

_E = np.array([-1.0, 1.0]) / np.sqrt(2.0)


def binary_softmax_weight(fit) -> float | None:
    """The loss weight ``a`` when the datafit is one two-class softmax block, else None."""
    if fit.n_outputs != 2:
        return None
    try:
        _, _, (bs, be, ba, bsoft) = fit.curvature_rows(np.zeros((1, 2)))
    except NotImplementedError:
        return None
    if len(bs) != 1 or not bool(bsoft[0]) or int(be[0] - bs[0]) != 2:
        return None
    return float(ba[0])


class GramBinarySoftmaxSolver:
    """Solves a two-class softmax working-set problem by proximal Newton on Gram matrices."""

    def __init__(self, ctx, weight: float):
        self.ctx = ctx
        self.a = weight
        self.last_gap = np.inf
        self._columns = ColumnCache(ctx.design, ctx.n)

    def solve_ws(self, W0, b0, ws, tol_in, budget, gap0=np.inf):
        ctx, fit = self.ctx, self.ctx.datafit
        design, wn, reg, icpt = ctx.design, ctx.wn, ctx.reg, ctx.intercept
        ws = np.asarray(ws, dtype=np.int64)
        k = ws.size
        X, X32, regs = self._columns.block(ws, icpt, reg)
        v = np.zeros(X.shape[1])
        v[:k] = np.asarray(W0, dtype=np.float64) @ _E
        b = np.zeros(2) if b0 is None else np.asarray(b0, dtype=np.float64) - float(np.mean(b0))
        if icpt:
            v[k] = float(b @ _E)
        z = X @ v
        design.n_passes += k / design.p
        iters = 0
        best = -np.inf
        gap = np.inf
        while True:
            Z = z[:, None] * _E[None, :]
            if icpt:  # exact intercept first: only lowers the objective (shift-free: zero mean)
                Z0 = Z - v[k] * _E[None, :]
                bb = fit.optimal_intercept(Z0, v[k] * _E)
                v[k] = float(bb @ _E)
                z = Z0 @ _E + v[k]
                Z = z[:, None] * _E[None, :]
            R = fit.residual(Z)
            Rb = fit.balance(R) if icpt else R
            Q = X[:, :k].T @ (wn[:, None] * Rb)
            design.n_passes += k / design.p
            s = feasible_scale(row_norms(Q), reg)
            pen = float(np.abs(v[:k]).sum())
            f = fit.value(Z) + reg * pen
            best = max(best, fit.dual_value(fit.shrink(Rb, s)))
            gap = f - best
            if gap <= tol_in or iters >= budget:
                break
            # ---- Newton model in v: gradient X^T (dF/dz), Hessian X^T diag(h) X
            Gz = -wn[:, None] * R
            gz = Gz @ _E
            P = fit.curvature_rows(Z)[0]
            h = 2.0 * self.a * wn * P[:, 0] * P[:, 1]
            A = weighted_gram(X32, h)
            design.n_passes += k / design.p  # one read of the working-set columns (k right-hand sides)
            g = X.T @ gz
            design.n_passes += k / design.p
            Bq = A @ v - g
            V = solve_model(A, Bq[:, None], v[:, None], regs)
            iters += 1  # one proximal Newton step (its model is solved on the k x k Gram matrix)
            dv = V[:, 0] - v
            dz = X @ dv
            design.n_passes += k / design.p
            dZ = dz[:, None] * _E[None, :]
            slope = float(np.sum(Gz * dZ)) + reg * (float(np.abs(V[:k, 0]).sum()) - pen)
            if not slope < 0.0:
                break  # the model says we are optimal: the gap is at round-off level
            t = backtrack(fit, wn, Z, dZ, Gz, v[:k, None], V[:k, :], reg, slope, f)
            if t is None:
                break
            v = v + t * dv
            z = z + t * dz
        self.last_gap = gap
        W = v[:k, None] * _E[None, :]
        return W, (v[k] * _E if icpt else None), iters
