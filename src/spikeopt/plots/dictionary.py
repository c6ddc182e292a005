"""Dictionary diagnostics: what became of the witness neurons, and how often the atoms fire.

Panel 1: the fate of every raw witness neuron as a fraction (kept as an atom, silent, saturated,
rejected as constant, duplicate, near-duplicate, surplus), from a dictionary's ``summary()`` (the
``dictionary`` entry of a convex result). Panel 2: a histogram of atom firing rates (spikes per
step), with the atoms the solver kept active drawn over all atoms when both are given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from spikeopt.plots import pyplot, save_figure

FATES = (("atoms", "atoms kept"), ("zero_columns", "silent"), ("saturated_columns", "saturated"),
         ("rejected_constant", "rejected constant"), ("duplicate_columns", "duplicate"),
         ("near_duplicate_columns", "near-duplicate"), ("surplus_columns", "surplus"))


def atom_rates(atoms: np.ndarray, layout: str, steps: int, leak: float = 1.0) -> np.ndarray:
    """Firing rate (spikes per step) of each atom column of a dictionary ``atoms [rows, p]``.

    Binary layouts (``final``, ``trajectory``) hold one spike per row: the rate is the column mean.
    ``integrate`` holds ``sum_t leak^(T-1-t) s[t]`` per sample: divide by ``sum_t leak^t``.
    """
    if not isinstance(atoms, np.ndarray) or atoms.ndim != 2:
        raise ValueError(f"atoms must be a 2-D array [rows, atoms], got {getattr(atoms, 'shape', type(atoms))}")
    mean = atoms.mean(axis=0, dtype=np.float64)
    if layout == "integrate":
        return mean / float(sum(leak ** k for k in range(steps)))
    if layout in ("final", "trajectory"):
        return mean
    raise ValueError(f"unknown layout {layout!r}; valid: final, trajectory, integrate")


def plot_dictionary(
    summary: Mapping[str, Any], path: str | Path, rates: np.ndarray | None = None,
    active_rates: np.ndarray | None = None, title: str = "",
) -> Path:
    """The two panels of the module docstring in one PNG; ``rates``/``active_rates`` are optional."""
    if not isinstance(summary, Mapping) or "raw_columns" not in summary:
        raise ValueError("summary must be a dictionary summary with 'raw_columns' (the 'dictionary' of a convex result)")
    raw = max(int(summary["raw_columns"]), 1)
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [1, 1.2]})
    ax = axes[0]
    labels = [label for _, label in FATES]
    counts = [int(summary.get(key, 0) or 0) for key, _ in FATES]
    bars = ax.barh(range(len(FATES)), [c / raw for c in counts], color=["tab:green"] + ["tab:gray"] * (len(FATES) - 1))
    for bar, c in zip(bars, counts):
        ax.text(bar.get_width() + 0.01, bar.get_y() + bar.get_height() / 2, f"{c}", va="center", fontsize=8)
    ax.set_yticks(range(len(FATES)))
    ax.set_yticklabels(labels)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.15)
    ax.set_xlabel(f"fraction of the {raw} witness neurons")
    ax.set_title(f"{summary.get('layout', '?')} layout, {summary.get('blocks', 1)} block(s)", fontsize=9, loc="left")
    ax = axes[1]
    bins = np.linspace(0.0, 1.0, 26)
    if rates is not None:
        ax.hist(np.asarray(rates, dtype=float), bins=bins, color="tab:gray", alpha=0.6, label=f"all atoms ({len(rates)})")
    if active_rates is not None:
        ax.hist(np.asarray(active_rates, dtype=float), bins=bins, color="tab:blue", alpha=0.8,
                label=f"active atoms ({len(active_rates)})")
    if rates is None and active_rates is None:
        ax.text(0.5, 0.5, "no firing rates given", ha="center", va="center", transform=ax.transAxes)
    else:
        ax.legend(fontsize=8)
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("firing rate (spikes per step)")
    ax.set_ylabel("atoms")
    ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return save_figure(fig, path)
