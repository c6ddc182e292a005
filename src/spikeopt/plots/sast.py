"""Plots of sharpness-aware surrogate training (paper 004): hard-spike accuracy and transfer gap
against ``rho``, the two curves the paper's claim rests on.

matplotlib is an optional extra: it is imported inside the function, with the Agg backend, and the
function writes one PNG file and returns its path.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path

from spikeopt.plots import pyplot, save_figure


def _check_sweep(name: str, sweep: Mapping[str, Sequence]) -> None:
    for key in ("rho", "hard", "gap"):
        if key not in sweep:
            raise ValueError(f"sweep {name!r} lacks {key!r}; give rho, hard and gap (per-rho lists of per-seed values)")
    n = len(sweep["rho"])
    if n == 0:
        raise ValueError(f"sweep {name!r} is empty; nothing to plot")
    for key in ("hard", "gap"):
        if len(sweep[key]) != n or any(len(v) == 0 for v in sweep[key]):
            raise ValueError(f"sweep {name!r}: {key} needs one non-empty list of per-seed values per rho ({n})")
        if not all(math.isfinite(float(x)) for v in sweep[key] for x in v):
            raise ValueError(f"sweep {name!r}: {key} holds NaN or inf")


def _mean_std(values: Sequence[Sequence[float]]) -> tuple[list[float], list[float]]:
    means = [statistics.fmean(map(float, v)) for v in values]
    stds = [statistics.stdev(map(float, v)) if len(v) > 1 else 0.0 for v in values]
    return means, stds


def plot_rho_sweep(sweeps: Mapping[str, Mapping[str, Sequence]], path: str | Path, title: str = "") -> Path:
    """Two panels, one line per task: hard-spike accuracy and transfer gap (smooth - hard) against
    rho, mean over seeds with +-1 std error bars.

    ``sweeps[task] = {"rho": [...], "hard": [[seed values] per rho], "gap": [[...] per rho]}``.
    """
    if not sweeps:
        raise ValueError("no sweeps to plot")
    for name, sweep in sweeps.items():
        _check_sweep(name, sweep)
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for name, sweep in sweeps.items():
        rho = [float(r) for r in sweep["rho"]]
        for ax, key in zip(axes, ("hard", "gap")):
            mean, std = _mean_std(sweep[key])
            ax.errorbar(rho, mean, yerr=std, marker="o", capsize=3, label=name)
    axes[0].set_ylabel("hard-spike test accuracy")
    axes[1].set_ylabel("transfer gap (surrogate-forward - hard)")
    axes[1].axhline(0.0, color="grey", lw=0.8)
    for ax in axes:
        ax.set_xlabel("rho")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path, dpi=120)


__all__ = ["plot_rho_sweep"]


def reliability_diagram(curves: Mapping[str, Sequence[Mapping[str, float]]], path: str | Path,
                        title: str = "") -> Path:
    """Accuracy against mean confidence per confidence bin, one line per label (e.g. per rho), with the
    diagonal of perfect calibration; ``curves[label]`` is the ``bins`` list of ``calibration_scores``
    (empty bins are skipped)."""
    if not curves:
        raise ValueError("reliability_diagram needs at least one curve")
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1, label="perfectly calibrated")
    for label, bins in curves.items():
        used = [b for b in bins if b["count"] > 0]
        ax.plot([b["confidence"] for b in used], [b["accuracy"] for b in used], marker="o", label=label)
    ax.set_xlabel("mean confidence (hard spikes)")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
