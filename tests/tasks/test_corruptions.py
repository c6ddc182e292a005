"""Dense input corruptions: Gaussian noise is seeded, additive, keeps labels, and checks its inputs."""

import pytest
import torch

from spikeopt.tasks.base import SequenceData
from spikeopt.tasks.corruptions import corrupt_dense, gaussian_noise


def data(t=4, n=3, f=5):
    x = torch.arange(t * n * f, dtype=torch.float32).reshape(t, n, f) / 10
    return SequenceData(x, torch.arange(n).reshape(n, 1))


def test_zero_std_is_an_unchanged_copy():
    d = data()
    out = gaussian_noise(d, 0.0, seed=3)
    assert torch.equal(out.x, d.x) and torch.equal(out.y, d.y)
    assert out.x is not d.x


def test_noise_is_seeded_and_additive():
    d = data()
    a, b, c = gaussian_noise(d, 0.5, seed=1), gaussian_noise(d, 0.5, seed=1), gaussian_noise(d, 0.5, seed=2)
    assert torch.equal(a.x, b.x)
    assert not torch.equal(a.x, c.x)
    expected = d.x + 0.5 * torch.randn(d.x.shape, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(a.x, expected)
    assert torch.equal(a.y, d.y)


def test_noise_statistics():
    x = torch.zeros(50, 40, 50)
    noise = gaussian_noise(x, 0.3, seed=0)
    assert isinstance(noise, torch.Tensor) and noise.shape == x.shape
    assert abs(noise.mean().item()) < 0.01
    assert noise.std().item() == pytest.approx(0.3, rel=0.02)


def test_corrupt_dense_dispatches_and_validates():
    d = data()
    assert torch.equal(corrupt_dense(d, "gaussian", 0.2, 4).x, gaussian_noise(d, 0.2, 4).x)
    with pytest.raises(ValueError, match="unknown dense corruption"):
        corrupt_dense(d, "blur", 0.2)
    with pytest.raises(TypeError):
        corrupt_dense(d.x, "gaussian", 0.2)


@pytest.mark.parametrize("std", [-0.1, float("nan"), float("inf"), True, "0.1"])
def test_bad_std_raises(std):
    with pytest.raises(ValueError, match="std"):
        gaussian_noise(data(), std)


@pytest.mark.parametrize("seed", [-1, 1.5, True, None])
def test_bad_seed_raises(seed):
    with pytest.raises(ValueError, match="seed"):
        gaussian_noise(data(), 0.1, seed)


def test_integer_tensor_raises():
    with pytest.raises(TypeError, match="floating"):
        gaussian_noise(torch.zeros(2, 2, 2, dtype=torch.int64), 0.1)
