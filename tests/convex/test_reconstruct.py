"""Reconstructed networks reproduce the convex predictor on the training inputs."""

import numpy as np
import pytest
import torch

from spikeopt.convex.dictionary import build_dictionary
from spikeopt.convex.reconstruct import reconstruct
from spikeopt.convex.solver import solve
from spikeopt.convex.witnesses import gaussian_witnesses
from spikeopt.snn.config import ModelConfig
from spikeopt.tasks.base import Head


@pytest.mark.parametrize("merge", [True, False])
def test_network_equals_convex_predictions_final(merge):
    torch.manual_seed(0)
    net = gaussian_witnesses(1, ModelConfig(subnetworks=16, width=4, depth=2), scale=2.0, seed=0).double()
    x = (torch.rand(6, 120, 1, dtype=torch.float64) > 0.5).double()
    y = (x[0, :, 0] != x[-1, :, 0]).long().numpy()
    d = build_dictionary(net, x, "final")
    sol = solve(d.atoms, y, 1e-3, loss="cross_entropy", intercept=True)
    rebuilt, report = reconstruct(net, d, sol.coef, sol.intercept, "final", merge=merge)
    out, _ = rebuilt(x)
    assert np.allclose(out.detach().numpy(), sol.predict(d.atoms), atol=1e-10)
    assert report.active_atoms == len(sol.active) > 0
    assert report.subnetworks <= report.active_atoms if merge else report.subnetworks == report.active_atoms
    assert report.caratheodory_bound == 120 * 2 + 1


def test_network_equals_convex_predictions_trajectory_multihead():
    net = gaussian_witnesses(3, ModelConfig(subnetworks=12, width=4), scale=2.0, seed=1).double()
    x = torch.rand(5, 30, 3, dtype=torch.float64)
    y = torch.stack([torch.randint(0, 3, (5, 30)), torch.randint(0, 2, (5, 30))], -1)
    d = build_dictionary(net, x, "trajectory")
    heads = [Head("sum", 3), Head("carry", 2, 0.5)]
    sol = solve(d.atoms, y.reshape(-1, 2).numpy(), 1e-3, loss=heads)
    rebuilt, _ = reconstruct(net, d, sol.coef, sol.intercept, "per_step")
    out, _ = rebuilt(x)
    assert np.allclose(out.detach().reshape(-1, 5).numpy(), sol.predict(d.atoms), atol=1e-10)


def test_all_zero_solution_builds_a_silent_network():
    net = gaussian_witnesses(1, ModelConfig(subnetworks=2, width=3), seed=0)
    d = build_dictionary(net, torch.rand(3, 10, 1), "final")
    rebuilt, report = reconstruct(net, d, np.zeros((d.n_atoms, 2)), np.array([0.5, -0.5]), "final")
    out, _ = rebuilt(torch.rand(3, 4, 1))
    assert report.active_atoms == 0 and torch.allclose(out, torch.tensor([[0.5, -0.5]] * 4))


def test_wrong_coef_shape_raises():
    net = gaussian_witnesses(1, ModelConfig(subnetworks=2, width=3), seed=0)
    d = build_dictionary(net, torch.rand(3, 10, 1), "final")
    with pytest.raises(ValueError, match="rows"):
        reconstruct(net, d, np.zeros((d.n_atoms + 1, 2)), None, "final")


@pytest.mark.parametrize("leak", [1.0, 0.8])
def test_integrate_reconstruction_equals_convex_predictions_over_several_blocks(leak):
    from spikeopt.convex.calibrate import calibrated_witnesses
    from spikeopt.convex.dictionary_fill import fill_dictionary

    g = torch.Generator().manual_seed(0)
    x = torch.randn(12, 90, 2, generator=g, dtype=torch.float64).cumsum(0) / 3
    y = (x[-1, :, 0] > x[0, :, 0]).long().numpy()
    model = ModelConfig(subnetworks=3, width=4, depth=2)

    def sample(b):
        return calibrated_witnesses(x.float(), model, "integrate", readout_leak=leak, seed=b)[0].double()

    d, net = fill_dictionary(sample, x, 40, "integrate", leak=leak)
    assert d.blocks >= 4 and d.atoms.dtype == np.float64
    sol = solve(d.atoms, y, 1e-3, loss="cross_entropy", intercept=True)
    rebuilt, report = reconstruct(net, d, sol.coef, sol.intercept, "integrate")
    assert rebuilt.readout == "integrate" and rebuilt.readout_leak == leak
    out, _ = rebuilt(x)
    assert report.active_atoms > 0
    assert np.allclose(out.detach().numpy(), sol.predict(d.atoms), atol=1e-10)


def test_final_reconstruction_over_several_blocks():
    from spikeopt.convex.dictionary_fill import fill_dictionary

    x = torch.rand(6, 100, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    y = (x[:, :, 0].sum(0) > 3).long().numpy()
    d, net = fill_dictionary(
        lambda b: gaussian_witnesses(3, ModelConfig(subnetworks=2, width=5), scale=2.0, seed=b).double(), x, 30
    )
    sol = solve(d.atoms, y, 1e-3, loss="cross_entropy", intercept=True)
    rebuilt, _ = reconstruct(net, d, sol.coef, sol.intercept, "final")
    out, _ = rebuilt(x)
    assert np.allclose(out.detach().numpy(), sol.predict(d.atoms), atol=1e-10)


def test_layout_and_readout_must_agree():
    net = gaussian_witnesses(1, ModelConfig(subnetworks=2, width=3), scale=2.0, seed=0)
    x = torch.rand(4, 20, 1)
    d = build_dictionary(net, x, "final")
    with pytest.raises(ValueError, match="readout='final'"):
        reconstruct(net, d, np.zeros((d.n_atoms, 2)), None, "integrate")


def _naive_lif_spikes(x, w, b, beta, theta):
    """Spike trains [T, N, S] of S independent subtract-reset LIF neurons, one loop step at a time."""
    u = torch.zeros(x.shape[1], w.shape[1], dtype=x.dtype)
    s = torch.zeros_like(u)
    out = []
    for t in range(x.shape[0]):
        u = beta * u + x[t] @ w + b - s * theta
        s = (u > theta).to(x.dtype)
        out.append(s)
    return torch.stack(out)


@pytest.mark.parametrize("layout,readout", [("final", "final"), ("integrate", "integrate")])
def test_packed_depth1_network_keeps_only_the_active_neurons_and_computes_the_same(layout, readout):
    from spikeopt.convex.calibrate import calibrated_witnesses
    from spikeopt.convex.dictionary_fill import fill_dictionary

    g = torch.Generator().manual_seed(3)
    x = torch.randn(10, 150, 2, generator=g, dtype=torch.float64).cumsum(0) / 3
    y = ((x[-1, :, 0] > x[0, :, 0]).long() + (x[:, :, 1].mean(0) > 0).long()).numpy()  # 3 classes
    model = ModelConfig(subnetworks=4, width=8, delays=(0, 1, 3))
    stat = "final" if layout == "final" else "integrate"

    def sample(blk):
        return calibrated_witnesses(x.float(), model, stat, seed=blk)[0].double()

    d, net = fill_dictionary(sample, x, 120, layout)
    sol = solve(d.atoms, y, 2e-3, loss="cross_entropy", intercept=True)
    packed, report = reconstruct(net, d, sol.coef, sol.intercept, readout)
    whole, whole_report = reconstruct(net, d, sol.coef, sol.intercept, readout, pack=False)
    active = len(sol.active)
    assert report.active_atoms == whole_report.active_atoms == active > 8
    assert packed.subnetworks == report.subnetworks == -(-active // 8) < whole.subnetworks
    assert packed.width == 8 and packed.delays == net.delays
    # the same outputs as the convex predictor on the training rows, and as the whole network on new inputs
    assert np.allclose(packed(x)[0].detach().numpy(), sol.predict(d.atoms), atol=1e-10)
    fresh = torch.randn(10, 40, 2, generator=g, dtype=torch.float64).cumsum(0) / 3
    assert torch.allclose(packed(fresh)[0], whole(fresh)[0], atol=1e-10)
    # the kept neurons are the active atoms' witness neurons (a naive loop on the delayed input) and
    # the padding neurons never spike
    k, j = (torch.as_tensor(c) for c in d.source[sol.active].T)
    w0, b0 = net.weights[0].detach(), net.biases[0].detach()
    taps = net.delayed(fresh)[0]
    want = _naive_lif_spikes(taps, w0[k, :, j].T, b0[k, j], net.beta[0, k, j], net.threshold[0, k, j])
    got = packed.hidden_spikes(fresh).flatten(-2)
    assert torch.equal(got[..., :active], want)
    assert not got[..., active:].any()


def test_pack_keeps_whole_subnetworks_at_depth_two():
    net = gaussian_witnesses(1, ModelConfig(subnetworks=16, width=4, depth=2), scale=2.0, seed=0).double()
    x = (torch.rand(6, 120, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) > 0.5).double()
    y = (x[0, :, 0] != x[-1, :, 0]).long().numpy()
    d = build_dictionary(net, x, "final")
    sol = solve(d.atoms, y, 1e-3, loss="cross_entropy", intercept=True)
    packed, _ = reconstruct(net, d, sol.coef, sol.intercept, "final", pack=True)
    whole, _ = reconstruct(net, d, sol.coef, sol.intercept, "final", pack=False)
    assert packed.subnetworks == whole.subnetworks == len(np.unique(d.source[sol.active, 0]))
    assert torch.equal(packed(x)[0], whole(x)[0])
