"""ParallelLIFSNN against a naive per-subnetwork loop, its step API and its input checks."""

import pytest
import torch

from spikeopt.snn.lif import LIF
from spikeopt.snn.network import ParallelLIFSNN


def naive_forward(net: ParallelLIFSNN, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Loop over subnetworks, each a stack of nn.Linear-style matmuls and LIF modules."""
    hidden = []
    for k in range(net.subnetworks):
        h = x
        for layer in range(net.depth):
            w, b = net.weights[layer][k], net.biases[layer][k]
            cur = h @ w + b
            h, _ = LIF(net.beta[layer, k], net.threshold[layer, k])(cur)
        hidden.append(h)
    spikes = torch.stack(hidden, dim=2)  # [T, B, K, m]
    out = spikes.flatten(-2) @ net.output.weight.T + net.output.bias
    return spikes, out


@pytest.mark.parametrize("depth", [1, 3])
@pytest.mark.parametrize("readout", ["final", "per_step"])
def test_vectorized_equals_naive_loop(depth, readout):
    torch.manual_seed(0)
    beta = torch.rand(depth, 4, 5)
    net = ParallelLIFSNN(3, 2, subnetworks=4, width=5, depth=depth, beta=beta, threshold=0.8,
                         readout=readout, init_scale=2.0, seed=1).double()
    x = torch.rand(9, 6, 3, dtype=torch.float64)
    spikes, out = naive_forward(net, x)
    assert torch.equal(net.hidden_spikes(x), spikes)
    assert spikes.sum() > 0
    got, _ = net(x)
    expected = out[-1] if readout == "final" else out
    assert torch.allclose(got, expected, atol=1e-12)


def test_step_equals_forward():
    net = ParallelLIFSNN(2, 3, subnetworks=3, width=4, depth=2, readout="per_step", seed=0)
    x = torch.rand(7, 5, 2)
    full, _ = net(x)
    state, outs = None, []
    for t in range(7):
        out, state = net.step(x[t], state)
        outs.append(out)
    assert torch.allclose(torch.stack(outs), full)


def test_state_is_explicit_and_does_not_leak():
    net = ParallelLIFSNN(2, 3, subnetworks=3, width=4, seed=0)
    x = torch.rand(5, 4, 2)
    a, _ = net(x)
    net(torch.rand(5, 4, 2) * 10)
    b, _ = net(x)
    assert torch.equal(a, b)


def test_gradients_reach_every_parameter():
    net = ParallelLIFSNN(2, 3, subnetworks=2, width=4, depth=2, init_scale=3.0, seed=0)
    out, _ = net(torch.rand(6, 8, 2))
    out.sum().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_smooth_mode_converges_to_hard_spikes():
    net = ParallelLIFSNN(2, 3, subnetworks=3, width=6, depth=2, init_scale=2.0, seed=0, surrogate="sigmoid").double()
    x = torch.rand(6, 10, 2, dtype=torch.float64)
    hard, _ = net(x)
    errors = []
    for slope in (5.0, 50.0, 5000.0):
        net.surrogate = type(net.surrogate)("sigmoid", slope)
        net.spike_mode = "smooth"
        smooth, _ = net(x)
        errors.append((smooth - hard).abs().max().item())
    net.spike_mode = "hard"
    assert errors[0] > errors[1] > errors[2] and errors[2] < 1e-2


@pytest.mark.parametrize(
    "x, message",
    [
        (torch.rand(5, 2), r"time-major"),
        (torch.rand(5, 2, 4), r"time-major"),
        (torch.full((5, 2, 3), float("nan")), "NaN"),
        (torch.ones(5, 2, 3, dtype=torch.long), "floating"),
        (torch.rand(0, 2, 3), "empty"),
    ],
)
def test_bad_inputs_raise(x, message):
    net = ParallelLIFSNN(3, 2, subnetworks=2, width=3)
    with pytest.raises((ValueError, TypeError), match=message):
        net(x)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"subnetworks": 0}, "subnetworks"),
        ({"readout": "mean"}, "readout"),
        ({"beta": torch.rand(7)}, "broadcastable"),
        ({"threshold": -1.0}, "threshold"),
    ],
)
def test_bad_settings_raise(kwargs, message):
    settings = {"in_features": 3, "out_features": 2, "subnetworks": 2, "width": 3, **kwargs}
    with pytest.raises(ValueError, match=message):
        ParallelLIFSNN(**settings)
