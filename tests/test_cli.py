"""The spikeopt command: train writes a complete JSON result; bad input gives a clear error."""

import json

import pytest

from spikeopt.cli import main
from spikeopt.export.checkpoint import load_model

SMALL = ["--subnetworks", "3", "--width", "4", "--epochs", "1", "--no-progress"]


@pytest.mark.parametrize(
    "task_args",
    [
        ["--task", "first-last-xor", "--steps", "4", "--n-train", "100", "--n-val", "40", "--n-test", "40"],
        ["--task", "addition", "--digits", "3", "--n-train", "64", "--n-val", "16", "--n-test", "16",
         "--n-ood", "8", "--ood-factors", "2,5"],
        ["--task", "mnist-seq", "--steps", "4", "--n-train", "100"],
    ],
)
def test_train_writes_result(tmp_path, task_args, capsys):
    out = tmp_path / "r.json"
    assert main(["train", *task_args, "--method", "sg", *SMALL, "--seed", "2", "--out", str(out),
                 "--save", str(tmp_path / "m.pt")]) == 0
    result = json.loads(out.read_text())
    assert result["config"]["seed"] == 2 and result["config"]["model"]["subnetworks"] == 3
    assert {"train", "val", "test"} <= set(result["metrics"])
    assert {"torch", "spikeopt", "numpy"} <= set(result["versions"])
    assert result["timings"]["train_s"] > 0
    model, extra = load_model(tmp_path / "m.pt")
    assert extra["run_config"]["seed"] == 2 and model.subnetworks == 3
    assert "metric" in capsys.readouterr().out


def test_cvx_result_holds_certificate(tmp_path):
    out = tmp_path / "r.json"
    assert main(["train", "--task", "first-last-xor", "--steps", "4", "--n-train", "100", "--n-val", "40",
                 "--n-test", "40", "--method", "cvx", "--subnetworks", "8", "--width", "4", "--reg", "0.01",
                 "--out", str(out)]) == 0
    cert = json.loads(out.read_text())["certificate"]
    assert cert["dual"] <= cert["primal"] and cert["gap"] <= 1e-6


def test_certify_prints_table(capsys):
    assert main(["certify", "--task", "first-last-xor", "--steps", "4", "--n-train", "100", "--n-val", "20",
                 "--n-test", "20", "--width", "4", "--counts", "2,4", "--reg", "0.01"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split()[:3] == ["K", "test", "acc"] and len(lines) == 3


def test_tasks_lists_options(capsys):
    assert main(["tasks"]) == 0
    out = capsys.readouterr().out
    assert "first-last-xor" in out and "--digits" in out and "--data-dir" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--task", "sudoku"], "valid tasks"),
        (["train", "--method", "magic", *SMALL], "valid methods"),
        (["train", "--task", "mnist-seq", "--steps", "7", *SMALL], "divide"),
        (["train", "--task", "first-last-xor", "--n-train", "0", *SMALL], "n_train"),
        (["train", "--config", "/nonexistent.yaml"], "does not exist"),
    ],
)
def test_bad_input_gives_clear_error(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_unknown_command():
    assert main(["fly"]) == 2


def test_sast_flags_reach_the_sast_section(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["train", "--task", "first-last-xor", "--steps", "4", "--n-train", "64", "--n-val", "32",
                 "--n-test", "32", "--method", "sast", "--rho", "0.3", "--epochs", "1", "--subnetworks", "2",
                 "--width", "4", "--no-progress", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["config"]["sast"]["rho"] == 0.3 and result["config"]["sast"]["epochs"] == 1
    assert result["config"]["sg"]["epochs"] == 30  # untouched
    assert "transfer gap" in capsys.readouterr().out
