"""The fused LIF rollouts give the same spikes and the same gradients as the generic autograd loop."""

import pytest
import torch

from spikeopt.snn.lif import LIFState, lif_rollout
from spikeopt.snn.surrogate import SURROGATES, heaviside, surrogate


def _data(seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    cur = torch.randn(12, 5, 3, 4, generator=g, dtype=dtype) * 0.8 + 0.3
    beta = torch.rand(3, 4, generator=g, dtype=dtype) * 0.9
    thr = torch.rand(3, 4, generator=g, dtype=dtype) + 0.5
    return cur, beta, thr


@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
def test_nograd_rollout_is_bitwise_equal(reset):
    cur, beta, thr = _data(dtype=torch.float32)
    generic = lambda x: heaviside(x)  # noqa: E731 - an unknown spike fn takes the generic loop
    with torch.no_grad():
        s1, m1, st1 = lif_rollout(cur, beta, thr, reset, heaviside, record_membrane=True)
        s2, m2, st2 = lif_rollout(cur, beta, thr, reset, generic, record_membrane=True)
    assert torch.equal(s1, s2) and torch.equal(m1, m2)
    assert torch.equal(st1.mem, st2.mem) and torch.equal(st1.spk, st2.spk)
    # continuing from a state
    with torch.no_grad():
        a, _, _ = lif_rollout(cur, beta, thr, reset, heaviside, state=st1)
        b, _, _ = lif_rollout(cur, beta, thr, reset, generic, state=st2)
    assert torch.equal(a, b)


@pytest.mark.parametrize("name", SURROGATES)
@pytest.mark.parametrize("reset", ["subtract", "none"])
@pytest.mark.parametrize("detach_reset", [True, False])
def test_custom_backward_matches_autograd(name, reset, detach_reset):
    surr = surrogate(name)
    cur, beta, thr = _data(seed=1)
    g = torch.Generator().manual_seed(2)
    w_spk = torch.randn(cur.shape, generator=g, dtype=cur.dtype)
    w_mem = torch.randn(cur.shape, generator=g, dtype=cur.dtype)
    mem0 = torch.randn(cur.shape[1:], generator=g, dtype=cur.dtype)
    spk0 = (torch.rand(cur.shape[1:], generator=g) > 0.5).to(cur.dtype)
    results = []
    for fn in (surr.spike, lambda x: surr.spike(x)):
        c = cur.clone().requires_grad_(True)
        m0 = mem0.clone().requires_grad_(True)
        s0 = spk0.clone().requires_grad_(True)
        spikes, mems, st = lif_rollout(c, beta, thr, reset, fn, detach_reset, LIFState(m0, s0), True)
        loss = (spikes * w_spk).sum() + (mems * w_mem).sum() + 0.7 * st.mem.sum() + 0.3 * st.spk.sum()
        loss.backward()
        results.append((spikes.detach(), mems.detach(), c.grad, m0.grad, s0.grad))
    fused, generic = results
    assert torch.equal(fused[0], generic[0]) and torch.equal(fused[1], generic[1])
    for a, b in zip(fused[2:], generic[2:]):
        if b is None or not b.abs().any():
            assert a is None or not a.abs().any()
        else:
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_fused_is_used_in_network_training():
    from spikeopt.snn.network import ParallelLIFSNN

    net = ParallelLIFSNN(3, 2, subnetworks=4, width=5, depth=2, seed=0)
    x = torch.rand(6, 7, 3)
    out, _ = net(x)
    assert "LIFRollout" in type(net.hidden(x)[0].grad_fn).__name__ or net.hidden(x)[0].grad_fn is not None
    out.sum().backward()
    assert all(p.grad is not None for p in net.hidden_parameters())


@pytest.mark.parametrize("detach_reset", [True, False])
def test_custom_backward_final_step_only(detach_reset):
    """A final-step readout: the spikes of all earlier steps get no gradient (the skip path)."""
    surr = surrogate("atan")
    cur, beta, thr = _data(seed=4)
    w = torch.randn(cur.shape[1:], generator=torch.Generator().manual_seed(5), dtype=cur.dtype)
    grads = []
    for fn in (surr.spike, lambda x: surr.spike(x)):
        c = cur.clone().requires_grad_(True)
        spikes, _, _ = lif_rollout(c, 0.85, thr, "subtract", fn, detach_reset)
        (spikes[-1] * w).sum().backward()
        grads.append(c.grad)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-10, atol=1e-12)
    assert grads[0][:-1].abs().sum() > 0
