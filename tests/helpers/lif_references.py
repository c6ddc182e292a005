"""Naive LIF references written out independently of the library's rollouts (shared by several tests).

``reference``: one subnetwork at a time, ``h @ w + b`` currents, the LIF equation step by step, the
surrogate spike's own autograd. ``naive_spikes``: a loop over subnetworks through ``LIF`` modules.
``check_same`` compares ``ParallelLIFSNN.forward`` (the blocked rollout) with ``reference``: identical
spikes, outputs and gradients equal to float64 rounding.
"""

from __future__ import annotations

import torch

from spikeopt.snn.lif import LIF
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
    w = torch.linspace(-1, 1, out.numel(), dtype=out.dtype, device=out.device).reshape(out.shape)
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
