"""Which ``reg`` values a convex run solves, and how one of them is chosen.

A run's ``reg`` is one value, a list, or ``"auto"``. ``"auto"`` is a geometric path of
``AUTO_POINTS`` values from ``AUTO_HIGH * reg_max`` down to ``AUTO_LOW * reg_max``, where
``reg_max`` is the smallest ``reg`` at which the readout is all zero, so the grid scales with the
data, the loss and the dictionary instead of being an absolute number a user must tune:

- ``0.5 * reg_max``: the top of the path already keeps a few atoms (at ``reg_max`` none);
- ``1e-2 * reg_max``: with cross-entropy ``reg_max`` is ~0.08-0.1 on the built-in tasks (default
  witnesses), so the bottom is about the old fixed default ``1e-3``. Below it the solves get much
  slower (more active atoms, logits growing on separable data), so the grid stops here and
  :func:`extend` goes further only where the data asks for it;
- 8 points: a factor ~1.75 between neighbours, fine enough that validation accuracy changes little
  between them, and each warm-started solve starts close to its answer.

Down the ``auto`` path, :func:`stop_early` ends the path once the score has fallen for
``AUTO_PATIENCE`` = 2 points in a row below its best (the remaining, smaller regs are recorded as
skipped). Where the score is still rising at the grid's bottom (strictly: an accuracy tie broken
by the loss does not count), the grid was not low enough for this data (on mnist-seq with 2,048
calibrated atoms, validation accuracy still rose at ``1e-2 reg_max``): :func:`extend` continues
the path at the same ratio, down to ``AUTO_FLOOR * reg_max``, until it stops rising.

A point's *score* is its validation headline metric, or a pooled cross-validated one
(:mod:`spikeopt.convex.cv`) when set. Selection (:func:`select`) maximises the score over the
points that may be selected (converged ones, unless unconverged points are allowed); ties go to
the lower held-out loss, then to the larger ``reg``, the sparser readout (fewer subnetworks),
which needs no more evidence to be preferred.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from spikeopt.validation import check_number

AUTO = "auto"
AUTO_POINTS = 8
AUTO_HIGH = 0.5
AUTO_LOW = 1e-2
AUTO_PATIENCE = 2
AUTO_FLOOR = 1e-4  # an auto path extended below AUTO_LOW stops here (x reg_max)
# reg_max = 0: no atom correlates with the targets and the readout is zero at every reg; one solve
# at the old fixed default keeps such a run going (it records reg_max 0)
DEGENERATE_REG = 1e-3
NEEDS_VALIDATION = (
    "choosing reg from a path (reg='auto' or a list) needs a validation split to score on; "
    "give the task a validation split or pass a single reg value"
)


def check_reg_spec(reg: Any) -> float | list[float] | str:
    """``reg`` as a positive float, a non-empty list of them, or ``"auto"``; strings of numbers are read.

    Raises ValueError naming the allowed forms otherwise.
    """
    allowed = "> 0: a number, a list of them (e.g. 1e-2,1e-3) or 'auto'"
    if isinstance(reg, str):
        text = reg.strip()
        if text.lower() == AUTO:
            return AUTO
        if "," in text:
            return check_reg_spec([v for v in text.split(",") if v.strip()])
        try:
            reg = float(text)
        except ValueError:
            raise ValueError(f"reg must be {allowed}; got {reg!r}") from None
    if isinstance(reg, (list, tuple)):
        if not reg:
            raise ValueError(f"reg must be {allowed}; got an empty list")
        values = [check_reg_spec(v) for v in reg]
        if any(not isinstance(v, float) for v in values):
            raise ValueError(f"reg must be {allowed}; a list may hold numbers only, got {reg!r}")
        return values  # type: ignore[return-value]
    try:
        return float(check_number(reg, "reg", 0.0, open_low=True))
    except (TypeError, ValueError):
        raise ValueError(f"reg must be {allowed}; got {reg!r}") from None


def auto_regs(reg_max: float, points: int = AUTO_POINTS, high: float = AUTO_HIGH, low: float = AUTO_LOW) -> list[float]:
    """``points`` geometric values from ``high * reg_max`` down to ``low * reg_max`` (largest first)."""
    if not (math.isfinite(reg_max) and reg_max > 0):
        raise ValueError(
            f"reg_max must be finite and > 0, got {reg_max}: the dictionary has no atom correlated with the "
            "targets (all atoms constant or no atoms), so no reg path exists; use more or other witnesses"
        )
    if points < 1 or not 0 < low <= high:
        raise ValueError(f"need points >= 1 and 0 < low <= high, got points={points}, low={low}, high={high}")
    return [float(v) for v in reg_max * np.geomspace(high, low, points)]


def path_regs(spec: float | list[float] | str, reg_max: float | None) -> list[float]:
    """The values to solve for ``spec`` (``reg_max`` is needed only for ``"auto"``), largest first."""
    spec = check_reg_spec(spec)
    if spec == AUTO:
        if reg_max is None:
            raise ValueError("reg='auto' needs reg_max")
        if reg_max == 0.0:
            return [DEGENERATE_REG]
        return auto_regs(reg_max)
    values = [spec] if isinstance(spec, float) else list(spec)
    return sorted(set(values), reverse=True)  # type: ignore[arg-type]


@dataclass
class PathPoint:
    """One solved ``reg`` of a path: its certificate, network size, metrics and whether it may be chosen."""

    reg: float
    primal: float
    dual: float
    gap: float
    converged: bool
    n_iter: int
    time_s: float
    active_atoms: int
    subnetworks: int
    train: dict[str, float] = field(default_factory=dict)
    val: dict[str, float] | None = None
    val_loss: float | None = None  # the task's training loss on the validation split (breaks metric ties)
    cv: dict[str, Any] | None = None  # pooled K-fold + validation scores (spikeopt.convex.cv), when used
    eligible: bool = True
    selected: bool = False

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def headline(metrics: dict[str, float]) -> float:
    """The task's headline metric: the first key of ``task.evaluate`` (higher is better)."""
    return float(next(iter(metrics.values())))


def score(p: PathPoint) -> tuple[float, float]:
    """The point's (score, held-out loss): pooled cross-validated ones when set, else validation ones."""
    if p.cv is not None:
        return float(p.cv["accuracy"]), float(p.cv["loss"])
    loss = p.val_loss if p.val_loss is not None and math.isfinite(p.val_loss) else math.inf
    return headline(p.val or {}), loss


def _scored(p: PathPoint) -> bool:
    return p.cv is not None or p.val is not None


def stop_early(points: Sequence[PathPoint], patience: int = AUTO_PATIENCE) -> bool:
    """True when the last ``patience`` eligible points all score strictly below the best eligible one before them.

    Down an ``auto`` path the solves get slower and, past the best point, validation keeps falling
    as the readout fits the training set; stopping there saves the most expensive solves.
    """
    scored = [score(p)[0] for p in points if p.eligible and _scored(p)]
    if len(scored) <= patience:
        return False
    best_before = max(scored[:-patience])
    return all(s < best_before for s in scored[-patience:])


def extend(points: Sequence[PathPoint], regs: Sequence[float], reg_max: float | None,
           floor: float = AUTO_FLOOR) -> float | None:
    """The next ``reg`` of an ``auto`` path whose last point scores strictly above every earlier one, else None.

    The step is the path's own ratio; nothing is added below ``floor * reg_max``, when the last
    point may not be chosen, or when its score only ties the best before it (the score turned, or
    a saturated metric left only the loss tie-break, which would drag the path to the floor).
    """
    if reg_max is None or reg_max <= 0 or len(regs) < 2 or len(points) != len(regs):
        return None
    eligible = [i for i, p in enumerate(points) if p.eligible and _scored(p)]
    if not eligible or eligible[-1] != len(points) - 1:
        return None
    before = [score(points[i])[0] for i in eligible[:-1]]
    if before and score(points[-1])[0] <= max(before):
        return None
    nxt = regs[-1] * regs[-1] / regs[-2]
    return float(nxt) if nxt >= floor * reg_max * (1 - 1e-9) else None


def select(points: Sequence[PathPoint]) -> int:
    """Index of the point to keep: best score (:func:`score`) among eligible points; ties go to the
    lower held-out loss (a proper scoring rule, informative where a small validation split makes
    accuracies tie), then to the larger reg (the sparser network).

    A one-point path needs no validation data; a longer one does (raises ValueError without it),
    and at least one point must be eligible (raises ValueError naming the gaps otherwise).
    """
    if not points:
        raise ValueError("the reg path is empty")
    eligible = [i for i, p in enumerate(points) if p.eligible]
    if not eligible:
        gaps = ", ".join(f"reg {p.reg:.3g}: gap {p.gap:.2e}" for p in points)
        raise ValueError(f"no point of the reg path converged ({gaps})")
    if len(points) == 1:
        return 0
    if any(not _scored(points[i]) for i in eligible):
        raise ValueError(NEEDS_VALIDATION)

    def key(i: int) -> tuple[float, float, float]:
        metric, loss = score(points[i])
        return (metric, -loss, points[i].reg)

    return max(eligible, key=key)
