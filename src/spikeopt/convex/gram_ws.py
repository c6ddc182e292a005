r"""Working-set subproblem of the squared loss on the working-set Gram matrix (BLAS, no row loop).

Why: for the squared loss the working-set problem is the quadratic

    f(W) = 1/2 yy - <B, W> + 1/2 <W, G W> + reg sum_j ||W_j||,
    G = X^T diag(w/n) X,  B = X^T diag(w/n) Y,  yy = sum_i (w_i/n) ||y_i||^2

over the ``k`` working-set columns ``X`` (centered by their weighted means when an intercept is
fitted: the free intercept is eliminated exactly, ``b = ybar - X-bar^T W``). Once ``G`` is built
(one BLAS product, ``n k^2`` flops, reused along a path and grown column-wise when the working set
grows), every coordinate-descent epoch costs ``k^2 c`` operations instead of a sweep over the
rows (``nnz(X) c`` through sparse indices, 4-10x slower per entry than BLAS), and the working-set
duality gap is evaluated in closed form from ``G W - B``. On binary spike dictionaries the atoms
are strongly correlated, so coordinate descent identifies the support quickly but converges on it
slowly; once the support stops changing, an exact Newton step on the support (the objective is
smooth there) is solved by conjugate gradients preconditioned with a Cholesky factor of
``G_SS + diag(reg / ||W_j||)``, followed by a backtracking line search on the exact objective.

The outer loop (``solver.py``) still certifies every result with an explicit float64 pass over
all atoms, so the closed-form gap here only decides when to stop.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla

from . import kernels as K
from .newton import _Anderson, feasible_scale
from .penalty import row_norms

#: dense float64 working-set columns (n x k) and Gram matrix (k x k) are used up to this many bytes
GRAM_BYTES = 1 << 29
_AA_EVERY = 5
_EPOCHS = 10  # CD epochs between gap checks
_EPOCHS_AFTER_NEWTON = 10  # ... once Newton steps on the support have started
_SUPPORT_SLACK = 0.01  # Newton when at most this fraction of the support changed in the last epochs
_EMPTY = np.zeros(0)  # Anderson state is (W, intercept); the intercept is eliminated here


def gram_fits(n: int, k: int) -> bool:
    """Whether the dense working-set columns and Gram matrix of ``k`` atoms fit the memory budget."""
    return 8 * (n * k + k * k) <= GRAM_BYTES


def dense_columns(design, idx: np.ndarray) -> np.ndarray:
    """Working-set columns ``idx`` as a dense float64 ``n x len(idx)`` block (exact copy); counts ``k/p`` pass."""
    indptr, indices, data = design.columns(idx)
    X = np.zeros((design.n, idx.size), order="F")  # column-major: BLAS-friendly Gram products
    for col in range(idx.size):
        X[indices[indptr[col]:indptr[col + 1]], col] = data[indptr[col]:indptr[col + 1]]
    design.n_passes += idx.size / design.p
    return X


def weighted_gram(X: np.ndarray, h: np.ndarray) -> np.ndarray:
    """``X^T diag(h) X`` in float64 for ``h >= 0``, or float32 when ``X`` is (a model Hessian only).

    A symmetric rank-k update (``syrk``): half the flops of a general product; float32 halves them
    again where round-off of ~1e-6 relative only perturbs a Newton model, never a certificate.
    """
    Xh = np.asfortranarray(np.sqrt(h).astype(X.dtype)[:, None] * X)
    # syrk fills the upper triangle of a zeroed output; mirror it with one transposed add (the
    # diagonal, counted twice, halved: exact in binary floating point), not two triu copies (4x slower)
    A = (sla.blas.ssyrk if X.dtype == np.float32 else sla.blas.dsyrk)(1.0, Xh, trans=1).astype(np.float64)
    A += A.T
    A[np.diag_indices_from(A)] *= 0.5
    return A


class GramSquaredSolver:
    """Solves the squared-loss working-set problem on its Gram matrix (see module docstring)."""

    def __init__(self, ctx):
        self.ctx = ctx
        self._ws = np.zeros(0, dtype=np.int64)
        self._G = np.zeros((0, 0))
        self._B = None
        self.last_gap = np.inf

    # ------------------------------------------------------------------ statistics of the working set
    def _stats(self, ws: np.ndarray):
        """``(G, B)`` of the working set, centered when an intercept is fitted; grows the cached Gram."""
        ctx = self.ctx
        fit, wn, design = ctx.datafit, ctx.wn, ctx.design
        k = ws.size
        old_pos = np.searchsorted(self._ws, ws)
        old_pos = np.minimum(old_pos, max(self._ws.size - 1, 0))
        known = (self._ws.size > 0) & (self._ws[old_pos] == ws) if self._ws.size else np.zeros(k, dtype=bool)
        X = dense_columns(design, ws)
        G = np.empty((k, k))
        if known.any():
            kp = old_pos[known]
            G[np.ix_(known, known)] = self._G[np.ix_(kp, kp)]
        new = np.flatnonzero(~known)
        if new.size:
            if new.size == k:
                Gn = weighted_gram(X, wn)
            else:
                Gn = X.T @ (wn[:, None] * X[:, new])
            G[:, new] = Gn
            G[new, :] = Gn.T
            design.n_passes += k / design.p  # a product over the k columns (many right-hand sides)
        Y = fit.Y
        B = X.T @ (wn[:, None] * Y)
        design.n_passes += k / design.p
        self._ws, self._G = ws.copy(), G
        if ctx.intercept:
            omega = float(wn.sum())
            xbar = (X.T @ wn) / omega
            ybar = (wn @ Y) / omega
            Gc = G - omega * np.outer(xbar, xbar)
            Bc = B - omega * np.outer(xbar, ybar)
            yy = float(wn @ np.einsum("ij,ij->i", Y, Y)) - omega * float(ybar @ ybar)
            return Gc, Bc, yy, xbar, ybar
        return G, B, float(wn @ np.einsum("ij,ij->i", Y, Y)), None, None

    # ------------------------------------------------------------------ closed-form objective and gap
    @staticmethod
    def _fit(W, Grad, B, yy) -> float:
        """``1/2 yy - <B, W> + 1/2 <W, G W>`` written with ``Grad = G W - B``."""
        return 0.5 * yy + 0.5 * float(np.sum(W * (Grad - B)))

    def _bounds(self, W, Grad, B, yy, reg):
        """``(primal, dual)`` of the working-set problem; the dual point is the scaled residual."""
        fit = self._fit(W, Grad, B, yy)
        primal = fit + reg * float(row_norms(W).sum())
        s = feasible_scale(row_norms(Grad), reg)
        dual = s * (yy - float(np.sum(B * W))) - s * s * fit
        return primal, dual

    # ------------------------------------------------------------------ the solve
    def solve_ws(self, W0, b0, ws, tol_in, budget, gap0=np.inf):
        reg = self.ctx.reg
        G, B, yy, xbar, ybar = self._stats(np.asarray(ws, dtype=np.int64))
        best = [-np.inf]  # any dual-feasible point bounds this working-set problem: keep the best
        gap = [np.inf]

        def done(W, Grad):
            primal, dual = self._bounds(W, Grad, B, yy, reg)
            best[0] = max(best[0], dual)
            gap[0] = primal - best[0]
            return gap[0] <= tol_in

        W, _, iters = quadratic_group_lasso(G, B, W0, np.full(len(ws), reg), done, budget)
        self.last_gap = gap[0]
        b = None
        if self.ctx.intercept:
            b = ybar - xbar @ W
        return W, b, iters


def quadratic_group_lasso(G, B, W0, regs, done, budget: int, epochs: int = _EPOCHS):
    """Minimise ``1/2 <W, G W> - <B, W> + sum_j regs_j ||W_j||`` from ``W0`` until ``done(W, G W - B)``.

    Blocks of Anderson-accelerated coordinate-descent epochs on ``G``; once an epoch block leaves
    the support (almost) unchanged, an exact Newton step on the support (:func:`support_newton`),
    then shorter blocks. ``done`` is called before every block; ``regs_j = 0`` marks an
    unpenalized row (an intercept). Returns ``(W, G W - B, epochs + Newton steps)``.
    """
    G = np.ascontiguousarray(G)
    regs = np.ascontiguousarray(regs, dtype=np.float64)
    W = np.array(W0, dtype=np.float64)
    Grad = G @ W - B
    iters = 0
    last_support = None

    def objective(W_, Grad_):
        return 0.5 * float(np.sum(W_ * (Grad_ - B))) + float(regs @ row_norms(W_))

    while not done(W, Grad) and iters < budget:
        aa = _Anderson(_AA_EVERY)
        for _ in range(epochs):
            GradT = np.ascontiguousarray(Grad.T)
            viol = K.gram_cd_epoch(G, W, GradT, regs)
            Grad = GradT.T
            iters += 1
            aa.push((W, _EMPTY))
            ext = aa.extrapolate()
            if ext is not None:
                We = np.ascontiguousarray(ext[0])
                Ge = G @ We - B
                if objective(We, Ge) < objective(W, Grad):
                    W, Grad = We, Ge
            if viol == 0.0 or iters >= budget:
                break
        support = row_norms(W) > 0
        # Newton on the support once coordinate descent barely changes it (it then only fixes
        # the few atoms at the support's edge, a few epochs between Newton steps)
        if (support.any() and last_support is not None
                and np.count_nonzero(support != last_support) <= _SUPPORT_SLACK * support.sum()):
            W, Grad = support_newton(G, W, Grad, support, regs)
            iters += 1
            epochs = min(epochs, _EPOCHS_AFTER_NEWTON)
        last_support = support
    return W, Grad, iters


def support_newton(G, W, Grad, support, regs):
    r"""One exact Newton step of the objective restricted to the support (smooth there), then a line search.

    Hessian: ``H = G_SS (x) I_c + blockdiag(a_j (I - u_j u_j^T))``, ``a_j = regs_j/||W_j||``,
    ``u_j = W_j/||W_j||``. Written as ``P - V V^T`` with ``P = (G_SS + diag a) (x) I_c`` and
    ``V = blockdiag(sqrt(a_j) u_j)`` (one column per atom), the Woodbury identity solves
    ``H X = -g`` with two ``m x m`` Cholesky factorisations whatever the number of outputs ``c``:
    ``H^{-1} = P^{-1} + P^{-1} V M^{-1} V^T P^{-1}``, ``M = I - V^T P^{-1} V =
    I - (sqrt(a) sqrt(a)^T) o P0^{-1} o (U U^T)`` (``o``: entrywise product).

    Atoms whose trial point turned by more than 90 degrees (they passed zero: the support was about
    to lose them) are set to zero in the trial point, so one such atom does not force tiny steps on
    all others; a trial point is accepted only on a sufficient decrease of the exact objective
    (closed form through ``G``). Returns ``(W, G W - B)``.
    """
    S = np.flatnonzero(support)
    WS = W[S]
    rS = regs[S]
    nr = row_norms(WS)
    safe = np.where(nr > 0, nr, 1.0)
    a = np.where(nr > 0, rS / safe, 0.0)
    U = WS / safe[:, None]
    g = Grad[S] + rS[:, None] * U
    if not np.any(g):
        return W, Grad
    GSS = G[np.ix_(S, S)]
    m = S.size
    ridge = 1e-14 * np.trace(GSS) / m * np.eye(m)  # singular G_SS (collinear atoms): far below round-off
    try:
        if W.shape[1] == 1:  # one output: |w_j| is linear on the support, H = G_SS
            X = sla.cho_solve(sla.cho_factor(GSS + ridge, lower=True, check_finite=False), -g, check_finite=False)
            return _line_search(G, W, Grad, S, WS, X, g, rS, nr)
        L0 = sla.cho_factor(GSS + np.diag(a) + ridge, lower=True, check_finite=False)
        Y0 = sla.cho_solve(L0, -g, check_finite=False)
        P0inv, info = sla.lapack.dpotri(L0[0], lower=1)  # the inverse from the factor: m^3 flops
        if info != 0:
            return W, Grad
        P0inv = np.tril(P0inv) + np.tril(P0inv, -1).T
        sa = np.sqrt(a)
        M = np.eye(m) - np.outer(sa, sa) * P0inv * (U @ U.T)
        M += 1e-14 * np.eye(m)  # singular G_SS: a ridge far below round-off of H
        z = sla.cho_solve(sla.cho_factor(M, lower=True, check_finite=False), sa * np.sum(U * Y0, axis=1),
                          check_finite=False)
    except (np.linalg.LinAlgError, ValueError):
        return W, Grad
    X = Y0 + sla.cho_solve(L0, (sa * z)[:, None] * U, check_finite=False)
    return _line_search(G, W, Grad, S, WS, X, g, rS, nr)


def _line_search(G, W, Grad, S, WS, X, g, rS, nr):
    """Backtracking on the exact objective along the support Newton step ``X`` (see :func:`support_newton`)."""
    if not np.all(np.isfinite(X)):
        return W, Grad
    slope = float(np.sum(g * X))
    if not slope < 0.0:
        return W, Grad
    pen0 = float(rS @ nr)
    GS = G[:, S]
    penalized = rS > 0
    t = 1.0
    for _ in range(40):
        Wt = WS + t * X
        Wt[penalized & (np.sum(Wt * WS, axis=1) <= 0.0)] = 0.0  # passed through zero: leaves the support
        dW = Wt - WS
        GX = GS @ dW
        change = float(np.sum(Grad[S] * dW)) + 0.5 * float(np.sum(dW * GX[S])) + float(rS @ row_norms(Wt)) - pen0
        if change <= 1e-4 * t * slope:
            W = W.copy()
            W[S] = Wt
            return W, Grad + GX
        t *= 0.5
    return W, Grad
