"""Every command of the README's command-line section works: its configuration is valid exactly
as written, and it runs (shrunk to tiny sizes) to exit code 0 with its outputs on disk.

Each README command must have an entry in SHRINK (matched by its leading words): whether it is
long as written, and the flags appended to make it tiny (argparse keeps the last value of a flag).
"""

import re
import shlex
from pathlib import Path

import pytest

from spikeopt import cli
from spikeopt.experiments import protocol as protocol_mod
from spikeopt.experiments.run import check_run

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

XOR = ["--steps", "4", "--n-train", "64", "--n-val", "32", "--n-test", "32"]
EVENTS = ["--size", "8", "--steps", "4", "--n-train", "48", "--no-progress"]
TINY_MODEL = ["--subnetworks", "2", "--width", "4", "--set", "convex.atoms=2048"]  # auto: 32,768 on a few rows

# leading words -> (long as written?, flags appended to shrink it)
SHRINK: dict[str, tuple[bool, list[str]]] = {
    "tasks": (False, []),
    "train --task addition": (True, ["--digits", "3", "--n-train", "32", "--n-val", "16", "--n-test", "16",
                                     "--n-ood", "8", "--ood-factors", "2", "--epochs", "1", *TINY_MODEL,
                                     "--no-progress"]),
    "train --task mnist-seq": (True, ["--steps", "4", "--n-train", "64", *TINY_MODEL, "--grow-rounds", "1",
                                      "--grow-candidates", "2"]),
    "train --config": (True, [*XOR, "--epochs", "1", *TINY_MODEL, "--no-progress"]),
    "certify": (True, [*XOR, "--counts", "2", "--width", "4"]),
    "train --task event-digits --method admm": (True, [*EVENTS, "--admm-iterations", "4", "--width", "8"]),
    "train --task event-digits --method sast": (True, [*EVENTS, "--epochs", "1", *TINY_MODEL,
                                                       "--set", "sast.measure_overhead=false"]),
    # reproduce: the quick protocol swapped for TINY below, only Table 1, in process
    "reproduce": (True, ["--only", "table1", "--workers", "0", "--no-progress"]),
    "results": (False, []),
    # the tiny exact enumeration: 3 steps, few sequences (the README line's T is already 3)
    "certify --complete": (True, ["--n-train", "24", "--n-val", "12", "--n-test", "12", *TINY_MODEL,
                                  "--epochs", "2", "--no-progress"]),
    # DIR/GunPoint_*.ts and my.npz: tiny files written by _write_user_data in the test's folder
    "train --task ucr": (False, [*TINY_MODEL]),
    "train --task arrays": (False, [*TINY_MODEL, "--epochs", "1", "--no-progress"]),
    # m.pt and r.json: written by the addition line above
    "export": (False, []),
    "plot": (False, []),
}


def _write_user_data(folder: Path) -> None:
    """The files the README's ucr / arrays lines read: a 2-class .ts pair and an .npz, tiny and seeded."""
    import numpy as np

    rng = np.random.default_rng(0)
    (folder / "DIR").mkdir()
    for part, n in (("TRAIN", 16), ("TEST", 8)):
        lines = ["@problemName GunPoint", "@timeStamps false", "@univariate true", "@classLabel true 1 2", "@data"]
        for i in range(n):
            label = 1 + i % 2
            series = np.sin(np.linspace(0, 3, 12) * label) + 0.1 * rng.standard_normal(12)
            lines.append(",".join(f"{v:.4f}" for v in series) + f":{label}")
        (folder / "DIR" / f"GunPoint_{part}.ts").write_text("\n".join(lines) + "\n")
    x = rng.standard_normal((40, 6, 2)).astype(np.float32)
    y = (x[:, :, 0].mean(axis=1) > 0).astype(np.int64)
    np.savez(folder / "my.npz", x=x, y=y)

TINY = protocol_mod.Protocol(
    name="quick", seeds=(0,), subnetworks=2, width=4, sg_epochs=1, ft_epochs=1, batch_size=32,
    lr_grid=(3e-3,), reg_grid=(1e-2,), lambda_grid=(1.0,), deep=2, xor_sizes=(48, 24, 24), xor_horizons=(4, 6),
    xor_depths=(1,), xor_steps=(4,), add_digits=3, add_sizes=(32, 16, 16, 8), add_train_sizes=(32,),
    mnist_steps=8, mnist_n_train=64, mnist_depths=(1,), mnist_step_grid=(8,), table1_counts=(2,),
)


def readme_commands() -> list[list[str]]:
    section = README.read_text().split("## The command line", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "the README's command-line section lost its bash block"
    commands = []
    for line in block.group(1).splitlines():
        words = shlex.split(line, comments=True)
        if words:
            assert words[0] == "spikeopt", line
            commands.append(words[1:])
    return commands


def shrink_entry(argv: list[str]) -> tuple[bool, list[str]]:
    text = " ".join(argv)
    keys = [k for k in SHRINK if text == k or text.startswith(k + " ")]
    assert keys, f"README command `spikeopt {text}` has no SHRINK entry: say whether it is long and how to shrink it"
    return SHRINK[max(keys, key=len)]


def test_every_readme_command_is_covered():
    commands = readme_commands()
    assert len(commands) >= 8
    for argv in commands:
        shrink_entry(argv)


@pytest.mark.parametrize("argv", [c for c in readme_commands() if c[0] in ("train", "certify")],
                         ids=lambda c: " ".join(c[:5]))
def test_readme_command_config_is_valid_as_written(argv, monkeypatch):
    """No training: the configuration each command builds as written must be accepted (the ADMM
    example used to fail: 300 iterations with a default warm-up of 300)."""
    monkeypatch.chdir(ROOT)  # --config examples/... is relative to the repository
    task = cli.argparse.ArgumentParser(add_help=False)
    task.add_argument("--task", default="first-last-xor")
    task.add_argument("--config")
    known, _ = task.parse_known_args(argv[1:])
    name = known.task
    if known.config:
        name = cli.build_config(cli._train_parser(None).parse_args(["--config", known.config])).task
    parser = cli._train_parser(name)
    if argv[0] == "certify":
        parser.add_argument("--counts")
        parser.add_argument("--complete", action="store_true")
    config = cli.build_config(parser.parse_args(argv[1:]))
    check_run(config)
    assert config.admm.warmup_iterations < config.admm.iterations


def test_readme_commands_run_shrunk(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SPIKEOPT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(protocol_mod.PROTOCOLS, "quick", TINY)
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    _write_user_data(tmp_path)
    for argv in readme_commands():
        _, extra = shrink_entry(argv)
        code = cli.main(argv + extra)
        captured = capsys.readouterr()
        assert code == 0, f"`spikeopt {' '.join(argv + extra)}` failed: {captured.err[-2000:]}"
    for produced in ("r.json", "m.pt", "report/runs.sqlite", "report/report.md", "runs.csv", "m.nir", "raster.png",
                     "path.png"):
        assert (tmp_path / produced).is_file(), produced
