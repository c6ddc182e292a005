"""The blocked rollout (``ParallelLIFSNN.forward`` from the zero state) against a naive autograd loop.

The reference is written out here, independent of the library's LIF code: one subnetwork at a
time, ``h @ w + b`` currents, the LIF equation step by step, the surrogate spike's own autograd.
Spikes (through the outputs and final states) must be identical; outputs and gradients equal to
float64 rounding -- for every readout, reset, block size and checkpointing choice.
"""

from __future__ import annotations

import pytest
import torch

from spikeopt.snn import blocked, workspace
from spikeopt.snn.network import ParallelLIFSNN


def reference(net: ParallelLIFSNN, x: torch.Tensor):
    """Readout output and per-layer final (membrane, spike) of ``net`` on ``x``, by plain autograd."""
    steps = x.shape[0]
    taps = [torch.cat([x.new_zeros((d, *x.shape[1:])), x[: steps - d]]) for d in net.delays]
    inp = torch.cat(taps, dim=-1)
    hidden, finals = [], [[] for _ in range(net.depth)]
    for k in range(net.subnetworks):
        h = inp
        for layer in range(net.depth):
            cur = h @ net.weights[layer][k] + net.biases[layer][k]
            beta, thr = net.beta[layer, k], net.threshold[layer, k]
            mem = torch.zeros_like(cur[0])
            spk = torch.zeros_like(cur[0])
            spikes = []
            for t in range(steps):
                prev = spk.detach() if net.detach_reset else spk
                mem = beta * mem + cur[t] - (thr * prev if net.reset_mechanism == "subtract" else 0.0)
                spk = net.surrogate.spike(mem - thr)
                spikes.append(spk)
            h = torch.stack(spikes)
            finals[layer].append((mem, spk))
        hidden.append(h)
    h = torch.stack(hidden, dim=2)  # [T, B, K, m]
    per_step = h.flatten(-2) @ net.output.weight.T + net.output.bias
    if net.readout == "final":
        out = per_step[-1]
    elif net.readout == "per_step":
        out = per_step
    else:
        out = torch.zeros_like(per_step[0])
        for t in range(steps):
            out = net.readout_leak * out + per_step[t]
    states = [(torch.stack([m for m, _ in f], dim=1), torch.stack([s for _, s in f], dim=1)) for f in finals]
    return out, states


def make(depth=2, readout="final", reset="subtract", detach=True, delays=(0,), per_neuron=True, seed=0):
    g = torch.Generator().manual_seed(seed)
    beta = torch.rand(depth, 3, 4, generator=g, dtype=torch.float64) * 0.5 + 0.45 if per_neuron else 0.9
    net = ParallelLIFSNN(2, 3, subnetworks=3, width=4, depth=depth, beta=beta, threshold=0.7, readout=readout,
                         readout_leak=0.85, reset_mechanism=reset, detach_reset=detach, init_scale=2.5,
                         seed=seed, delays=delays).double()
    x = torch.rand(11, 5, 2, generator=g, dtype=torch.float64)
    return net, x


def grads_of(net, x, fn):
    net.zero_grad(set_to_none=True)
    xg = x.clone().requires_grad_(True)
    out, states = fn(net, xg)
    w = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).reshape(out.shape)
    loss = (out * w).sum()
    for layer, (mem, spk) in enumerate(states):
        loss = loss + 0.3 * (layer + 1) * mem.sum() + 0.2 * spk.sum()
    loss.backward()
    return out.detach(), [(m.detach(), s.detach()) for m, s in states], [p.grad.clone() for p in net.parameters()], xg.grad


def blocked_forward(net, xg):
    out, state = net(xg)
    return out, [(state[layer].mem, state[layer].spk) for layer in range(net.depth)]


def check_same(net, x):
    out_r, st_r, g_r, gx_r = grads_of(net, x, reference)
    out_b, st_b, g_b, gx_b = grads_of(net, x, blocked_forward)
    for (mr, sr), (mb, sb) in zip(st_r, st_b):
        assert torch.equal(sr, sb)
        torch.testing.assert_close(mb, mr, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(out_b, out_r, rtol=1e-12, atol=1e-12)
    for a, b in zip(g_b, g_r):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(gx_b, gx_r, rtol=1e-10, atol=1e-12)
    assert gx_r.abs().sum() > 0 and all(g.abs().sum() > 0 for g in g_r)


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
