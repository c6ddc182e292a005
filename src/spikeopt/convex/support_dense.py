r"""Exact Newton direction on a small support: the dense Hessian, formed and factored once per step.

Why: on separable data at small reg most rows have ``p (1 - p) ~ 0`` and the support Hessian is
ill-conditioned; conjugate gradients then need about a thousand Hessian products per Newton step,
each a handful of small numpy calls (``benchmarks/solver_small_n.py``: ACSF1, 48 atoms x 10 classes
on 80 rows, ~1,400 products a step, 134 CPU-s for one path point). Forming the ``(m c) x (m c)``
matrix costs ``n m^2 c^2`` flops and factoring it ``(m c)^3 / 3``; :func:`dense_pays` compares that
with the products it replaces, so large supports on many rows keep the matrix-free products.

Variables: the support rows of ``W`` (and the intercept row), each a ``c``-vector restricted by its
own symmetric projector ``C_j`` (softmax blocks are zero-mean: logits are defined up to a shift).
The Hessian of ``F(D_S W + 1 b^T) + reg sum_j ||W_j||`` there is

    H[(j, a), (l, b)] = sum_i x_ij x_il (w_i / n) H_i[a, b]  +  [j = l] reg / ||W_j|| (I - u_j u_j^T)[a, b]

and the direction solves ``(C H C + (I - C) + mu I) x = -g`` (``g`` already projected), so ``x = C x``.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla

_MAX_BYTES = 1 << 26  # the dense Hessian: at most 64 MiB (m c <= 2,896)
_ROW_CHUNK_ELEMENTS = 1 << 22  # rows x m x c^2 per chunk while forming it
_FLOPS_PER_PRODUCT = 4  # one matrix-free product: n m c multiply-adds forward and back ...
_PRODUCT_OVERHEAD_FLOPS = 1e6  # ... plus its dozen small numpy calls (~0.1 ms, measured on ACSF1's support)
DAMPING_LADDER = [0.0] + [10.0**e for e in range(-6, 1)]  # Levenberg-Marquardt mu / mean curvature
_FACTORIZATIONS = 2  # what dense_pays budgets per step (the damping carried from the previous step, one rung more)


def dense_pays(n: int, m: int, c: int, products: int) -> bool:
    """Whether forming and factoring the Hessian costs fewer flops than ``products`` Hessian products."""
    mc = m * c
    if mc * mc * 8 > _MAX_BYTES:
        return False
    dense = n * m * m * c * c + _FACTORIZATIONS * mc**3 / 3.0
    return dense <= products * (_FLOPS_PER_PRODUCT * n * m * c + _PRODUCT_OVERHEAD_FLOPS)


def row_hessians(P: np.ndarray, wn: np.ndarray, blocks) -> np.ndarray:
    """``(w_i / n) H_i`` for every row, ``n x c x c``: ``a (diag p - p p^T)`` on a softmax block,
    ``a diag(P)`` on the others (the datafit's ``curvature_rows`` convention)."""
    n, c = P.shape
    H = np.zeros((n, c, c))
    for s0, e0, a, soft in zip(*blocks):
        Pb = P[:, s0:e0]
        idx = np.arange(s0, e0)
        H[:, idx, idx] = a * Pb
        if soft:
            H[:, s0:e0, s0:e0] -= a * Pb[:, :, None] * Pb[:, None, :]
    return H * wn[:, None, None]


def support_hessian(X: np.ndarray, Hrows: np.ndarray, a_pen: np.ndarray, U: np.ndarray, C: np.ndarray) -> np.ndarray:
    """``C H C + (I - C)`` as an ``(m c) x (m c)`` matrix (positive definite off the support's null space).

    ``X``: the support columns (and a column of ones for the intercept), ``n x m``; ``Hrows``: from
    :func:`row_hessians`; ``a_pen``: ``reg / ||W_j||`` (0 for the intercept); ``U``: the unit rows
    ``W_j / ||W_j||``; ``C``: one symmetric projector per row, ``m x c x c``.
    """
    n, m = X.shape
    c = C.shape[1]
    H = np.zeros((m, m, c, c))
    step = max(1, _ROW_CHUNK_ELEMENTS // max(1, m * c * c))
    for i0 in range(0, n, step):
        Xi, Hi = X[i0:i0 + step], Hrows[i0:i0 + step]
        T = (Xi[:, :, None] * Hi.reshape(len(Xi), 1, c * c)).reshape(len(Xi), m * c * c)
        H += (Xi.T @ T).reshape(m, m, c, c)
    H = H.transpose(0, 2, 1, 3).copy()  # [j, a, l, b]
    eye = np.eye(c)
    for j in range(m):
        H[j, :, j, :] += a_pen[j] * (eye - np.outer(U[j], U[j]))
    H = np.einsum("jab,jblc,lcd->jald", C, H, C, optimize=True)
    for j in range(m):
        H[j, :, j, :] += eye - C[j]
    return H.reshape(m * c, m * c)


def damped_directions(M: np.ndarray, g: np.ndarray, last: float = 0.0):
    """Levenberg-Marquardt directions ``-(M + mu I)^{-1} g``, ``mu`` growing tenfold: yields ``(rel, x)``.

    Why: on separable data the exact Newton step is huge along the flat directions (rows already
    classified, ``p (1 - p) ~ 0``) and a line search along it accepted steps of ``t ~ 1e-4``, so the
    solver crawled (ACSF1 at reg 3.7e-4 did not converge in 20,000 iterations). Damping shortens the
    flat components first: ``mu`` traces the trust-region path from the Newton step toward the
    gradient direction. ``rel = mu / mean diagonal`` runs over 0, 1e-6 ... 1; it starts one rung
    below ``last`` (the damping the previous step accepted), as Levenberg-Marquardt does, so a step
    costs one or two factorizations rather than one per rung. The caller takes the first direction
    whose full step decreases the objective enough and remembers its ``rel``.
    """
    shape, rhs = g.shape, -g.reshape(-1)
    scale = float(np.trace(M)) / M.shape[0]
    start = max(0, DAMPING_LADDER.index(last) - 1) if last in DAMPING_LADDER else 0
    for rel in DAMPING_LADDER[start:]:
        A = M if rel == 0.0 else M + (rel * scale) * np.eye(M.shape[0])
        try:
            x = sla.cho_solve(sla.cho_factor(A, check_finite=False), rhs, check_finite=False)
        except sla.LinAlgError:  # singular on the support (e.g. duplicate columns): least squares
            x = sla.lstsq(A, rhs, check_finite=False)[0]
        yield rel, x.reshape(shape)
