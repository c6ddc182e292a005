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

Round-off: the feasibility scale uses ``||D_j^T Theta|| + gamma_n ||d_j|| ||Theta||_F``, a rigorous
bound on the float64 error of the product (:meth:`.design.Design.tdot_error`), and the reported
``dual`` is lowered by ``max(1e-14, 2 n 2^-53) * (sum_i (w_i/n)|dual term_i| + |primal|)``, above
the float64 summation error of either side, so ``dual <= primal`` and ``dual <= min P`` are not broken
by round-off either (relevant only when the gap is ~0, e.g. ``reg >= reg_max``).

The reported ``primal``/``dual`` are always recomputed in float64 from the explicit predictions
``Z = D_A W_A + 1 b^T`` and ``D^T Theta`` over *all* atoms (screened ones included), so the
certificate does not depend on the correctness of the screening, the working-set shortcuts or the inner
solver.

Algorithm
---------
Working sets (as in celer/skglm) around a proximal-Newton inner solver (:mod:`.newton`):

* outer loop: full certificate (one pass ``D^T Theta`` over all atoms), gap-safe screening (the
  dual is ``mu``-strongly concave in the ``w/n``-weighted norm of ``R``, hence ``||Theta* - Theta||``
  is bounded by ``sqrt(2 gap / mu)`` and atoms with ``s ||D_j^T Theta|| + ||D_j||_{w/n}
  sqrt(2 gap / mu) < reg`` are zero at the optimum), then a working set = active atoms + the
  largest dual-norm violators, of size ``max(16, 2 * n_active, previous size)``. The working-set
  problem is solved to ``max(0.3 * gap, 0.1 * tol)``, or to ``tol / 2`` when no atom outside it
  violates the dual constraint;
* working set, squared loss and two-class softmax (whenever the dense working-set columns and
  the ``k x k`` Gram matrix fit :data:`.gram_ws.GRAM_BYTES`): the problem is solved on Gram
  matrices (:mod:`.gram_ws`, :mod:`.gram_ce`), BLAS instead of sweeps over the rows. Squared: one
  Gram ``X^T diag(w/n) X`` per working set (grown column-wise, reused along a path; an intercept
  is eliminated by centering), then coordinate descent at ``k^2 c`` per epoch with Anderson
  extrapolation and exact Newton steps on the support (Woodbury: two ``m x m`` Cholesky factors
  for any ``c``), the working-set gap in closed form. Two-class softmax: zero-mean rows make it an
  l1 logistic regression in ``w_j``; proximal Newton whose models (Hessian
  ``X^T diag(h) X``, float32 ``syrk``) are solved the same way, then a line search on the true
  objective. Multi-class and multi-head softmax, when the working set has at least 4 rows per
  atom or coherent columns (an estimated Gram condition number of at least 500 from their mean
  cosine, :func:`.newton.coherence_condition`: the calibrated defaults' spike counts;
  :mod:`.gram_softmax`): proximal Newton whose model bounds each row's Hessian by
  ``lam_i I`` (Gershgorin), so one float32 Gram ``X^T diag(w lam / n) X`` serves all outputs,
  alternating with exact Newton-CG steps on a stable support;
* working set, other cases (multi-class on few rows per atom and less coherent columns, where it
  measured faster): proximal Newton. The quadratic model of ``F`` at the current predictions (exact for
  the squared loss; softmax Hessians ``diag p - p p^T`` per row for cross-entropy and per head for
  multi-head) is minimised with the penalty by a few epochs of compiled block coordinate descent
  (:mod:`.kernels`: one atom's ``c``-vector at a time, step ``1/L_j``, block soft-thresholding, cost
  ``nnz(D_ws) c`` per epoch) with Anderson extrapolation, followed by an Armijo line search on the
  true objective (cancellation-free, Bregman form) -- monotone, so it cannot diverge. Once the
  support stops changing, Newton-CG steps on the support (matrix-free Hessian, two sparse products
  per CG iteration) give the fast local convergence that coordinate descent lacks on
  ill-conditioned binary designs. On softmax blocks the iterates stay zero-mean (the loss is flat
  along the shift, the norm is smallest at zero mean). ``max_iter`` counts CD epochs plus Newton-CG
  steps, all working sets together.

The design is never copied to float64: it stays uint8 / float32 (:class:`.design.Design`) and every
product converts one row block at a time; working-set columns are held in CSC form in the compact
dtype. ``ConvexSolution.n_passes`` reports the work in full-dictionary passes.

Where the pieces live: this file holds the outer loop (``solve``, ``solve_path``, ``reg_max``);
``problem.py`` turns inputs into a problem (checks, datafit by name, row compression);
``design.py`` the compact design and its products; ``oracles.py`` the certificate context;
``newton.py`` the working-set solver (it hands squared, two-class and -- with many rows per
atom -- multi-class / multi-head softmax problems to ``gram_ws.py`` / ``gram_ce.py`` / ``gram_softmax.py``); ``kernels.py`` the compiled loops; ``datafits.py`` and
``penalty.py`` the losses and the group norm.

Speed-ups (all exact):

* row compression: identical ``(D_i, Y_i)`` rows of a dense 0/1 design are merged into row weights
  before anything else (``compress_rows=True``; e.g. first-last-XOR with T = 8 has at most 256
  distinct rows whatever N is). Objective, minimisers and dual values are unchanged, and the dual
  point of the compressed problem repeated over each group's rows is feasible for the original;
* :func:`solve_path` shares validation, compression and column norms along a path of ``reg``
  values, each solve warm-started from the previous (larger) one.
"""

from __future__ import annotations

import time
import warnings
from typing import Any, Sequence

import numpy as np

from .penalty import GroupL2, row_norms
from .solution import ConvergenceWarning, ConvexSolution
from .problem import _as_design, _check_budget, _parse_warm_start, _prepare, _Prepared, make_datafit
from .oracles import _Context

__all__ = ["solve", "solve_path", "reg_max", "make_datafit", "ConvergenceWarning"]

_WS_MIN = 16
_MAX_OUTER = 500


def reg_max(D, Y, loss="squared", *, sample_weight=None, intercept: bool = False, classes=None,
            process_group=None) -> float:
    """Smallest ``reg`` for which ``W = 0`` is optimal: ``max_j ||D_j^T Theta_0||_2``.

    ``process_group``: as in :func:`solve` (the same value on every process).
    """
    if process_group is not None:
        D, Y, sample_weight, _ = _shards(D, Y, sample_weight, False, process_group)
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
    compress_rows: bool = True,
    process_group=None,
) -> ConvexSolution:
    """Minimize ``(1/n) sum_i w_i loss(D_i W + b, y_i) + reg * sum_j ||W_j||_2`` with a certificate.

    Parameters
    ----------
    D : (n, p) array-like (numpy bool/uint8/float, torch tensor, scipy sparse); kept in its compact
        dtype (uint8 / float32 / float64, no float64 copy), products accumulate in float64.
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
    max_iter : budget of inner iterations, all working sets together (coordinate-descent epochs
        over the working set plus support Newton steps; for the two-class softmax, proximal Newton
        steps, whose models are solved on the working-set Gram matrix).
    warm_start : a :class:`ConvexSolution`, ``(coef, intercept)`` or ``coef``.
    classes : number of classes for a single cross-entropy loss (default ``max(Y) + 1``).
    compress_rows : merge identical ``(D_i, Y_i)`` rows of a dense 0/1 design into row weights
        before solving (exact: same objective, same optimum, same certificate).
    process_group : a ``torch.distributed`` process group (e.g. ``torch.distributed.group.WORLD``):
        ``D, Y, sample_weight`` are then this process's rows only, the problem is the one on the
        rows of all processes stacked in rank order, every process returns the same solution and
        ``dual_point`` covers all rows (see :mod:`.distributed`). ``None``: this process alone.

    Returns a :class:`ConvexSolution`; ``dual <= min P <= primal`` always holds. If the gap is still
    above ``tol`` when the budget is spent, a :class:`ConvergenceWarning` is issued and
    ``converged`` is False.
    """
    t0 = time.perf_counter()
    penalty = GroupL2(reg)
    tol, max_iter = _check_budget(tol, max_iter)
    finish = _identity
    if process_group is not None:
        D, Y, sample_weight, finish = _shards(D, Y, sample_weight, compress_rows, process_group)
        compress_rows, verbose = False, verbose and D.comm.rank == 0
    prep = _prepare(D, Y, loss, sample_weight, intercept, classes, compress_rows)
    return finish(_run(prep, penalty.reg, tol, max_iter, warm_start, verbose, t0))


def _identity(sol):
    return sol


def _shards(D, Y, sample_weight, compress_rows: bool, process_group):
    """This process's rows as the sharded global problem (:func:`.distributed.shard_inputs`)."""
    from .distributed import shard_inputs

    return shard_inputs(D, Y, sample_weight, compress_rows, process_group)


def _run(prep: _Prepared, reg: float, tol: float, max_iter: int, warm_start, verbose: bool, t0: float) -> ConvexSolution:
    ctx, oracle, datafit, intercept = prep.ctx, prep.oracle, prep.datafit, prep.intercept
    passes0 = ctx.design.n_passes
    loss_name, heads = prep.loss_name, prep.heads
    p, c = ctx.p, datafit.n_outputs
    penalty = GroupL2(reg)
    ctx.set_reg(penalty)
    W, b = _parse_warm_start(warm_start, p, c)
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
        cert = ctx.explicit_certificate(W, b)
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
            final = cert
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
        dual_point=prep.dual_point(final.R) if final.R is not None else None,
        n_passes=float(ctx.design.n_passes - passes0),
    )


def solve_path(
    D,
    Y,
    regs: Sequence[float],
    loss: str | Sequence[Any] = "squared",
    *,
    sample_weight=None,
    intercept: bool = False,
    tol: float = 1e-6,
    max_iter: int = 20_000,
    verbose: bool = False,
    classes: int | None = None,
    compress_rows: bool = True,
    process_group=None,
) -> list[ConvexSolution]:
    """Solve for every ``reg`` in ``regs`` with warm starts; one certified solution per value, in order.

    The values are visited from the largest to the smallest, each solve warm-started from the
    previous solution; validation, row compression and the column norms are shared by all of them, so a path costs far less than independent :func:`solve` calls.
    Every solution carries its own certificate (``gap <= tol`` unless a
    :class:`ConvergenceWarning` was issued for it); ``max_iter`` is the budget of each solve.
    ``process_group``: as in :func:`solve`.
    """
    regs_arr = np.asarray([float(r) for r in np.atleast_1d(np.asarray(regs, dtype=np.float64))])
    if regs_arr.size == 0:
        raise ValueError("regs must hold at least one value")
    for r in regs_arr:
        GroupL2(r)  # validates
    tol, max_iter = _check_budget(tol, max_iter)
    t0 = time.perf_counter()
    finish = _identity
    if process_group is not None:
        D, Y, sample_weight, finish = _shards(D, Y, sample_weight, compress_rows, process_group)
        compress_rows, verbose = False, verbose and D.comm.rank == 0
    prep = _prepare(D, Y, loss, sample_weight, intercept, classes, compress_rows)
    out: list[ConvexSolution | None] = [None] * regs_arr.size
    warm = None
    for i in np.argsort(-regs_arr, kind="stable"):
        sol = _run(prep, float(regs_arr[i]), tol, max_iter, warm, verbose, t0)
        t0 = time.perf_counter()
        out[i] = warm = sol
    return [finish(sol) for sol in out]  # type: ignore[misc]
