r"""Row-group L2 penalty ``Omega(W) = reg * sum_j ||W_j||_2`` (row ``j`` = atom ``j``'s output weights).

Its conjugate is the indicator of ``{V : max_j ||V_j||_2 <= reg}``, so with ``V = D^T Theta`` the
dual feasibility condition is ``dual_norm(D^T Theta) <= 1``.
"""

from __future__ import annotations

import numpy as np

from spikeopt.validation import check_number


def row_norms(W: np.ndarray) -> np.ndarray:
    return np.sqrt(np.einsum("ij,ij->i", W, W))


class GroupL2:
    """``reg * sum_j ||W_j||_2`` over the rows of ``W`` (``p x c``)."""

    def __init__(self, reg: float):
        self.reg = float(check_number(reg, "reg", 0.0, open_low=True))

    def value(self, W: np.ndarray) -> float:
        return float(self.reg * row_norms(W).sum())

    def prox(self, V: np.ndarray, step) -> np.ndarray:
        """``argmin_W 1/2 sum_j ||W_j - V_j||^2 / step_j + Omega(W)``: block soft-thresholding.

        ``step`` is a scalar or a per-row array (a block-scalar metric keeps the prox separable).
        """
        thr = self.reg * np.asarray(step, dtype=np.float64)
        nrm = row_norms(V)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(nrm > thr, 1.0 - thr / np.where(nrm > 0, nrm, 1.0), 0.0)
        return V * scale[:, None]

    def dual_norm(self, V: np.ndarray) -> float:
        """``max_j ||V_j||_2 / reg`` (``<= 1`` iff ``V`` is in the conjugate's domain)."""
        if V.shape[0] == 0:
            return 0.0
        return float(row_norms(V).max() / self.reg)

    def subdiff_distance(self, W: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """Per-row distance of ``-grad_j`` to ``reg * d||W_j||`` (0 at an optimum for every row)."""
        nw = row_norms(W)
        ng = row_norms(grad)
        out = np.maximum(ng - self.reg, 0.0)
        act = nw > 0
        if act.any():
            U = grad[act] + self.reg * W[act] / nw[act, None]
            out[act] = row_norms(U)
        return out
