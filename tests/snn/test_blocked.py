"""The blocked rollout (``ParallelLIFSNN.forward`` from the zero state) against a naive autograd loop.

The reference (``tests/helpers/lif_references.py``) is written independently of the library's LIF code: one subnetwork at a
time, ``h @ w + b`` currents, the LIF equation step by step, the surrogate spike's own autograd.
Spikes (through the outputs and final states) must be identical; outputs and gradients equal to
float64 rounding -- for every readout, reset, block size and checkpointing choice.
"""

from __future__ import annotations

import pytest
import torch
from lif_references import check_same, make

from spikeopt.snn import blocked, workspace
from spikeopt.snn.network import ParallelLIFSNN


@pytest.mark.parametrize("readout", ["final", "per_step", "integrate"])
@pytest.mark.parametrize("reset", ["subtract", "none"])
@pytest.mark.parametrize("detach", [True, False])
@pytest.mark.parametrize("checkpoint", [False, True])
def test_matches_naive_autograd(readout, reset, detach, checkpoint):
    net, x = make(depth=2, readout=readout, reset=reset, detach=detach)
    net.block_steps, net.checkpoint_time = 3, checkpoint  # 11 steps: blocks of 3, 3, 3, 2
    check_same(net, x)


@pytest.mark.parametrize("block", [None, 1, 2, 4, 11])
@pytest.mark.parametrize("depth", [1, 3])
def test_block_sizes_and_depths(block, depth):
    net, x = make(depth=depth, readout="integrate", per_neuron=False, delays=(0, 1, 3))
    net.block_steps = block
    check_same(net, x)
    net.checkpoint_time = True
    check_same(net, x)


def test_sqrt_segments(monkeypatch):
    """Checkpoint segments of several blocks (the path long sequences take) rerun correctly."""
    monkeypatch.setattr(blocked, "CHECKPOINT_BYTES", 1)
    net, x = make(depth=2, readout="per_step")
    net.block_steps, net.checkpoint_time = 2, True
    plan = net.rollout_plan(x.shape[0], x.shape[1], "all")
    assert plan.segment > plan.block and plan.segment < x.shape[0]
    check_same(net, x)


def test_checkpoint_keeps_only_boundaries():
    net, x = make(depth=2, readout="final")
    net.block_steps = 2
    sizes = {}
    for checkpoint in (False, True):
        net.checkpoint_time = checkpoint
        plan = net.rollout_plan(x.shape[0], x.shape[1], "final")
        out, _ = blocked.blocked_stack(x, list(net.weights), list(net.biases), plan)
        sizes[checkpoint] = sum(t.numel() for t in out.grad_fn.kept)
    per_step = x.shape[1] * net.subnetworks * net.width * net.depth
    assert sizes[False] == x.shape[0] * per_step
    assert sizes[True] == 6 * per_step  # the membranes entering each of the 6 blocks


def test_no_grad_gives_same_outputs():
    for readout in ("final", "per_step", "integrate"):
        net, x = make(depth=2, readout=readout)
        with_grad, _ = net(x)
        with torch.no_grad():
            without, state = net(x)
        assert without.grad_fn is None
        torch.testing.assert_close(without, with_grad.detach(), rtol=0, atol=0)


def test_second_backward_with_retain_graph():
    net, x = make(depth=2, readout="integrate")
    net.block_steps = 2
    out, _ = net(x)
    out.sum().backward(retain_graph=True)
    first = [p.grad.clone() for p in net.parameters()]
    net(x * 0.5)[0].sum().backward()  # another call reuses the pooled membranes
    net.zero_grad()
    out.sum().backward()
    for a, p in zip(first, net.parameters()):
        torch.testing.assert_close(p.grad, a, rtol=1e-12, atol=1e-12)


def test_pool_is_bounded_and_releasable():
    net, x = make(depth=2)
    net(x)[0].sum().backward()
    assert 0 < workspace.pooled_bytes() <= workspace.MAX_BYTES
    workspace.release()
    assert workspace.pooled_bytes() == 0


def test_gradient_equals_snntorch():
    """The benchmark network (one wide LIF layer, final readout, atan) against snnTorch's autograd."""
    import snntorch as snn
    from snntorch import surrogate
    from torch import nn

    torch.manual_seed(0)
    steps, bsz, k, m = 40, 6, 4, 8
    net = ParallelLIFSNN(1, 2, subnetworks=k, width=m, depth=1, beta=0.9, threshold=1.0, surrogate="atan",
                         slope=2.0, readout="final", init_scale=3.0, seed=0).double()
    net.block_steps = 7
    x = (torch.rand(steps, bsz, 1) < 0.5).double()
    fc1 = nn.Linear(1, k * m).double()
    fc2 = nn.Linear(k * m, 2).double()
    with torch.no_grad():
        fc1.weight.copy_(net.weights[0].permute(1, 0, 2).reshape(1, -1).T)
        fc1.bias.copy_(net.biases[0].reshape(-1))
        fc2.weight.copy_(net.output.weight)
        fc2.bias.copy_(net.output.bias)
    lif = snn.Leaky(beta=torch.tensor(0.9, dtype=torch.float64), threshold=torch.tensor(1.0, dtype=torch.float64),
                    spike_grad=surrogate.atan(alpha=2.0), reset_mechanism="subtract")
    mem = torch.zeros(bsz, k * m, dtype=torch.float64)
    for t in range(steps):
        spk, mem = lif(fc1(x[t]), mem)
    y = torch.arange(bsz) % 2
    loss_ref = nn.functional.cross_entropy(fc2(spk.double()), y)  # snnTorch spikes are float32
    loss_ref.backward()
    out, _ = net(x)
    loss = nn.functional.cross_entropy(out, y)
    loss.backward()
    torch.testing.assert_close(loss, loss_ref, rtol=1e-12, atol=1e-12)
    # snnTorch's spikes are float32, so its gradient is float32-accurate only
    scale = fc1.weight.grad.abs().max().item()
    torch.testing.assert_close(net.weights[0].grad.permute(1, 0, 2).reshape(1, -1).T, fc1.weight.grad,
                               rtol=1e-4, atol=1e-5 * scale)
    torch.testing.assert_close(net.biases[0].grad.reshape(-1), fc1.bias.grad, rtol=1e-4, atol=1e-5 * scale)
    assert fc1.weight.grad.abs().sum() > 0


def test_checkpointed_memory_grows_like_sqrt_steps():
    """The memory the SG check budgets for: checkpointing bounds it (~sqrt(T)), without it it is linear."""
    net = ParallelLIFSNN(1, 2, subnetworks=16, width=32, seed=0)
    net.checkpoint_time = True
    ckpt = [net.rollout_bytes(t, 128, True) for t in (1024, 4096, 16384)]
    assert ckpt[1] < 2.2 * ckpt[0] and ckpt[2] < 2.2 * ckpt[1]
    net.checkpoint_time = False
    plain = [net.rollout_bytes(t, 128, True) for t in (1024, 4096)]
    assert plain[1] > 3.5 * plain[0] and plain[1] > 5 * ckpt[1]
    # the estimate covers the tensors the rollout really keeps
    per_step = 128 * 16 * 32 * 4
    assert plain[1] >= 4096 * per_step
