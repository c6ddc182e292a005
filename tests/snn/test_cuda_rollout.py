"""The torch-loop rollout on a GPU (Triton switched off) against the naive reference, and the Triton
path against it on the same GPU. Runs only where CUDA is present (the CPU paths are tested everywhere)."""

from __future__ import annotations

import pytest
import torch
from lif_references import check_same, make

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.parametrize("triton", ["0", "1"])
@pytest.mark.parametrize("readout", ["final", "integrate"])
@pytest.mark.parametrize("per_neuron", [True, False])
def test_blocked_rollout_on_cuda_matches_naive_autograd(monkeypatch, triton, readout, per_neuron):
    if triton == "1":
        pytest.importorskip("triton")
    monkeypatch.setenv("SPIKEOPT_TRITON", triton)
    net, x = make(depth=2, readout=readout, per_neuron=per_neuron)
    net.block_steps = 4
    check_same(net.cuda(), x.cuda())
