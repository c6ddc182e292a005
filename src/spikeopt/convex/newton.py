r"""Working-set subproblem: proximal Newton with an inner block coordinate descent (skglm's ProxNewton line).

Why this shape: the old inner solver (FISTA on the ``k x k`` Gram matrix) cost ``O(k^2)`` per
step and crawled on ill-conditioned binary designs; its majorize-minimize variant for cross-entropy
diverged on separable data (the Bregman test accepts huge steps where the loss flattens).
Here every step is

1. the quadratic model of ``F`` at the current predictions ``Z`` (gradient ``Gz`` and the per-row
   Hessians ``H_i`` the datafit describes; for the squared loss the model *is* ``F``);
2. a few epochs of block coordinate descent over the working-set atoms on ``model + Omega``
   (:func:`.kernels.cd_epoch`: one atom's ``c``-vector at a time, step ``1/L_j`` with
   ``L_j = sum_i (w_i/n) d_ij^2 lambda_max(H_i)``, block soft-thresholding), touching only the rows
   where the atom spikes -- the cost per epoch is ``nnz(D_ws) * c``, never ``k^2``; the intercept is
   one more (unpenalized) block. Anderson acceleration extrapolates the CD iterates every
   ``_AA_EVERY`` epochs and is kept only when it lowers the model;
3. a backtracking (Armijo) line search on the true objective along the Newton direction, so the
   objective never increases -- which is what makes the solver robust on separable data where the
   softmax Hessian vanishes.

The working-set duality gap (same construction as the full certificate, restricted to the
working-set atoms) decides when to stop.
"""

from __future__ import annotations

import numpy as np

from . import kernels as K
from .penalty import row_norms
from .support_dense import damped_directions, dense_pays, row_hessians, support_hessian

_AA_EVERY = 5  # Anderson extrapolation every this many CD epochs
_ARMIJO = 1e-4
_DENSE_SUPPORT_BYTES = 1 << 28  # support Newton copies the support columns to a dense block up to this (as float64)
_CG_DTYPE = np.float32  # the support block's type in the Newton-CG products (see support_newton_step)
_CG_MAX = 50  # conjugate-gradient iterations of a support Newton step, at first ...
_CG_MAX_GROWN = 1600  # ... doubled up to this while capped steps repeat on one support (ill-conditioned)
_MAX_EPOCHS_QUADRATIC = 10  # CD epochs per Newton step when the model is exact (squared loss)
_MAX_EPOCHS = 10  # ... when it is only a local model (cross-entropy)
_INNER_REL = {True: 1e-3, False: 0.1}  # stop CD when the step norm fell by this factor
_GRAM_ROWS_PER_ATOM = 4  # multi-class / multi-head working sets go to gram_softmax.py from n >= this * k ...
_GRAM_CONDITION = 500.0  # ... or when their coherence_condition is at least this (see WorkingSetSolver._gram_route)
_COHERENCE_BLOCK = 1 << 22  # nonzeros per block of coherence_condition's one pass


def feasible_scale(norms: np.ndarray, reg: float, guard: float = 1e-11) -> float:
    """``s = min(1, reg / max_j norms_j)`` with a relative round-off guard."""
    mx = float(norms.max()) if norms.size else 0.0
    if mx * (1.0 + guard) <= reg:
        return 1.0
    return reg / (mx * (1.0 + guard))


def _center(V: np.ndarray, fit, cmask: np.ndarray) -> np.ndarray:
    """Subtract, in place, the mean over the ``cmask`` columns of every softmax block of each row."""
    for cols in _centered_columns(fit, cmask):
        V[:, cols] -= V[:, cols].mean(axis=1, keepdims=True)
    return V


def _centered_columns(fit, cmask: np.ndarray) -> list:
    """The column sets ``_center`` averages over (a slice where contiguous); cached on ``fit``, since
    conjugate gradients center once per Hessian product."""
    cache = fit.__dict__.setdefault("_centered_columns_cache", {})
    key = cmask.tobytes()
    if key not in cache:
        _, _, (bs, be, _, bsoft) = fit.curvature_rows(np.zeros((1, cmask.size)))
        sets = []
        for s0, e0, soft in zip(bs, be, bsoft):
            cols = np.arange(s0, e0)[cmask[s0:e0]]
            if soft and cols.size:
                contiguous = cols[-1] - cols[0] + 1 == cols.size
                sets.append(slice(int(cols[0]), int(cols[-1]) + 1) if contiguous else cols)
        cache[key] = sets
    return cache[key]


def _change(fit, wn, Z, Zt, Gz, dZ, W, Wt, reg) -> float:
    """``P(Wt) - P(W)`` without cancellation: ``<grad F, dZ> + Bregman(Z, Zt) + reg sum_j (||Wt_j|| - ||W_j||)``.

    Differences of two objective values ~1e1 lose everything below ~1e-15; the Bregman form keeps
    the line search meaningful down to the last digits (needed with 8 decades of row weights).
    """
    dF = float(np.sum(Gz * dZ)) + float(wn @ fit.bregman_rows(Z, Zt))
    return dF + reg * float(np.sum(row_norms(Wt) - row_norms(W)))


def _armijo(change: float, t: float, slope: float, f: float) -> bool:
    """Sufficient decrease, or -- for a full step -- no increase beyond float64 round-off of ``f``.

    At gaps near 1e-9 the predicted decrease is below what ``_change`` can resolve; refusing those
    full steps stalls the solver although they are (up to round-off) descent steps.
    """
    return change <= _ARMIJO * t * slope or (t == 1.0 and change <= 8.0 * 2.0**-52 * abs(f))


class _Anderson:
    """Anderson extrapolation of the CD iterates (as in skglm / celer), on ``(dW, db, G2)``."""

    def __init__(self, depth: int):
        self.depth = depth
        self.buf: list[tuple[np.ndarray, ...]] = []

    def push(self, state: tuple[np.ndarray, ...]):
        self.buf.append(tuple(a.copy() for a in state))

    def extrapolate(self):
        if len(self.buf) < self.depth + 1:
            return None
        X = np.stack([np.concatenate([s[0].ravel(), s[1].ravel()]) for s in self.buf])
        U = np.diff(X, axis=0)
        C = U @ U.T
        try:
            z = np.linalg.solve(C + 1e-12 * np.trace(C) * np.eye(C.shape[0]), np.ones(C.shape[0]))
        except np.linalg.LinAlgError:  # pragma: no cover
            self.buf.clear()
            return None
        if not np.all(np.isfinite(z)) or z.sum() == 0:
            self.buf.clear()
            return None
        coef = z / z.sum()
        out = tuple(sum(ci * s[m] for ci, s in zip(coef, self.buf[1:])) for m in range(len(self.buf[0])))
        self.buf.clear()
        return out


def coherence_condition(cols: tuple[np.ndarray, np.ndarray, np.ndarray], n: int) -> float:
    """Condition number of the Gram matrix of ``k`` unit columns whose pairwise cosines all equal
    the mean cosine ``mu`` of the given ones: ``(1 + (k - 1) mu) / (1 - mu)``.

    Why: coordinate descent slows as the condition number of the columns' Gram matrix grows, and
    the equicorrelated model captures the part that nonnegative spike features have in common (two
    binary atoms firing independently at rate ``rho`` have cosine ``rho``; spike counts, cosines
    near 1): one large eigenvalue ``1 + (k - 1) mu`` against ``1 - mu``. The mean cosine costs one
    pass over the nonzeros (``||sum_j d_j / ||d_j||||^2 = k + k (k - 1) mu``), no ``k x k`` product.
    ``cols`` is the CSC triple ``(indptr, indices, data)`` of the columns; all-zero columns are left out.
    """
    indptr, indices, data = cols
    k_all = len(indptr) - 1
    s = np.zeros(n)
    k, j0 = 0, 0
    while j0 < k_all:  # column blocks of about _COHERENCE_BLOCK nonzeros: float64 temporaries stay small
        j1 = max(j0 + 1, min(k_all, int(np.searchsorted(indptr, indptr[j0] + _COHERENCE_BLOCK, side="right")) - 1))
        lo, hi = int(indptr[j0]), int(indptr[j1])
        counts = np.diff(indptr[j0:j1 + 1])
        d = np.asarray(data[lo:hi], dtype=np.float64)
        sq = np.zeros(j1 - j0)
        nz = counts > 0
        if hi > lo:
            sq[nz] = np.add.reduceat(d * d, indptr[j0:j1][nz] - lo)
        keep = sq > 0
        k += int(keep.sum())
        inv = np.where(keep, 1.0 / np.sqrt(np.where(keep, sq, 1.0)), 0.0)
        s += np.bincount(indices[lo:hi], weights=d * np.repeat(inv, counts), minlength=n)
        j0 = j1
    if k < 2:
        return 1.0
    mu = (float(s @ s) - k) / (k * (k - 1))
    return float(np.inf) if mu >= 1.0 else (1.0 + (k - 1) * mu) / (1.0 - mu)


class WorkingSetSolver:
    """Solves ``min F(D_ws W + 1 b^T) + reg sum ||W_j||`` over a working set, to a working-set gap."""

    explicit = True

    def __init__(self, ctx):
        from .datafits import Squared
        from .gram_ce import GramBinarySoftmaxSolver, binary_softmax_weight
        from .gram_softmax import GramSoftmaxSolver, gram_softmax_applies
        from .gram_ws import GramSquaredSolver

        self.ctx = ctx
        # the working-set problem is solved on (weighted) Gram matrices when they fit: squared loss
        # (gram_ws.py), two-class softmax (gram_ce.py), multi-class and multi-head (gram_softmax.py);
        # the row sweeps below remain for working sets too large for a dense block, and for
        # intercepts that some outputs do not take (absent classes)
        self.gram = None
        if isinstance(ctx.datafit, Squared):
            self.gram = GramSquaredSolver(ctx)
        else:
            a = binary_softmax_weight(ctx.datafit)
            if a is not None and (not ctx.intercept or ctx.datafit.intercept_mask().all()):
                self.gram = GramBinarySoftmaxSolver(ctx, a)
            elif gram_softmax_applies(ctx):
                self.gram = GramSoftmaxSolver(ctx)

    def _gram_route(self, ws: np.ndarray):
        """Whether the Gram solver takes this working set, and the columns read to decide (else None).

        Squared loss and two-class softmax: always, when the dense block fits. Multi-class /
        multi-head: with many rows per atom, or on coherent columns. Its model curvature is a bound
        (looser than the exact softmax Hessian of the row sweeps) and its Gram matrix is rebuilt every
        Newton step (``n k^2``, BLAS), while a row-sweep epoch costs ``nnz(D_ws) c`` and its
        coordinate descent slows as the working set's Gram matrix grows ill-conditioned
        (:func:`coherence_condition`); the Gram solver's models are solved exactly on the support.
        Measured per working set (``benchmarks/ws_coherence.py``, summed by band of the estimate): the
        row sweeps were 4x faster at 100-300 (Gaussian witnesses: binary atoms at density 0.2-0.3),
        the Gram solver 1.7-19x faster from 1,000 up (the calibrated defaults' spike counts, cosines
        above 0.9; the addition trajectory dictionary, density 0.5, 2,000-3,700 atoms);
        ``_GRAM_CONDITION`` sits between the two bands. The columns are read only on that branch,
        where whichever solver runs needs them.
        """
        from .gram_softmax import GramSoftmaxSolver
        from .gram_ws import gram_fits

        n, k = self.ctx.n, len(ws)
        if self.gram is None or not gram_fits(n, k + 1):
            return False, None
        if not isinstance(self.gram, GramSoftmaxSolver):
            return True, None
        cols = self.ctx.design.columns(ws)
        return n >= _GRAM_ROWS_PER_ATOM * k or coherence_condition(cols, n) >= _GRAM_CONDITION, cols

    def solve_ws(self, W0: np.ndarray, b0, ws: np.ndarray, tol_in: float, budget: int, gap0: float = np.inf):
        to_gram, cols = self._gram_route(ws)
        if to_gram:
            extra = {} if cols is None else {"cols": cols}  # only the multi-class Gram solver takes them
            out = self.gram.solve_ws(W0, b0, ws, tol_in, budget, gap0, **extra)
            self.last_gap = self.gram.last_gap
            return out
        ctx, fit = self.ctx, self.ctx.datafit
        design = ctx.design
        wn, reg, icpt = ctx.wn, ctx.reg, ctx.intercept
        quadratic = bool(getattr(fit, "quadratic", False))
        n, c = ctx.n, ctx.c
        indptr, indices, data = design.columns(ws) if cols is None else cols
        frac = indptr[-1] / max(design.nnz, 1)  # one CD epoch in full-dictionary passes
        design.n_passes += len(ws) / design.p
        k = len(ws)
        W = np.array(W0, dtype=np.float64)
        cmask = fit.intercept_mask() if icpt else np.ones(c, dtype=bool)  # absent classes: flat
        self.cmask = cmask
        _center(W, fit, cmask)  # zero-mean softmax blocks: same logits up to a shift, smaller penalty
        b = np.zeros(c) if b0 is None else np.array(b0, dtype=np.float64)
        mask = fit.intercept_mask() if icpt else np.zeros(c, dtype=bool)
        Z = np.zeros((n, c))
        K.csc_dot(indptr, indices, data, W, Z)
        if icpt:
            Z += b[None, :]
        wD2 = np.empty(k)
        K.csc_sq_tdot(indptr, indices, data, wn, wD2)
        curv = float(fit.curvature)
        DT = np.empty((k, c))
        iters = 0
        last_support = newton_support = None
        cg_cap = _CG_MAX
        while True:
            if icpt:  # exact intercept: only lowers the objective
                Z0 = Z - b[None, :]
                b = fit.optimal_intercept(Z0, b)
                Z = Z0 + b[None, :]
            R = fit.residual(Z)
            Rb = fit.balance(R) if icpt else R
            K.csc_tdot(indptr, indices, data, wn[:, None] * Rb, DT)
            design.n_passes += frac
            s = feasible_scale(row_norms(DT), reg)
            f = fit.value(Z) + reg * float(row_norms(W).sum())
            gap = f - fit.dual_value(fit.shrink(Rb, s))
            if gap <= tol_in or iters >= budget:
                break
            # ---- quadratic model at Z
            Gz = -wn[:, None] * R
            P, lam, (bs, be, ba, bsoft) = fit.curvature_rows(Z)
            L = np.empty(k)
            K.csc_sq_tdot(indptr, indices, data, wn * lam, L)
            L = np.maximum(L, 1e-12 * curv * wD2)
            Lb = max(float(wn @ lam), 1e-12 * curv * float(wn.sum()))
            dW, db = np.zeros((k, c)), np.zeros(c)
            G2 = Gz.copy()  # model gradient in Z: Gz + diag(w/n) H dZ

            def direction(dW_, db_):
                dZ_ = np.zeros((n, c))
                K.csc_dot(indptr, indices, data, dW_, dZ_)
                design.n_passes += frac
                return dZ_ + db_[None, :] if icpt else dZ_

            def model(dW_, db_, G2_):
                dZ_ = direction(dW_, db_)
                return float(np.sum((0.5 * (Gz + G2_)) * dZ_) + reg * row_norms(W + dW_).sum()), dZ_

            aa = _Anderson(_AA_EVERY)
            viol0 = None
            max_ep = _MAX_EPOCHS_QUADRATIC if quadratic else _MAX_EPOCHS
            dZ = None
            for _ in range(max_ep):
                viol = K.cd_epoch(indptr, indices, data, W, dW, G2, P, wn, bs, be, ba, bsoft, cmask, L, reg)
                if icpt:
                    viol = max(viol, K.intercept_step(db, G2, P, wn, bs, be, ba, bsoft, Lb, mask))
                iters += 1
                design.n_passes += frac
                if viol0 is None:
                    viol0 = viol
                aa.push((dW, db, G2))
                ext = aa.extrapolate()
                if ext is not None:
                    m_ext, dZ_ext = model(*ext)
                    m_cur, dZ = model(dW, db, G2)
                    if m_ext < m_cur:
                        dW, db, G2 = (np.ascontiguousarray(a) for a in ext)
                        dZ = dZ_ext
                if viol <= _INNER_REL[quadratic] * viol0 or iters >= budget:
                    break
                dZ = None
            if dZ is None:
                dZ = direction(dW, db)
            # ---- line search on the true objective
            pen0 = float(row_norms(W).sum())
            slope = float(np.sum(Gz * dZ)) + reg * (float(row_norms(W + dW).sum()) - pen0)
            if not slope < 0.0:
                break  # the model says we are optimal: gap is at round-off level
            t, accepted = 1.0, False
            for _ in range(40):
                Zt = Z + t * dZ
                Wt = W + t * dW
                if _armijo(_change(fit, wn, Z, Zt, Gz, t * dZ, W, Wt, reg), t, slope, f):
                    accepted = True
                    break
                t *= 0.5
            if not accepted:
                break
            W, Z = Wt, Zt
            if icpt:
                b = b + t * db
            # ---- on a support that CD no longer changes: a Newton-CG step of the true objective
            support = row_norms(W) > 0
            if support.any() and last_support is not None and np.array_equal(support, last_support):
                W, Z, b, used = support_newton_step(ctx, cmask, W, Z, b, support, (indptr, indices, data), frac,
                                                    cg_max=cg_cap)
                iters += 1
                # a capped step followed by another Newton step on the same support: CG was cut short
                # on an ill-conditioned Hessian (separable data at small reg: most rows have p(1-p) ~ 0)
                # and truncated steps crawl; let CG run longer, so the solve converges instead of
                # spending its budget (a fixed cap of 50 left such solves unconverged at 20,000 iterations)
                if used >= cg_cap and newton_support is not None and np.array_equal(support, newton_support):
                    cg_cap = min(2 * cg_cap, _CG_MAX_GROWN)
                newton_support = support
            last_support = support
        self.last_gap = gap
        return W, (b if icpt else None), iters


def support_newton_step(ctx, cmask, W, Z, b, support, cols, frac, cg_max: int = _CG_MAX, dense=None, gram=None):
    r"""One Newton-CG step (Armijo line search) of ``F(D_S W_S + 1 b^T) + reg sum ||W_j||`` on the support.

    On a fixed support every ``W_j != 0`` and the objective is smooth: its Hessian is
    ``D_S^T diag(w/n) H D_S`` plus the norm's ``reg/||W_j|| (I - u_j u_j^T)``, applied
    matrix-free (``O(nnz(D_S) c)`` per product, never ``k^2``), restricted to zero-mean softmax
    blocks. The support columns are copied to a dense block for BLAS when that is small
    (``_DENSE_SUPPORT_BYTES``; float32 for the CG products, float64 for an exact Hessian); then the
    intercept joins the step as one more unpenalized row (coordinate descent alone zig-zags between
    a free intercept and uncentered binary atoms).
    Converges quadratically where coordinate descent crawls on ill-conditioned problems.
    ``cmask`` marks the outputs that take part in softmax centering (absent classes do not);
    ``dense``, when given, holds the working-set columns as a dense ``n x k`` block already;
    ``gram``, its curvature-bound Gram ``X^T diag(w lam / n) X`` (intercept column last when fitted):
    then CG is preconditioned by its support block (with the norm's curvature), which carries the
    atoms' correlations that a diagonal preconditioner ignores.
    Returns ``(W, Z, b, cg_iterations)``.
    """
    fit = ctx.datafit
    wn, reg, design = ctx.wn, ctx.reg, ctx.design
    indptr, indices, data = cols
    k, c = W.shape
    n = ctx.n
    P, lam, (bs, be, ba, bsoft) = fit.curvature_rows(Z)
    S = np.flatnonzero(support)
    blas = dense is not None or n * S.size * 8 <= _DENSE_SUPPORT_BYTES  # support columns as a dense block
    with_b = ctx.intercept and blas
    m = k + 1 if with_b else k  # row k: the intercept direction
    rows = np.append(S, k) if with_b else S
    exact = blas and dense_pays(n, rows.size, c, cg_max)
    # The exact Hessian is formed in float64. The CG products read the block in float32: half the
    # memory traffic of these bandwidth-bound products (most of a multi-head solve's time), spike
    # counts are exact in float32, and the ~1e-7 round-off only perturbs an inexact Newton direction;
    # the line search and the certificate stay in float64.
    XS = _support_block(dense, cols, S, n, np.float64 if exact else _CG_DTYPE) if blas else None
    bmask = fit.intercept_mask() if ctx.intercept else None

    def project(V):
        V[:k][~support] = 0.0
        if with_b:
            V[k, ~bmask] = 0.0
        return _center(V, fit, cmask)

    def hess_rows(U):
        out = np.empty_like(U)
        for s0, e0, a, sf in zip(bs, be, ba, bsoft):
            Pb, Ub = P[:, s0:e0], U[:, s0:e0]
            if sf:
                out[:, s0:e0] = a * Pb * (Ub - np.sum(Pb * Ub, axis=1, keepdims=True))
            else:
                out[:, s0:e0] = a * Pb * Ub
        return wn[:, None] * out

    def predict(V, blas=True):
        if XS is not None and blas:
            U = (XS @ V[S].astype(XS.dtype)).astype(np.float64)
        else:
            U = np.zeros((n, c))
            K.csc_dot(indptr, indices, data, V[:k], U)
        if with_b:
            U += V[k][None, :]
        return U

    nr = row_norms(W)
    safe = np.where(support, nr, 1.0)
    Uw = np.zeros((m, c))
    Uw[:k] = W / safe[:, None]
    a_pen = np.zeros(m)
    a_pen[:k] = np.where(support, reg / safe, 0.0)
    R = fit.residual(Z)
    Gz = -wn[:, None] * R
    g = np.zeros((m, c))
    K.csc_tdot(indptr, indices, data, Gz, g[:k])
    if with_b:
        g[k] = Gz.sum(axis=0)
    g = project(g + reg * Uw)
    gn = float(np.sqrt(np.sum(g * g)))
    if gn == 0.0:
        return W, Z, b, 0
    out = np.zeros((m, c))

    def hv(V):
        HU = hess_rows(predict(V))
        if XS is not None:
            out[:] = 0.0
            out[S] = XS.T @ HU.astype(XS.dtype)
            design.n_passes += 2 * S.size / design.p
        else:
            K.csc_tdot(indptr, indices, data, HU, out[:k])
            design.n_passes += 2 * frac
        if with_b:
            out[k] = HU.sum(axis=0)
        return project(out + a_pen[:, None] * (V - Uw * np.sum(Uw * V, axis=1, keepdims=True)))

    if exact:
        M = _dense_hessian(fit, cmask, bmask if with_b else None, XS, P, wn, (bs, be, ba, bsoft), a_pen[rows],
                           Uw[rows])
        design.n_passes += rows.size**2 * c / design.p  # forming the Hessian, in passes of n p c
        X = np.zeros((m, c))
        for rel, direction in damped_directions(M, g[rows], ctx.damping):
            X[rows] = direction
            ctx.damping = rel
            out = _support_line_search(fit, ctx, W, Z, b, g, X, nr, Gz, predict, with_b, k, 1, halvings=0)
            if out[0] is not W:
                return out
        return _support_line_search(fit, ctx, W, Z, b, g, X, nr, Gz, predict, with_b, k, 1)
    precondition = _preconditioner(gram, rows, a_pen, m) if gram is not None else None
    if precondition is None:
        diag = np.zeros(m)
        K.csc_sq_tdot(indptr, indices, data, wn * lam, diag[:k])
        if with_b:
            diag[k] = float(wn @ lam)
        pre = 1.0 / np.maximum(diag + a_pen, 1e-300)

        def precondition(V):
            return pre[:, None] * V

    X = np.zeros((m, c))
    r = -g
    zz = project(precondition(r))
    d = zz.copy()
    rz = float(np.sum(r * zz))
    used = 0
    for used in range(1, cg_max + 1):
        Hd = hv(d)
        dHd = float(np.sum(d * Hd))
        if not dHd > 0:
            break
        alpha = rz / dHd
        X += alpha * d
        r -= alpha * Hd
        if float(np.sqrt(np.sum(r * r))) <= min(0.1, np.sqrt(gn)) * gn:
            break
        zz = project(precondition(r))
        rz_new = float(np.sum(r * zz))
        d = zz + (rz_new / rz) * d
        rz = rz_new
    return _support_line_search(fit, ctx, W, Z, b, g, X, nr, Gz, predict, with_b, k, used)


def _preconditioner(gram: np.ndarray, rows: np.ndarray, a_pen: np.ndarray, m: int):
    """``V -> (G_rr + diag(a_pen_r))^{-1} V_r`` on the support rows (zero elsewhere), by Cholesky; ``None``
    when that block is not numerically positive definite (the caller falls back to the diagonal)."""
    import scipy.linalg as sla

    G = gram[np.ix_(rows, rows)] + np.diag(a_pen[rows])
    G[np.diag_indices_from(G)] += 1e-12 * max(float(np.max(np.diag(G))), 1e-300)
    try:
        factor = sla.cho_factor(G, lower=True, check_finite=False)
    except np.linalg.LinAlgError:
        return None

    def apply(V):
        out = np.zeros((m, V.shape[1]))
        out[rows] = sla.cho_solve(factor, V[rows], check_finite=False)
        return out

    return apply


def _support_block(dense, cols, S, n: int, dtype) -> np.ndarray:
    """The support columns as a dense ``n x |S|`` block of ``dtype`` (from the working set's dense block
    when there is one, else from the compressed columns)."""
    if dense is not None:
        return np.ascontiguousarray(dense[:, S], dtype=dtype)
    indptr, indices, data = cols
    XS = np.zeros((n, S.size), dtype=dtype)
    for col, j in enumerate(S):
        XS[indices[indptr[j]:indptr[j + 1]], col] = data[indptr[j]:indptr[j + 1]]
    return XS


def _support_line_search(fit, ctx, W, Z, b, g, X, nr, Gz, predict, with_b, k, used, halvings: int = 39):
    """Armijo backtracking on the true objective along the support direction ``X``; returns ``W``
    itself (the same object) when no step length of ``1, 1/2, ... 2^-halvings`` is accepted."""
    wn, reg = ctx.wn, ctx.reg
    slope = float(np.sum(g * X))
    if not slope < 0.0:
        return W, Z, b, used
    dZ = predict(X, blas=False)  # the same summation as every other Z update
    f = fit.value(Z) + reg * float(nr.sum())
    t = 1.0
    for _ in range(halvings + 1):
        Wt = W + t * X[:k]
        Zt = Z + t * dZ
        if _armijo(_change(fit, wn, Z, Zt, Gz, t * dZ, W, Wt, reg), t, slope, f):
            return Wt, Zt, (b + t * X[k] if with_b else b), used
        t *= 0.5
    return W, Z, b, used


def _dense_hessian(fit, cmask, bmask, XS, P, wn, blocks, a_pen, U):
    """The projected Hessian on the support rows (and the intercept row when ``bmask`` is given)."""
    c = U.shape[1]
    Cc = _center(np.eye(c), fit, cmask)  # symmetric: the centering of ``project``
    C = np.repeat(Cc[None], U.shape[0], axis=0)
    X = XS
    if bmask is not None:
        C[-1] = Cc * bmask[None, :]  # zero the absent classes' intercepts, then center (they commute)
        X = np.hstack([XS, np.ones((XS.shape[0], 1))])
    return support_hessian(X, row_hessians(P, wn, blocks), a_pen, U, C)
