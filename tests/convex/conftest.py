"""Independent references for the witness tests, as fixtures: a naive LIF loop and a seeded random walk."""

import math

import pytest
import torch


def _naive_spikes(net, x):
    """Plain Python loop (after a hand-built delay line) of u[t] = beta u[t-1] + W x[t] + b - theta s[t-1]: spikes [T, N, K*m] (float64)."""
    h = x.double()
    taps = [int(d) for d in net.delays]
    if taps != [0]:  # the delay line by hand: tap d at step t is x[t - d], zero before the start
        steps = h.shape[0]
        h = torch.stack([torch.cat([h[t - d] if t >= d else torch.zeros_like(h[0]) for d in taps], dim=-1)
                         for t in range(steps)])
    for layer in range(net.depth):
        w = net.weights[layer].double()  # [K, fan_in, m]
        b = net.biases[layer].double()
        beta, theta = net.beta[layer].double(), net.threshold[layer].double()
        if layer == 0:
            cur = torch.einsum("tnf,kfm->tnkm", h, w) + b
        else:
            cur = torch.einsum("tnkf,kfm->tnkm", h, w) + b
        u = torch.zeros_like(cur[0])
        s = torch.zeros_like(cur[0])
        out = []
        for t in range(cur.shape[0]):
            u = beta * u + cur[t] - theta * s
            s = (u > theta).double()
            out.append(s)
        h = torch.stack(out)
    return h.flatten(-2)


def _series(n=96, steps=30, features=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(steps, n, features, generator=g).cumsum(0) / math.sqrt(steps)).float()


@pytest.fixture
def naive_spikes():
    return _naive_spikes


@pytest.fixture
def series():
    return _series
