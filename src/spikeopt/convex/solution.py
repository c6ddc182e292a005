"""The result of :func:`spikeopt.convex.solve`: the output layer and its optimality certificate."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


class ConvergenceWarning(UserWarning):
    """The solver ran out of budget before the duality gap reached ``tol``."""


def _design_to_float64(D: Any) -> Any:
    """Return ``D`` as a float64 numpy array or float64 scipy sparse matrix (no validation)."""
    try:  # torch is optional here
        import torch

        if isinstance(D, torch.Tensor):
            return D.detach().cpu().to(torch.float64).numpy()
    except ImportError:  # pragma: no cover
        pass
    import scipy.sparse as sp

    if sp.issparse(D):
        return sp.csc_matrix(D, dtype=np.float64)
    return np.asarray(D, dtype=np.float64)


@dataclass(frozen=True, eq=False)
class ConvexSolution:
    """A solution of the group-lasso readout problem together with a certificate of its quality.

    ``primal`` is ``P(coef, intercept)``; ``dual`` is the dual objective at a feasible dual point, so
    ``dual <= min P <= primal`` and ``gap = primal - dual`` bounds the suboptimality of the returned
    ``(coef, intercept)``. Both are evaluated in float64 from the explicit predictions ``D @ coef +
    intercept`` (not from cached Gram quantities).
    """

    coef: np.ndarray  # (p, c) float64, row j = atom j's output weights
    intercept: np.ndarray  # (c,) float64, zeros when fitted without intercept
    primal: float
    dual: float
    gap: float
    n_iter: int
    time: float
    active: np.ndarray  # (k,) int64 indices of atoms with a nonzero row in coef
    converged: bool
    history: list = field(default_factory=list)  # (iteration, primal, dual) at each full gap check
    reg: float = 0.0
    loss: str = "squared"
    heads: tuple = ()  # ((name, classes, weight), ...) for cross-entropy / multi-head losses
    fit_intercept: bool = False
    n_screened: int = 0  # atoms discarded by the gap-safe screening rule
    dual_point: np.ndarray | None = None  # (n, c) feasible dual point Theta = diag(w/n) R, rows as given
    n_passes: float = 0.0  # work in full-dictionary passes D^T Theta (products over k atoms count k/p)

    def price(self, atoms: Any) -> np.ndarray:
        """``||d_j^T Theta||_2`` for each column ``d_j`` of ``atoms`` (rows as given to the solver).

        Every atom of the solved dictionary prices at ``<= reg`` (dual feasibility). A new atom that
        prices above ``reg`` would lower the objective if added (column generation); if no atom of
        a set does, the solution stays optimal over the enlarged dictionary, within the same gap.
        """
        if self.dual_point is None:
            raise ValueError("this solution carries no dual point (built by hand?); re-solve to price atoms")
        X = _design_to_float64(atoms)
        if X.ndim != 2 or X.shape[0] != self.dual_point.shape[0]:
            raise ValueError(f"atoms must have shape ({self.dual_point.shape[0]}, m), got {X.shape}")
        G = np.asarray(X.T @ self.dual_point)
        return np.sqrt(np.einsum("ij,ij->i", G, G))

    @property
    def n_atoms(self) -> int:
        return int(self.coef.shape[0])

    @property
    def n_outputs(self) -> int:
        return int(self.coef.shape[1])

    @property
    def rel_gap(self) -> float:
        return float(self.gap / max(abs(self.primal), 1e-300))

    def predict(self, D: Any) -> np.ndarray:
        """Predictions (logits for cross-entropy losses) ``D @ coef + intercept``, shape ``(n, c)``."""
        X = _design_to_float64(D)
        if X.ndim != 2 or X.shape[1] != self.coef.shape[0]:
            raise ValueError(f"D must have shape (n, {self.coef.shape[0]}), got {X.shape}")
        if len(self.active) == 0:
            out = np.zeros((X.shape[0], self.coef.shape[1]))
        else:
            out = np.asarray(X[:, self.active] @ self.coef[self.active])
        return out + self.intercept[None, :]

    def __repr__(self) -> str:  # arrays make the default repr unreadable
        return (
            f"ConvexSolution(loss={self.loss!r}, reg={self.reg:.3g}, shape={self.coef.shape}, "
            f"active={len(self.active)}, primal={self.primal:.10g}, dual={self.dual:.10g}, "
            f"gap={self.gap:.3g}, converged={self.converged}, n_iter={self.n_iter}, time={self.time:.3g}s)"
        )
