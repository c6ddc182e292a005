r"""Datafits of the readout problem, on predictions ``Z = D W + 1 b^T`` (``n x c``).

A datafit is the smooth part

    F(Z) = (1/n) * sum_i w_i * l(z_i, y_i)

with row weights ``w_i >= 0`` (default 1). Each datafit knows everything the solver needs about
its loss, so that adding a loss never touches the solver:

* ``value(Z)``, ``gradient(Z)`` (w.r.t. ``Z``), ``curvature`` (``L`` with ``hess l <= L I``) and
  ``lipschitz()`` (of ``grad F`` in the Frobenius norm);
* the per-row conjugate ``conjugate_rows(U) = l_i^*(u_i)`` and the dual objective
  ``dual_value(R) = (1/n) sum_i w_i * (-l_i^*(-r_i))``;
* ``residual(Z) = -grad_z l(z_i, y_i)`` row-wise: the dual point in "residual units". The dual
  variable of the problem is ``Theta = diag(w/n) R``; at the optimum ``R = residual(Z*)``;
* ``shrink(R, s)``: a point of the conjugate's domain on the segment from the "zero residual"
  (``R = 0``, always in the domain for a loss bounded below) to ``R`` -- for every loss here this
  is simply ``s * R``;
* ``balance(R)``: a point of the domain with ``sum_i w_i r_i = 0`` (needed with an intercept);
* ``optimal_intercept(Z0)``: ``argmin_b F(Z0 + 1 b^T)`` (to machine precision);
* ``dual_modulus``: ``mu`` such that ``r -> -l^*(-r)`` is ``mu``-strongly concave (used by the
  gap-safe screening rule).

Conventions: the mean is over all ``n`` rows (``1/n``, not ``1/sum w``); rows with ``w_i = 0``
do not enter any value.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Sequence

import numpy as np
from scipy.special import xlogy

#: intercept given to a class that never occurs (total weight 0) when an intercept is fitted:
#: the infimum is then only reached as b_k -> -inf, and exp(-1e4) is exactly 0 in float64.
ABSENT_CLASS_LOGIT = -1.0e4


def _as_weights(sample_weight, n: int) -> np.ndarray:
    if sample_weight is None:
        return np.ones(n)
    w = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
    if w.shape[0] != n:
        raise ValueError(f"sample_weight must have {n} entries, got {w.shape[0]}")
    if not np.all(np.isfinite(w)):
        raise ValueError("sample_weight contains NaN or inf")
    if np.any(w < 0):
        raise ValueError("sample_weight must be nonnegative")
    if not w.sum() > 0:
        raise ValueError("sample_weight must have a positive sum")
    return w


def _one_block(c: int, softmax: bool):
    return (np.array([0], dtype=np.int64), np.array([c], dtype=np.int64),
            np.array([1.0]), np.array([softmax], dtype=np.bool_))


class Datafit(ABC):
    """Base class: weighted mean of a per-row loss. Subclasses set ``n_outputs`` and the loss."""

    name: str = "datafit"
    curvature: float = 1.0
    dual_modulus: float = 1.0

    def __init__(self, n: int, sample_weight=None):
        self.n_samples = int(n)
        self.weights = _as_weights(sample_weight, self.n_samples)
        self.wn = self.weights / self.n_samples  # w_i / n
        self.weight_sum = float(self.weights.sum())
        self.n_outputs = 0

    # ---- primal ---------------------------------------------------------------------------
    @abstractmethod
    def loss_rows(self, Z: np.ndarray) -> np.ndarray:
        """``l(z_i, y_i)`` for every row, shape ``(n,)``."""

    @abstractmethod
    def residual(self, Z: np.ndarray) -> np.ndarray:
        """``-grad_z l(z_i, y_i)`` row-wise, shape ``(n, c)``."""

    def value(self, Z: np.ndarray) -> float:
        return float(self.wn @ self.loss_rows(Z))

    def gradient(self, Z: np.ndarray) -> np.ndarray:
        """``grad_Z F(Z) = -diag(w/n) residual(Z)``."""
        return -self.wn[:, None] * self.residual(Z)

    def bregman_rows(self, Z0: np.ndarray, Z1: np.ndarray) -> np.ndarray:
        """``l(z1_i) - l(z0_i) - <grad l(z0_i), z1_i - z0_i>`` per row (>= 0).

        Subclasses override with a cancellation-free formula: the solver's step-size test compares
        this with ``beta/2 ||z1_i - z0_i||^2``, which must stay meaningful when both are ~1e-20.
        """
        return self.loss_rows(Z1) - self.loss_rows(Z0) + np.einsum("ij,ij->i", self.residual(Z0), Z1 - Z0)

    def curvature_rows(self, Z: np.ndarray):
        """Per-row Hessians of ``l`` at ``Z`` for the prox-Newton model, in structured form.

        Returns ``(P, lam, blocks)``: ``H_i`` is block-diagonal over the column blocks
        ``blocks = (starts, ends, weights, softmax)``, equal to ``a (diag p_i - p_i p_i^T)`` on a
        softmax block and ``a diag p_i`` otherwise (``p_i`` = row ``i`` of ``P`` on the block);
        ``lam_i >= lambda_max(H_i)``. Subclasses implement it; the solver needs nothing else.
        """
        raise NotImplementedError(f"{type(self).__name__} does not provide curvature_rows")

    def lipschitz(self) -> float:
        """Lipschitz constant of ``grad F`` w.r.t. ``Z`` (Frobenius norm)."""
        return float(self.curvature * self.wn.max())

    # ---- dual -----------------------------------------------------------------------------
    @abstractmethod
    def conjugate_rows(self, U: np.ndarray) -> np.ndarray:
        """``l_i^*(u_i)`` for every row (``+inf`` outside the domain), shape ``(n,)``."""

    def dual_rows(self, R: np.ndarray) -> np.ndarray:
        """``-l_i^*(-r_i)`` for every row; subclasses override with an accurate formula."""
        return -self.conjugate_rows(-R)

    def dual_value(self, R: np.ndarray, with_abs: bool = False):
        """Dual objective ``(1/n) sum_i w_i (-l_i^*(-r_i))`` (rows with ``w_i = 0`` skipped).

        With ``with_abs`` also returns ``(1/n) sum_i w_i |-l_i^*(-r_i)|`` (a round-off scale).
        """
        rows = self.dual_rows(R)
        pos = self.weights > 0
        if not pos.all():
            rows = np.where(pos, rows, 0.0)
        val = float(self.wn @ rows)
        if with_abs:
            return val, float(self.wn @ np.abs(rows))
        return val

    def shrink(self, R: np.ndarray, s: float) -> np.ndarray:
        """Point of the domain between ``0`` and ``R``; ``s * R`` since the domain is convex and holds 0."""
        return s * R

    def weighted_mean(self, R: np.ndarray) -> np.ndarray:
        return (self.weights @ R) / self.weight_sum

    @abstractmethod
    def balance(self, R: np.ndarray) -> np.ndarray:
        """A point of the domain with ``sum_i w_i r_i = 0``, close to ``R``."""

    @abstractmethod
    def optimal_intercept(self, Z0: np.ndarray, b0: np.ndarray | None = None) -> np.ndarray:
        """``argmin_b F(Z0 + 1 b^T)``."""

    def intercept_mask(self) -> np.ndarray:
        """Columns whose intercept is a free variable (False: fixed, e.g. absent classes)."""
        return np.ones(self.n_outputs, dtype=bool)

    def fixed_intercept(self) -> np.ndarray:
        """Values of the intercept on the columns where ``intercept_mask()`` is False."""
        return np.zeros(self.n_outputs)


# =============================================================================================
class Squared(Datafit):
    r"""``l(z, y) = 1/2 ||z - y||^2`` with real targets ``Y`` (``n x c``).

    Conjugate ``l^*(u) = 1/2 ||u||^2 + <u, y>`` (domain: everything), so the dual term is
    ``-l^*(-r) = <r, y> - 1/2 ||r||^2``, 1-strongly concave; residual ``r = y - z``.
    """

    name = "squared"
    curvature = 1.0
    dual_modulus = 1.0
    quadratic = True  # the solver may use the Gram matrix D^T diag(w/n) D

    def __init__(self, Y, sample_weight=None):
        Y = np.asarray(Y, dtype=np.float64)
        if Y.ndim == 1:
            Y = Y[:, None]
        if Y.ndim != 2:
            raise ValueError(f"squared-loss targets must be (n,) or (n, c), got shape {Y.shape}")
        if not np.all(np.isfinite(Y)):
            raise ValueError("targets contain NaN or inf")
        super().__init__(Y.shape[0], sample_weight)
        self.Y = Y
        self.n_outputs = Y.shape[1]

    def loss_rows(self, Z):
        E = Z - self.Y
        return 0.5 * np.einsum("ij,ij->i", E, E)

    def residual(self, Z):
        return self.Y - Z

    def bregman_rows(self, Z0, Z1):
        E = Z1 - Z0
        return 0.5 * np.einsum("ij,ij->i", E, E)

    def curvature_rows(self, Z):
        n, c = Z.shape
        return np.ones((n, c)), np.ones(n), _one_block(c, False)

    def conjugate_rows(self, U):
        return 0.5 * np.einsum("ij,ij->i", U, U) + np.einsum("ij,ij->i", U, self.Y)

    def dual_rows(self, R):
        return np.einsum("ij,ij->i", R, self.Y) - 0.5 * np.einsum("ij,ij->i", R, R)

    def balance(self, R):
        # every point is in the domain: project onto sum_i w_i r_i = 0
        return R - self.weighted_mean(R)[None, :]

    def optimal_intercept(self, Z0, b0=None):
        return self.weighted_mean(self.Y - Z0)


# =============================================================================================
def _as_labels(y, classes: int | None, what: str = "labels") -> tuple[np.ndarray, int]:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"cross-entropy {what} must be a vector of class indices, got shape {y.shape}")
    if y.dtype == bool:
        y = y.astype(np.int64)
    if not np.issubdtype(y.dtype, np.integer):
        if not np.issubdtype(y.dtype, np.floating):
            raise TypeError(f"cross-entropy {what} must be integers, got dtype {y.dtype}")
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise ValueError(f"cross-entropy {what} must be integer class indices (got non-integer values)")
    y = y.astype(np.int64)
    if y.size and y.min() < 0:
        raise ValueError(f"cross-entropy {what} must be >= 0, got {y.min()}")
    if classes is None:
        classes = int(y.max()) + 1 if y.size else 1
    classes = int(classes)
    if classes < 1:
        raise ValueError(f"number of classes must be >= 1, got {classes}")
    if y.size and y.max() >= classes:
        raise ValueError(f"cross-entropy {what} must be < classes={classes}, got {y.max()}")
    return y, classes


class CrossEntropy(Datafit):
    r"""Multinomial softmax cross-entropy ``l(z, y) = logsumexp(z) - z_y``, ``y`` in ``[0, K)``.

    Gradient ``softmax(z) - e_y``, Hessian ``diag(p) - p p^T <= 1/2 I`` (Gershgorin).
    Conjugate ``l^*(u) = sum_k q_k log q_k`` with ``q = u + e_y`` on the simplex (``+inf`` off it).
    With ``r = -u = e_y - q`` the dual term is the entropy ``-l^*(-r) = H(e_y - r)``, 1-strongly
    concave (the Hessian of ``-H`` is ``diag(1/q) >= I``). The residual ``r = e_y - p`` has
    ``q = p``; ``s * r`` has ``q = (1 - s) e_y + s p`` -- mixing toward the one-hot target keeps
    the point on the simplex.
    """

    name = "cross_entropy"
    curvature = 0.5
    dual_modulus = 1.0

    def __init__(self, y, classes: int | None = None, sample_weight=None):
        y, classes = _as_labels(y, classes)
        super().__init__(y.shape[0], sample_weight)
        self.y = y
        self.classes = classes
        self.n_outputs = classes
        self._rows = np.arange(y.shape[0])
        freq = np.bincount(y, weights=self.weights, minlength=classes)
        self.class_freq = freq / self.weight_sum  # pi: weighted class frequencies
        self.present = freq > 0

    # ---- primal ----
    def _log_softmax(self, Z):
        m = Z.max(axis=1, keepdims=True)
        S = Z - m
        return S - np.log(np.exp(S).sum(axis=1, keepdims=True))

    def loss_rows(self, Z):
        return -self._log_softmax(Z)[self._rows, self.y]

    def softmax(self, Z):
        m = Z.max(axis=1, keepdims=True)
        E = np.exp(Z - m)
        return E / E.sum(axis=1, keepdims=True)

    def residual(self, Z):
        P = self.softmax(Z)
        R = -P
        py = P[self._rows, self.y]
        # r_y = 1 - p_y, computed as the off-target mass (accurate when p_y -> 1)
        R[self._rows, self.y] = P.sum(axis=1) - py
        return R

    def curvature_rows(self, Z):
        """Softmax Hessian ``diag p - p p^T``; Gershgorin row ``k``: ``2 p_k (1 - p_k)`` (<= 1/2)."""
        P = self.softmax(Z)
        lam = np.minimum(0.5, 2.0 * np.max(P * (1.0 - P), axis=1))
        return P, lam, _one_block(P.shape[1], True)

    def bregman_rows(self, Z0, Z1):
        r"""``KL(softmax(z0) || softmax(z1)) = log sum_k p_k e^{a_k}``, ``a = dz - <p, dz>``.

        For small ``|a|``: ``log1p(sum_k p_k (e^a - 1 - a))`` with a series for ``e^a - 1 - a``
        (no cancellation); otherwise a log-sum-exp.
        """
        L0 = self._log_softmax(Z0)
        P = np.exp(L0)
        dZ = Z1 - Z0
        A = dZ - np.einsum("ij,ij->i", P, dZ)[:, None]
        amax = np.abs(A).max(axis=1)
        small = amax <= 1e-2
        out = np.empty(Z0.shape[0])
        if small.any():
            a = A[small]
            h = a * a * (0.5 + a * (1.0 / 6.0 + a * (1.0 / 24.0 + a * (1.0 / 120.0))))
            out[small] = np.log1p(np.einsum("ij,ij->i", P[small], h))
        big = ~small
        if big.any():
            T = L0[big] + A[big]
            mx = T.max(axis=1, keepdims=True)
            out[big] = (mx[:, 0] + np.log(np.exp(T - mx).sum(axis=1)))
        return np.maximum(out, 0.0)

    # ---- dual ----
    def conjugate_rows(self, U):
        Q = U.copy()
        Q[self._rows, self.y] += 1.0
        tol = 1e-12
        bad = (Q.min(axis=1) < -tol) | (np.abs(Q.sum(axis=1) - 1.0) > tol)
        out = xlogy(np.clip(Q, 0.0, None), np.clip(Q, 0.0, None)).sum(axis=1)
        out[bad] = np.inf
        return out

    def dual_rows(self, R):
        """Entropy of ``q = e_y - r``; ``q_y = 1 - r_y`` through ``log1p`` for accuracy."""
        Q = np.clip(-R, 0.0, None)  # off-target entries q_k = -r_k >= 0 (clip: rounding only)
        Q[self._rows, self.y] = 0.0
        eps = np.clip(R[self._rows, self.y], 0.0, 1.0)  # 1 - q_y
        full = eps >= 1.0
        eps_safe = np.where(full, 0.0, eps)
        h_y = -(1.0 - eps_safe) * np.log1p(-eps_safe)  # -q_y log q_y
        h_y[full] = 0.0
        return -xlogy(Q, Q).sum(axis=1) + h_y

    def balance(self, R):
        r"""Make ``sum_i w_i r_i = 0`` while staying on the simplex.

        With ``q_i = e_{y_i} - r_i``, the constraint reads ``qbar = pi`` (weighted mean of ``q``
        equals the weighted class frequencies). Let ``e = pi - qbar`` (tiny after an exact intercept
        step). Mix every row with one common distribution ``v``:
        ``q_i' = (1 - t) q_i + t v``, ``v = pi + ((1 - t) / t) e``; then ``qbar' = pi`` exactly and
        ``sum v = 1``; ``v >= 0`` holds for ``t >= max_{k: e_k < 0} |e_k| / (pi_k + |e_k|)``,
        the smallest such ``t`` is used (``t = 1`` gives ``q_i' = pi``, always valid).
        """
        e = self.weighted_mean(R)  # = pi - qbar
        if not np.any(e):
            return R
        neg = e < 0
        if not neg.any():
            # e >= 0 with sum(e) = 0 up to rounding: e is rounding noise already
            return R
        t = float(np.max(-e[neg] / (self.class_freq[neg] - e[neg])))
        t = min(1.0, t * (1.0 + 1e-9))
        v = self.class_freq + ((1.0 - t) / t) * e
        v = np.clip(v, 0.0, None)
        Ev = -np.broadcast_to(v, R.shape).copy()
        Ev[self._rows, self.y] += 1.0  # e_y - v
        return (1.0 - t) * R + t * Ev

    def intercept_mask(self):
        return self.present.copy()

    def fixed_intercept(self):
        return np.where(self.present, 0.0, ABSENT_CLASS_LOGIT)

    def optimal_intercept(self, Z0, b0=None, max_newton: int = 50):
        r"""Damped Newton on ``b -> F(Z0 + 1 b^T)`` over the present classes.

        Gradient ``pbar - pi`` (weighted means), Hessian ``sum_i (w_i/n)(diag p_i - p_i p_i^T)``,
        singular along ``1`` (softmax shift); the step is taken in the orthogonal complement.
        Classes with zero weighted frequency get ``ABSENT_CLASS_LOGIT``.
        """
        K = self.classes
        b = np.zeros(K) if b0 is None else np.array(b0, dtype=np.float64)
        pres = self.present
        b[~pres] = ABSENT_CLASS_LOGIT
        kp = int(pres.sum())
        if kp <= 1:
            if kp == 1:
                b[pres] = 0.0
            return b
        pi = self.class_freq[pres]
        wn = self.wn
        scale = float(wn.sum())
        ones = np.ones(kp) / np.sqrt(kp)
        f = None
        for _ in range(max_newton):
            P = self.softmax(Z0 + b)[:, pres]
            g = (wn @ P) - pi * scale
            if np.max(np.abs(g)) <= 1e-15 * scale:
                break
            Hm = np.diag(wn @ P) - (P * wn[:, None]).T @ P
            Hreg = Hm + np.outer(ones, ones) * max(np.trace(Hm), 1e-300)
            try:
                step = -np.linalg.solve(Hreg, g)
            except np.linalg.LinAlgError:  # pragma: no cover
                step = -np.linalg.lstsq(Hreg, g, rcond=None)[0]
            step -= step.mean()
            dec = -float(g @ step)  # Newton decrement^2 (>= 0)
            if not dec > 0:
                break
            if dec <= 1e-8 * scale:
                # quadratic-convergence region: full steps, no (round-off dominated) line search
                b[pres] += step
                if np.max(np.abs(step)) <= 1e-13 * (1.0 + np.max(np.abs(b[pres]))):
                    break
                continue
            if f is None:
                f = self.value(Z0 + b)
            alpha = 1.0
            for _ in range(60):
                bn = b.copy()
                bn[pres] += alpha * step
                fn = self.value(Z0 + bn)
                if fn <= f - 0.25 * alpha * dec:
                    break
                alpha *= 0.5
            else:
                break
            b, f = bn, fn
        return b


# =============================================================================================
class MultiHead(Datafit):
    r"""Weighted sum of datafits on disjoint column blocks sharing the coefficient rows.

    ``F(Z) = sum_h a_h F_h(Z[:, block_h])`` with loss weights ``a_h >= 0``. The conjugate of
    ``a l`` is ``a l^*(u / a)``, so a block's residual is ``a_h r_h`` and its dual term
    ``a_h (-l_h^*(-r / a_h))``; a block with ``a_h = 0`` forces its dual variable to 0.
    """

    name = "multi_head"

    def __init__(self, parts: Sequence[tuple[Datafit, object, float]]):
        if len(parts) == 0:
            raise ValueError("MultiHead needs at least one head")
        n = parts[0][0].n_samples
        blocks, fits, alphas = [], [], []
        for fit, block, alpha in parts:
            if fit.n_samples != n:
                raise ValueError("all heads must have the same number of rows")
            alpha = float(alpha)
            if not (alpha >= 0.0 and np.isfinite(alpha)):
                raise ValueError(f"head loss weights must be finite and >= 0, got {alpha}")
            if isinstance(block, slice):
                cols = np.arange(block.start or 0, block.stop)
            else:
                cols = np.asarray(block, dtype=np.int64).reshape(-1)
            if cols.shape[0] != fit.n_outputs:
                raise ValueError(f"block has {cols.shape[0]} columns but its datafit has {fit.n_outputs} outputs")
            fits.append(fit)
            blocks.append(cols)
            alphas.append(alpha)
        allc = np.concatenate(blocks)
        c = int(allc.max()) + 1
        if np.unique(allc).shape[0] != allc.shape[0] or allc.shape[0] != c:
            raise ValueError("head column blocks must partition 0..c-1")
        super().__init__(n, parts[0][0].weights)
        for fit in fits:
            if not np.array_equal(fit.weights, self.weights):
                raise ValueError("all heads must use the same sample weights")
        self.fits, self.blocks, self.alphas = fits, blocks, alphas
        self.n_outputs = c
        self.curvature = max([a * f.curvature for f, a in zip(fits, alphas)] + [0.0])
        mods = [f.dual_modulus / a for f, a in zip(fits, alphas) if a > 0]
        self.dual_modulus = min(mods) if mods else np.inf

    def loss_rows(self, Z):
        out = np.zeros(Z.shape[0])
        for f, cols, a in zip(self.fits, self.blocks, self.alphas):
            if a > 0:
                out += a * f.loss_rows(Z[:, cols])
        return out

    def residual(self, Z):
        R = np.zeros_like(Z)
        for f, cols, a in zip(self.fits, self.blocks, self.alphas):
            if a > 0:
                R[:, cols] = a * f.residual(Z[:, cols])
        return R

    def bregman_rows(self, Z0, Z1):
        out = np.zeros(Z0.shape[0])
        for f, cols, a in zip(self.fits, self.blocks, self.alphas):
            if a > 0:
                out += a * f.bregman_rows(Z0[:, cols], Z1[:, cols])
        return out

    def curvature_rows(self, Z):
        n = Z.shape[0]
        P = np.ones_like(Z)
        lam = np.zeros(n)
        starts, ends, weights, soft = [], [], [], []
        for f, cols, a in zip(self.fits, self.blocks, self.alphas):
            if cols.size and not np.array_equal(cols, np.arange(cols[0], cols[0] + cols.size)):
                raise ValueError("multi-head column blocks must be contiguous ranges")
            Pf, lf, (bs, be, ba, bsoft) = f.curvature_rows(Z[:, cols])
            P[:, cols] = Pf
            lam = np.maximum(lam, a * lf)
            starts += list(bs + cols[0]); ends += list(be + cols[0])
            weights += list(a * ba); soft += list(bsoft)
        blocks = (np.array(starts, dtype=np.int64), np.array(ends, dtype=np.int64),
                  np.array(weights, dtype=np.float64), np.array(soft, dtype=np.bool_))
        return P, lam, blocks

    def conjugate_rows(self, U):
        out = np.zeros(U.shape[0])
        for f, cols, a in zip(self.fits, self.blocks, self.alphas):
            if a > 0:
                out += a * f.conjugate_rows(U[:, cols] / a)
            else:
                out[np.any(U[:, cols] != 0, axis=1)] = np.inf
        return out

    def dual_rows(self, R):
        out = np.zeros(R.shape[0])
        for f, cols, a in zip(self.fits, self.blocks, self.alphas):
            if a > 0:
                out += a * f.dual_rows(R[:, cols] / a)
        return out

    def shrink(self, R, s):
        out = R.copy()
        for f, cols, a in zip(self.fits, self.blocks, self.alphas):
            if a > 0:
                out[:, cols] = a * f.shrink(R[:, cols] / a, s)
        return out

    def balance(self, R):
        out = np.zeros_like(R)
        for f, cols, a in zip(self.fits, self.blocks, self.alphas):
            if a > 0:
                out[:, cols] = a * f.balance(R[:, cols] / a)
        return out

    def intercept_mask(self):
        m = np.zeros(self.n_outputs, dtype=bool)
        for f, cols, a in zip(self.fits, self.blocks, self.alphas):
            m[cols] = f.intercept_mask() if a > 0 else False
        return m

    def fixed_intercept(self):
        b = np.zeros(self.n_outputs)
        for f, cols, a in zip(self.fits, self.blocks, self.alphas):
            b[cols] = f.fixed_intercept() if a > 0 else 0.0
        return b

    def optimal_intercept(self, Z0, b0=None):
        b = np.zeros(self.n_outputs) if b0 is None else np.array(b0, dtype=np.float64)
        for f, cols, a in zip(self.fits, self.blocks, self.alphas):
            if a > 0:
                b[cols] = f.optimal_intercept(Z0[:, cols], b[cols])
        return b
