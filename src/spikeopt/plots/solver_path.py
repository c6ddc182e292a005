"""The convex solver's regularisation path: objective, gap, active atoms and accuracy against ``reg``.

Reads the ``path`` list of a convex result (one record per ``reg``: ``primal``, ``dual``, ``gap``,
``active_atoms``, ``train``/``val`` metrics, ``time_s``, ``selected``); one PNG of four panels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from spikeopt.plots import pyplot, save_figure
from spikeopt.plots.ticks import log_axis

NEEDED = ("reg", "primal", "dual", "gap", "active_atoms")


def plot_solver_path(path_records: Sequence[Mapping[str, Any]], path: str | Path, title: str = "") -> Path:
    """Four panels against ``reg`` (log axis, largest reg left as the path runs): see the module docstring."""
    if not isinstance(path_records, Sequence) or not path_records:
        raise ValueError("path_records must be a non-empty list of path points (the 'path' of a convex result)")
    for i, rec in enumerate(path_records):
        if not isinstance(rec, Mapping) or (missing := [k for k in NEEDED if k not in rec]):
            raise ValueError(f"path point {i} lacks {missing if isinstance(rec, Mapping) else NEEDED}; "
                             "pass the 'path' list of a convex result")
    recs = sorted(path_records, key=lambda r: -float(r["reg"]))
    regs = [float(r["reg"]) for r in recs]
    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(10, 6.4))
    ax = axes[0, 0]
    ax.plot(regs, [r["primal"] for r in recs], marker="o", label="primal")
    ax.plot(regs, [r["dual"] for r in recs], marker="x", linestyle="--", label="dual (certified lower bound)")
    ax.set_ylabel("objective")
    ax.legend(fontsize=8)
    ax = axes[0, 1]
    ax.plot(regs, [max(float(r["gap"]), 1e-16) for r in recs], marker="o", color="tab:red")
    log_axis(ax, [max(float(r["gap"]), 1e-16) for r in recs], axis="y", exact=False)
    ax.set_ylabel("duality gap")
    ax = axes[1, 0]
    ax.plot(regs, [r["active_atoms"] for r in recs], marker="o", color="tab:green")
    ax.set_ylabel("active atoms")
    ax = axes[1, 1]
    for split, style in (("train", "-"), ("val", "--")):
        values = [_headline(r.get(split)) for r in recs]
        if any(v is not None for v in values):
            ax.plot(regs, [float("nan") if v is None else v for v in values], marker="o", linestyle=style, label=split)
    ax.set_ylabel("headline metric")
    ax.legend(fontsize=8)
    chosen = [float(r["reg"]) for r in recs if r.get("selected")]
    for ax in axes.flat:
        log_axis(ax, regs)
        ax.invert_xaxis()
        ax.set_xlabel("reg (group-lasso weight)")
        ax.grid(alpha=0.3)
        for c in chosen:
            ax.axvline(c, color="grey", linestyle=":", linewidth=1)
    axes[0, 0].set_title("dotted line: selected reg" if chosen else "", fontsize=9, loc="left")
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return save_figure(fig, path)


def _headline(metrics: Any) -> float | None:
    """The first metric of a split (the task's headline), or None."""
    if isinstance(metrics, Mapping) and metrics:
        value = next(iter(metrics.values()))
        return float(value) if isinstance(value, (int, float)) else None
    return None
