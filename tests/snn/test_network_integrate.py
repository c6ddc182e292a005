"""The non-spiking leaky-integrator readout (ADMM's output layer) against a naive loop; step == forward."""

from __future__ import annotations

import pytest
import torch

from spikeopt.snn.network import ParallelLIFSNN


def net(depth: int = 2, leak: float = 0.8) -> ParallelLIFSNN:
    return ParallelLIFSNN(5, 3, subnetworks=2, width=4, depth=depth, beta=0.9, threshold=0.5,
                          readout="integrate", readout_leak=leak, init_scale=2.0, seed=0)


def test_integrate_matches_naive_loop():
    model = net()
    x = (torch.rand(7, 6, 5, generator=torch.Generator().manual_seed(1)) < 0.5).float()
    out, _ = model(x)
    h = model.hidden_spikes(x)  # [T, B, K, m]
    assert h.sum() > 0
    w, b = model.output.weight, model.output.bias
    ref = torch.zeros(6, 3)
    steps = x.shape[0]
    for t in range(steps):
        ref += 0.8 ** (steps - 1 - t) * (h[t].flatten(-2) @ w.T + b)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


def test_step_by_step_equals_forward_and_state_continues():
    model = net(depth=1, leak=0.95)
    x = torch.rand(6, 4, 5, generator=torch.Generator().manual_seed(2))
    full, _ = model(x)
    state = None
    for x_t in x:
        out, state = model.step(x_t, state)
    torch.testing.assert_close(out, full)
    first, mid = model(x[:3])
    rest, _ = model(x[3:], mid)
    torch.testing.assert_close(rest, full)


def test_integrate_config_round_trip_and_validation():
    model = net(leak=0.7)
    cfg = model.config()
    assert cfg["readout"] == "integrate" and cfg["readout_leak"] == 0.7
    again = ParallelLIFSNN(**cfg)
    again.load_state_dict(model.state_dict())
    x = torch.rand(3, 2, 5)
    torch.testing.assert_close(again(x)[0], model(x)[0])
    with pytest.raises(ValueError, match="readout_leak"):
        net(leak=1.5)
