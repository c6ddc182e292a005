"""The Triton LIF kernels (the GPU path) against the same naive references as the torch loops.

On a CUDA machine they run compiled on the GPU; elsewhere through Triton's interpreter on CPU
tensors (``TRITON_INTERPRET=1``), which executes the same kernel code. Each test also checks that
the kernels ran, so a silent fallback to the torch loop cannot pass. Skipped where Triton is not
installed (it is an optional accelerator, not a test dependency).
"""

from __future__ import annotations

import importlib
import sys
from types import SimpleNamespace

import pytest
import torch

pytest.importorskip("triton")

from lif_references import check_same, make, naive_spikes  # noqa: E402

from spikeopt.snn import triton_lif  # noqa: E402
from spikeopt.snn.network import ParallelLIFSNN  # noqa: E402


@pytest.fixture
def kernels(monkeypatch):
    """``device``: whose tensors take the kernels; ``launches``: how often each kernel ran."""
    monkeypatch.setenv("SPIKEOPT_TRITON", "1")
    if not torch.cuda.is_available():
        monkeypatch.setenv("TRITON_INTERPRET", "1")
        if "spikeopt.snn.triton_kernels" in sys.modules:  # compiled earlier: decorate again, interpreted
            importlib.reload(sys.modules["spikeopt.snn.triton_kernels"])
    launches = {"forward": 0, "adjoint": 0}
    for name in launches:
        real = getattr(triton_lif, f"lif_{name}")

        def counted(*args, _real=real, _name=name, **kwargs):
            launches[_name] += 1
            return _real(*args, **kwargs)

        monkeypatch.setattr(triton_lif, f"lif_{name}", counted)
    return SimpleNamespace(device=torch.device("cuda" if torch.cuda.is_available() else "cpu"), launches=launches)


@pytest.mark.parametrize("readout", ["final", "per_step", "integrate"])
@pytest.mark.parametrize("reset", ["subtract", "none"])
@pytest.mark.parametrize("detach", [True, False])
def test_blocked_rollout_matches_naive_autograd(kernels, readout, reset, detach):
    net, x = make(depth=2, readout=readout, reset=reset, detach=detach)
    net.block_steps = 4  # 11 steps: blocks of 4, 4, 3
    check_same(net.to(kernels.device), x.to(kernels.device))
    assert kernels.launches["forward"] > 0 and kernels.launches["adjoint"] > 0


def test_checkpointed_rollout_matches_naive_autograd(kernels):
    net, x = make(depth=3, readout="integrate", per_neuron=False, delays=(0, 1, 3))
    net.block_steps, net.checkpoint_time = 2, True
    check_same(net.to(kernels.device), x.to(kernels.device))
    assert kernels.launches["adjoint"] > 0


@pytest.mark.parametrize("depth", [1, 2])
@pytest.mark.parametrize("reset", ["subtract", "none", "zero"])
def test_dictionary_rollout_matches_naive_loop(kernels, depth, reset):
    g = torch.Generator().manual_seed(depth)
    beta = torch.rand(depth, 4, 6, generator=g) * 0.5 + 0.45
    net = ParallelLIFSNN(3, 2, subnetworks=4, width=6, depth=depth, beta=beta, threshold=0.8, init_scale=2.5,
                         reset_mechanism=reset, seed=depth, delays=(0, 2))
    x = torch.rand(10, 7, 3, generator=g)
    ref = naive_spikes(net, x)
    assert 0 < ref.mean() < 1
    net, xd = net.to(kernels.device), x.to(kernels.device)
    assert torch.equal(net.spike_readout(xd, "all", block_steps=3).cpu(), ref)
    assert torch.equal(net.spike_readout(xd, "final", block_steps=4).cpu(), ref[-1])
    assert kernels.launches["forward"] > 0


def test_off_switch_and_cpu_fallback(monkeypatch):
    x = torch.zeros(3)
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    assert not triton_lif.usable(x)  # CPU tensors take the torch loop unless interpreting
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    assert triton_lif.usable(x)
    monkeypatch.setenv("SPIKEOPT_TRITON", "0")
    assert not triton_lif.usable(x)
