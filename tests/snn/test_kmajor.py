"""The subnetwork-major dictionary rollout (``spike_readout``) against a naive per-subnetwork loop."""

import pytest
import torch

from spikeopt.snn.lif import LIF
from spikeopt.snn.network import ParallelLIFSNN


def naive_spikes(net: ParallelLIFSNN, x: torch.Tensor) -> torch.Tensor:
    """``[T, B, K, m]`` by a loop over subnetworks, ``h @ w + b`` and LIF modules (delays by hand)."""
    steps = x.shape[0]
    h0 = torch.cat([torch.cat([x.new_zeros((d, *x.shape[1:])), x[: steps - d]]) for d in net.delays], dim=-1)
    out = []
    for k in range(net.subnetworks):
        h = h0
        for layer in range(net.depth):
            cur = h @ net.weights[layer][k] + net.biases[layer][k]
            h, _ = LIF(net.beta[layer, k], net.threshold[layer, k], net.reset_mechanism)(cur)
        out.append(h)
    return torch.stack(out, dim=2)


@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("reset", ["subtract", "none", "zero"])
@pytest.mark.parametrize("block", [None, 1, 3])
def test_spike_readout_equals_naive(depth, reset, block):
    g = torch.Generator().manual_seed(depth)
    beta = torch.rand(depth, 4, 6, generator=g) * 0.5 + 0.45
    net = ParallelLIFSNN(3, 2, subnetworks=4, width=6, depth=depth, beta=beta, threshold=0.8, init_scale=2.5,
                         reset_mechanism=reset, seed=depth, delays=(0, 2))
    x = torch.rand(10, 7, 3, generator=g)
    ref = naive_spikes(net, x)
    assert 0 < ref.mean() < 1
    w = torch.rand(10, generator=g)
    assert torch.equal(net.spike_readout(x, "final", block_steps=block), ref[-1])
    assert torch.equal(net.spike_readout(x, "all", block_steps=block), ref)
    torch.testing.assert_close(net.spike_readout(x, "sum", w, block_steps=block),
                               torch.einsum("t,tbkm->bkm", w, ref), rtol=1e-6, atol=1e-6)


def test_spike_readout_checks_its_arguments():
    net = ParallelLIFSNN(1, 2, subnetworks=2, width=3, seed=0)
    x = torch.rand(4, 2, 1)
    with pytest.raises(ValueError, match="reduce"):
        net.spike_readout(x, "mean")
    with pytest.raises(ValueError, match="time_weights"):
        net.spike_readout(x, "sum")
