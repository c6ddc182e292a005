"""One witness network out of several: pick subnetworks, concatenate networks.

Column generation draws atoms from many witness networks; reconstruction needs a single network
whose subnetwork ``k`` is the witness of every atom with source ``(k, j)``. Subnetworks never
interact (each has its own weights, ``beta`` and ``threshold``), so concatenating them along the
subnetwork axis keeps every spike train unchanged.
"""

from __future__ import annotations

from typing import Sequence

import torch

from spikeopt.convex.witnesses import freeze_hidden
from spikeopt.snn.network import ParallelLIFSNN

_SHARED = ("in_features", "width", "depth", "reset_mechanism", "delays")


def select_subnetworks(net: ParallelLIFSNN, index: Sequence[int] | torch.Tensor) -> ParallelLIFSNN:
    """A frozen copy of ``net`` holding only the subnetworks ``index`` (in that order), readout unused."""
    idx = torch.as_tensor(index, dtype=torch.long).reshape(-1)
    if idx.numel() == 0:
        raise ValueError("index must name at least one subnetwork")
    if int(idx.min()) < 0 or int(idx.max()) >= net.subnetworks:
        raise ValueError(f"index must lie in [0, {net.subnetworks}), got {idx.tolist()}")
    return concat_witnesses([net], [idx])


def concat_witnesses(
    nets: Sequence[ParallelLIFSNN], index: Sequence[Sequence[int] | torch.Tensor | None] | None = None
) -> ParallelLIFSNN:
    """The subnetworks of ``nets`` side by side in one frozen network (``index[i]``: which of net i, None = all).

    All networks must share ``in_features``, ``width``, ``depth``, ``reset_mechanism`` and ``delays``; ``beta``
    and ``threshold`` become per-neuron tensors. Subnetwork ``offset_i + k`` of the result is
    subnetwork ``index[i][k]`` of ``nets[i]``, where ``offset_i`` counts the subnetworks taken before.
    """
    if not nets:
        raise ValueError("nets must hold at least one ParallelLIFSNN")
    for net in nets:
        if not isinstance(net, ParallelLIFSNN):
            raise TypeError(f"nets must hold ParallelLIFSNN witnesses, got {type(net).__name__}")
    first = nets[0]
    for name in _SHARED:
        values = {getattr(n, name) for n in nets}
        if len(values) > 1:
            raise ValueError(f"witness networks to concatenate must share {name}; got {sorted(map(str, values))}")
    index = [None] * len(nets) if index is None else list(index)
    if len(index) != len(nets):
        raise ValueError(f"index must have one entry per network ({len(nets)}), got {len(index)}")
    idx = [torch.arange(n.subnetworks) if i is None else torch.as_tensor(i, dtype=torch.long).reshape(-1)
           for n, i in zip(nets, index)]
    device = first.beta.device
    beta = torch.cat([n.beta[:, i.to(n.beta.device)].to(device) for n, i in zip(nets, idx)], dim=1)
    threshold = torch.cat([n.threshold[:, i.to(n.beta.device)].to(device) for n, i in zip(nets, idx)], dim=1)
    config = first.config()
    config.update(out_features=1, subnetworks=int(beta.shape[1]), readout="final")
    out = ParallelLIFSNN(beta=beta.cpu(), threshold=threshold.cpu(), seed=0, **config).to(  # seed: leave the global RNG alone
        dtype=first.weights[0].dtype, device=device
    )
    with torch.no_grad():
        for layer in range(first.depth):
            out.weights[layer].copy_(torch.cat([n.weights[layer][i.to(n.beta.device)].to(device)
                                                for n, i in zip(nets, idx)]))
            out.biases[layer].copy_(torch.cat([n.biases[layer][i.to(n.beta.device)].to(device)
                                               for n, i in zip(nets, idx)]))
    return freeze_hidden(out)
