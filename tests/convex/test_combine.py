"""Concatenated witness networks spike exactly like their parts."""

import pytest
import torch

from spikeopt.convex.combine import concat_witnesses, select_subnetworks
from spikeopt.convex.witnesses import gaussian_witnesses
from spikeopt.snn.config import ModelConfig
from spikeopt.snn.network import ParallelLIFSNN


@pytest.mark.parametrize("depth", [1, 2])
def test_concatenation_spikes_equal_the_parts(depth):
    a = gaussian_witnesses(3, ModelConfig(subnetworks=4, width=5, depth=depth, beta=0.8, threshold=0.7), 2.0, seed=1)
    b = gaussian_witnesses(3, ModelConfig(subnetworks=6, width=5, depth=depth), 2.0, beta_range=(0.5, 0.95),
                           threshold_range=(0.3, 1.2), seed=2)
    x = torch.randn(10, 7, 3, generator=torch.Generator().manual_seed(0))
    both = concat_witnesses([a, b], [None, [5, 0, 2]])
    assert both.subnetworks == 7
    expected = torch.cat([a.hidden_spikes(x), b.hidden_spikes(x)[:, :, [5, 0, 2]]], dim=2)
    assert expected.sum() > 0  # something spikes: the comparison is not between silent networks
    torch.testing.assert_close(both.hidden_spikes(x), expected, rtol=0, atol=0)


def test_select_subnetworks_keeps_order_and_spikes():
    a = gaussian_witnesses(2, ModelConfig(subnetworks=5, width=3), 2.0, seed=4)
    x = torch.randn(6, 4, 2, generator=torch.Generator().manual_seed(1))
    part = select_subnetworks(a, [3, 1])
    torch.testing.assert_close(part.hidden_spikes(x), a.hidden_spikes(x)[:, :, [3, 1]], rtol=0, atol=0)
    with pytest.raises(ValueError, match="index"):
        select_subnetworks(a, [5])


def test_concatenation_refuses_mismatched_shapes():
    a = gaussian_witnesses(2, ModelConfig(subnetworks=2, width=3), seed=0)
    b = gaussian_witnesses(2, ModelConfig(subnetworks=2, width=4), seed=0)
    with pytest.raises(ValueError, match="width"):
        concat_witnesses([a, b])
    with pytest.raises(ValueError, match="at least one"):
        concat_witnesses([])


def test_networks_with_different_delay_lines_are_refused():
    a = ParallelLIFSNN(3, 1, 2, 4, delays=(0, 1), seed=0)
    b = ParallelLIFSNN(3, 1, 2, 4, delays=(0, 2), seed=1)
    with pytest.raises(ValueError, match="delays"):
        concat_witnesses([a, b])
