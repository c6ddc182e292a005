"""How far from the global optimum? The complete dictionary's group-lasso optimum beside the sampled
(Gaussian-witness) dictionary's optimum and an SG-trained network's value of the same objective.

All three are values of one objective (``mean CE + reg * sum_j ||output column j||_2``, the
reduced weight-decay objective of a one-hidden-layer parallel LIF network, see
`spikeopt.convex.complete`) on the training split, so ``complete <= sampled`` and
``complete <= SG`` must hold when the enumeration is complete; the margins are printed.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np
import torch

from spikeopt.convex.complete import (
    complete_patterns,
    network_objective,
    witness_network,
)
from spikeopt.convex.dictionary import build_dictionary
from spikeopt.convex.reconstruct import reconstruct
from spikeopt.convex.solver import solve
from spikeopt.convex.witnesses import gaussian_witnesses
from spikeopt.experiments.config import RunConfig
from spikeopt.tasks.registry import make_task
from spikeopt.train.surrogate import train_sg


def _solve(atoms: np.ndarray, y: np.ndarray, heads, cfg) -> Any:
    return solve(atoms, y, cfg.reg, loss=list(heads), intercept=True, tol=cfg.tol, max_iter=cfg.max_iter)


def certify_complete(config: RunConfig, max_cells: int = 200_000) -> dict[str, Any]:
    """Complete vs sampled optimum vs SG's objective for ``config`` (depth 1, fixed beta/threshold)."""
    model_cfg, cvx = config.model, config.convex
    if not isinstance(cvx.reg, float):
        raise ValueError(f"--complete compares objectives at one reg; pass a single value, e.g. --reg 1e-2 "
                         f"(got convex.reg={cvx.reg!r})")
    if model_cfg.depth != 1:
        raise ValueError(f"--complete enumerates one hidden layer; use --depth 1 (got {model_cfg.depth})")
    if cvx.beta_range is not None or cvx.threshold_range is not None:
        raise ValueError("--complete needs the model's fixed beta and threshold; drop convex.beta_range/threshold_range")
    task = make_task(config.task, **config.task_options)
    if task.readout != "final":
        raise ValueError(f"--complete needs a final-readout task; {config.task!r} reads out per step")
    splits = task.splits(config.seed)
    train = splits["train"]
    y = train.y.numpy()
    torch.manual_seed(config.seed)

    t0 = time.perf_counter()
    flat = train.x.transpose(0, 1).reshape(len(train), -1)
    uniq = torch.unique(flat, dim=0).reshape(-1, train.steps, train.x.shape[2]).transpose(0, 1)
    found = complete_patterns(uniq.double(), model_cfg.beta, model_cfg.threshold, model_cfg.reset_mechanism,
                              max_cells=max_cells)
    witnesses = witness_network(found, task.in_features)
    full = build_dictionary(witnesses, train.x, "final")  # the library's own rollout re-derives the atoms
    nonzero = int((found.patterns.sum(axis=1) > 0).sum())
    if full.n_atoms != nonzero:
        raise RuntimeError(f"the float32 network reproduces {full.n_atoms} distinct non-zero atoms of the {nonzero} "
                           "enumerated patterns; some witnesses sit too close to the threshold")
    complete_sol = _solve(full.atoms, y, task.heads, cvx)
    complete_net, _ = reconstruct(witnesses, full, complete_sol.coef, complete_sol.intercept, "final")
    t_complete = time.perf_counter() - t0

    t0 = time.perf_counter()
    sampled_w = gaussian_witnesses(task.in_features, model_cfg, cvx.witness_scale, seed=config.seed)
    sampled = build_dictionary(sampled_w, train.x, "final")
    sampled_sol = _solve(sampled.atoms, y, task.heads, cvx)
    complete_set = {col.tobytes() for col in full.atoms.T}
    outside = sum(col.tobytes() not in complete_set for col in sampled.atoms.T)
    t_sampled = time.perf_counter() - t0

    t0 = time.perf_counter()
    sg_cfg = dataclasses.replace(config.sg, weight_decay=cvx.reg)  # Thm 3.1: weight decay reg <-> group lasso reg
    sg_net = model_cfg.build(task.in_features, task.out_features, task.readout, seed=config.seed)
    train_sg(sg_net, task, train, splits["val"], sg_cfg, seed=config.seed)
    sg_value = network_objective(sg_net, train.x, train.y, task.heads, cvx.reg)
    t_sg = time.perf_counter() - t0

    test = splits["test"]
    rows = {
        "complete": {"objective": complete_sol.primal, "dual": complete_sol.dual, "gap": complete_sol.gap,
                     "atoms": full.n_atoms, "test": task.evaluate(complete_net, test), "seconds": t_complete,
                     "network_objective": network_objective(complete_net, train.x, train.y, task.heads, cvx.reg)},
        "sampled": {"objective": sampled_sol.primal, "dual": sampled_sol.dual, "gap": sampled_sol.gap,
                    "atoms": sampled.n_atoms, "atoms_outside_complete": outside, "seconds": t_sampled,
                    "test": task.evaluate(reconstruct(sampled_w, sampled, sampled_sol.coef, sampled_sol.intercept,
                                                      "final")[0], test)},
        "sg": {"objective": sg_value["objective"], "loss": sg_value["loss"], "penalty": sg_value["penalty"],
               "weight_decay": cvx.reg, "test": task.evaluate(sg_net, test), "seconds": t_sg},
    }
    lower = complete_sol.dual  # a certified lower bound on the global optimum
    for name in ("sampled", "sg"):
        rows[name]["margin_over_complete"] = rows[name]["objective"] - complete_sol.primal
        rows[name]["margin_over_lower_bound"] = rows[name]["objective"] - lower
    return {
        "config": config.to_dict(), "reg": cvx.reg, "train_samples": len(train),
        "distinct_sequences": int(uniq.shape[1]),
        "enumeration": {"patterns": int(found.patterns.shape[0]), "cells": found.cells, "lps": found.lps,
                        "thin_left_out": found.thin, "method": "exact cell enumeration (LP per branch)"},
        "rows": rows,
    }


def format_complete(report: dict[str, Any]) -> str:
    """The comparison as a small table."""
    e, rows = report["enumeration"], report["rows"]
    lines = [
        f"complete enumeration: {e['patterns']} realizable final-step patterns on {report['distinct_sequences']} "
        f"distinct sequences ({e['cells']} spike-history cells, {e['lps']} LPs, {e['thin_left_out']} thin left out)",
        f"objective = mean CE + reg * sum ||output column||  on {report['train_samples']} training samples, "
        f"reg {report['reg']:g}",
        f"{'':10} {'objective':>12} {'- complete':>12} {'test acc':>9} {'atoms':>6}",
    ]
    c = rows["complete"]
    lines.append(f"{'complete':10} {c['objective']:>12.6f} {0.0:>12.2e} {next(iter(c['test'].values())):>9.4f} "
                 f"{c['atoms']:>6}   (dual {c['dual']:.6f}, gap {c['gap']:.1e})")
    s = rows["sampled"]
    lines.append(f"{'sampled':10} {s['objective']:>12.6f} {s['margin_over_complete']:>+12.2e} "
                 f"{next(iter(s['test'].values())):>9.4f} {s['atoms']:>6}   ({s['atoms_outside_complete']} atoms "
                 "outside the complete set)")
    g = rows["sg"]
    lines.append(f"{'SG':10} {g['objective']:>12.6f} {g['margin_over_complete']:>+12.2e} "
                 f"{next(iter(g['test'].values())):>9.4f} {'':>6}   (loss {g['loss']:.6f} + reg x {g['penalty']:.4f}; "
                 f"trained with weight decay {g['weight_decay']:g})")
    ok = s["margin_over_complete"] >= -c["gap"] and g["margin_over_complete"] >= -c["gap"]
    lines.append("complete <= sampled and complete <= SG: " + ("yes" if ok else "NO -- the enumeration missed patterns"))
    return "\n".join(lines)
