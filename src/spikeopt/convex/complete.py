"""Complete witnessed dictionaries for tiny problems: every final-step spike pattern one LIF neuron
can produce on the training sequences, each with a witness (paper 001, App. C.3, D.4, D.6).

Method: exact enumeration, not sampling. For one neuron with input weights ``w``, bias ``b`` and
the model's fixed ``beta`` / ``threshold``, the membrane ``u[t]`` of a sequence is affine in
``(w, b)`` once the spikes before ``t`` are fixed (the reset term only depends on those spikes).
So the set of parameters giving one full spike history on all sequences is a polyhedron
(``u > theta`` where it spikes, ``u <= theta`` where it does not), and the set giving one
final-step pattern is the union of those polyhedra over histories -- not convex for ``T > 1``,
but a finite union. A depth-first search over (sequence, step) branches on "spike / no spike",
keeps a branch only if its polyhedron is non-empty (a linear program that maximises the strict
margin ``t`` of the spiking rows: non-empty iff ``t > 0``) and so visits every non-empty cell
exactly once; each leaf's final-step spikes are a realizable pattern and its LP point a witness.
For ``T = 1`` this is the hyperplane arrangement of the inputs (all affine dichotomies).

Exact up to the LP solver's tolerance (``tol``); the cost grows with the number of cells
(polynomially in ``N * T`` for fixed ``F``, App. D.6), so ``max_cells`` stops runaway searches
with a ValueError. Every witness is replayed in float64 before it is returned, and a witness is
chosen deep inside its cell (the LP also maximises the margin of the non-spiking rows where it
can) so float32 networks reproduce it too.

The reading of Thm 3.1 used by :func:`network_objective`: weight decay ``(reg/2) ||.||^2`` on all
hidden parameters, the (implicit) hidden amplitudes and the output weights of a one-hidden-layer
network reduces, by positive scaling invariance (Lemma 3.5 lets ``theta`` scale with the membrane)
and ``(a^2 + ||v||^2) / 2 >= a ||v||``, to ``mean loss + reg * sum_j ||v_j||_2`` over hidden
neurons ``j`` with outgoing weight columns ``v_j`` -- the group lasso over the complete dictionary
(the output bias is unpenalised, so the convex problem is solved with an intercept).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from spikeopt.snn.lif import check_reset
from spikeopt.snn.network import ParallelLIFSNN


@dataclass
class CompletePatterns:
    """Every realizable final-step pattern on ``x``'s sequences, with witnesses.

    ``patterns [P, N]`` uint8 (row ``p`` = the pattern over the N sequences, zero pattern included
    when realizable); ``weights [P, F]`` and ``biases [P]`` float64 witnesses; ``cells`` the number
    of non-empty full-history cells visited, ``lps`` the linear programs solved, ``thin`` the patterns
    left out because their cells have no interior and no float64 witness reproduces them.
    """

    patterns: np.ndarray
    weights: np.ndarray
    biases: np.ndarray
    cells: int
    lps: int
    thin: int
    beta: float
    threshold: float
    reset_mechanism: str


def _check_inputs(x: torch.Tensor | np.ndarray, beta: float, threshold: float) -> np.ndarray:
    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if arr.ndim != 3 or 0 in arr.shape:
        raise ValueError(f"x must be time-major [T, N, F] with no empty axis, got shape {arr.shape}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError("x contains NaN or inf")
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not 0.0 <= beta <= 1.0:
        raise ValueError(f"beta must be one number in [0, 1] (complete enumeration needs a fixed leak), got {beta!r}")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not threshold > 0:
        raise ValueError(f"threshold must be one number > 0, got {threshold!r}")
    return arr


def lif_final_spikes(x: np.ndarray, w: np.ndarray, b: float, beta: float, threshold: float, reset: str) -> np.ndarray:
    """Final-step spikes ``[N]`` of one LIF neuron in float64 (the README's equation, a plain loop)."""
    u = np.zeros(x.shape[1])
    s = np.zeros(x.shape[1])
    for t in range(x.shape[0]):
        current = x[t] @ w + b
        if reset == "subtract":
            u = beta * u + current - threshold * s
        elif reset == "zero":
            u = beta * (1.0 - s) * u + current
        else:
            u = beta * u + current
        s = (u > threshold).astype(np.float64)
    return s.astype(np.uint8)


class _Search:
    """Depth-first search over spike histories; the constraint rows live in ``(w, b, 1)`` space."""

    def __init__(self, x: np.ndarray, beta: float, threshold: float, reset: str, tol: float, max_cells: int):
        from scipy.optimize import linprog

        self.linprog = linprog
        self.x, self.beta, self.theta, self.reset = x, beta, threshold, reset
        self.tol, self.max_cells = tol, max_cells
        self.steps, self.n, self.f = x.shape
        self.lps = 0
        self.cells = 0
        self.found: dict[bytes, tuple[np.ndarray, bool]] = {}  # pattern -> (witness, interior?)
        self.decided: dict[bytes, int] = {}  # constraint row -> spike decision on the current path
        self.pool: list[np.ndarray] = []  # every LP point so far, tried before solving a new LP

    def _margin(self, spike_rows: list[np.ndarray], quiet_rows: list[np.ndarray], both: bool) -> tuple[float, np.ndarray]:
        """Max ``t <= 1`` with ``a.(w,b,1) >= theta + t`` on spike rows and ``<= theta`` (``both``:
        ``<= theta - t``) on quiet rows; returns (t, (w, b)) or (-inf, None) if infeasible."""
        nvar = self.f + 2  # w, b, t
        rows, rhs = [], []
        for a in spike_rows:  # -(a_w.w + a_b b) + t <= a_c - theta
            rows.append(np.concatenate([-a[:-1], [1.0]]))
            rhs.append(a[-1] - self.theta)
        for a in quiet_rows:  # a_w.w + a_b b (+ t) <= theta - a_c
            rows.append(np.concatenate([a[:-1], [1.0 if both else 0.0]]))
            rhs.append(self.theta - a[-1])
        c = np.zeros(nvar)
        c[-1] = -1.0
        bounds = [(None, None)] * (nvar - 1) + [(None, 1.0)]
        self.lps += 1
        res = self.linprog(c, A_ub=np.array(rows) if rows else None, b_ub=np.array(rhs) if rows else None,
                           bounds=bounds, method="highs")
        if res.status != 0:
            return -math.inf, None
        return float(res.x[-1]), res.x[:-1]

    def run(self) -> None:
        # per sequence: the affine coefficients of u[t] given the history so far, and the rows chosen
        self._visit(0, 0, [np.zeros(self.f + 2) for _ in range(self.n)], [0.0] * self.n, [], [],
                    np.zeros(self.n, dtype=np.uint8), np.zeros(self.f + 1))

    def _visit(self, i: int, t: int, coef: list[np.ndarray], prev: list[float], spike_rows: list[np.ndarray],
               quiet_rows: list[np.ndarray], final: np.ndarray, point: np.ndarray) -> None:
        """Branch on sequence ``i`` at step ``t``; ``point`` satisfies every row chosen so far."""
        if i == self.n:
            self.cells += 1
            if self.cells > self.max_cells:
                raise ValueError(f"more than max_cells={self.max_cells} cells; the problem is too large for "
                                   "complete enumeration (fewer sequences, steps or inputs, or raise max_cells)")
            key = final.tobytes()
            if key not in self.found or not self.found[key][1]:  # keep looking for an interior witness
                margin, robust = self._margin(spike_rows, quiet_rows, both=True)
                if margin > self.tol:
                    self.found[key] = (robust, True)
                elif key not in self.found:
                    self.found[key] = (point, False)
            return
        a_prev = coef[i]
        drive = np.concatenate([self.x[t, i], [1.0, 0.0]])
        if self.reset == "subtract":
            a = self.beta * a_prev + drive - np.concatenate([np.zeros(self.f + 1), [self.theta * prev[i]]])
        elif self.reset == "zero":
            a = self.beta * (1.0 - prev[i]) * a_prev + drive
        else:
            a = self.beta * a_prev + drive
        value = float(a[:-1] @ point + a[-1])
        nxt_i, nxt_t = (i, t + 1) if t + 1 < self.steps else (i + 1, 0)
        key = a.tobytes()
        forced = self.decided.get(key)  # the same row (same prefix and history) was decided on this path
        for spike in (1, 0):
            if forced is not None and spike != forced:
                continue
            rows_s = spike_rows + [a] if spike and forced is None else spike_rows
            rows_q = quiet_rows + [a] if not spike and forced is None else quiet_rows
            if forced is not None or (spike and value > self.theta + self.tol) or (not spike and value <= self.theta):
                child_point = point  # the parent's point already lies in this child
            else:
                child_point = self._known_point(rows_s, rows_q)
                if child_point is None:
                    margin, child_point = self._margin(rows_s, rows_q, both=False)
                    if not margin > self.tol:
                        continue
                    self.pool.append(child_point)
            new_coef = coef if nxt_i != i else coef[:i] + [a] + coef[i + 1:]
            new_prev = prev[:i] + [float(spike)] + prev[i + 1:]
            new_final = final
            if t == self.steps - 1:
                new_final = final.copy()
                new_final[i] = spike
            if forced is None:
                self.decided[key] = spike
            self._visit(nxt_i, nxt_t, new_coef, new_prev, rows_s, rows_q, new_final, child_point)
            if forced is None:
                del self.decided[key]

    def _known_point(self, spike_rows: list[np.ndarray], quiet_rows: list[np.ndarray]) -> np.ndarray | None:
        """A witness found earlier that satisfies these rows (saves a linear program), else None."""
        if not self.pool:
            return None
        pts = np.array(self.pool)
        ok = np.ones(len(pts), dtype=bool)
        if spike_rows:
            a = np.array(spike_rows)
            ok &= ((pts @ a[:, :-1].T + a[:, -1]) > self.theta + self.tol).all(axis=1)
        if quiet_rows:
            a = np.array(quiet_rows)
            ok &= ((pts @ a[:, :-1].T + a[:, -1]) <= self.theta).all(axis=1)
        hit = np.flatnonzero(ok)
        return pts[hit[0]] if hit.size else None


def complete_patterns(
    x: torch.Tensor | np.ndarray,
    beta: float = 0.9,
    threshold: float = 1.0,
    reset_mechanism: str = "subtract",
    tol: float = 1e-9,
    max_cells: int = 200_000,
) -> CompletePatterns:
    """Every final-step pattern one LIF neuron (any ``w``, ``b``; fixed ``beta``, ``threshold``) can
    produce on the sequences of ``x [T, N, F]``, each with a verified float64 witness.

    Sequences should be distinct (duplicates only add cost: pass the unique ones and expand).
    """
    arr = _check_inputs(x, beta, threshold)
    reset = check_reset(reset_mechanism)
    if not tol > 0:
        raise ValueError(f"tol must be > 0, got {tol}")
    if isinstance(max_cells, bool) or not isinstance(max_cells, int) or max_cells < 1:
        raise ValueError(f"max_cells must be a positive integer, got {max_cells!r}")
    search = _Search(arr, float(beta), float(threshold), reset, tol, max_cells)
    import sys

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, arr.shape[0] * arr.shape[1] + 1000))
    try:
        search.run()
    finally:
        sys.setrecursionlimit(limit)
    keys, points, thin = [], [], 0
    for key in sorted(search.found):
        point, interior = search.found[key]
        replay = lif_final_spikes(arr, point[:-1], point[-1], float(beta), float(threshold), reset)
        if not np.array_equal(replay, np.frombuffer(key, dtype=np.uint8)):
            if interior:
                raise RuntimeError("an interior witness does not reproduce its pattern in float64; lower tol")
            thin += 1  # realizable only on a set without interior, and float64 misses it: left out
            continue
        keys.append(key)
        points.append(point)
    patterns = np.array([np.frombuffer(k, dtype=np.uint8) for k in keys], dtype=np.uint8).reshape(len(keys), arr.shape[1])
    points_arr = np.array(points, dtype=np.float64).reshape(len(keys), arr.shape[2] + 1)
    return CompletePatterns(patterns, points_arr[:, :-1].copy(), points_arr[:, -1].copy(),
                            search.cells, search.lps, thin, float(beta), float(threshold), reset)


def witness_network(found: CompletePatterns, in_features: int, out_features: int = 1) -> ParallelLIFSNN:
    """The witnesses as a network of ``P`` one-neuron subnetworks (hidden weights set, frozen),
    ready for :func:`~spikeopt.convex.dictionary.build_dictionary` and ``reconstruct``."""
    from spikeopt.convex.witnesses import freeze_hidden

    k = found.patterns.shape[0]
    net = ParallelLIFSNN(in_features, out_features, subnetworks=k, width=1, depth=1, beta=found.beta,
                         threshold=found.threshold, reset_mechanism=found.reset_mechanism, readout="final", seed=0)
    with torch.no_grad():
        net.weights[0].copy_(torch.as_tensor(found.weights, dtype=torch.float32).reshape(k, in_features, 1))
        net.biases[0].copy_(torch.as_tensor(found.biases, dtype=torch.float32).reshape(k, 1))
    return freeze_hidden(net)


def network_objective(model: ParallelLIFSNN, x: torch.Tensor, y: torch.Tensor, heads, reg: float) -> dict[str, float]:
    """The regularised training objective of Thm 3.1's reduced form at ``model`` (one hidden layer):
    ``mean_i sum_h weight_h CE_h + reg * sum_j ||W_out[:, j]||_2``, with the hard-spike forward pass,
    in float64. Comparable with the group-lasso optimum solved with an (unpenalised) intercept."""
    from spikeopt.tasks.base import sequence_loss

    if model.depth != 1 or model.readout != "final":
        raise ValueError("network_objective needs a one-hidden-layer network with the final readout")
    with torch.no_grad():
        spikes = model.hidden(x)[0][-1].flatten(1).double()  # [N, K*m]
        w = model.output.weight.double()
        logits = spikes @ w.T + model.output.bias.double()
        loss = float(sequence_loss(logits, y, tuple(heads)))
        penalty = float(torch.linalg.vector_norm(w, dim=0).sum())
    return {"loss": loss, "penalty": penalty, "objective": loss + reg * penalty}
