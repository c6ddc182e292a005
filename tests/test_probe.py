"""record_layers: per-layer spikes and membranes, checked against snnTorch layer by layer."""

from __future__ import annotations

import pytest
import snntorch as snn  # imported directly: with the test extra installed this fails, never skips
import torch

from spikeopt.probe import record_layers
from spikeopt.snn.network import ParallelLIFSNN


def test_layers_match_snntorch():
    net = ParallelLIFSNN(3, 2, subnetworks=2, width=6, depth=2, beta=0.85, threshold=0.8, init_scale=2.5,
                         delays=(0, 2), seed=3)
    x = torch.rand(15, 4, 3, generator=torch.Generator().manual_seed(0))
    inputs, layers = record_layers(net, x, membrane=True)
    assert inputs.shape == (15, 4, 6)
    h = torch.cat([x, torch.cat([torch.zeros(2, 4, 3), x[:-2]])], dim=-1)  # delays 0 and 2, by hand
    torch.testing.assert_close(inputs, h)
    with torch.no_grad():
        for layer, rec in enumerate(layers):
            lif = snn.Leaky(beta=0.85, threshold=0.8, reset_mechanism="subtract")
            mem, spikes, mems = lif.init_leaky(), [], []
            for t in range(x.shape[0]):
                per_sub = h[t].unsqueeze(1).expand(4, 2, -1) if layer == 0 else h[t]  # [B, K, fan_in]
                cur = torch.einsum("bkf,kfm->bkm", per_sub, net.weights[layer]) + net.biases[layer]
                spk, mem = lif(cur, mem)
                spikes.append(spk)
                mems.append(mem)
            h = torch.stack(spikes)
            assert 0 < float(h.mean()) < 1
            torch.testing.assert_close(rec.spikes, h)
            torch.testing.assert_close(rec.membrane, torch.stack(mems))
    assert torch.equal(layers[-1].spikes, net.hidden_spikes(x))


def test_bad_model():
    with pytest.raises(TypeError, match="ParallelLIFSNN"):
        record_layers(torch.nn.Linear(1, 1), torch.zeros(2, 1, 1))
