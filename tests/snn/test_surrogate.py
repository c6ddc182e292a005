"""Surrogate spikes: Heaviside forward, backward = derivative of the smooth step."""

import pytest
import torch

from spikeopt.snn.surrogate import SURROGATES, surrogate


@pytest.mark.parametrize("name", SURROGATES)
@pytest.mark.parametrize("slope", [None, 3.0])
def test_backward_is_derivative_of_smooth_function(name, slope):
    sur = surrogate(name, slope)
    # avoid the kinks of the piecewise surrogates
    x = torch.linspace(-2.0, 2.0, 401, dtype=torch.float64)
    kinks = torch.tensor([0.0, 1.0 / sur.slope, -1.0 / sur.slope, 0.5 / sur.slope, -0.5 / sur.slope], dtype=torch.float64)
    x = x[(x.unsqueeze(1) - kinks).abs().min(1).values > 1e-3]
    x.requires_grad_(True)
    out = sur.spike(x)
    assert torch.equal(out.detach(), (x.detach() > 0).double())
    (grad,) = torch.autograd.grad(out.sum(), x)
    h = 1e-6
    numeric = (sur.smooth(x.detach() + h) - sur.smooth(x.detach() - h)) / (2 * h)
    assert torch.allclose(grad, numeric, atol=1e-6)


@pytest.mark.parametrize("name", SURROGATES)
def test_smooth_function_is_a_step(name):
    sur = surrogate(name)
    x = torch.tensor([-1e3, 0.0, 1e3], dtype=torch.float64)
    f = sur.smooth(x)
    assert f[0] == pytest.approx(0.0, abs=1e-3) and f[1] == pytest.approx(0.5) and f[2] == pytest.approx(1.0, abs=1e-3)


def test_atan_matches_snntorch_gradient():
    import snntorch as snn  # a reference test: fails, never skips, when snnTorch is missing
    x = torch.linspace(-3, 3, 101, requires_grad=True)
    ours = torch.autograd.grad(surrogate("atan").spike(x).sum(), x)[0]
    x2 = x.detach().clone().requires_grad_(True)
    theirs = torch.autograd.grad(snn.surrogate.atan(alpha=2.0)(x2).sum(), x2)[0]
    assert torch.allclose(ours, theirs, atol=1e-6)


def test_unknown_surrogate_lists_valid_names():
    with pytest.raises(ValueError, match="atan"):
        surrogate("relu")


@pytest.mark.parametrize("slope", [0.0, -1.0, float("nan")])
def test_bad_slope_raises(slope):
    with pytest.raises(ValueError, match="slope"):
        surrogate("atan", slope)
