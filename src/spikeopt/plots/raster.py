"""Spike raster and membrane traces of one sample: look at the spikes before trusting a number.

One PNG: the (delayed) input as a heat map, a raster per hidden layer (the first ``max_neurons``
neurons of the ``K * width``, subnetwork-major) and the membrane of the most active neurons of the
first layer against their threshold.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from spikeopt.plots import pyplot, save_figure
from spikeopt.probe import record_layers
from spikeopt.snn.network import ParallelLIFSNN
from spikeopt.validation import check_int


def plot_raster(
    model: ParallelLIFSNN, x: Tensor, path: str | Path, sample: int = 0, max_neurons: int = 64,
    traces: int = 4, title: str = "",
) -> Path:
    """Raster and membrane of ``x[:, sample]`` (``x`` is ``[T, B, in_features]``); writes one PNG."""
    if isinstance(sample, bool) or not isinstance(sample, int) or not 0 <= sample < (x.shape[1] if x.dim() == 3 else 0):
        raise ValueError(f"sample must be an index into the batch axis of x (shape {tuple(x.shape)}), got {sample!r}")
    for name, value in (("max_neurons", max_neurons), ("traces", traces)):
        check_int(value, name, 1)
    inputs, layers = record_layers(model, x[:, sample:sample + 1], membrane=True)
    plt = pyplot()
    steps = x.shape[0]
    fig, axes = plt.subplots(len(layers) + 2, 1, figsize=(9, 2.2 * (len(layers) + 2)), sharex=True, squeeze=False)
    axes = axes[:, 0]
    feats = inputs[:, 0].T.cpu().float().numpy()
    axes[0].imshow(feats, aspect="auto", interpolation="nearest", cmap="viridis",
                   extent=(-0.5, steps - 0.5, feats.shape[0] - 0.5, -0.5))
    _row_ticks(axes[0], feats.shape[0])
    axes[0].set_ylabel("input\nfeature" + ("\n(x delay)" if len(model.delays) > 1 else ""))
    for i, rec in enumerate(layers):
        s = rec.spikes[:, 0].flatten(1)[:, :max_neurons].cpu()
        ax = axes[i + 1]  # a binary image (black = spike) reads well for T = 8 and for T = 784
        ax.imshow(s.T.float().numpy(), aspect="auto", interpolation="nearest", cmap="Greys", vmin=0, vmax=1,
                  extent=(-0.5, steps - 0.5, s.shape[1] - 0.5, -0.5))
        _row_ticks(ax, s.shape[1])
        rate = float(rec.spikes[:, 0].float().mean())
        ax.set_ylabel(f"layer {i}\nneuron")
        ax.set_title(f"layer {i}: {s.shape[1]} of {rec.spikes[0, 0].numel()} neurons shown, "
                     f"firing rate {rate:.3f} per neuron-step", fontsize=9, loc="left")
    ax = axes[-1]
    mem = layers[0].membrane[:, 0].flatten(1).cpu()
    spk = layers[0].spikes[:, 0].flatten(1).cpu()
    thr = model.threshold[0].flatten().cpu()
    chosen = torch.argsort(spk.sum(0), descending=True, stable=True)[:traces]
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for c, j in enumerate(chosen.tolist()):
        color = colors[c % len(colors)]
        ax.plot(range(steps), mem[:, j].numpy(), color=color, linewidth=1.2, label=f"neuron {j}")
        ax.axhline(float(thr[j]), color=color, linestyle=":", linewidth=0.8)
        fired = torch.nonzero(spk[:, j]).flatten().numpy()
        ax.scatter(fired, mem[fired, j].numpy(), color=color, s=14, zorder=3)
    ax.set_ylabel("layer 0\nmembrane")
    ax.set_xlabel("time step")
    ax.set_title(f"membrane of the {len(chosen)} most active layer-0 neurons (dots: spikes, dotted: threshold; "
                 f"reset {model.reset_mechanism})", fontsize=9, loc="left")
    ax.legend(fontsize=7, ncol=min(len(chosen), 4), loc="lower right", framealpha=0.9)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return save_figure(fig, path)


def _row_ticks(ax, rows: int) -> None:
    """Integer row labels: each row when there are few, else about five."""
    from matplotlib.ticker import MaxNLocator

    if rows <= 6:
        ax.set_yticks(range(rows))
    else:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
