"""The certificate context over all atoms: column statistics and the explicit float64 certificate."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .datafits import Datafit
from .design import Design
from .newton import feasible_scale
from .penalty import GroupL2, row_norms

_ROUNDOFF = 1e-14  # relative margin subtracted from the reported dual against summation round-off


@dataclass
class _Cert:
    primal: float
    dual: float
    dt_norms: np.ndarray  # ||D_j^T Theta|| of the unscaled dual point (all atoms)
    scale: float  # s in (0, 1]
    b: np.ndarray | None = None  # intercept used for the primal (exact argmin when fitted)
    R: np.ndarray | None = None  # the feasible dual point shrink(R, s) in residual units, (n, c)

    @property
    def gap(self) -> float:
        return self.primal - self.dual


class _Context:
    """Problem data shared by the outer loop and the working-set solver."""

    def __init__(self, design: Design, datafit: Datafit, penalty: GroupL2, intercept: bool):
        self.design, self.datafit, self.penalty, self.intercept = design, datafit, penalty, intercept
        self.n, self.p = design.shape
        self.c = datafit.n_outputs
        self.wn = datafit.wn
        self.reg = penalty.reg
        if np.all(self.wn == self.wn[0]):  # equal weights: from the (cached) column norms, no extra pass
            wD2 = self.wn[0] * design.l2_norms() ** 2
        else:
            wD2 = design.sq_tdot(self.wn)
        if intercept:
            self.omega = datafit.weight_sum / self.n
            self.dbar = design.tdot_vec(datafit.weights) / datafit.weight_sum
            centered = wD2 - self.omega * self.dbar**2
            dead = centered <= 1e-13 * np.maximum(wD2, 1e-300)
            self.colnorm = np.sqrt(np.clip(centered, 0.0, None))
        else:
            self.omega, self.dbar = 0.0, None
            dead = wD2 <= 0.0
            self.colnorm = np.sqrt(wD2)
        self.dead = dead  # atoms that cannot change the predictions (all zero / constant): W_j = 0
        self.damping = 0.0  # Levenberg-Marquardt damping of the dense support Newton step, carried between steps

    def set_reg(self, penalty: GroupL2) -> None:
        self.penalty, self.reg = penalty, penalty.reg

    def explicit_certificate(self, W: np.ndarray, b_hint: np.ndarray | None) -> _Cert:
        """Certificate from explicit float64 predictions, over all atoms (one pass ``D^T Theta``).

        Dual feasibility uses ``||D_j^T Theta|| + err_j`` with ``err_j`` the rigorous float64
        round-off bound of :meth:`Design.tdot_error`, so the scaled point is feasible in exact
        arithmetic, not just in floating point.
        """
        fit = self.datafit
        act = np.flatnonzero(row_norms(W) > 0)
        Z0 = self.design.dot(act, W[act])
        if self.intercept:
            b = fit.optimal_intercept(Z0, b_hint)
            Z = Z0 + b[None, :]
        else:
            b, Z = np.zeros(self.c), Z0
        R = fit.residual(Z)
        if self.intercept:
            R = fit.balance(R)
        Theta = self.wn[:, None] * R
        nrm = row_norms(self.design.tdot(Theta))
        s = feasible_scale(nrm + self.design.tdot_error(Theta), self.reg)
        Rs = fit.shrink(R, s)
        dual, dual_abs = fit.dual_value(Rs, with_abs=True)
        primal = fit.value(Z) + self.penalty.value(W)
        # round-off margin: a float64 sum of n terms errs by at most gamma_n * sum |terms|
        # (gamma_n ~ n 2^-53, any summation order); both sides of the gap are such sums
        dual -= max(_ROUNDOFF, 2.0 * self.n * 2.0**-53) * (dual_abs + abs(primal))
        return _Cert(primal, dual, nrm, s, b, Rs)
