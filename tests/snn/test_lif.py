"""The LIF rollout against snnTorch's Leaky and against a hand-written loop."""

import pytest
import torch

from spikeopt.snn.lif import LIF, lif_rollout


def reference_loop(currents, beta, threshold, reset):
    """Plain Python loop over time and neurons, written from the equation in the README."""
    T, B, H = currents.shape
    beta = torch.as_tensor(beta).expand(H)
    threshold = torch.as_tensor(threshold).expand(H)
    spikes = torch.zeros(T, B, H)
    mems = torch.zeros(T, B, H)
    for b in range(B):
        for h in range(H):
            u, s = 0.0, 0.0
            for t in range(T):
                i = float(currents[t, b, h])
                if reset == "subtract":
                    u = float(beta[h]) * u + i - float(threshold[h]) * s
                elif reset == "zero":
                    u = float(beta[h]) * (1.0 - s) * u + i
                else:
                    u = float(beta[h]) * u + i
                s = 1.0 if u > float(threshold[h]) else 0.0
                spikes[t, b, h], mems[t, b, h] = s, u
    return spikes, mems


@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
@pytest.mark.parametrize("per_neuron", [False, True])
def test_rollout_matches_reference_loop(reset, per_neuron):
    g = torch.Generator().manual_seed(1)
    currents = torch.randn(12, 3, 5, generator=g, dtype=torch.float64)
    beta = torch.rand(5, generator=g, dtype=torch.float64) if per_neuron else 0.8
    threshold = 0.5 + torch.rand(5, generator=g, dtype=torch.float64) if per_neuron else 1.0
    spikes, mems, _ = lif_rollout(currents, beta, threshold, reset, record_membrane=True)
    ref_s, ref_m = reference_loop(currents, beta, threshold, reset)
    assert torch.equal(spikes, ref_s.double())
    assert torch.allclose(mems, ref_m.double(), atol=1e-12)
    assert spikes.sum() > 0  # the case is not vacuous


def test_state_continues_a_run():
    currents = torch.randn(10, 2, 4, generator=torch.Generator().manual_seed(0))
    whole, _, _ = lif_rollout(currents, 0.9, 0.7)
    first, _, state = lif_rollout(currents[:4], 0.9, 0.7)
    second, _, _ = lif_rollout(currents[4:], 0.9, 0.7, state=state)
    assert torch.equal(torch.cat([first, second]), whole)


def test_matches_snntorch_leaky():
    import snntorch as snn  # a reference test: fails, never skips, when snnTorch is missing
    g = torch.Generator().manual_seed(3)
    for trial in range(5):
        H = 16
        currents = 1.5 * torch.randn(25, 4, H, generator=g)
        beta = float(torch.rand(1, generator=g)) * 0.99
        threshold = 0.3 + float(torch.rand(1, generator=g)) * 1.5
        leaky = snn.Leaky(beta=beta, threshold=threshold, reset_mechanism="subtract")
        mem = leaky.init_leaky()
        expected = []
        for t in range(currents.shape[0]):
            spk, mem = leaky(currents[t], mem)
            expected.append(spk)
        spikes, _ = LIF(beta, threshold)(currents)
        assert torch.equal(spikes, torch.stack(expected)), f"trial {trial}"


def test_matches_snntorch_reset_zero():
    import snntorch as snn  # a reference test: fails, never skips, when snnTorch is missing
    currents = 1.5 * torch.randn(20, 3, 8, generator=torch.Generator().manual_seed(4))
    leaky = snn.Leaky(beta=0.85, threshold=0.9, reset_mechanism="zero")
    mem = leaky.init_leaky()
    expected = []
    for t in range(currents.shape[0]):
        spk, mem = leaky(currents[t], mem)
        expected.append(spk)
    spikes, _ = LIF(0.85, 0.9, reset_mechanism="zero")(currents)
    assert torch.equal(spikes, torch.stack(expected))


def test_module_returns_membrane_when_asked():
    currents = torch.randn(5, 2, 3)
    spikes, mem, state = LIF(0.5)(currents, record_membrane=True)
    assert spikes.shape == mem.shape == currents.shape
    assert torch.equal(state.mem, mem[-1])


def test_detached_reset_changes_only_gradients():
    currents = torch.randn(8, 2, 3, generator=torch.Generator().manual_seed(0)) * 2
    c1 = currents.clone().requires_grad_(True)
    c2 = currents.clone().requires_grad_(True)
    s1, _ = LIF(0.9, detach_reset=True)(c1)
    s2, _ = LIF(0.9, detach_reset=False)(c2)
    assert torch.equal(s1, s2)
    s1.sum().backward()
    s2.sum().backward()
    assert not torch.allclose(c1.grad, c2.grad)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"beta": 1.5}, "beta"),
        ({"beta": 0.9, "threshold": 0.0}, "threshold"),
        ({"beta": 0.9, "reset_mechanism": "soft"}, "reset_mechanism"),
        ({"beta": 0.9, "surrogate": "relu"}, "surrogate"),
    ],
)
def test_bad_settings_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LIF(**kwargs)


def test_bad_shape_raises():
    with pytest.raises(ValueError, match=r"\[T, B, H\]"):
        LIF(0.9)(torch.randn(4, 3))


def test_leaky_integrate_hand_computed():
    """acc_t = leak * acc_{t-1} + current_t, from a given start; every step returned."""
    from spikeopt.snn.lif import leaky_integrate

    currents = torch.tensor([[1.0], [2.0], [-1.0]], dtype=torch.float64)
    out = leaky_integrate(currents, 0.5, torch.tensor([4.0], dtype=torch.float64))
    # 0.5*4+1 = 3; 0.5*3+2 = 3.5; 0.5*3.5-1 = 0.75
    assert torch.equal(out, torch.tensor([[3.0], [3.5], [0.75]], dtype=torch.float64))
    assert torch.equal(leaky_integrate(currents, 1.0), torch.tensor([[1.0], [3.0], [2.0]], dtype=torch.float64))
