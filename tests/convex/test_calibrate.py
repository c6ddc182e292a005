"""Calibrated witnesses: each neuron's firing statistic lands in the band, checked by a naive LIF loop."""

import numpy as np
import pytest
import torch

from spikeopt.convex.calibrate import calibrated_witnesses, leak_weights
from spikeopt.convex.witnesses import gaussian_witnesses
from spikeopt.snn.config import ModelConfig


@pytest.mark.parametrize("statistic", ["final", "integrate"])
@pytest.mark.parametrize("depth", [1, 2])
def test_every_neuron_fires_inside_the_band(statistic, depth, naive_spikes, series):
    x = series()
    band = (0.1, 0.9)
    net, record = calibrated_witnesses(
        x, ModelConfig(subnetworks=3, width=8, depth=depth), statistic, band, calibration_samples=96, seed=1
    )
    spikes = naive_spikes(net, x)
    stat = spikes[-1].mean(0) if statistic == "final" else spikes.mean((0, 1))
    slack = 2.0 / x.shape[1]  # float32 vs float64 rounding may flip a borderline spike or two
    assert record["layers"][-1]["outside_band"] == 0
    assert (stat >= band[0] - slack).all() and (stat <= band[1] + slack).all()
    assert record["calibration_samples"] == 96 and record["statistic"] == statistic


@pytest.mark.parametrize("delays", [[0, 1, 2, 4], "auto"])
def test_witnesses_see_the_models_delay_line(delays, naive_spikes, series):
    """The calibrated network has the config's delays and is calibrated through them (spikes of a
    naive loop fed a hand-built delay line land in the band)."""
    x = series(steps=16)
    band = (0.1, 0.9)
    net, record = calibrated_witnesses(x, ModelConfig(subnetworks=3, width=8, delays=delays), "integrate", band,
                                       calibration_samples=96, seed=2)
    assert list(net.delays) == [0, 1, 2, 4, 8] if delays == "auto" else list(net.delays) == delays
    assert net.weights[0].shape[1] == x.shape[2] * len(net.delays)
    stat = naive_spikes(net, x).mean((0, 1))
    slack = 2.0 / x.shape[1]
    assert record["layers"][0]["outside_band"] == 0
    assert (stat >= band[0] - slack).all() and (stat <= band[1] + slack).all()


def test_time_constants_span_one_step_to_the_sequence(series):
    x = series(steps=50)
    net, _ = calibrated_witnesses(x, ModelConfig(subnetworks=16, width=32), seed=0)
    tau = -1.0 / torch.log(net.beta.double())
    assert tau.min() >= 1.0 - 1e-4 and tau.max() <= 50.0 + 1e-3
    # log-uniform: about a quarter of the neurons below 50^(1/4)
    frac = (tau < 50 ** 0.25).double().mean().item()
    assert 0.18 < frac < 0.32


def test_targets_spread_over_the_band(naive_spikes, series):
    x = series(n=128)
    net, _ = calibrated_witnesses(x, ModelConfig(subnetworks=8, width=16), band=(0.05, 0.95), calibration_samples=128)
    stat = naive_spikes(net, x)[-1].mean(0).numpy()
    assert stat.std() > 0.2  # uniform on [0.05, 0.95] has std 0.26; a single target would give ~0


def test_seeded(series):
    x = series()
    a, ra = calibrated_witnesses(x, ModelConfig(subnetworks=2, width=4), seed=3)
    b, rb = calibrated_witnesses(x, ModelConfig(subnetworks=2, width=4), seed=3)
    c, _ = calibrated_witnesses(x, ModelConfig(subnetworks=2, width=4), seed=4)
    assert torch.equal(a.weights[0], b.weights[0]) and torch.equal(a.biases[0], b.biases[0]) and ra == rb
    assert not torch.equal(a.weights[0], c.weights[0])


def test_calibrated_witnesses_are_rarely_silent_where_gaussian_ones_often_are(naive_spikes, series):
    x = series(n=200, steps=40) * 0.3  # weak inputs: Gaussian biases leave many neurons below threshold
    model = ModelConfig(subnetworks=8, width=16)
    gauss = naive_spikes(gaussian_witnesses(2, model, seed=0), x)[-1].mean(0)
    calib = naive_spikes(calibrated_witnesses(x, model, seed=0)[0], x)[-1].mean(0)
    assert (gauss == 0).double().mean() > 0.3
    assert (calib == 0).double().mean() == 0


def test_leak_weights_are_normalised_powers():
    w = leak_weights(4, 0.5).numpy()
    expected = np.array([0.125, 0.25, 0.5, 1.0]) / 1.875
    assert np.allclose(w, expected)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"statistic": "mean"}, "statistic"),
        ({"band": (0.5, 0.2)}, "band"),
        ({"band": (0.0, 0.5)}, "band"),
        ({"iterations": 0}, "iterations"),
        ({"rounds": -1}, "rounds"),
        ({"scale": 0.0}, "scale"),
    ],
)
def test_bad_arguments_are_named(kwargs, match, series):
    with pytest.raises(ValueError, match=match):
        calibrated_witnesses(series(), ModelConfig(subnetworks=1, width=2), **kwargs)


def test_reset_other_than_subtract_is_refused(series):
    with pytest.raises(ValueError, match="reset_mechanism"):
        calibrated_witnesses(series(), ModelConfig(subnetworks=1, width=2, reset_mechanism="zero"))


@pytest.mark.parametrize("statistic", ["final", "integrate"])
@pytest.mark.parametrize("shape", [(1, 1, 1), (9, 7, 5), (30, 40, 130)])
def test_compiled_statistic_equals_a_naive_step_loop_bit_for_bit(statistic, shape, monkeypatch):
    """The bisection's firing statistic (numba) against ``lif_step`` one step at a time, float32, with
    spikes and resets exercised; and the fallback without numba is that loop itself."""
    from spikeopt.convex import calibrate, kernels
    from spikeopt.snn.lif import lif_step, zero_state

    g = torch.Generator().manual_seed(sum(shape))
    steps, n, s = shape
    drive = torch.randn(steps, n, s, generator=g) * 1.5
    bias = torch.randn(s, generator=g) * 0.3
    beta = torch.rand(s, generator=g) * 0.6 + 0.3
    weights = leak_weights(steps, 0.8, torch.float32)
    state, acc = zero_state(drive[0]), torch.zeros_like(drive[0])
    for t in range(steps):
        state = lif_step(drive[t] + bias, state, beta, 0.7)
        acc += weights[t] * state.spk
    ref = (state.spk if statistic == "final" else acc).mean(0)
    if s > 1:
        assert 0 < ref.mean() < 1
    assert torch.equal(calibrate._statistic(drive, bias, beta, 0.7, statistic, weights), ref)
    monkeypatch.setattr(kernels, "HAVE_NUMBA", False)
    assert torch.equal(calibrate._statistic(drive, bias, beta, 0.7, statistic, weights), ref)
