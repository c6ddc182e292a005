"""The synaptic delay line of ParallelLIFSNN against a hand-built delayed input, and step-by-step runs."""

import numpy as np
import pytest
import torch

from spikeopt.snn.network import ParallelLIFSNN, check_delays, octave_delays


def _delayed_by_hand(x: torch.Tensor, delays) -> torch.Tensor:
    """x [T, B, F] -> [T, B, F * D] with block d holding x[t - d] (zeros before the start), by a plain loop."""
    T, B, F = x.shape
    out = np.zeros((T, B, F * len(delays)), dtype=np.float32)
    xn = x.numpy()
    for t in range(T):
        for i, d in enumerate(delays):
            if t - d >= 0:
                out[t, :, i * F:(i + 1) * F] = xn[t - d]
    return torch.from_numpy(out)


@pytest.mark.parametrize("readout", ["final", "per_step", "integrate"])
def test_delays_equal_a_plain_network_on_the_delayed_input(readout):
    torch.manual_seed(0)
    delays = (0, 1, 3)
    x = torch.randn(9, 5, 2)
    net = ParallelLIFSNN(2, 3, subnetworks=4, width=6, depth=2, readout=readout, delays=delays, seed=1, readout_leak=0.8)
    plain = ParallelLIFSNN(6, 3, subnetworks=4, width=6, depth=2, readout=readout, seed=2, readout_leak=0.8)
    plain.load_state_dict(net.state_dict())
    out, _ = net(x)
    ref, _ = plain(_delayed_by_hand(x, delays))
    torch.testing.assert_close(out, ref, rtol=0, atol=0)
    assert torch.equal(net.hidden_spikes(x), plain.hidden_spikes(_delayed_by_hand(x, delays)))


@pytest.mark.parametrize("readout", ["final", "per_step", "integrate"])
def test_step_by_step_and_chunks_equal_one_forward(readout):
    torch.manual_seed(1)
    x = torch.randn(12, 3, 2)
    net = ParallelLIFSNN(2, 2, subnetworks=3, width=5, depth=1, readout=readout, delays=(0, 2, 4), seed=0)
    full, _ = net(x)
    state, outs = None, []
    for t in range(x.shape[0]):
        o, state = net.step(x[t], state)
        outs.append(o)
    if readout == "per_step":
        torch.testing.assert_close(torch.stack(outs), full)
    else:
        torch.testing.assert_close(outs[-1], full)
    a, st = net(x[:7])
    b, _ = net(x[7:], st)
    torch.testing.assert_close(b, full[7:] if readout == "per_step" else full)


def test_default_has_no_delay_and_config_round_trips():
    net = ParallelLIFSNN(3, 2, subnetworks=2, width=4)
    assert net.delays == (0,) and net.weights[0].shape == (2, 3, 4)
    wide = ParallelLIFSNN(**{**net.config(), "delays": [0, 1, 2, 4]})
    assert wide.weights[0].shape == (2, 12, 4) and wide.config()["delays"] == [0, 1, 2, 4]


def test_octave_delays_by_hand():
    assert octave_delays(1) == (0,)
    assert octave_delays(8) == (0, 1, 2, 4)
    assert octave_delays(150) == (0, 1, 2, 4, 8, 16, 32, 64)


@pytest.mark.parametrize("bad", [(), (0, 0), (-1,), (1.5,), "ab"])
def test_bad_delays_are_refused(bad):
    with pytest.raises((ValueError, TypeError), match="delays"):
        check_delays(bad)
