"""The in-place surrogate derivatives equal the library's own ``Surrogate.derivative`` bit for bit."""

import pytest
import torch

from spikeopt.snn.surrogate import SURROGATES, surrogate
from spikeopt.snn.surrogate_into import derivative_into


@pytest.mark.parametrize("name", SURROGATES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("slope", [None, 0.7])
def test_equals_surrogate_derivative(name, dtype, slope):
    surr = surrogate(name, slope)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 50, generator=g, dtype=dtype) * 2
    x[0, :5] = torch.tensor([0.0, 0.5, -0.5, 1.0, -1.0], dtype=dtype) / surr.slope  # kink points
    out, scratch = torch.empty_like(x), torch.empty_like(x)
    got = derivative_into(surr, x, out, scratch)
    assert got is out
    expected = surr.derivative(x)
    assert torch.equal(got, expected), (got - expected).abs().max()
