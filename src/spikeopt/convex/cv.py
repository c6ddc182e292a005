r"""K-fold scores of a reg path on the dictionary's own rows, pooled with the validation split.

Why: with the ``final`` and ``integrate`` layouts a reconstructed network's output on a sequence
*is* that sequence's dictionary row times the readout (``D @ coef + intercept``, exact: see
:mod:`spikeopt.convex.reconstruct`). So a readout solved on ``K - 1`` folds of the training rows
and applied to the held-out fold's rows gives exactly the held-out predictions of the network
that readout would rebuild, without rebuilding it. Pooling those with the validation split
scores every point of the path on ``n_train + n_val`` sequences instead of ``n_val``; on small
data sets (UCR: validation splits of 10-60 sequences, a standard error of 5-10 points on
accuracy) a single validation split picks the reg by noise, and the picked networks had 3 atoms.

The witnesses and the dictionary's column choices were made on all training rows without their
labels; the held-out folds' labels are never seen by the fold's readout, so the estimate is an
honest cross-validation of the readout, the only trained part.

The final readout is always the one solved on the whole training split at the selected reg (the
certificate is that solve's); the folds only score.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from spikeopt.convex.solution import ConvergenceWarning, ConvexSolution
from spikeopt.convex.solver import solve

CV_FOLDS = 5
# "auto" selection uses K-fold scores when the validation split is smaller than this: below it the
# standard error of a validation accuracy (sqrt(p (1 - p) / n): 1.9 points at p = 0.9, 2.7 at 0.75)
# exceeds the typical difference between neighbouring points of a reg path, so one split picks by
# noise; above it the K extra solves per point (on larger data, the slowest part of a run) buy little
CV_BELOW_VAL = 250
SELECT_MODES = ("auto", "val", "cv")


def fold_indices(labels: np.ndarray, folds: int, seed: int) -> list[np.ndarray]:
    """``folds`` disjoint, seeded index sets covering ``range(len(labels))``, stratified by label.

    Each class's rows are shuffled and dealt round-robin, starting where the previous class
    stopped, so fold sizes differ by at most one and every class with ``>= folds`` rows is in
    every fold.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {labels.shape}")
    if not 2 <= folds <= len(labels):
        raise ValueError(f"folds must be between 2 and the number of rows ({len(labels)}), got {folds}")
    rng = np.random.default_rng(seed)
    members: list[list[int]] = [[] for _ in range(folds)]
    start = 0
    for cls in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == cls))
        for i, r in enumerate(rows):
            members[(start + i) % folds].append(int(r))
        start = (start + len(rows)) % folds
    return [np.sort(np.asarray(m, dtype=np.int64)) for m in members]


def _held_out(out: np.ndarray, y: np.ndarray) -> tuple[int, float]:
    """(correct rows, summed cross-entropy of the outputs read as logits) of one head's predictions.

    Squared-loss readouts are scored like the rebuilt network is on validation: argmax for the
    class, the task's cross-entropy of the raw outputs for the loss.
    """
    shifted = out - out.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return int((out.argmax(axis=1) == y).sum()), float(-logp[np.arange(len(y)), y].sum())


@dataclass
class FoldScore:
    """Held-out results of one reg over all folds (counts and sums, so they pool with validation)."""

    correct: int
    rows: int
    loss_sum: float
    max_gap: float
    converged: bool
    time_s: float


class FoldPath:
    """The K fold readouts of one path, each warm-started down the path from its previous reg.

    ``atoms`` are the training dictionary's rows (one per sequence), ``labels`` the single head's
    classes, ``y``/``loss`` what the main solve gets (class labels for cross-entropy, one-hot for
    squared loss).
    """

    def __init__(self, atoms: np.ndarray, labels: np.ndarray, y: np.ndarray, loss: Any, intercept: bool,
                 folds: int, seed: int, tol: float, max_iter: int):
        self.atoms, self.labels, self.y, self.loss = atoms, np.asarray(labels), y, loss
        self.intercept, self.tol, self.max_iter = intercept, tol, max_iter
        self.folds = fold_indices(self.labels, folds, seed)
        self.warm: list[ConvexSolution | None] = [None] * folds

    def score(self, reg: float) -> FoldScore:
        t0 = time.perf_counter()
        correct, loss_sum, max_gap, converged = 0, 0.0, 0.0, True
        n = len(self.labels)
        for k, held in enumerate(self.folds):
            fit = np.setdiff1d(np.arange(n), held, assume_unique=True)
            with warnings.catch_warnings():  # a fold only scores; its gap is recorded
                warnings.simplefilter("ignore", ConvergenceWarning)
                sol = solve(self.atoms[fit], self.y[fit], reg, self.loss, intercept=self.intercept,
                            tol=self.tol, max_iter=self.max_iter, warm_start=self.warm[k])
            self.warm[k] = sol
            c, l = _held_out(sol.predict(self.atoms[held]), self.labels[held])
            correct, loss_sum = correct + c, loss_sum + l
            max_gap, converged = max(max_gap, sol.gap), converged and sol.converged
        return FoldScore(correct, n, loss_sum, max_gap, converged, time.perf_counter() - t0)


def pooled(fold: FoldScore, val_accuracy: float | None, val_loss: float | None, n_val: int) -> dict[str, Any]:
    """Accuracy and mean loss over the held-out training rows and the validation split together."""
    rows = fold.rows + (n_val if val_accuracy is not None else 0)
    correct = fold.correct + (val_accuracy * n_val if val_accuracy is not None else 0.0)
    loss = fold.loss_sum + (val_loss * n_val if val_accuracy is not None and val_loss is not None else 0.0)
    return {
        "accuracy": correct / rows, "loss": loss / rows if math.isfinite(loss) else math.inf, "rows": rows,
        "fold_accuracy": fold.correct / fold.rows, "fold_loss": fold.loss_sum / fold.rows,
        "fold_max_gap": fold.max_gap, "fold_converged": fold.converged, "time_s": fold.time_s,
    }
