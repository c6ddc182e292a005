"""The rough edges a new user hits on the command line (issue 14): outputs checked before any work,
Ctrl-C and broken pipes in one line, configs that name the file/line/field, clear device and
database errors, a fast `--help`, defaults in `--help`, swept parameters in `results`."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

import spikeopt
from spikeopt.cli import main
from spikeopt.experiments.store import RunRecord, Store

run_mod = importlib.import_module("spikeopt.experiments.run")  # the module; the package exports run()

SRC = str(Path(spikeopt.__file__).resolve().parents[1])  # the spikeopt under test, for subprocesses
XOR = ["--task", "first-last-xor", "--steps", "4", "--n-train", "64", "--n-val", "32", "--n-test", "32"]
SMALL = [*XOR, "--subnetworks", "2", "--width", "4", "--epochs", "1", "--no-progress"]


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if a run starts: output checks must come first."""
    def refuse(*args, **kwargs):
        raise AssertionError("training started before the output paths were checked")
    monkeypatch.setattr(run_mod, "run", refuse)


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


# ------------------------------------------------------------------ 1. outputs checked first


@pytest.mark.parametrize("flag", ["--out", "--save"])
@pytest.mark.parametrize("kind", ["folder", "under-a-file", "read-only-fs"])
def test_train_checks_outputs_before_training(tmp_path, capsys, no_training, flag, kind):
    (tmp_path / "folder").mkdir()
    (tmp_path / "afile").write_text("x")
    bad = {"folder": tmp_path / "folder", "under-a-file": tmp_path / "afile" / "m.pt",
           "read-only-fs": Path("/proc/spikeopt-test/m.pt")}[kind]
    good = tmp_path / "other.json"
    other = "--save" if flag == "--out" else "--out"
    before = _files(tmp_path)
    assert main(["train", *SMALL, flag, str(bad), other, str(good)]) == 2
    line = _error_line(capsys)
    assert line.startswith("spikeopt: error:") and flag in line and str(bad) in line
    assert _files(tmp_path) == before  # nothing created, not even folders


def test_out_and_save_must_differ(tmp_path, capsys, no_training):
    assert main(["train", *SMALL, "--out", str(tmp_path / "x"), "--save", str(tmp_path / "x")]) == 2
    assert "same file" in _error_line(capsys)


def test_certify_checks_out_first(tmp_path, capsys, no_training):
    assert main(["certify", *XOR, "--counts", "2", "--out", str(tmp_path)]) == 2
    assert "--out" in _error_line(capsys)


def test_reproduce_and_results_check_outputs_first(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    assert main(["reproduce", "--out", str(tmp_path / "afile"), "--only", "table1", "--workers", "0"]) == 2
    assert "is a file" in _error_line(capsys)
    db = tmp_path / "runs.sqlite"
    with Store(db) as store:
        store.put(RunRecord("k1", "s", "ok", {"task": "first-last-xor", "method": "sg", "seed": 0}))
    for bad in (tmp_path, Path("/proc/spikeopt-test/runs.csv"), db):
        assert main(["results", "--db", str(db), "--export", str(bad)]) == 2
        assert "spikeopt: error:" in _error_line(capsys)


# ------------------------------------------------------------------ 4. Ctrl-C


def test_ctrl_c_during_train_is_one_line(tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(run_mod, "run", interrupted)
    out = tmp_path / "r.json"
    try:
        code = main(["train", *SMALL, "--out", str(out)])
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C escaped spikeopt's main() as a traceback")
    assert code == 130
    line = _error_line(capsys)
    assert "nothing was saved" in line and "resume with: spikeopt train --task first-last-xor" in line
    assert not out.exists()


# ------------------------------------------------------------------ 7. configs


def test_malformed_yaml_names_file_and_line(tmp_path, capsys):
    path = tmp_path / "run.yaml"
    path.write_text("method: sg\nsg:\n  epochs: [1, 2\n")
    assert main(["train", "--config", str(path)]) == 2
    line = _error_line(capsys)
    assert str(path) in line and "line " in line and "malformed YAML" in line


@pytest.mark.parametrize("text, field, line", [("sg:\n  lr: 0.01\n  epochs: 2.5\n", "sg.epochs", 3),
                                               ("seed: yes\n", "seed", 1)])
def test_bad_yaml_value_names_file_line_and_field(tmp_path, capsys, text, field, line):
    path = tmp_path / "run.yaml"
    path.write_text(text)
    assert main(["train", "--config", str(path)]) == 2
    message = _error_line(capsys)
    assert f"{path} line {line}" in message and field in message


def test_boolean_is_not_an_integer(capsys, no_training):
    assert main(["train", *SMALL, "--set", "sg.epochs=true"]) == 2
    message = _error_line(capsys)
    assert "sg.epochs" in message and "boolean" in message and "sg.epochs=true" in message


# ------------------------------------------------------------------ 9. smaller edges


@pytest.mark.parametrize("device, message", [("tpu", "unknown device 'tpu'"), ("meta", "'meta' is not supported")])
def test_unknown_device(capsys, no_training, device, message):
    assert main(["train", *SMALL, "--device", device]) == 2
    line = _error_line(capsys)
    assert message in line and "use cpu, cuda, cuda:N or auto" in line


@pytest.mark.parametrize("content", [b"this is not a database\n" * 10, b"SQLite format 3\x00" + b"\x00" * 200])
def test_results_on_a_foreign_file(tmp_path, capsys, content):
    path = tmp_path / "notes.sqlite"
    path.write_bytes(content)
    assert main(["results", "--db", str(path)]) == 2
    line = _error_line(capsys)
    assert str(path) in line and "not a" in line and "run database" in line
    assert path.read_bytes() == content  # untouched


def test_results_show_the_swept_parameters(tmp_path, capsys):
    db = tmp_path / "runs.sqlite"
    base = {"task": "first-last-xor", "method": "sg", "seed": 0, "sg": {"lr": 0.001, "epochs": 5},
            "task_options": {"steps": 8}}
    with Store(db) as store:
        for i, lr in enumerate((0.001, 0.01)):
            cfg = {**base, "sg": {"lr": lr, "epochs": 5}}
            store.put(RunRecord(f"k{i}", "sweep", "ok", cfg, {"test": {"accuracy": 0.5}}))
    assert main(["results", "--db", str(db)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "sg.lr=0.001" in lines[0] and "sg.lr=0.01" in lines[1]
    assert "epochs" not in lines[0]  # only what differs


def test_help_shows_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "parallel subnetworks K (default: 16)" in out
    assert "SG training epochs (default: 30; with --method sast: 30)" in out
    assert "group-lasso regularisation of the convex readout: one value, a list 1e-2,1e-3 or auto (a path from " \
           "reg_max); a path is selected on validation (default: auto)" in out


def test_tasks_lists_methods(capsys):
    assert main(["tasks"]) == 0
    out = capsys.readouterr().out
    blocks = dict(line.split("  ", 1) for line in out.splitlines() if not line.startswith(" "))
    assert set(blocks) >= {"first-last-xor", "addition", "mnist-seq"}
    methods = [line for line in out.splitlines() if line.strip().startswith("methods:")]
    assert len(methods) == len(blocks)
    addition = out.split("addition", 1)[1].splitlines()[1]
    assert "sg" in addition and "admm" not in addition
    assert "admm" in out.split("first-last-xor", 1)[1].splitlines()[1]


def _python(code: str, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
                          **kwargs)


def test_top_level_help_does_not_import_torch():
    done = _python("import sys; from spikeopt.cli import main; main(['--help']); "
                   "print(sorted(m for m in ('torch', 'numpy', 'yaml') if m in sys.modules))")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_broken_pipe_is_silent():
    read, write = os.pipe()
    os.close(read)  # the reader (`| head`) is already gone when we write
    try:
        env = {**os.environ, "PYTHONPATH": SRC}
        done = subprocess.run([sys.executable, "-m", "spikeopt.cli", "tasks"], env=env, stdout=write,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write)
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr, done.stderr
    assert done.returncode == 141


def test_python_dash_m_is_the_spikeopt_command():
    env = {**os.environ, "PYTHONPATH": SRC}
    done = subprocess.run([sys.executable, "-m", "spikeopt", "tasks"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "first-last-xor" in done.stdout
