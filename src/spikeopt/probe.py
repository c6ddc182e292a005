"""Every hidden layer's spikes and membrane for a batch: what rasters, SynOps and diagnostics read.

The network's own ``forward`` keeps only the last layer (all the readout needs); looking inside
takes the same public pieces -- delay line, layer currents, the one LIF rollout -- layer by layer.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from spikeopt.snn.lif import lif_rollout
from spikeopt.snn.network import ParallelLIFSNN


class LayerRecord(NamedTuple):
    """One hidden layer over time: hard spikes and membrane (after the step, before the next reset)."""

    spikes: Tensor  # [T, B, K, width]
    membrane: Tensor | None  # [T, B, K, width], None unless asked for


@torch.no_grad()
def record_layers(
    model: ParallelLIFSNN, x: Tensor, membrane: bool = False,
) -> tuple[Tensor, list[LayerRecord]]:
    """The delayed input ``[T, B, F * len(delays)]`` and a :class:`LayerRecord` per hidden layer."""
    if not isinstance(model, ParallelLIFSNN):
        raise TypeError(f"model must be a spikeopt ParallelLIFSNN, got {type(model).__name__}")
    model.check_input(x)
    x = x.to(device=model.weights[0].device, dtype=model.weights[0].dtype)
    h, _ = model.delayed(x)
    inputs, out = h, []
    for layer in range(model.depth):
        cur = model.layer_currents(layer, h)
        h, mem, _ = lif_rollout(cur, model.beta[layer], model.threshold[layer], model.reset_mechanism,
                                record_membrane=membrane)
        out.append(LayerRecord(h, mem))
    return inputs, out
