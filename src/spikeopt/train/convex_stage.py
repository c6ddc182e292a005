"""The convex stage of a run: dictionary, a reg path selected on validation, optional growth, network.

1. Roll the training set through the witnesses into a spike dictionary.
2. Solve the group-lasso readout for every ``reg`` of the path (``convex.reg``: one value, a list or
   ``"auto"``, see :mod:`spikeopt.convex.path`), largest first, each solve warm-started from the
   previous one. An ``"auto"`` path stops early once the validation metric has fallen below its
   best for ``AUTO_PATIENCE`` points in a row (the skipped, smaller regs are the slowest to solve
   and were overfitting); a list given by the user is always solved in full.
3. Rebuild the network of every point and score it with ``task.evaluate`` on the training and the
   validation split: what is scored is the reconstructed spiking network itself.
   With ``convex.select="cv"`` (``"auto"``: when the validation split has fewer than 250
   sequences) every point is also scored by 5-fold cross-validation on the dictionary's rows,
   pooled with the validation split (:mod:`spikeopt.convex.cv`): small data sets are then judged
   on all their sequences, not on a validation split of a few dozen. An ``auto`` path whose best
   point is its last is extended downwards (:func:`spikeopt.convex.path.extend`).
4. Keep the point with the best score. Points whose solve stopped short of
   ``tol`` are recorded but not eligible, unless ``allow_unconverged``; if no point is eligible
   (e.g. the single point of a float ``reg``), :class:`UnconvergedSolveError` says what to do.
5. Optionally grow the dictionary at the selected ``reg`` by column generation
   (:mod:`spikeopt.convex.column_generation`) and rebuild the network from the grown solution.
6. Refit (``convex.refit``; auto: wherever a path was selected): solve once more at the selected
   ``reg`` on the training and validation rows together, warm-started, and rebuild from that solve.

The result states the certificate it holds: ``"dictionary"`` (optimal over this dictionary within
``gap``), ``"sampled"`` (additionally no better atom among the last ``M`` fresh witnesses: largest
violation <= 1) or ``"none"`` (an allowed unconverged solve).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from spikeopt.convex.column_generation import grow_dictionary
from spikeopt.convex.cv import CV_BELOW_VAL, CV_FOLDS, FoldPath, pooled
from spikeopt.convex.dictionary import (
    LAYOUT_OF_READOUT,
    SpikeDictionary,
    available_memory,
    build_dictionary,
    dictionary_rows,
    stack_row_weights,
    stack_targets,
)
from spikeopt.convex.path import (
    AUTO,
    AUTO_POINTS,
    NEEDS_VALIDATION,
    PathPoint,
    check_reg_spec,
    extend,
    path_regs,
    select,
    stop_early,
)
from spikeopt.convex.reconstruct import reconstruct
from spikeopt.convex.solution import ConvergenceWarning, ConvexSolution
from spikeopt.convex.solver import reg_max, solve
from spikeopt.snn.network import ParallelLIFSNN
from spikeopt.tasks.base import SequenceData, Task, check_labels, one_hot_heads

Sampler = Callable[[int], ParallelLIFSNN]


class UnconvergedSolveError(ValueError):
    """A convex solve stopped short of its tolerance and unconverged solves were not allowed."""


def unconverged_message(sol: ConvexSolution, tol: float, max_iter: int) -> str:
    return (
        f"the convex solve at reg {sol.reg:.3g} stopped short: duality gap {sol.gap:.3e} > tol {tol:.3g} "
        f"after {sol.n_iter} iterations (max_iter {max_iter}); raise convex.max_iter (--max-iter), loosen "
        "convex.tol (--tol) or use a larger reg, or pass --allow-unconverged (convex.allow_unconverged=true) "
        "to keep it with its gap recorded"
    )


def validation_loss(task: Task, model: ParallelLIFSNN, val: SequenceData | None) -> float | None:
    """The task's loss (mean cross-entropy over heads) of ``model`` on ``val``; ``None`` without a split."""
    if val is None:
        return None
    with torch.no_grad():
        out, _ = model(val.x.to(next(model.parameters()).device))
        return float(task.loss(out, val.y.to(out.device)))


@dataclass
class _Problem:
    """The solver inputs derived from a task split (targets, loss spec, row weights) and the class labels."""

    y: np.ndarray
    loss: Any
    weights: np.ndarray | None
    intercept: bool
    labels: np.ndarray  # [rows, heads] class indices in the dictionary's row order


def _problem(task: Task, train: SequenceData, layout: str, loss_name: str, intercept: bool) -> _Problem:
    targets = stack_targets(train.y, layout)
    weights = stack_row_weights(task.time_weights(train.steps), train.steps, len(train)) if layout == "trajectory" else None
    if loss_name == "cross_entropy":
        return _Problem(targets, list(task.heads), weights, intercept, targets)
    # squared: one-hot targets for all heads, concatenated; head weights do not apply
    one_hot = one_hot_heads(torch.as_tensor(targets, dtype=torch.long), [h.classes for h in task.heads]).numpy()
    return _Problem(one_hot, "squared", weights, intercept, targets)


def selection_mode(requested: str, task: Task, layout: str, val: SequenceData | None, n_train: int,
                   path: bool) -> str:
    """``"val"`` or ``"cv"``: how the points of a reg path are scored (``requested``: auto, val or cv).

    Cross-validation on dictionary rows needs one row per sequence (``final``/``integrate``
    layouts), one head and at least ``CV_FOLDS`` training sequences; ``auto`` uses it where the
    validation split is missing or smaller than ``CV_BELOW_VAL``.
    """
    possible = layout != "trajectory" and len(task.heads) == 1 and n_train >= CV_FOLDS
    if requested == "cv" and not possible:
        raise ValueError(
            f"convex.select='cv' scores held-out dictionary rows, which needs one row per sequence (a final or "
            f"integrate readout; this run's layout is {layout!r}), one head (the task has {len(task.heads)}) and "
            f"at least {CV_FOLDS} training sequences ({n_train}); use convex.select=val or auto"
        )
    if not path:
        return "val"
    if requested == "cv" or (requested == "auto" and possible and (val is None or len(val) < CV_BELOW_VAL)):
        return "cv"
    if val is None:
        raise ValueError(NEEDS_VALIDATION)
    return "val"


def refit_mode(requested: bool | None, is_path: bool, val: SequenceData | None) -> bool:
    """Whether to refit the selected reg on train + val: ``requested``, or (``None``) wherever a reg path
    was selected: selection was the validation split's job, and once it is done the split is more
    labelled data. A single given reg keeps its validation split held out (nothing was selected on it)."""
    if val is None:
        return False
    return is_path if requested is None else requested


def _refit(task: Task, train: SequenceData, val: SequenceData, prob: _Problem, witnesses: ParallelLIFSNN,
           dictionary: SpikeDictionary, selected: ConvexSolution, cfg: Any, device: torch.device,
           layout: str) -> tuple[ConvexSolution | None, dict[str, Any], SpikeDictionary]:
    """The readout solved at ``selected.reg`` on the training and validation rows together (or ``None``,
    with the reason recorded, if that solve stopped short and unconverged solves are not allowed), and
    the dictionary of those rows."""
    t0 = time.perf_counter()
    rows = dictionary.atoms.shape[0] * (1 + len(val) / len(train))
    need = int(2 * rows * dictionary.atoms.shape[1] * dictionary.atoms.itemsize)  # the stacked rows + the solver's copy
    free = available_memory()
    if need > free:
        reason = (f"the refit on train + val would need about {need / 2**30:.2f} GiB but {free / 2**30:.2f} "
                  "GiB is available; kept the training-split solve (convex.refit=false skips the refit)")
        warnings.warn(reason, stacklevel=3)
        return None, {"used": False, "reason": reason}, dictionary
    extra = _problem(task, val, layout, cfg.loss, cfg.intercept)
    atoms = np.concatenate([dictionary.atoms, dictionary_rows(dictionary, witnesses, val.x, cfg.chunk_size, device)])
    y = np.concatenate([prob.y, extra.y])
    weights = None if prob.weights is None else np.concatenate([prob.weights, extra.weights])
    with warnings.catch_warnings():  # judged below
        warnings.simplefilter("ignore", ConvergenceWarning)
        sol = solve(atoms, y, selected.reg, prob.loss, sample_weight=weights, intercept=prob.intercept,
                    tol=cfg.tol, max_iter=cfg.max_iter, warm_start=selected)
    record: dict[str, Any] = {
        "used": True, "reg": sol.reg, "train_sequences": len(train), "val_sequences": len(val), "rows": len(atoms),
        "primal": sol.primal, "dual": sol.dual, "gap": sol.gap, "converged": sol.converged, "n_iter": sol.n_iter,
        "time_s": time.perf_counter() - t0,
    }
    if not sol.converged and not cfg.allow_unconverged:
        record["used"] = False
        record["reason"] = "the refit " + unconverged_message(sol, cfg.tol, cfg.max_iter) + "; kept the training-split solve"
        warnings.warn(record["reason"], ConvergenceWarning, stacklevel=3)
        return None, record, dictionary
    return sol, record, replace(dictionary, atoms=atoms, samples=dictionary.samples + len(val))


def run_convex_stage(
    task: Task,
    train: SequenceData,
    val: SequenceData | None,
    witnesses: ParallelLIFSNN,
    cfg: Any,
    device: torch.device,
    sampler: Sampler | None = None,
    seed: int = 0,
    readout: str | None = None,
    leak: float = 1.0,
    dictionary: SpikeDictionary | None = None,
) -> tuple[ParallelLIFSNN, dict[str, Any]]:
    """The selected reconstructed network and the stage's record (path, certificate, growth, timings).

    ``cfg`` is a :class:`~spikeopt.train.convex_config.ConvexConfig`; ``sampler(seed)`` proposes candidate
    witnesses for column generation (needed only when ``cfg.grow_rounds > 0``). ``readout`` is the
    rebuilt network's (default: the task's; it sets the dictionary layout), ``leak`` the integrate
    readout's decay; a ready ``dictionary`` of ``witnesses`` on ``train`` skips the rollout.
    """
    check_labels(train, task.heads)
    if val is not None and len(val) == 0:
        val = None
    spec = check_reg_spec(cfg.reg)
    readout = readout or task.readout
    layout = LAYOUT_OF_READOUT[readout]
    is_path = spec == AUTO or (isinstance(spec, list) and len(set(spec)) > 1)
    mode = selection_mode(cfg.select, task, layout, val, len(train), is_path)  # refuses before any solve
    pack = True if cfg.pack is None else cfg.pack
    t0 = time.perf_counter()
    if dictionary is None:
        dictionary = build_dictionary(witnesses, train.x, layout, cfg.chunk_size, device=device, leak=leak,
                                      progress=cfg.progress)
        dictionary.warn_if_weak()
    elif dictionary.layout != layout:
        raise ValueError(f"the given dictionary has layout {dictionary.layout!r} but readout {readout!r} needs {layout!r}")
    t1 = time.perf_counter()
    prob = _problem(task, train, layout, cfg.loss, cfg.intercept)
    top = reg_max(dictionary.atoms, prob.y, prob.loss, sample_weight=prob.weights, intercept=prob.intercept) \
        if spec == AUTO else None
    regs = path_regs(spec, top)
    folds = FoldPath(dictionary.atoms, prob.labels[:, 0], prob.y, prob.loss, prob.intercept, CV_FOLDS, seed,
                     cfg.tol, cfg.max_iter) if mode == "cv" else None
    points, models, sols, skipped = [], [], [], []
    warm, solve_s, cv_s = None, 0.0, 0.0
    t2 = time.perf_counter()
    i = 0
    # a bar per path point: a 10-class or cross-validated path can take minutes on real data
    bar = tqdm(total=len(regs), desc="reg path", unit="point", leave=False, disable=not cfg.progress)
    while i < len(regs):  # largest first, each solve warm-started from the previous one
        reg = regs[i]
        if spec == AUTO and stop_early(points):
            skipped = regs[i:]
            break
        ts = time.perf_counter()
        with warnings.catch_warnings():  # judged below, point by point
            warnings.simplefilter("ignore", ConvergenceWarning)
            sol = solve(dictionary.atoms, prob.y, reg, prob.loss, sample_weight=prob.weights,
                        intercept=prob.intercept, tol=cfg.tol, max_iter=cfg.max_iter, warm_start=warm)
        solve_s += time.perf_counter() - ts
        warm = sol
        model, report = reconstruct(witnesses, dictionary, sol.coef, sol.intercept, readout, cfg.merge, pack)
        model = model.to(device)
        point = PathPoint(
            reg=sol.reg, primal=sol.primal, dual=sol.dual, gap=sol.gap, converged=sol.converged,
            n_iter=sol.n_iter, time_s=sol.time, active_atoms=report.active_atoms, subnetworks=report.subnetworks,
            train=task.evaluate(model, train), val=task.evaluate(model, val) if val is not None else None,
            val_loss=validation_loss(task, model, val),
            eligible=sol.converged or cfg.allow_unconverged,
        )
        if folds is not None:
            fold = folds.score(reg)
            cv_s += fold.time_s
            point.cv = pooled(fold, point.val["accuracy"] if point.val else None, point.val_loss,
                              len(val) if val is not None else 0)
        points.append(point)
        sols.append(sol)
        models.append((model, report))
        i += 1
        bar.set_postfix_str(f"reg {sol.reg:.2e}, {report.active_atoms} atoms, gap {sol.gap:.1e}"
                            + (f", val {point.val['accuracy']:.3f}" if point.val and "accuracy" in point.val else ""))
        bar.update()
        if i == len(regs) and spec == AUTO:
            more = extend(points, regs, top)
            if more is not None:
                regs.append(more)
                bar.total = len(regs)
    bar.close()
    t3 = time.perf_counter()
    if not any(p.eligible for p in points):
        closest = min(sols, key=lambda s: s.gap)
        prefix = "" if len(sols) == 1 else f"no point of the {len(sols)}-point reg path converged; closest: "
        raise UnconvergedSolveError(prefix + unconverged_message(closest, cfg.tol, cfg.max_iter))
    chosen = select(points)
    points[chosen].selected = True
    solution, (model, report) = sols[chosen], models[chosen]
    excluded = [p.reg for p in points if not p.eligible]
    if cfg.allow_unconverged and not solution.converged:
        warnings.warn(f"keeping an unconverged convex solve (allow_unconverged): reg {solution.reg:.3g}, duality gap "
                      f"{solution.gap:.3e} > tol {cfg.tol:.3g}; the result records converged: false",
                      ConvergenceWarning, stacklevel=2)

    info: dict[str, Any] = {}
    final_dictionary, final_witnesses = dictionary, witnesses
    if cfg.grow_rounds > 0:
        if sampler is None:
            raise ValueError("convex.grow_rounds > 0 needs a candidate witness sampler; this method has none")

        def solve_fn(atoms: np.ndarray, warm: Any) -> ConvexSolution:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                sol = solve(atoms, prob.y, solution.reg, prob.loss, sample_weight=prob.weights,
                            intercept=prob.intercept, tol=cfg.tol, max_iter=cfg.max_iter, warm_start=warm)
            if not sol.converged and not cfg.allow_unconverged:
                raise UnconvergedSolveError("column generation: " + unconverged_message(sol, cfg.tol, cfg.max_iter))
            return sol

        grown = grow_dictionary(
            witnesses, dictionary, solution, train.x, sampler, solve_fn, cfg.grow_rounds, cfg.grow_add,
            seeds=lambda r: seed + 1_000_003 * (r + 1), chunk_size=cfg.chunk_size, device=device,
        )
        solution, final_dictionary, final_witnesses = grown.solution, grown.dictionary, grown.witnesses
        model, report = reconstruct(grown.witnesses, grown.dictionary, solution.coef, solution.intercept,
                                    readout, cfg.merge, pack)
        model = model.to(device)
        info["column_generation"] = {
            "rounds": [r.as_dict() for r in grown.rounds],
            "candidate_subnetworks": cfg.grow_candidates,
            "candidate_atoms": grown.rounds[-1].candidate_atoms,
            "max_violation": grown.max_violation,
            "added_atoms": int(sum(r.added for r in grown.rounds)),
            "selected_before": {"train": points[chosen].train, "val": points[chosen].val},
            "train": task.evaluate(model, train),
            "val": task.evaluate(model, val) if val is not None else None,
        }
    t4 = time.perf_counter()
    rows_statement = ""
    if refit_mode(cfg.refit, is_path, val):
        assert val is not None
        refit, record, both = _refit(task, train, val, prob, final_witnesses, final_dictionary, solution, cfg, device,
                                     layout)
        before = info.get("column_generation") or {"train": points[chosen].train, "val": points[chosen].val}
        record["selected_before"] = {"train": before["train"], "val": before["val"], "active_atoms": report.active_atoms}
        # the held-out score of the network the refit replaces (a grown one was scored on val alone)
        record["held_out"] = before["val"] if "column_generation" in info else (points[chosen].cv or points[chosen].val)
        if refit is not None:
            solution = refit
            model, report = reconstruct(final_witnesses, both, solution.coef, solution.intercept, readout, cfg.merge,
                                        pack)
            model = model.to(device)
            rows_statement = " on the training and validation rows (refit)"
            record["note"] = ("the validation split is in the final readout's training rows, so its metrics are "
                              "in-sample; the held-out estimate is 'held_out' (the selected point's score before the refit)")
        info["refit"] = record
    t5 = time.perf_counter()

    level, statement = "dictionary", "optimal over this dictionary (within gap)"
    if not solution.converged:
        level, statement = "none", f"unconverged: gap {solution.gap:.3e} > tol {cfg.tol:.3g} (allowed)"
    elif cfg.grow_rounds > 0 and info["column_generation"]["max_violation"] <= 1.0 and not rows_statement:
        # (after a refit the sampled pricing, done on the training rows, no longer describes the solve)
        m = info["column_generation"]["candidate_atoms"]
        level, statement = "sampled", (f"optimal over this dictionary, and no better atom among the {m} distinct atoms "
                                       f"of {cfg.grow_candidates} fresh witness subnetworks")
    statement += rows_statement
    info.update({
        "certificate": {
            "primal": solution.primal, "dual": solution.dual, "gap": solution.gap, "n_iter": solution.n_iter,
            "converged": solution.converged, "reg": solution.reg, "loss": cfg.loss, "tol": cfg.tol,
            "level": level, "statement": statement,
        },
        "path": [p.as_dict() for p in points],
        "selection": {
            "reg_spec": spec, "reg_max": top, "selected_reg": solution.reg,
            "mode": mode,
            "metric": None if len(points) == 1 else (
                f"{CV_FOLDS}-fold cross-validated accuracy on the training dictionary pooled with val.accuracy"
                if mode == "cv" else f"val.{next(iter(points[chosen].val or {'?': 0}))}"),
            "rule": "single reg" if len(points) == 1 else
                    "best score among eligible points; ties to the lower held-out loss, then the larger reg",
            "extended_below_grid": max(0, len(points) + len(skipped) - AUTO_POINTS) if spec == AUTO else 0,
            "excluded_unconverged": excluded,
            "skipped_after_validation_drop": skipped,
        },
        "dictionary": final_dictionary.summary(),
        "reconstruction": report.as_dict(),
        "timings": {"dictionary_s": t1 - t0, "solve_s": solve_s, "cv_s": cv_s,
                    "path_evaluate_s": t3 - t2 - solve_s - cv_s,
                    "grow_s": t4 - t3, "refit_s": t5 - t4, "reconstruct_s": time.perf_counter() - t5},
    })
    return model, info

