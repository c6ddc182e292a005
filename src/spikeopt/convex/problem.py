"""Turning user inputs into a solver problem: design and target checks, the datafit by name, row compression."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from spikeopt.validation import check_bool, check_int, check_number

from .datafits import CrossEntropy, Datafit, MultiHead, Squared
from .design import Design
from .newton import WorkingSetSolver
from .oracles import _Context
from .penalty import GroupL2
from .solution import ConvexSolution

_SQUARED_NAMES = ("squared", "quadratic", "mse", "l2")
_CE_NAMES = ("cross_entropy", "crossentropy", "ce", "softmax", "multinomial")


# ============================================================================ input handling
def _as_design(D: Any) -> Design:
    """Validate ``D`` and keep it compact (uint8 / float32 / float64 dense, or float64 CSC)."""
    return D if isinstance(D, Design) else Design(D)


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


def _check_budget(tol, max_iter) -> tuple[float, int]:
    return float(check_number(tol, "tol", 0.0, open_low=True)), int(check_int(max_iter, "max_iter", 1))


def _unique_rows(D: Design, Y) -> tuple[np.ndarray, np.ndarray] | None:
    """``(first, inverse)`` of the distinct ``(D_i, Y_i)`` pairs of a dense 0/1 design, else ``None``."""
    if D.sparse or Y is None:
        return None
    n = D.n
    if n < 64:
        return None
    if not D.is_binary():  # non-binary designs are not compressed (rarely duplicated)
        return None
    Yb = np.ascontiguousarray(np.asarray(Y, dtype=np.float64).reshape(n, -1)) + 0.0  # -0.0 -> 0.0
    key = np.ascontiguousarray(np.concatenate([D.packed_rows(), Yb.view(np.uint8)], axis=1))
    void = key.view(np.dtype((np.void, key.shape[1]))).ravel()
    _, first, inverse = np.unique(void, return_index=True, return_inverse=True)
    return first, inverse.reshape(-1)


@dataclass
class _Prepared:
    D: Design  # the (row-compressed) compact design
    datafit: Datafit
    loss_name: str
    heads: tuple
    intercept: bool
    ctx: "_Context"
    oracle: Any
    n_rows: int  # rows of the design as given
    prep_time: float
    row_wn: np.ndarray  # w_i / n of the rows as given (before compression)
    inverse: np.ndarray | None = None  # compressed row of each given row, when rows were merged

    def dual_point(self, R: np.ndarray) -> np.ndarray:
        """``Theta = diag(w/n) R`` over the rows as given, from a residual-unit dual point ``R``.

        A compressed row's residual is shared by every row it merged, so ``D^T Theta`` (the
        pricing of any atom) is the same on the given and the compressed problem.
        """
        if self.inverse is not None:
            R = R[self.inverse]
        return self.row_wn[:, None] * R


def _prepare(D, Y, loss, sample_weight, intercept, classes, compress_rows: bool = True) -> _Prepared:
    """Validate, compress duplicate rows exactly into row weights, and set up the shared context.

    Row compression: rows ``i`` with the same ``(D_i, Y_i)`` have the same loss at every ``(W, b)``,
    so ``(1/n) sum_i w_i l_i = (1/m) sum_u w'_u l_u`` with ``m`` distinct pairs and
    ``w'_u = (m/n) sum_{i in u} w_i``: the objective, its minimisers and the dual values are the same
    (a dual point of the compressed problem, repeated over each group's rows, is a feasible dual
    point of the original with the same value), so the certificate stays exact.
    """
    t0 = time.perf_counter()
    check_bool(compress_rows, "compress_rows")
    D = _as_design(D)
    n, p = D.shape
    datafit, loss_name, heads = make_datafit(loss, Y, n, sample_weight, classes)  # validates
    row_wn, inverse = datafit.wn, None
    if compress_rows and not isinstance(loss, Datafit):
        groups = _unique_rows(D, _as_array(Y).reshape(n, -1) if not isinstance(loss, Datafit) else None)
        if groups is not None and groups[0].size <= 0.8 * n:
            first, inverse = groups
            m = first.size
            w = np.bincount(inverse, weights=datafit.weights, minlength=m) * (m / n)
            D = D.take_rows(first)
            Yc = _as_array(Y)[first]
            datafit, loss_name, heads = make_datafit(loss, Yc, m, w, classes)
    intercept = check_bool(intercept, "intercept")
    ctx = _Context(D, datafit, GroupL2(1.0), intercept)
    oracle = WorkingSetSolver(ctx)
    return _Prepared(D, datafit, loss_name, heads, intercept, ctx, oracle, n, time.perf_counter() - t0, row_wn, inverse)
