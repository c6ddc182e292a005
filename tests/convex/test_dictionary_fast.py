"""build_dictionary's distinct-sequence shortcut gives exactly the dictionary of the direct rollout."""

import numpy as np
import pytest
import torch

from spikeopt.convex.dictionary import build_dictionary
from spikeopt.convex.witnesses import gaussian_witnesses
from spikeopt.snn.config import ModelConfig


@pytest.mark.parametrize("layout", ["final", "trajectory"])
def test_repeated_sequences_shortcut_is_exact(layout):
    g = torch.Generator().manual_seed(0)
    base = (torch.rand(6, 10, 2, generator=g) > 0.5).float()
    x = base[:, torch.randint(0, 10, (80,), generator=g)]  # 80 samples, <= 10 distinct
    net = gaussian_witnesses(2, ModelConfig(subnetworks=6, width=5, depth=2), seed=1)
    fast = build_dictionary(net, x, layout)
    spikes = net.hidden_spikes(x).flatten(-2).to(torch.uint8).numpy()  # direct rollout
    raw = spikes[-1] if layout == "final" else spikes.reshape(-1, spikes.shape[-1])
    cols = fast.source[:, 0] * net.width + fast.source[:, 1]
    np.testing.assert_array_equal(fast.atoms, raw[:, cols])
    # every non-zero column of the direct rollout is one of the atoms
    nz = raw[:, raw.any(axis=0)]
    assert {c.tobytes() for c in nz.T} == {c.tobytes() for c in fast.atoms.T}
    assert fast.samples == 80 and fast.atoms.shape[0] == (80 if layout == "final" else 480)
