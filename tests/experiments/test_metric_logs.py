"""Training curves as CSV beside the JSON result, for every method that has curves."""

from __future__ import annotations

import csv
import importlib.util
import json

import pytest

from spikeopt.cli import main
from spikeopt.experiments.metric_logs import metric_tables

TINY = ["--task", "first-last-xor", "--steps", "4", "--n-train", "64", "--n-val", "32", "--n-test", "32",
        "--subnetworks", "2", "--width", "4", "--no-progress"]


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("method,extra,tables", [
    ("sg", ["--epochs", "2"], {"sg"}),
    ("sg-sg", ["--epochs", "1", "--ft-epochs", "1"], {"sg", "finetune"}),
    ("sast", ["--epochs", "1"], {"sast"}),
    ("admm", ["--admm-iterations", "3", "--subnetworks", "1"], {"admm"}),
    ("cvx", ["--reg", "0.05,0.01"], {"path"}),
])
def test_train_writes_one_csv_per_curve(tmp_path, method, extra, tables):
    out = tmp_path / "r.json"
    assert main(["train", *TINY, "--method", method, *extra, "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    written = {p.name for p in tmp_path.glob("r.*.csv")}
    assert written == {f"r.{t}.csv" for t in tables}
    for t in tables:
        rows = _rows(tmp_path / f"r.{t}.csv")
        if t == "path":
            expected = result["path"]
            assert [float(r["reg"]) for r in rows] == pytest.approx([p["reg"] for p in expected])
            assert [float(r["val_accuracy"]) for r in rows] == pytest.approx([p["val"]["accuracy"] for p in expected])
        elif t == "admm":
            assert [int(r["iteration"]) for r in rows] == result["admm"]["iteration"]
            assert [float(r["z_residual_0"]) for r in rows] == pytest.approx([z[0] for z in result["admm"]["z_residual"]])
        else:
            records = result["history"][t]["records"]
            assert [int(r["epoch"]) for r in rows] == [r["epoch"] for r in records]
            key = next(k for k in records[-1] if k.startswith("val_"))
            assert float(rows[-1][key]) == pytest.approx(records[-1][key])


def test_flattening_by_hand():
    result = {"history": {"sg": {"records": [{"epoch": 0, "train_loss": None, "val": {"acc": 0.5}}]}},
              "admm": {"iteration": [0, 1], "z_residual": [[1.0, 2.0], [3.0, 4.0]], "config": {"rho": 1}},
              "path": [{"reg": 0.1, "train": {"accuracy": 0.9}}]}
    assert metric_tables(result) == {
        "sg": [{"epoch": 0, "train_loss": None, "val_acc": 0.5}],
        "admm": [{"iteration": 0, "z_residual_0": 1.0, "z_residual_1": 2.0},
                 {"iteration": 1, "z_residual_0": 3.0, "z_residual_1": 4.0}],
        "path": [{"reg": 0.1, "train_accuracy": 0.9}],
    }


def test_tensorboard_is_optional(tmp_path, capsys):
    argv = ["train", *TINY, "--method", "sg", "--epochs", "1", "--out", str(tmp_path / "r.json"),
            "--tensorboard", str(tmp_path / "tb")]
    if importlib.util.find_spec("tensorboard") is None:
        assert main(argv) == 2  # refused before training, with the way out
        assert "pip install tensorboard" in capsys.readouterr().err
        assert not (tmp_path / "r.json").exists()
    else:
        assert main(argv) == 0
        assert any((tmp_path / "tb").iterdir())
