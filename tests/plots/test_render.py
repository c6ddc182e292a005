"""Every plot kind renders a real picture, from Python and from ``spikeopt plot``."""

from __future__ import annotations

import json

import matplotlib  # imported directly: with the test extra installed this fails, never skips
import numpy as np
import pytest
import torch

from spikeopt.cli import main
from spikeopt.export import save_model
from spikeopt.plots.dictionary import atom_rates, plot_dictionary
from spikeopt.plots.raster import plot_raster
from spikeopt.plots.solver_path import plot_solver_path
from spikeopt.snn.network import ParallelLIFSNN

TASK = {"name": "first-last-xor", "steps": 6, "n_train": 40, "n_val": 20, "n_test": 20}
SUMMARY = {"layout": "final", "rows": 40, "raw_columns": 100, "zero_columns": 10, "saturated_columns": 5,
           "rejected_constant": 15, "duplicate_columns": 20, "near_duplicate_columns": 5, "surplus_columns": 0,
           "atoms": 50, "blocks": 1}
PATH = [{"reg": r, "primal": 0.7 - 0.1 * i, "dual": 0.7 - 0.1 * i - 1e-7, "gap": 1e-7 * (i + 1), "active_atoms": 3 * i,
         "train": {"accuracy": 0.6 + 0.05 * i}, "val": {"accuracy": 0.55 + 0.05 * i}, "selected": i == 3}
        for i, r in enumerate([1e-2, 5e-3, 2e-3, 1e-3, 5e-4])]


def _picture(path) -> np.ndarray:
    """The PNG as pixels; fails on a blank or one-colour image."""
    img = matplotlib.image.imread(path)
    assert img.ndim == 3 and img.shape[0] > 200 and img.shape[1] > 300
    assert len(np.unique(img.reshape(-1, img.shape[-1]), axis=0)) > 20
    return img


def _net(depth=2, delays=(0, 1)) -> ParallelLIFSNN:
    return ParallelLIFSNN(1, 2, subnetworks=3, width=5, depth=depth, delays=delays, init_scale=3.0, seed=0)


def test_raster(tmp_path):
    x = torch.rand(30, 4, 1)
    _picture(plot_raster(_net(), x, tmp_path / "r.png", sample=2, max_neurons=10, title="t"))
    with pytest.raises(ValueError, match="sample"):
        plot_raster(_net(), x, tmp_path / "r.png", sample=4)
    with pytest.raises(ValueError, match="max_neurons"):
        plot_raster(_net(), x, tmp_path / "r.png", max_neurons=0)


def test_dictionary_with_and_without_rates(tmp_path):
    rates = np.linspace(0.05, 0.9, 50)
    _picture(plot_dictionary(SUMMARY, tmp_path / "d.png", rates=rates, active_rates=rates[::5]))
    _picture(plot_dictionary(SUMMARY, tmp_path / "d2.png"))
    with pytest.raises(ValueError, match="raw_columns"):
        plot_dictionary({}, tmp_path / "d3.png")


def test_atom_rates_by_hand():
    binary = np.array([[1, 0], [1, 1], [0, 0], [1, 0]], dtype=np.uint8)
    np.testing.assert_allclose(atom_rates(binary, "final", steps=5), [0.75, 0.25])
    counts = np.array([[3.0], [1.0]])  # spike counts over T = 4 steps, no leak
    np.testing.assert_allclose(atom_rates(counts, "integrate", steps=4), [0.5])
    np.testing.assert_allclose(atom_rates(counts, "integrate", steps=2, leak=0.5), [2.0 / 1.5])
    with pytest.raises(ValueError, match="layout"):
        atom_rates(counts, "nope", steps=2)


def test_solver_path(tmp_path):
    _picture(plot_solver_path(PATH, tmp_path / "p.png", title="t"))
    with pytest.raises(ValueError, match="lacks"):
        plot_solver_path([{"reg": 1.0}], tmp_path / "p.png")
    with pytest.raises(ValueError, match="non-empty"):
        plot_solver_path([], tmp_path / "p.png")


def test_cli_plots_every_kind(tmp_path, capsys):
    net = ParallelLIFSNN(1, 2, subnetworks=3, width=5, depth=1, init_scale=3.0, seed=0)
    with torch.no_grad():
        net.output.weight[:, 5:] = 0.0  # subnetworks 1 and 2 are not read: 5 active atoms
    save_model(net, tmp_path / "m.pt", {"task": TASK})
    records = [{"epoch": e, "train_loss": 1.0 / (e + 1) if e else None, "val_accuracy": 0.5 + 0.1 * e} for e in range(4)]
    result = {"method": "cvx", "seed": 0, "task": TASK, "metrics": {"val": {"accuracy": 0.8}},
              "dictionary": SUMMARY, "path": PATH, "model_path": str(tmp_path / "m.pt"),
              "history": {"sg": {"records": records}}}
    (tmp_path / "r.json").write_text(json.dumps(result))
    for kind, source in (("raster", "m.pt"), ("dictionary", "r.json"), ("path", "r.json"), ("curves", "r.json")):
        out = tmp_path / f"{kind}.png"
        assert main(["plot", kind, str(tmp_path / source), "--out", str(out)]) == 0, capsys.readouterr().err
        _picture(out)
    assert main(["plot", "raster", str(tmp_path / "m.pt"), "--out", str(tmp_path / "x.png"), "--split", "nope"]) == 2
    assert "--split" in capsys.readouterr().err
    (tmp_path / "empty.json").write_text("{}")
    assert main(["plot", "path", str(tmp_path / "empty.json"), "--out", str(tmp_path / "x.png")]) == 2
    assert "convex result" in capsys.readouterr().err
