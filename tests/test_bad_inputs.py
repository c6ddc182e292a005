"""The bad-input matrix of issue 14: for the CLI and the Python API, each bad input gives the exact
kind of error with a message that says what is wrong, and nothing is half-written.

CLI cases run in-process in an empty working folder that holds only the fixtures below; after the
command the folder must hold exactly what it held before (no result, no model, no folder).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from spikeopt.cli import main
from spikeopt.experiments.config import ConfigError, RunConfig
from spikeopt.experiments.store import RunRecord, Store
from spikeopt.export.checkpoint import load_model, save_model
from spikeopt.snn.network import ParallelLIFSNN
from spikeopt.tasks.idx import write_idx
from spikeopt.tasks.mnist_seq import MnistSeq
from spikeopt.train.admm import ADMMConfig

XOR = ["--task", "first-last-xor", "--steps", "4", "--n-train", "64", "--n-val", "32", "--n-test", "32"]
SMALL = [*XOR, "--subnetworks", "2", "--width", "4", "--epochs", "1", "--no-progress"]


def _fixtures(folder: Path) -> None:
    (folder / "afile").write_text("x")
    (folder / "adir").mkdir()
    (folder / "malformed.yaml").write_text("sg:\n  lr: [1\n")
    (folder / "float-epochs.yaml").write_text("sg:\n  epochs: 2.5\n")
    (folder / "notes.sqlite").write_text("plain text, not a database\n")
    with Store(folder / "runs.sqlite") as store:
        store.put(RunRecord("k", "s", "ok", {"task": "first-last-xor", "method": "sg", "seed": 0},
                            {"test": {"accuracy": 1.0}}))
    rng = np.random.default_rng(0)
    idx = folder / "idx"
    idx.mkdir()
    labels = rng.integers(0, 10, 40).astype(np.uint8)
    labels[5] = 200
    write_idx(idx / "train-images-idx3-ubyte", rng.integers(0, 256, (40, 4, 4), dtype=np.uint8))
    write_idx(idx / "train-labels-idx1-ubyte", labels)
    write_idx(idx / "t10k-images-idx3-ubyte", rng.integers(0, 256, (10, 4, 4), dtype=np.uint8))
    write_idx(idx / "t10k-labels-idx1-ubyte", rng.integers(0, 10, 10).astype(np.uint8))


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None) for p in folder.rglob("*")}


CLI_CASES = [
    # 1. outputs checked before any work
    (["train", *SMALL, "--save", "afile/m.pt", "--out", "x.json"], "--save afile/m.pt: afile is a file"),
    (["train", *SMALL, "--out", "adir"], "--out adir is a folder"),
    (["train", *SMALL, "--out", "/proc/spikeopt/x.json"], "cannot create files in /proc"),
    (["train", *SMALL, "--out", "same", "--save", "same"], "name the same file"),
    (["certify", *XOR, "--counts", "2", "--out", "adir"], "--out adir is a folder"),
    (["reproduce", "--out", "afile", "--only", "table1", "--workers", "0"], "--out afile is a file"),
    (["results", "--db", "runs.sqlite", "--export", "adir"], "--export adir is a folder"),
    (["results", "--db", "runs.sqlite", "--export", "runs.sqlite"], "name the same file"),
    # 2. defaults consistent: an explicit warm-up that cannot work still says what to change
    (["train", *SMALL, "--method", "admm", "--admm-iterations", "5", "--admm-warmup", "5"], "lower warmup"),
    # 5. corrupt labels
    (["train", "--task", "mnist-seq", "--data-dir", "idx", "--steps", "2", *SMALL[10:]],
     "train-labels-idx1-ubyte: label 200 at index 5"),
    # 7. configs
    (["train", "--config", "malformed.yaml"], "malformed.yaml line 3 column 1: malformed YAML"),
    (["train", "--config", "float-epochs.yaml"], "float-epochs.yaml line 2: config field sg.epochs must be an integer"),
    (["train", *SMALL, "--set", "sg.epochs=true"], "sg.epochs must be an integer, got the boolean true"),
    (["train", *SMALL, "--set", "convex.intercept=3"], "convex.intercept must be true or false"),
    (["train", *SMALL, "--set", "sg.nope=1"], "unknown key(s) ['nope'] in config section 'sg'"),
    (["train", *SMALL, "--set", "sg.epochs"], "must look like key=value"),
    # 8. memory
    (["train", *XOR, "--subnetworks", "20000", "--width", "2000", "--no-progress"], "lower --subnetworks"),
    (["train", *XOR, "--method", "sast", "--subnetworks", "20000", "--width", "2000", "--no-progress"],
     "sast training needs about"),
    (["train", *XOR, "--method", "admm", "--width", "400000", "--no-progress"], "ADMM training needs about"),
    # 9. smaller edges
    (["train", *SMALL, "--device", "tpu"], "unknown device 'tpu'"),
    (["train", *SMALL, "--device", "cuda:7"], "cuda"),
    (["results", "--db", "notes.sqlite"], "not a spikeopt run database"),
    (["results", "--db", "adir"], "does not exist"),
    (["results", "--db", "missing.sqlite"], "does not exist"),
    (["reproduce", "--out", "rep", "--only", "table9"], "unknown suite(s) ['table9']"),
    (["reproduce", "--out", "rep", "--workers", "-1"], "--workers must be >= 0"),
    (["certify", *XOR, "--counts", "0,2"], "--counts must be positive integers"),
    (["certify", *XOR, "--method", "sg"], "certify runs a convex method"),
    (["train", "--task", "addition", "--method", "admm", "--no-progress"], "admm trains a final-step readout"),
]


@pytest.mark.parametrize("argv, message", CLI_CASES, ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_cli_bad_input(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _fixtures(tmp_path)
    before = _snapshot(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("spikeopt: error: "), err
    assert message in err[0]
    assert "Traceback" not in err[0]
    assert _snapshot(tmp_path) == before  # nothing half-written


def _checkpoint(folder: Path, damage) -> Path:
    path = save_model(ParallelLIFSNN(2, 2, subnetworks=1, width=2), folder / "good.pt")
    bad = folder / "bad.pt"
    bad.write_bytes(damage(path.read_bytes()))
    path.unlink()
    return bad


def _make(folder: Path, kind: str) -> Path:
    _fixtures(folder)
    return folder / kind


API_CASES = [
    # (id, call(folder), exception type, message)
    ("truncated checkpoint", lambda f: load_model(_checkpoint(f, lambda b: b[:-300])), ValueError,
     "truncated or damaged spikeopt checkpoint"),
    ("random checkpoint", lambda f: load_model(_checkpoint(f, lambda b: os.urandom(999))), ValueError,
     "not a spikeopt checkpoint"),
    ("empty checkpoint", lambda f: load_model(_checkpoint(f, lambda b: b"")), ValueError, "is empty"),
    ("missing checkpoint", lambda f: load_model(f / "none.pt"), FileNotFoundError, "no model file"),
    ("corrupt label", lambda f: MnistSeq(data_dir=str(_make(f, "idx")), steps=2), ValueError,
     "label 200 at index 5"),
    ("label above declared classes", lambda f: MnistSeq(data_dir=str(_make(f, "idx")), steps=2, classes=10),
     ValueError, "is not below classes=10"),
    ("malformed yaml", lambda f: RunConfig.from_yaml(_make(f, "malformed.yaml")), ValueError, "line 3 column 1"),
    ("float epochs", lambda f: RunConfig.from_yaml(_make(f, "float-epochs.yaml")), ConfigError, "line 2"),
    ("bool epochs", lambda f: RunConfig().override(["sg.epochs=true"]), ConfigError, "boolean"),
    ("bool seed", lambda f: RunConfig.from_dict({"seed": True}), ConfigError, "config field seed"),
    ("string lr", lambda f: RunConfig.from_dict({"sg": {"lr": "fast"}}), ConfigError, "sg.lr must be a number"),
    ("foreign store", lambda f: Store(_make(f, "notes.sqlite")), ValueError, "not a spikeopt run database"),
    ("warmup = iterations", lambda f: ADMMConfig(iterations=5, warmup=5), ValueError, "lower warmup"),
    ("unknown device", lambda f: __import__("spikeopt.experiments.run", fromlist=["x"]).resolve_device("tpu"),
     ValueError, "unknown device"),
    ("int input", lambda f: ParallelLIFSNN(2, 2, subnetworks=1, width=2)(torch.ones(3, 1, 2, dtype=torch.int64)),
     TypeError, "floating"),
]


@pytest.mark.parametrize("name, call, kind, message", API_CASES, ids=[c[0] for c in API_CASES])
def test_api_bad_input(name, call, kind, message, tmp_path):
    before = None
    with pytest.raises(kind) as err:
        try:
            call(tmp_path)
        finally:
            before = _snapshot(tmp_path)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert "weights_only=False" not in str(err.value)
    assert _snapshot(tmp_path) == before
    assert not any(p.name.endswith(".tmp") or p.name.startswith(".spikeopt-write-check") for p in tmp_path.rglob("*"))
