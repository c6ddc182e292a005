"""The proximal Newton step shared by the Gram working-set solvers (two-class and multi-class softmax).

Each outer iteration models the loss on the working set by a quadratic whose curvature is a
``k x k`` Gram matrix. The model (a quadratic group lasso) is solved only until its optimality
violation has fallen by ``MODEL_REL`` -- an inexact proximal Newton step: solving it exactly buys
nothing while the model itself is still far from the loss -- and the step is then backtracked on the
true objective (Armijo).
"""

from __future__ import annotations

import numpy as np

from .gram_ws import dense_columns, quadratic_group_lasso
from .newton import _armijo, _change
from .penalty import row_norms

MODEL_REL = 1e-3  # solve each Newton model until its optimality violation fell by this factor
MODEL_EPOCHS = 2000  # ... or this many coordinate-descent epochs on its Gram matrix
BACKTRACKS = 40  # halvings of the step before the line search gives up


def group_violation(V: np.ndarray, Grad: np.ndarray, regs: np.ndarray) -> float:
    """Largest distance of ``0`` to the subdifferential of ``model + sum_j regs_j ||V_j||`` over the rows."""
    nv = row_norms(V)
    safe = np.where(nv > 0, nv, 1.0)
    on = (regs > 0) & (nv > 0)
    off = (regs > 0) & (nv == 0)
    out = row_norms(Grad)  # unpenalized rows: the gradient itself
    out[on] = row_norms(Grad[on] + (regs[on] / safe[on])[:, None] * V[on])
    out[off] = np.maximum(out[off] - regs[off], 0.0)
    return float(out.max()) if out.size else 0.0


def solve_model(A: np.ndarray, B: np.ndarray, V: np.ndarray, regs: np.ndarray) -> np.ndarray:
    """The model ``1/2 V^T A V - B^T V + sum_j regs_j ||V_j||`` solved from ``V`` to ``MODEL_REL`` of its start."""
    start: list[float] = []

    def done(Vm: np.ndarray, Grad: np.ndarray) -> bool:
        viol = group_violation(Vm, Grad, regs)
        if not start:
            start.append(viol)
        return viol <= MODEL_REL * start[0]

    return quadratic_group_lasso(A, B, V, regs, done, MODEL_EPOCHS)[0]


def backtrack(fit, wn: np.ndarray, Z: np.ndarray, dZ: np.ndarray, Gz: np.ndarray, Wc: np.ndarray,
              Wn: np.ndarray, reg: float, slope: float, f: float) -> float | None:
    """The largest ``t = 2^-i`` whose step ``Z + t dZ``, ``Wc + t (Wn - Wc)`` meets Armijo's condition; ``None`` if none."""
    t = 1.0
    for _ in range(BACKTRACKS):
        if _armijo(_change(fit, wn, Z, Z + t * dZ, Gz, t * dZ, Wc, Wc + t * (Wn - Wc), reg), t, slope, f):
            return t
        t *= 0.5
    return None


class ColumnCache:
    """Dense working-set columns, reusing those of the previous working set (it mostly grows)."""

    def __init__(self, design, n: int) -> None:
        self.design, self.n = design, n
        self.ws: np.ndarray | None = None
        self.X: np.ndarray | None = None

    def __call__(self, ws: np.ndarray) -> np.ndarray:
        if self.ws is None or self.ws.size == 0:
            X = dense_columns(self.design, ws)
        else:
            pos = np.minimum(np.searchsorted(self.ws, ws), self.ws.size - 1)
            known = self.ws[pos] == ws
            X = np.empty((self.n, ws.size), order="F")
            X[:, known] = self.X[:, pos[known]]
            if (~known).any():
                X[:, ~known] = dense_columns(self.design, ws[~known])
        self.ws, self.X = ws.copy(), X
        return X

    def block(self, ws: np.ndarray, intercept: bool, reg: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The working set's model block: columns ``X`` (a ones column last with an intercept), their
        float32 copy for the model's Gram matrix (exact for 0/1 and float32 atoms) and the per-row
        penalties (0 for the intercept)."""
        X = self(ws)
        if intercept:
            X = np.asfortranarray(np.hstack([X, np.ones((self.n, 1))]))
        regs = np.full(X.shape[1], reg)
        if intercept:
            regs[-1] = 0.0
        return X, X.astype(np.float32, order="F"), regs
