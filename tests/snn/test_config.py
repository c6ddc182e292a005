"""ModelConfig.readout: None keeps the task's readout; 'integrate' / 'final' override it for every method."""

import pytest
import torch

from spikeopt.snn.config import ModelConfig


def test_none_keeps_the_task_readout():
    cfg = ModelConfig(subnetworks=2, width=3)
    assert cfg.build(2, 3, "final").readout == "final"
    assert cfg.build(2, 3, "per_step").readout == "per_step"


def test_integrate_overrides_a_final_task_and_carries_the_leak():
    net = ModelConfig(subnetworks=2, width=3, readout="integrate", readout_leak=0.5).build(2, 3, "final", seed=0)
    assert net.readout == "integrate" and net.readout_leak == 0.5
    x = torch.rand(4, 5, 2)
    out, _ = net(x)
    h = net.hidden_spikes(x)
    expected = sum(0.5 ** (3 - t) * net.read(h[t]) for t in range(4))
    assert torch.allclose(out, expected, atol=1e-6)


def test_per_step_tasks_refuse_an_override():
    with pytest.raises(ValueError, match="per-step task"):
        ModelConfig(readout="integrate").build(2, 3, "per_step")
    with pytest.raises(ValueError, match="per-step task"):
        ModelConfig(readout="per_step").build(2, 3, "final")


def test_unknown_readout_is_named():
    with pytest.raises(ValueError, match="unknown model readout 'mean'"):
        ModelConfig(readout="mean")


def test_network_settings_leave_out_the_readout_choice():
    settings = ModelConfig(readout="integrate").network_settings()
    assert "readout" not in settings and "readout_leak" not in settings and settings["width"] == 32
