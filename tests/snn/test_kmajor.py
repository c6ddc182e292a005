"""The subnetwork-major dictionary rollout (``spike_readout``) against a naive per-subnetwork loop."""

import pytest
import torch
from lif_references import naive_spikes

from spikeopt.snn.network import ParallelLIFSNN


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


def test_zero_reset_matches_snntorch():
    """The zero reset on the dictionary path: snnTorch ``Leaky(reset_mechanism="zero")`` layers per subnetwork."""
    import snntorch as snn

    g = torch.Generator().manual_seed(5)
    net = ParallelLIFSNN(3, 2, subnetworks=5, width=8, depth=2, beta=0.8, threshold=0.7, init_scale=2.5,
                         reset_mechanism="zero", seed=5)
    x = (torch.rand(16, 9, 3, generator=g) < 0.5).float()
    outs = []
    with torch.no_grad():
        for k in range(net.subnetworks):
            lifs = [snn.Leaky(beta=0.8, threshold=0.7, reset_mechanism="zero") for _ in range(net.depth)]
            mems = [lif.init_leaky() for lif in lifs]
            steps = []
            for t in range(x.shape[0]):
                h = x[t]
                for layer in range(net.depth):
                    h, mems[layer] = lifs[layer](h @ net.weights[layer][k] + net.biases[layer][k], mems[layer])
                steps.append(h)
            outs.append(torch.stack(steps))
    ref = torch.stack(outs, dim=2)  # [T, B, K, m]
    assert 0 < ref.mean() < 1 and bool(((ref[:-1] == 1) & (ref[1:] == 0)).any())  # resets happen
    assert torch.equal(net.spike_readout(x, "all", block_steps=3), ref)
    assert torch.equal(net.spike_readout(x, "final"), ref[-1])
