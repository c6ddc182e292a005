"""ModelConfig.delays: 'none', 'auto' (octave delays of the input length) or an explicit list."""

import pytest

from spikeopt.snn.config import ModelConfig


def test_auto_resolves_to_octaves_of_the_input_length():
    cfg = ModelConfig(subnetworks=2, width=3, delays="auto")
    with pytest.raises(ValueError, match="resolved"):
        cfg.build(2, 2, "final")
    net = cfg.resolved(8).build(2, 2, "final")
    assert net.delays == (0, 1, 2, 4)
    assert net.weights[0].shape == (2, 2 * 4, 3)


def test_none_and_explicit_lists():
    assert ModelConfig(subnetworks=1, width=1).build(3, 2, "final").delays == (0,)
    assert ModelConfig(subnetworks=1, width=1, delays="none").resolved(50).delays == [0]
    assert ModelConfig(subnetworks=1, width=1, delays=[3, 0]).resolved(50).build(1, 2, "final").delays == (0, 3)


@pytest.mark.parametrize("bad", ["sometimes", [-1], [1, 1], []])
def test_bad_delays_name_the_field(bad):
    with pytest.raises((ValueError, TypeError), match="delays"):
        ModelConfig(delays=bad)
