"""Plots of ADMM training (paper 003): the tracked curves (its Figures 3-4) and accuracy per depth (Figure 2).

matplotlib is an optional extra: it is imported inside the functions, with the Agg backend, and
every function writes one PNG file and returns its path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from spikeopt.plots import pyplot, save_figure
from spikeopt.plots.ticks import log_axis


def _check_curves(curves: Mapping[str, Any]) -> None:
    needed = ("iteration", "lagrangian", "target_loss", "primal_residual", "z_residual", "a_residual")
    missing = [k for k in needed if k not in curves]
    if missing:
        raise ValueError(f"ADMM curves lack {missing}; pass info['admm'] of a method_admm run")
    if not curves["iteration"]:
        raise ValueError("ADMM curves are empty; nothing to plot")


def _positive(values: Sequence[float]) -> list[float]:
    """Log axes cannot show 0: clamp to a tiny positive value."""
    return [max(float(v), 1e-16) for v in values]


def plot_admm_curves(curves: Mapping[str, Any], path: str | Path, title: str = "") -> Path:
    """Lagrangian, target loss, primal residual, per-layer z and a residuals and train accuracy, one PNG."""
    _check_curves(curves)
    plt = pyplot()
    it = curves["iteration"]
    fig, axes = plt.subplots(2, 3, figsize=(13, 7))
    panels = [
        (axes[0, 0], "augmented Lagrangian", {"": curves["lagrangian"]}),
        (axes[0, 1], "target loss", {"": curves["target_loss"]}),
        (axes[0, 2], "primal residual (exact constraint)", {"": curves["primal_residual"]}),
        (axes[1, 0], "z soft-constraint residual", _per_layer(curves["z_residual"], output_last=True)),
        (axes[1, 1], "a soft-constraint residual", _per_layer(curves["a_residual"], output_last=False)),
    ]
    for ax, name, series in panels:
        for label, values in series.items():
            ax.plot(it, _positive(values), label=label or None)
        ax.set_yscale("log")
        ax.set_title(name)
        ax.set_xlabel("ADMM iteration")
        if len(series) > 1:
            ax.legend(fontsize=8)
    ax = axes[1, 2]
    if curves.get("train_accuracy"):
        ax.plot(it, curves["train_accuracy"])
    ax.set_ylim(0, 1)
    ax.set_title("train accuracy (real spiking network)")
    ax.set_xlabel("ADMM iteration")
    from matplotlib.ticker import MaxNLocator

    for a in axes.flat:
        a.xaxis.set_major_locator(MaxNLocator(integer=True))  # iterations, never 0.5
        if a.get_yscale() == "log":
            log_axis(a, [v for line in a.get_lines() for v in line.get_ydata()], axis="y", exact=False)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)


def _per_layer(records: Sequence[Sequence[float]], output_last: bool) -> dict[str, list[float]]:
    layers = len(records[0]) if records else 0
    names = {}
    for layer in range(layers):
        name = "output" if output_last and layer == layers - 1 else f"hidden {layer + 1}"
        names[name] = [r[layer] for r in records]
    return names


def plot_accuracy_vs_depth(
    results: Mapping[str, Mapping[int, float]], path: str | Path, title: str = "accuracy vs hidden layers"
) -> Path:
    """Figure 2 style: one line per series (e.g. ``"admm train"``, ``"sg test"``) of accuracy by depth."""
    if not results:
        raise ValueError("no results to plot; pass {series name: {hidden layers: accuracy}}")
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 4))
    for name, by_depth in results.items():
        depths = sorted(int(d) for d in by_depth)
        ax.plot(depths, [by_depth[d] for d in depths], marker="o", label=name)
        ax.set_xticks(depths)
    ax.set_xlabel("hidden layers")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)

