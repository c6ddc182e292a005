"""Saved models load back with the same weights, buffers and behaviour."""

import pytest
import torch

from spikeopt.export.checkpoint import load_model, save_model
from spikeopt.snn.network import ParallelLIFSNN


def test_round_trip(tmp_path):
    beta = torch.rand(2, 3, 4)
    net = ParallelLIFSNN(2, 5, subnetworks=3, width=4, depth=2, beta=beta, readout="per_step",
                         surrogate="triangle", slope=2.0, seed=0)
    path = save_model(net, tmp_path / "m.pt", {"note": "x"})
    loaded, extra = load_model(path)
    assert extra == {"note": "x"}
    assert loaded.config() == net.config()
    x = torch.rand(6, 3, 2)
    assert torch.equal(loaded(x)[0], net(x)[0])
    assert torch.equal(loaded.beta, net.beta)


def test_missing_and_foreign_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "nope.pt")
    torch.save({"a": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a spikeopt model"):
        load_model(tmp_path / "other.pt")
