"""The inner solver on Gram matrices: FISTA in a Jacobi metric with block soft-thresholding, and a Newton polish on the support."""

from __future__ import annotations


import numpy as np
import scipy.linalg
import scipy.sparse as sp
import scipy.sparse.linalg

from .penalty import row_norms

_FEAS_GUARD = 1e-11  # relative safety margin on dual feasibility against round-off in D^T Theta


def _cols(D, idx: np.ndarray):
    return D[:, idx]


class _GramCache:
    """``G = D^T diag(w/n) D``, computed lazily column block by column block (atoms asked for only)."""

    def __init__(self, D, wn: np.ndarray):
        self.D, self.wn = D, wn
        p = D.shape[1]
        self.G = np.zeros((p, p))
        self.have = np.zeros(p, dtype=bool)

    def ensure(self, idx: np.ndarray) -> None:
        new = idx[~self.have[idx]]
        if new.size == 0:
            return
        Dn = _cols(self.D, new)
        if sp.issparse(Dn):
            block = np.asarray((self.D.T @ (sp.diags(self.wn) @ Dn)).todense())
        else:
            block = np.asarray(self.D.T @ (Dn * self.wn[:, None]))
        sq = block[new]
        block[new] = 0.5 * (sq + sq.T)  # exact symmetry of the new x new block
        self.G[:, new] = block
        self.G[new, :] = block.T
        self.have[new] = True

    def sub(self, ws: np.ndarray) -> np.ndarray:
        self.ensure(ws)
        return self.G[np.ix_(ws, ws)]

    def cols(self, idx: np.ndarray) -> np.ndarray:
        self.ensure(idx)
        return self.G[:, idx]


def _lambda_max(M: np.ndarray) -> float:
    """An upper estimate of the largest eigenvalue of the symmetric PSD ``M`` (Lanczos, +1%).

    Lanczos (ARPACK) needs only products with ``M``; dense LAPACK ``eigh`` was 100-1000x slower in
    our measurements (``O(k^3)`` and very sensitive to a busy CPU).
    """
    k = M.shape[0]
    if k == 0:
        return 0.0
    if k <= 2:
        return float(np.linalg.eigvalsh(M)[-1])
    try:
        v0 = np.ones(k)
        val = scipy.sparse.linalg.eigsh(M, k=1, which="LA", tol=1e-8, v0=v0, return_eigenvectors=False)[0]
        return float(val) * 1.01  # Ritz values approach from below
    except Exception:  # pragma: no cover
        return float(np.linalg.eigvalsh(M)[-1])


def _jacobi_metric(G: np.ndarray) -> np.ndarray:
    """Per-row metric ``m`` with ``G <= diag(m)``: ``m = lambda_max(S^-1/2 G S^-1/2) diag(G)``."""
    d = np.clip(np.diag(G).copy(), 1e-300, None)
    isq = 1.0 / np.sqrt(d)
    L = _lambda_max(G * isq[:, None] * isq[None, :])
    return max(L, 1e-300) * d


def _bst(V: np.ndarray, thr: np.ndarray) -> np.ndarray:
    """Row-wise block soft-thresholding with per-row thresholds."""
    nrm = row_norms(V)
    scale = np.zeros_like(nrm)
    big = nrm > thr
    scale[big] = 1.0 - thr[big] / nrm[big]
    return V * scale[:, None]


def _feasible_scale(dt_norms: np.ndarray, reg: float) -> float:
    mx = float(dt_norms.max()) if dt_norms.size else 0.0
    if mx * (1.0 + _FEAS_GUARD) <= reg:
        return 1.0
    return reg / (mx * (1.0 + _FEAS_GUARD))


def _gram_gap(W, GW, H, yy: float, reg: float, dt_norms: np.ndarray) -> tuple[float, float]:
    r"""Primal/dual of ``min 1/2 <W, G W> - <W, H> + yy/2 + reg sum ||W_j||`` in Gram form.

    It is the squared loss ``1/2 ||A W - t||^2`` with ``G = A^T A``, ``H = A^T t``, ``yy = ||t||^2``;
    residual ``r = t - A W``: ``<r, t> = yy - <W, H>``, ``||r||^2 = yy - 2 <W, H> + <W, G W>``,
    ``A^T r = H - G W`` (whose row norms are ``dt_norms``). Dual: ``s <r, t> - s^2 ||r||^2 / 2``.
    """
    WH = float(np.sum(W * H))
    WGW = float(np.sum(W * GW))
    primal = 0.5 * WGW - WH + 0.5 * yy + reg * float(row_norms(W).sum())
    s = _feasible_scale(dt_norms, reg)
    dual = s * (yy - WH) - 0.5 * s * s * (yy - 2.0 * WH + WGW)
    return primal, dual


def _gram_objective(G, H, reg, X) -> float:
    return float(0.5 * np.sum(X * (G @ X)) - np.sum(X * H) + reg * row_norms(X).sum())


def _newton_polish(G, H, reg, x, max_newton=10, cg_iter=40):
    """Newton-CG on the support of ``x`` for ``1/2 <W, G W> - <W, H> + reg sum ||W_j||``.

    On a fixed support (all rows nonzero) the objective is smooth; its Hessian is
    ``G_SS (x) I + blockdiag(reg/||w_j|| (I - u_j u_j^T))``, applied matrix-free (``O(s^2 c)`` per
    product). Each Newton direction is found by Jacobi-preconditioned conjugate gradients, followed
    by an Armijo backtracking line search, so the objective never increases. It converges
    quadratically where proximal-gradient steps crawl (ill-conditioned binary Gram matrices); the
    rows outside the support are left at zero (the caller's gap decides whether that was right).
    """
    S = np.flatnonzero(row_norms(x) > 0)
    if S.size == 0:
        return x
    GS, HS = G[np.ix_(S, S)], H[S]
    X = x[S].copy()
    dG = np.clip(np.diag(GS), 1e-300, None)
    f = _gram_objective(GS, HS, reg, X)
    for _ in range(max_newton):
        nr = row_norms(X)
        if np.any(nr <= 0):
            break
        U = X / nr[:, None]
        g = GS @ X - HS + reg * U
        gn = float(np.sqrt(np.sum(g * g)))
        if gn <= 1e-13 * (1.0 + float(np.sqrt(np.sum(HS * HS)))):
            break
        a = reg / nr

        def hv(V):
            return GS @ V + a[:, None] * (V - U * np.einsum("ij,ij->i", U, V)[:, None])

        pre = 1.0 / (dG + a)
        # CG on hv(P) = -g
        P = np.zeros_like(X)
        r = -g
        z = pre[:, None] * r
        d = z.copy()
        rz = float(np.sum(r * z))
        for _ in range(cg_iter):
            Hd = hv(d)
            dHd = float(np.sum(d * Hd))
            if dHd <= 0:
                break
            alpha = rz / dHd
            P += alpha * d
            r -= alpha * Hd
            if float(np.sqrt(np.sum(r * r))) <= 1e-3 * gn * min(1.0, gn):
                break
            z = pre[:, None] * r
            rz_new = float(np.sum(r * z))
            d = z + (rz_new / rz) * d
            rz = rz_new
        slope = float(np.sum(g * P))
        if not slope < 0:
            break
        step = 1.0
        while step > 1e-10:
            Xn = X + step * P
            fn = _gram_objective(GS, HS, reg, Xn)
            if fn <= f + 1e-4 * step * slope:
                break
            step *= 0.5
        else:
            break
        if f - fn <= 1e-16 * (1.0 + abs(f)):
            X, f = Xn, fn
            break
        X, f = Xn, fn
    out = x.copy()
    out[S] = X
    return out


def _gram_fista(G, H, yy, reg, V0, m, tol, budget, check_every=5, newton_every=40):
    """FISTA + gradient restart (O'Donoghue & Candes) on the Gram problem, metric ``diag(m)``.

    Every ``newton_every`` iterations whose support has not changed meanwhile, the iterate is
    polished by :func:`_newton_polish` on its support (a monotone Newton-CG), the gap checked, and
    FISTA restarted from the polished point (it then only has to fix the support).
    Stops when the Gram-form duality gap is ``<= tol`` or after ``budget`` iterations.
    Returns ``(V, iterations, gap)``.
    """
    thr = reg / m
    x = V0.copy()
    y = x
    t = 1.0
    gap = np.inf
    it = 0
    support = row_norms(x) > 0
    stable_since = 0
    while it < budget:
        it += 1
        xn = _bst(y - (G @ y - H) / m[:, None], thr)
        dx = xn - x
        if float(np.sum((m[:, None] * (y - xn)) * dx)) > 0.0:  # momentum points uphill: restart
            t = 1.0
            y = xn
        else:
            tn = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
            y = xn + ((t - 1.0) / tn) * dx
            t = tn
        x = xn
        if newton_every and it % check_every == 0:
            sup = row_norms(x) > 0
            if not np.array_equal(sup, support):
                support, stable_since = sup, it
            elif it - stable_since >= newton_every and sup.any():
                stable_since = it
                xp = _newton_polish(G, H, reg, x)
                if _gram_objective(G, H, reg, xp) < _gram_objective(G, H, reg, x):
                    x = y = xp
                    t = 1.0
        if it % check_every == 0 or it == budget:
            GX = G @ x
            primal, dual = _gram_gap(x, GX, H, yy, reg, row_norms(H - GX))
            gap = primal - dual
            if gap <= tol:
                break
    return x, it, gap
