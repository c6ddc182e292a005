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


def _saved(tmp_path):
    net = ParallelLIFSNN(2, 3, subnetworks=2, width=4, seed=0)
    return net, save_model(net, tmp_path / "m.pt", {"run_config": {"seed": 0}})


@pytest.mark.parametrize("damage, message", [
    (lambda b: b[: len(b) // 2], "truncated or damaged spikeopt checkpoint"),
    (lambda b: b[:100], "truncated or damaged spikeopt checkpoint"),
    (lambda b: bytes(range(256)) * 4, "not a spikeopt checkpoint"),
    (lambda b: b"", "not a spikeopt checkpoint"),
    (lambda b: b"hello world\n", "not a spikeopt checkpoint"),
])
def test_damaged_files_say_so_without_unsafe_advice(tmp_path, damage, message):
    _, path = _saved(tmp_path)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(damage(path.read_bytes()))
    with pytest.raises(ValueError) as err:
        load_model(bad)
    text = str(err.value)
    assert message in text and str(bad) in text
    assert "weights_only" not in text and "False" not in text  # never advise unsafe loading
    assert err.value.__cause__ is None and (err.value.__context__ is None or err.value.__suppress_context__)


def test_other_version_or_config_says_what_differs(tmp_path):
    net, path = _saved(tmp_path)
    payload = torch.load(path, weights_only=True)
    newer = dict(payload, format="spikeopt.ParallelLIFSNN/2", spikeopt_version="9.0")
    torch.save(newer, tmp_path / "newer.pt")
    with pytest.raises(ValueError, match=r"'spikeopt.ParallelLIFSNN/2' checkpoint written by spikeopt 9.0"):
        load_model(tmp_path / "newer.pt")
    unknown = dict(payload, config={**payload["config"], "gain": 2.0})
    torch.save(unknown, tmp_path / "unknown.pt")
    with pytest.raises(ValueError, match=r"config fields \['gain'\]"):
        load_model(tmp_path / "unknown.pt")
    wider = dict(payload, config={**payload["config"], "width": 5})
    torch.save(wider, tmp_path / "wider.pt")
    with pytest.raises(ValueError, match=r"weights.0 \(2, 2, 4\) \(config says \(2, 2, 5\)\)"):
        load_model(tmp_path / "wider.pt")
    with pytest.raises(ValueError, match="width: checkpoint 4, expected 8; readout: checkpoint 'final', expected"):
        load_model(path, expect={"width": 8, "readout": "per_step", "subnetworks": 2})
    model, extra = load_model(path, expect={"width": 4})
    assert extra == {"run_config": {"seed": 0}} and torch.equal(model.weights[0], net.weights[0])


def test_a_folder_is_not_a_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="it is a folder"):
        load_model(tmp_path)
