r"""Working-set subproblem of multi-class and multi-head losses: proximal Newton on a weighted Gram matrix.

Why: the row-sweep proximal Newton of :mod:`.newton` pays ``nnz(D_ws) c`` per coordinate-descent
epoch through sparse indices and needs 600+ full-dictionary passes on a 10-class problem at reg
1e-3. Here the per-row Hessian ``H_i`` (block-diagonal over the heads, ``a (diag p - p p^T)`` on a
softmax block) is replaced by its upper bound ``lam_i I`` (Gershgorin, ``lam_i <= a/2``; exact for
two classes), so the quadratic model of ``F`` at ``Z`` in the working-set coefficients ``V`` is

    <X^T Gz, dV> + 1/2 <dV, A dV>,   A = X^T diag(w lam / n) X

with one ``k x k`` matrix ``A`` shared by all ``c`` outputs: one float32 rank-k update (``ssyrk``)
per Newton step (a model only, never part of the certificate), then the quadratic group lasso of
:func:`.gram_ws.quadratic_group_lasso` (Anderson-accelerated coordinate descent at ``k^2 c`` per
epoch, exact Newton on the support) and a backtracking line search on the true objective in the
cancellation-free Bregman form of :mod:`.newton`. An intercept is one more, unpenalized column of
ones. Where rows are confidently classified ``lam_i`` is small, so the model stays tight on
separable data (the fixed Boehning bound ``a/2`` would not: it was measured 3-10x slower there,
see ``_FIXED_CURVATURE``).

The working-set duality gap is computed exactly as in :mod:`.newton` (explicit predictions,
balanced residual, feasible scaling) in float64; the outer loop certifies every result over all atoms.
"""

from __future__ import annotations

import numpy as np

from .gram_prox import ColumnCache, backtrack, solve_model
from .gram_ws import weighted_gram
from .newton import _center, feasible_scale, support_newton_step
from .penalty import row_norms

_FIXED_CURVATURE = False
_SUPPORT_NEWTON = True
_GRAM_PRECONDITIONER = True  # support Newton-CG preconditioned by the model's Gram (else its diagonal)
_NEWTON_RATE = 0.5  # Newton-CG steps on the support go on while each at least halves the gap  # True: Boehning bound lam_i = curvature (one Gram per working set)


def gram_softmax_applies(ctx) -> bool:
    """Whether the datafit describes per-row Hessian bounds and every output takes an intercept (when fitted)."""
    fit = ctx.datafit
    try:
        fit.curvature_rows(np.zeros((1, fit.n_outputs)))
    except NotImplementedError:
        return False
    return not ctx.intercept or bool(fit.intercept_mask().all())


class GramSoftmaxSolver:
    """Solves a multi-class / multi-head working-set problem by proximal Newton on Gram matrices."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.last_gap = np.inf
        self._columns = ColumnCache(ctx.design, ctx.n)

    def solve_ws(self, W0, b0, ws, tol_in, budget, gap0=np.inf, cols=None):
        ctx, fit = self.ctx, self.ctx.datafit
        design, wn, reg, icpt = ctx.design, ctx.wn, ctx.reg, ctx.intercept
        ws = np.asarray(ws, dtype=np.int64)
        k, c = ws.size, fit.n_outputs
        X, X32, regs = self._columns.block(ws, icpt, reg)
        V = np.zeros((X.shape[1], c))
        V[:k] = np.asarray(W0, dtype=np.float64)
        _center(V, fit, np.ones(c, dtype=bool))  # zero-mean softmax blocks: same logits, smaller penalty
        if icpt:
            V[k] = 0.0 if b0 is None else np.asarray(b0, dtype=np.float64)
        Z = X @ V
        design.n_passes += k / design.p
        iters = 0
        best = -np.inf
        gap = np.inf
        A = None
        cols = design.columns(ws) if cols is None else cols
        frac = cols[0][-1] / max(design.nnz, 1)
        ones = np.ones(c, dtype=bool)
        newton_next, newton_gap = False, None
        while True:
            if icpt:  # exact intercept first: only lowers the objective
                Z0 = Z - V[k][None, :]
                V[k] = fit.optimal_intercept(Z0, V[k])
                Z = Z0 + V[k][None, :]
            R = fit.residual(Z)
            Rb = fit.balance(R) if icpt else R
            Q = X[:, :k].T @ (wn[:, None] * Rb)
            design.n_passes += k / design.p
            s = feasible_scale(row_norms(Q), reg)
            pen = float(row_norms(V[:k]).sum())
            f = fit.value(Z) + reg * pen
            best = max(best, fit.dual_value(fit.shrink(Rb, s)))
            gap = f - best
            if gap <= tol_in or iters >= budget:
                break
            if newton_gap is not None and gap > _NEWTON_RATE * newton_gap:
                newton_next = False  # the last Newton-CG step did not pay: back to model steps
            newton_gap = None
            # ---- on a support the model steps no longer change: Newton-CG steps with the exact
            # Hessian (the bound lam_i I is loose by up to the number of classes there), for as
            # long as they make progress; then a model step again (it may change the support)
            support = row_norms(V[:k]) > 0
            if newton_next and _SUPPORT_NEWTON and support.any():
                W1, Z1, b1, _ = support_newton_step(ctx, ones, V[:k], Z, V[k] if icpt else None, support, cols,
                                                    frac, dense=X[:, :k],
                                                    gram=A if _GRAM_PRECONDITIONER else None)
                iters += 1
                if not np.array_equal(W1, V[:k]):
                    newton_gap = gap
                    V[:k], Z = W1, Z1
                    if icpt:
                        V[k] = b1
                    continue
            newton_next = False
            # ---- Newton model in V: gradient X^T Gz, curvature X^T diag(w lam / n) X (kron I_c)
            Gz = -wn[:, None] * R
            if A is None or not _FIXED_CURVATURE:
                lam = np.full(ctx.n, float(fit.curvature)) if _FIXED_CURVATURE else fit.curvature_rows(Z)[1]
                A = weighted_gram(X32, wn * lam)
                design.n_passes += k / design.p  # one read of the working-set columns (k right-hand sides)
            g = X.T @ Gz
            design.n_passes += k / design.p
            Bq = A @ V - g
            Vn = solve_model(A, Bq, V, regs)
            iters += 1  # one proximal Newton step (its model is solved on the k x k Gram matrix)
            dV = Vn - V
            dZ = X @ dV
            design.n_passes += k / design.p
            slope = float(np.sum(Gz * dZ)) + reg * (float(row_norms(Vn[:k]).sum()) - pen)
            if not slope < 0.0:
                break  # the model says we are optimal: the gap is at round-off level
            t = backtrack(fit, wn, Z, dZ, Gz, V[:k], Vn[:k], reg, slope, f)
            if t is None:
                break
            V = V + t * dV
            Z = Z + t * dZ
            newton_next = np.array_equal(row_norms(V[:k]) > 0, support)  # the model step kept the support
        self.last_gap = gap
        return V[:k].copy(), (V[k].copy() if icpt else None), iters
