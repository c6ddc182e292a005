"""Working-set oracles: the certificate context over all atoms, and the inner solves for quadratic (Gram) and general (design) datafits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .datafits import Datafit
from .penalty import GroupL2, row_norms
from .gram import _cols, _feasible_scale, _gram_fista, _gram_gap, _GramCache, _jacobi_metric

_ROUNDOFF = 1e-14  # relative margin subtracted from the reported dual against summation round-off
_BETA_DOWN = 0.8  # beta shrink factor after each accepted step
_SUB_TOL = 0.1  # prox subproblem gap <= _SUB_TOL * last working-set gap


@dataclass
class _Cert:
    primal: float
    dual: float
    dt_norms: np.ndarray  # ||D_j^T Theta|| of the unscaled dual point (all atoms)
    scale: float  # s in (0, 1]
    b: np.ndarray | None = None  # intercept used for the primal (exact argmin when fitted)
    R: np.ndarray | None = None  # the feasible dual point shrink(R, s) in residual units, (n, c); explicit only

    @property
    def gap(self) -> float:
        return self.primal - self.dual


class _Context:
    """Problem data shared by the oracles."""

    def __init__(self, D, datafit: Datafit, penalty: GroupL2, intercept: bool):
        self.D, self.datafit, self.penalty, self.intercept = D, datafit, penalty, intercept
        self.n, self.p = D.shape
        self.c = datafit.n_outputs
        self.wn = datafit.wn
        self.reg = penalty.reg
        if sp.issparse(D):
            wD2 = np.asarray(D.multiply(D).T @ self.wn).ravel()
        else:
            wD2 = np.einsum("ij,ij,i->j", D, D, self.wn)
        if intercept:
            self.omega = datafit.weight_sum / self.n
            self.dbar = np.asarray(D.T @ datafit.weights).ravel() / datafit.weight_sum
            centered = wD2 - self.omega * self.dbar**2
            dead = centered <= 1e-13 * np.maximum(wD2, 1e-300)
            self.colnorm = np.sqrt(np.clip(centered, 0.0, None))
        else:
            self.omega, self.dbar = 0.0, None
            dead = wD2 <= 0.0
            self.colnorm = np.sqrt(wD2)
        self.dead = dead  # atoms that cannot change the predictions (all zero / constant): W_j = 0
        self.gram = _GramCache(D, self.wn)

    def set_reg(self, penalty: GroupL2) -> None:
        self.penalty, self.reg = penalty, penalty.reg

    def centered_sub(self, ws: np.ndarray) -> np.ndarray:
        """``G_ws`` (centered: ``D - 1 dbar^T`` columns, when an intercept is fitted)."""
        G = self.gram.sub(ws)
        if self.intercept:
            G = G - self.omega * np.outer(self.dbar[ws], self.dbar[ws])
        return G

    def centered_cols(self, idx: np.ndarray) -> np.ndarray:
        G = self.gram.cols(idx)
        if self.intercept:
            G = G - self.omega * np.outer(self.dbar, self.dbar[idx])
        return G

    def explicit_certificate(self, W: np.ndarray, b_hint: np.ndarray | None) -> _Cert:
        """Certificate from explicit float64 predictions, over all atoms."""
        D, fit = self.D, self.datafit
        act = np.flatnonzero(row_norms(W) > 0)
        Z0 = np.asarray(_cols(D, act) @ W[act]) if act.size else np.zeros((self.n, self.c))
        if self.intercept:
            b = fit.optimal_intercept(Z0, b_hint)
            Z = Z0 + b[None, :]
        else:
            b, Z = np.zeros(self.c), Z0
        R = fit.residual(Z)
        if self.intercept:
            R = fit.balance(R)
        DT = np.asarray(D.T @ (self.wn[:, None] * R))
        nrm = row_norms(DT)
        s = _feasible_scale(nrm, self.reg)
        Rs = fit.shrink(R, s)
        dual, dual_abs = fit.dual_value(Rs, with_abs=True)
        primal = fit.value(Z) + self.penalty.value(W)
        # round-off margin: float64 sums of n terms err by ~log2(n) eps * sum |terms| << 1e-14 * ...
        dual -= _ROUNDOFF * (dual_abs + abs(primal))
        return _Cert(primal, dual, nrm, s, b, Rs)


# ============================================================================ oracles
class _GramOracle:
    """Quadratic datafit, entirely on the (centered, with an intercept) Gram matrix.

    With an intercept the optimal ``b`` is eliminated exactly: ``b = ybar - dbar^T W`` and the problem
    becomes the intercept-free one on centered ``D`` and ``Y``. Cost per iteration ``O(k^2 c)``.
    """

    explicit = False

    def __init__(self, ctx: _Context):
        fit = ctx.datafit
        D, wn = ctx.D, ctx.wn
        self.ctx = ctx
        Y = fit.Y
        H = np.asarray(D.T @ (wn[:, None] * Y))
        yy = float(wn @ np.einsum("ij,ij->i", Y, Y))
        if ctx.intercept:
            ybar = fit.weighted_mean(Y)
            H -= ctx.omega * np.outer(ctx.dbar, ybar)
            yy -= ctx.omega * float(ybar @ ybar)
        self.H, self.yy = H, yy

    def solve_ws(self, W0, b0, ws, tol_in, budget, gap0):
        G = self.ctx.centered_sub(ws)
        m = _jacobi_metric(G)
        V, it, _ = _gram_fista(G, self.H[ws], self.yy, self.ctx.reg, W0, m, tol_in, budget)
        return V, b0, it

    def full_certificate(self, W, b) -> _Cert:
        act = np.flatnonzero(row_norms(W) > 0)
        GA = self.ctx.centered_cols(act) @ W[act] if act.size else np.zeros_like(self.H)
        nrm = row_norms(self.H - GA)
        primal, dual = _gram_gap(W[act], GA[act], self.H[act], self.yy, self.ctx.reg, nrm)
        return _Cert(primal, dual, nrm, _feasible_scale(nrm, self.ctx.reg), None)


class _DesignOracle:
    r"""Any datafit: Gram-preconditioned accelerated proximal gradient (majorize-minimize).

    ``F`` has curvature ``<= beta_max`` (``datafit.curvature``) in ``Z``, hence
    ``F(D~ V + 1 c^T) <= F(Z_y) + <g, V - Y> + <g_b, c - c_y> + beta/2 (<V - Y, G (V - Y)> + omega ||c - c_y||^2)``
    with ``D~`` the (centered, with an intercept) working-set design and ``G = D~^T diag(w/n) D~``.
    Each step minimises this model plus ``Omega``: a squared-loss group lasso on the Gram matrix
    (``H = G Y - g / beta``, penalty ``reg / beta``), solved by :func:`_gram_fista` -- so the design's
    conditioning is handled by the cheap ``k x k`` inner solver, and the expensive ``n x k`` passes
    are only needed once or twice per step. ``beta`` is adapted by backtracking (down by 0.8 after
    each step, doubled when the majorization fails, never above ``beta_max``); steps are accelerated
    (FISTA) with gradient-based restarts. With an intercept, ``Z = D~ W + 1 btilde^T`` (``btilde =
    b + dbar^T W``) makes the intercept block of the model decouple, and ``b`` is re-optimised
    exactly at every certificate.
    """

    explicit = True

    def __init__(self, ctx: _Context):
        self.ctx = ctx
        fit = ctx.datafit
        self.beta_max = float(fit.curvature)
        self.beta = self.beta_max
        if ctx.intercept:
            self.bmask = fit.intercept_mask()

    def _predict(self, W, bt):
        Z = np.asarray(self.Dw @ W)
        if self.ctx.intercept:
            Z += (bt - self.dbw @ W)[None, :]
        return Z

    def _ws_gap(self, W, bt, Z):
        """Working-set certificate at ``W``; re-optimises the intercept. Returns ``(gap, bt, Z)``."""
        ctx, fit = self.ctx, self.ctx.datafit
        if ctx.intercept:
            b_old = bt - self.dbw @ W
            Z0 = Z - b_old[None, :]
            b = fit.optimal_intercept(Z0, b_old)
            Z = Z0 + b[None, :]
            bt = b + self.dbw @ W
        R = fit.residual(Z)
        if ctx.intercept:
            R = fit.balance(R)
        DT = np.asarray(self.Dw.T @ (ctx.wn[:, None] * R))
        s = _feasible_scale(row_norms(DT), ctx.reg)
        dual = fit.dual_value(fit.shrink(R, s))
        primal = fit.value(Z) + ctx.penalty.value(W)
        return primal - dual, bt, Z

    def solve_ws(self, W0, b0, ws, tol_in, budget, gap0):
        ctx, fit = self.ctx, self.ctx.datafit
        wn, reg, icpt = ctx.wn, ctx.reg, ctx.intercept
        Dw = _cols(ctx.D, ws)
        self.Dw = Dw if sp.issparse(Dw) else np.ascontiguousarray(Dw)
        G = ctx.centered_sub(ws)
        m = _jacobi_metric(G)
        omega = ctx.omega
        if icpt:
            self.dbw = ctx.dbar[ws]
            bmask = self.bmask
        x = W0.copy()
        xb = (b0 + self.dbw @ x) if icpt else None
        Zx = self._predict(x, xb)
        y, yb, Zy = x, xb, Zx
        t = 1.0
        beta = self.beta
        last_gap = gap0 if np.isfinite(gap0) else np.inf
        steps = 0
        while steps < budget:
            steps += 1
            Ry = fit.residual(Zy)
            WR = wn[:, None] * Ry
            g = -np.asarray(self.Dw.T @ WR)
            if icpt:
                sR = WR.sum(axis=0)
                g += np.outer(self.dbw, sR)
                gb = -sR * bmask
            rr = float(np.sum(WR * Ry))
            GY = G @ y
            yGy = float(np.sum(y * GY))
            yg = float(np.sum(y * g))
            while True:  # backtracking on beta
                H = GY - g / beta
                yy = yGy - 2.0 * yg / beta + rr / beta**2
                sub_tol = max(_SUB_TOL * min(last_gap, 1e300), 1e-3 * tol_in) / beta
                xn, _, _ = _gram_fista(G, H, yy, reg / beta, y, m, sub_tol, 5000)
                xbn = (yb - gb / (beta * omega)) if icpt else None
                Zn = self._predict(xn, xbn)
                # majorization test F(Zn) <= F(Zy) + <grad, dZ> + beta/2 sum_i (w_i/n) ||dZ_i||^2,
                # in Bregman form (no cancellation when the step is tiny)
                if beta >= self.beta_max:
                    break
                dZ = Zn - Zy
                breg = float(wn @ fit.bregman_rows(Zy, Zn))
                quad = float(wn @ np.einsum("ij,ij->i", dZ, dZ))
                if breg <= 0.5 * beta * quad * (1.0 + 1e-9):
                    break
                beta = min(self.beta_max, 2.0 * beta)
            gap, xbn, Zn = self._ws_gap(xn, xbn, Zn)
            last_gap = gap
            if gap <= tol_in or steps >= budget:
                x, xb = xn, xbn
                break
            # acceleration with restart test in the metric beta * (G (+) omega)
            dx = xn - x
            crit = float(np.sum((y - xn) * (G @ dx)))
            if icpt:
                dxb = xbn - xb
                crit += omega * float(np.sum((yb - xbn) * dxb))
            if crit > 0.0:
                t, mom = 1.0, 0.0
            else:
                tn = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
                mom = (t - 1.0) / tn
                t = tn
            y = xn + mom * dx
            Zy = Zn + mom * (Zn - Zx) if mom else Zn
            if icpt:
                yb = xbn + mom * dxb
            x, xb, Zx = xn, xbn, Zn
            beta = max(_BETA_DOWN * beta, 1e-8 * self.beta_max)
        self.beta = min(self.beta_max, beta / _BETA_DOWN)
        b = (xb - self.dbw @ x) if icpt else None
        return x, b, steps

    def full_certificate(self, W, b) -> _Cert:
        return self.ctx.explicit_certificate(W, b)


# ============================================================================ public API
