"""Plots of experiment results (PNG, matplotlib with the Agg backend, imported only when used).

The functions take plain numbers, not runs or stores, so any report can use them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from spikeopt.plots import pyplot, save_figure
from spikeopt.plots.ticks import log_axis

# label -> (xs, means, stds or None)
Series = dict[str, tuple[Sequence[float], Sequence[float], Sequence[float] | None]]


def line_panels(
    path: str | Path, panels: dict[str, Series], xlabel: str, ylabel: str, title: str = "",
    logx: bool = False, chance: float | None = None,
) -> Path:
    """One subplot per panel, one line (mean with a ±std band) per series; saved as PNG."""
    if not panels:
        raise ValueError("line_panels needs at least one panel of series")
    plt = pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), squeeze=False)
    for ax, (name, series) in zip(axes[0], panels.items()):
        for label, (xs, means, stds) in series.items():
            if len(xs) != len(means) or (stds is not None and len(stds) != len(xs)):
                raise ValueError(f"series {label!r} of panel {name!r}: xs, means and stds differ in length")
            ax.plot(xs, means, marker="o", label=label)
            if stds is not None:
                lo = [m - s for m, s in zip(means, stds)]
                hi = [m + s for m, s in zip(means, stds)]
                ax.fill_between(xs, lo, hi, alpha=0.2)
        if chance is not None:
            ax.axhline(chance, color="grey", linestyle=":", linewidth=1)
        if logx:
            log_axis(ax, [x for xs, _, _ in series.values() for x in xs])
        ax.set_title(name, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if series:
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return save_figure(fig, path)


def training_curves(path: str | Path, panels: dict[str, dict[str, list[dict[str, Any]]]], metric: str) -> Path:
    """Validation ``metric`` (``val_<name>`` in the records) and training loss against epoch.

    ``panels`` maps a panel title to ``{run label: history records}`` (records as SG training writes them).
    """
    if not panels:
        raise ValueError("training_curves needs at least one panel")
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(2, len(panels), figsize=(4.2 * len(panels), 5.6), squeeze=False)
    for col, (name, runs) in enumerate(panels.items()):
        for label, records in runs.items():
            epochs = list(range(len(records)))
            val = [r.get(f"val_{metric}") for r in records]
            axes[0][col].plot(epochs, [v if v is not None else float("nan") for v in val], label=label)
            loss = [r.get("train_loss") for r in records]
            axes[1][col].plot(epochs, [v if v is not None else float("nan") for v in loss], label=label)
        axes[0][col].set_title(name, fontsize=10)
        axes[0][col].set_ylabel(f"val {metric}")
        axes[1][col].set_ylabel("train loss")
        axes[1][col].set_xlabel("evaluation (epoch, stages concatenated)")
        for ax in axes[:, col]:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
            if runs:
                ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)

