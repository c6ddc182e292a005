r"""Certified solver for the group-lasso readout problem over a spike dictionary.

Problem
-------
Given a design ``D`` (``n x p``, binary spike atoms), targets ``Y`` and row weights ``w >= 0``::

    P(W, b) = F(D W + 1 b^T) + Omega(W),
    F(Z)    = (1/n) sum_i w_i l(z_i, y_i),      Omega(W) = reg * sum_j ||W_j||_2,

with ``b`` unpenalized and present only when ``intercept=True`` (else ``b = 0``). The datafit ``F``
(:mod:`.datafits`) and the penalty ``Omega`` (:mod:`.penalty`) each know their own gradient / prox /
conjugate; the loop below only talks to them through that interface.

Dual and certificate
--------------------
Fenchel duality with ``Theta = diag(w/n) R`` (``R`` in "residual units", ``r_i = -grad l`` at the
optimum) gives::

    D(R) = (1/n) sum_i w_i * (-l_i^*(-r_i))
    s.t.  max_j ||D_j^T Theta||_2 <= reg              (conjugate of Omega)
          sum_i w_i r_i = 0        (only with an intercept: conjugate of the free b)
          -r_i in dom l_i^*.

Weak duality ``D(R) <= P(W, b)`` holds for every such ``R``, so ``gap = P - D`` certifies
``P - min P <= gap``. The dual point is built from the current iterate:

1. with an intercept, ``b`` is first set to ``argmin_b F(D W + 1 b^T)`` (closed form for the
   squared loss, damped Newton for cross-entropy) -- this only lowers ``P``;
2. ``R = residual(Z)`` (``y - z`` for squared, ``e_y - softmax(z)`` for CE, blockwise and scaled by the
   loss weight for multi-head);
3. with an intercept, ``R <- balance(R)`` enforces ``sum_i w_i r_i = 0`` inside the domain.
   Squared: subtract the weighted mean (the domain is everything). CE: with ``q_i = e_{y_i} - r_i``
   on the simplex the constraint is ``qbar = pi`` (weighted mean of ``q`` = weighted class
   frequencies). After step 1, ``e = pi - qbar`` is at round-off level; every row is mixed with one
   common distribution, ``q_i' = (1 - t) q_i + t v`` with ``v = pi + ((1 - t)/t) e``, which gives
   ``qbar' = (1 - t) qbar + t pi + (1 - t) e = pi`` exactly, ``sum v = 1`` and ``v >= 0`` for
   ``t >= max_{k: e_k < 0} |e_k| / (pi_k + |e_k|)`` (so ``t`` is of the order of ``|e|``); ``t = 1``
   (``q_i' = pi``) is always valid. A class with ``pi_k = 0`` (never observed) has an infimum only
   as ``b_k -> -inf``: its intercept is fixed to ``ABSENT_CLASS_LOGIT = -1e4`` (``exp`` underflows
   to exactly 0, so ``q_ik = 0`` and the constraint holds for that class);
4. feasibility: ``s = min(1, reg / max_j ||D_j^T Theta||)`` (divided by ``1 + 1e-11`` against
   round-off in ``D^T Theta``), and the dual point is ``s R``. The domain of every conjugate here is convex and
   contains ``R = 0`` (loss bounded below), so ``s R`` stays in it: for CE this is the mixing
   ``q = (1 - s) e_y + s q`` toward the one-hot target. Scaling keeps ``sum_i w_i r_i = 0``.

For ``reg >= reg_max = max_j ||D_j^T Theta_0||`` (``Theta_0`` built at ``W = 0``) no scaling is
needed, Fenchel-Young holds with equality, the gap is 0 (up to the round-off margin below) and
``W = 0`` is returned.

Round-off: the reported ``dual`` is lowered by ``1e-14 * (sum_i (w_i/n)|dual term_i| + |primal|)``,
well above the float64 summation error, so ``dual <= primal`` and ``dual <= min P`` are not broken
by round-off either (relevant only when the gap is ~0, e.g. ``reg >= reg_max``).

The reported ``primal``/``dual`` are always recomputed in float64 from the explicit predictions
``Z = D_A W_A + 1 b^T`` and ``D^T Theta`` over *all* atoms (screened ones included), so the
certificate does not depend on the correctness of the screening, the Gram shortcuts or the inner
solver.

Algorithm
---------
Working sets (as in celer/skglm) around an inner accelerated proximal-gradient solver:

* outer loop: full certificate, gap-safe screening (the dual is ``mu``-strongly concave in the
  ``w/n``-weighted norm of ``R``, hence ``||Theta* - Theta||`` is bounded by ``sqrt(2 gap / mu)``
  and atoms with ``s ||D_j^T Theta|| + ||D_j||_{w/n} sqrt(2 gap / mu) < reg`` are zero at the
  optimum), then a working set = active atoms + the largest dual-norm violators, of size
  ``max(16, 2 * n_active, previous size)``. The working-set problem is solved to
  ``max(0.3 * gap, 0.1 * tol)``, or to ``tol / 2`` when no atom outside it violates the dual
  constraint;
* quadratic datafits (``Squared``): everything on the Gram matrix ``G = D^T diag(w/n) D`` and
  ``H = D^T diag(w/n) Y`` (centered when an intercept is fitted, which eliminates ``b`` exactly);
  FISTA with gradient restart in the Jacobi metric ``m_j = L G_jj``,
  ``L = lambda_max(S^-1/2 G_ws S^-1/2)`` (the prox stays row-wise block soft-thresholding), so an
  iteration costs ``O(k^2 c)``; ``max_iter`` counts these iterations;
* other datafits: Gram-preconditioned accelerated proximal gradient (majorize-minimize, see
  :class:`_DesignOracle`): each step majorizes ``F`` by ``beta/2 ||D (V - Y)||^2_{w/n}`` around
  the extrapolated point and solves that group-lasso model with the same Gram FISTA; ``beta``
  adapts by backtracking on a cancellation-free Bregman test. ``max_iter`` counts these steps
  (each costs ~3 passes over the working-set columns plus a small Gram solve). With an intercept
  the columns are centered implicitly (``Z = (D - 1 dbar^T) W + 1 btilde^T``), which decouples the
  intercept block; ``b = btilde - dbar^T W``.

``G`` is computed lazily, only for the columns of atoms that enter a working set.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import scipy.linalg
import scipy.sparse as sp
import scipy.sparse.linalg

from .datafits import CrossEntropy, Datafit, MultiHead, Squared
from .penalty import GroupL2, row_norms
from .solution import ConvergenceWarning, ConvexSolution

__all__ = ["solve", "reg_max", "make_datafit", "ConvergenceWarning"]

_FEAS_GUARD = 1e-11  # relative safety margin on dual feasibility against round-off in D^T Theta
_ROUNDOFF = 1e-14  # relative margin subtracted from the reported dual against summation round-off
_WS_MIN = 16
_BETA_DOWN = 0.8  # beta shrink factor after each accepted step
_SUB_TOL = 0.1  # prox subproblem gap <= _SUB_TOL * last working-set gap
_MAX_OUTER = 500

_SQUARED_NAMES = ("squared", "quadratic", "mse", "l2")
_CE_NAMES = ("cross_entropy", "crossentropy", "ce", "softmax", "multinomial")


# ============================================================================ input handling
def _as_design(D: Any):
    try:
        import torch

        if isinstance(D, torch.Tensor):
            D = D.detach().cpu()
            if D.is_sparse:
                D = D.to_dense()
            D = D.to(torch.float64).numpy()
    except ImportError:  # pragma: no cover
        pass
    if sp.issparse(D):
        if D.ndim != 2:
            raise ValueError(f"D must be 2-D, got {D.ndim}-D")
        D = sp.csc_matrix(D, dtype=np.float64)
        D.sum_duplicates()
        if not np.all(np.isfinite(D.data)):
            raise ValueError("D contains NaN or inf")
        if D.shape[0] == 0 or D.shape[1] == 0:
            raise ValueError(f"D is empty (shape {D.shape})")
        if D.nnz > 0.1 * D.shape[0] * D.shape[1]:
            D = D.toarray()
        return D
    D = np.asarray(D)
    if D.dtype == object:
        raise TypeError("D must be a numeric array")
    D = np.ascontiguousarray(D, dtype=np.float64)
    if D.ndim != 2:
        raise ValueError(f"D must be 2-D (n x p), got shape {D.shape}")
    if D.shape[0] == 0 or D.shape[1] == 0:
        raise ValueError(f"D is empty (shape {D.shape})")
    if not np.all(np.isfinite(D)):
        raise ValueError("D contains NaN or inf")
    return D


def _as_array(Y: Any) -> np.ndarray:
    try:
        import torch

        if isinstance(Y, torch.Tensor):
            return Y.detach().cpu().numpy()
    except ImportError:  # pragma: no cover
        pass
    if sp.issparse(Y):
        return Y.toarray()
    return np.asarray(Y)


def _is_head(obj: Any) -> bool:
    return all(hasattr(obj, a) for a in ("name", "classes", "weight")) and not isinstance(obj, str)


def make_datafit(loss, Y, n: int, sample_weight=None, classes=None) -> tuple[Datafit, str, tuple]:
    """Build the datafit for ``loss`` (a name, head specs or a ready :class:`Datafit`).

    Returns ``(datafit, name, heads)``. A :class:`Datafit` instance already holds its targets and
    weights: pass ``Y=None`` and no ``sample_weight``/``classes``.
    """
    if isinstance(loss, Datafit):
        if Y is not None or sample_weight is not None or classes is not None:
            raise ValueError("a Datafit instance holds its own targets and weights: pass Y=None")
        if loss.n_samples != n:
            raise ValueError(f"the datafit has {loss.n_samples} rows but D has {n}")
        heads = ()
        if isinstance(loss, CrossEntropy):
            heads = (("y", loss.classes, 1.0),)
        return loss, loss.name, heads
    Y = _as_array(Y)
    if Y.ndim == 0 or Y.shape[0] != n:
        raise ValueError(f"Y must have {n} rows (one per row of D), got shape {Y.shape}")
    if isinstance(loss, str):
        name = loss.lower()
        if name in _SQUARED_NAMES:
            if classes is not None:
                raise ValueError("classes= only applies to the cross-entropy loss")
            if Y.dtype == object:
                raise TypeError("targets must be numeric")
            return Squared(Y, sample_weight), "squared", ()
        if name in _CE_NAMES:
            fit = CrossEntropy(Y, classes, sample_weight)
            return fit, "cross_entropy", (("y", fit.classes, 1.0),)
        raise ValueError(f"unknown loss {loss!r}: use 'squared', 'cross_entropy' or a list of heads")
    heads = [loss] if _is_head(loss) else list(loss)
    if len(heads) == 0 or not all(_is_head(h) for h in heads):
        raise TypeError("loss must be 'squared', 'cross_entropy' or a sequence of heads with name/classes/weight")
    if classes is not None:
        raise ValueError("classes= is given by the heads; do not pass it with head specs")
    if Y.ndim == 1:
        Y = Y[:, None]
    if Y.ndim != 2 or Y.shape[1] != len(heads):
        raise ValueError(f"multi-head targets must be (n, {len(heads)}) (one label column per head), got {Y.shape}")
    parts, info, off = [], [], 0
    for h, head in enumerate(heads):
        k = int(head.classes)
        if k != head.classes or k < 1:
            raise ValueError(f"head {head.name!r}: classes must be a positive integer, got {head.classes}")
        wgt = float(head.weight)
        if not (np.isfinite(wgt) and wgt >= 0):
            raise ValueError(f"head {head.name!r}: loss weight must be finite and >= 0, got {head.weight}")
        try:
            fit = CrossEntropy(Y[:, h], k, sample_weight)
        except (ValueError, TypeError) as err:
            raise type(err)(f"head {head.name!r}: {err}") from None
        parts.append((fit, slice(off, off + k), wgt))
        info.append((str(head.name), k, wgt))
        off += k
    return MultiHead(parts), "multi_head", tuple(info)


# ============================================================================ helpers
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
    k = M.shape[0]
    if k == 0:
        return 0.0
    if k <= 300:
        return float(scipy.linalg.eigh(M, eigvals_only=True, subset_by_index=[k - 1, k - 1])[0])
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


def _gram_fista(G, H, yy, reg, V0, m, tol, budget, check_every=5):
    """FISTA + gradient restart (O'Donoghue & Candes) on the Gram problem, metric ``diag(m)``.

    Stops when the Gram-form duality gap is ``<= tol`` or after ``budget`` iterations.
    Returns ``(V, iterations, gap)``.
    """
    thr = reg / m
    x = V0.copy()
    y = x
    t = 1.0
    gap = np.inf
    it = 0
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
        if it % check_every == 0 or it == budget:
            GX = G @ x
            primal, dual = _gram_gap(x, GX, H, yy, reg, row_norms(H - GX))
            gap = primal - dual
            if gap <= tol:
                break
    return x, it, gap


@dataclass
class _Cert:
    primal: float
    dual: float
    dt_norms: np.ndarray  # ||D_j^T Theta|| of the unscaled dual point (all atoms)
    scale: float  # s in (0, 1]
    b: np.ndarray | None = None  # intercept used for the primal (exact argmin when fitted)

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
        dual, dual_abs = fit.dual_value(fit.shrink(R, s), with_abs=True)
        primal = fit.value(Z) + self.penalty.value(W)
        # round-off margin: float64 sums of n terms err by ~log2(n) eps * sum |terms| << 1e-14 * ...
        dual -= _ROUNDOFF * (dual_abs + abs(primal))
        return _Cert(primal, dual, nrm, s, b)


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
def _parse_warm_start(warm_start, p: int, c: int):
    if warm_start is None:
        return np.zeros((p, c)), None
    if isinstance(warm_start, ConvexSolution):
        W, b = warm_start.coef, warm_start.intercept
    elif isinstance(warm_start, tuple) and len(warm_start) == 2:
        W, b = warm_start
    else:
        W, b = warm_start, None
    W = np.array(_as_array(W), dtype=np.float64)
    if W.ndim == 1 and c == 1:
        W = W[:, None]
    if W.shape != (p, c):
        raise ValueError(f"warm_start coef must have shape {(p, c)}, got {W.shape}")
    if not np.all(np.isfinite(W)):
        raise ValueError("warm_start contains NaN or inf")
    if b is not None:
        b = np.array(_as_array(b), dtype=np.float64).reshape(-1)
        if b.shape != (c,):
            raise ValueError(f"warm_start intercept must have shape {(c,)}, got {b.shape}")
        if not np.all(np.isfinite(b)):
            b = None
    return W, b


def reg_max(D, Y, loss="squared", *, sample_weight=None, intercept: bool = False, classes=None) -> float:
    """Smallest ``reg`` for which ``W = 0`` is optimal: ``max_j ||D_j^T Theta_0||_2``."""
    D = _as_design(D)
    n, p = D.shape
    fit, _, _ = make_datafit(loss, Y, n, sample_weight, classes)
    ctx = _Context(D, fit, GroupL2(1.0), bool(intercept))
    cert = ctx.explicit_certificate(np.zeros((p, fit.n_outputs)), None)
    return float(cert.dt_norms.max())


def solve(
    D,
    Y,
    reg: float,
    loss: str | Sequence[Any] = "squared",
    *,
    sample_weight=None,
    intercept: bool = False,
    tol: float = 1e-6,
    max_iter: int = 20_000,
    warm_start=None,
    verbose: bool = False,
    classes: int | None = None,
) -> ConvexSolution:
    """Minimize ``(1/n) sum_i w_i loss(D_i W + b, y_i) + reg * sum_j ||W_j||_2`` with a certificate.

    Parameters
    ----------
    D : (n, p) array-like (numpy bool/uint8/float, torch tensor, scipy sparse); used in float64.
    Y : squared: real ``(n,)`` or ``(n, c)``; cross_entropy: integer ``(n,)``; heads: integer
        ``(n, n_heads)`` (one label column per head).
    reg : penalty level, > 0.
    loss : ``"squared"``, ``"cross_entropy"`` or a sequence of head specs (objects with ``name``,
        ``classes``, ``weight``, e.g. :class:`spikeopt.tasks.base.Head`); the heads' logits are
        concatenated in order and share the coefficient rows. A :class:`~.datafits.Datafit`
        instance is also accepted (then ``Y=None``; it holds targets and weights).
    sample_weight : (n,) nonnegative row weights ``w_i`` (default 1); the mean is over ``n``.
    intercept : fit an unpenalized ``b`` (else ``b = 0``).
    tol : absolute duality-gap target.
    max_iter : budget of inner iterations, all working sets together (Gram FISTA iterations for
        the squared loss, Gram-preconditioned proximal-gradient steps for the others).
    warm_start : a :class:`ConvexSolution`, ``(coef, intercept)`` or ``coef``.
    classes : number of classes for a single cross-entropy loss (default ``max(Y) + 1``).

    Returns a :class:`ConvexSolution`; ``dual <= min P <= primal`` always holds. If the gap is still
    above ``tol`` when the budget is spent, a :class:`ConvergenceWarning` is issued and
    ``converged`` is False.
    """
    t0 = time.perf_counter()
    D = _as_design(D)
    n, p = D.shape
    penalty = GroupL2(reg)
    reg = penalty.reg
    tol = float(tol)
    if not (np.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a finite positive number, got {tol}")
    if int(max_iter) != max_iter or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter}")
    max_iter = int(max_iter)
    datafit, loss_name, heads = make_datafit(loss, Y, n, sample_weight, classes)
    c = datafit.n_outputs
    intercept = bool(intercept)
    W, b = _parse_warm_start(warm_start, p, c)

    ctx = _Context(D, datafit, penalty, intercept)
    oracle = _GramOracle(ctx) if getattr(datafit, "quadratic", False) else _DesignOracle(ctx)
    if intercept:
        fixed = ~datafit.intercept_mask()
        if b is None:
            b = datafit.fixed_intercept().copy()
        b[fixed] = datafit.fixed_intercept()[fixed]

    excluded = ctx.dead.copy()
    W[excluded] = 0.0
    mu = float(datafit.dual_modulus)
    history: list[tuple[int, float, float]] = []
    n_iter = 0
    target = tol
    ws_size = 0
    converged = False
    final = None
    for outer in range(_MAX_OUTER):
        cert = oracle.full_certificate(W, b)
        if cert.b is not None:
            b = cert.b
        gap = cert.gap
        history.append((n_iter, float(cert.primal), float(cert.dual)))
        if verbose:
            print(
                f"[convex.solve] outer {outer:3d} iter {n_iter:6d} primal {cert.primal:.10g} "
                f"dual {cert.dual:.10g} gap {gap:.3e} active {int(np.count_nonzero(row_norms(W)))} "
                f"screened {int(excluded.sum())} t {time.perf_counter() - t0:.3f}s"
            )
        if gap <= target:
            final = cert if oracle.explicit else ctx.explicit_certificate(W, b)
            if final.gap <= tol:
                converged = True
                break
            target = max(0.1 * min(target, gap), 1e-16)  # Gram round-off: aim lower
            final = None
        if n_iter >= max_iter:
            break
        # ---- gap-safe screening
        if np.isfinite(mu) and gap >= 0:
            radius = np.sqrt(2.0 * gap / mu)
            safe = cert.scale * cert.dt_norms + radius * ctx.colnorm < reg * (1.0 - 1e-9)
            newly = safe & ~excluded
            if newly.any():
                excluded |= safe
                W[newly] = 0.0
        # ---- working set: active atoms + largest dual-norm violators
        active = row_norms(W) > 0
        cand = np.flatnonzero(~excluded)
        if cand.size == 0:  # everything screened: W = 0 is optimal, only b is left (exact)
            break
        score = cert.dt_norms[cand].astype(np.float64)
        score[active[cand]] = np.inf
        ws_size = int(min(cand.size, max(ws_size, 2 * int(active.sum()), _WS_MIN)))
        if ws_size < cand.size:
            top = np.argpartition(-score, ws_size - 1)[:ws_size]
            ws = np.sort(cand[top])
        else:
            ws = cand
        outside = np.ones(p, dtype=bool)
        outside[ws] = False
        outside &= ~excluded
        if not outside.any() or float(cert.dt_norms[outside].max()) <= reg:
            tol_in = 0.5 * target  # no violator outside the working set: finish on it
        else:
            tol_in = max(0.3 * gap, 0.1 * target)
        Wws, b, it = oracle.solve_ws(W[ws], b, ws, tol_in, max_iter - n_iter, gap)
        n_iter += it
        W[:] = 0.0
        W[ws] = Wws

    if final is None:
        final = ctx.explicit_certificate(W, b)
        if not history or history[-1][1:] != (final.primal, final.dual):
            history.append((n_iter, float(final.primal), float(final.dual)))
        converged = final.gap <= tol
    if intercept:
        b = final.b
    else:
        b = np.zeros(c)
    gap = float(final.primal - final.dual)
    if not converged:
        warnings.warn(
            f"convex.solve did not reach tol={tol:.3g}: duality gap {gap:.3e} after {n_iter} iterations "
            f"(primal {final.primal:.10g}, dual {final.dual:.10g}); raise max_iter or tol",
            ConvergenceWarning,
            stacklevel=2,
        )
    active_idx = np.flatnonzero(row_norms(W) > 0).astype(np.int64)
    return ConvexSolution(
        coef=W,
        intercept=np.asarray(b, dtype=np.float64),
        primal=float(final.primal),
        dual=float(final.dual),
        gap=gap,
        n_iter=int(n_iter),
        time=time.perf_counter() - t0,
        active=active_idx,
        converged=bool(converged),
        history=history,
        reg=reg,
        loss=loss_name,
        heads=heads,
        fit_intercept=intercept,
        n_screened=int(excluded.sum() - ctx.dead.sum()),
    )
