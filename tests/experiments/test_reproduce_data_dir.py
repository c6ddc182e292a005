"""``spikeopt reproduce --data-dir``: Tables 2 and 5's mnist-seq rows on MNIST-format IDX files."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest

from spikeopt.cli import main
from spikeopt.experiments.protocol import QUICK
from spikeopt.experiments.reproduce import reproduce
from spikeopt.tasks import make_task
from spikeopt.tasks.idx import write_idx

sys.path.insert(0, str(Path(__file__).parent))
import fake_runs

TINY = dataclasses.replace(QUICK, name="tiny", seeds=(0,), mnist_n_train=20, mnist_steps=4, mnist_step_grid=(4,),
                           mnist_depths=(1,))


def _idx_folder(folder: Path, side: int = 4) -> Path:
    rng = np.random.default_rng(1)
    folder.mkdir()
    write_idx(folder / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (40, side, side), dtype=np.uint8))
    write_idx(folder / "train-labels-idx1-ubyte.gz", (np.arange(40) % 10).astype(np.uint8))
    write_idx(folder / "t10k-images-idx3-ubyte", rng.integers(0, 256, (12, side, side), dtype=np.uint8))
    write_idx(folder / "t10k-labels-idx1-ubyte", (np.arange(12) % 10).astype(np.uint8))
    return folder


def test_mnist_rows_run_on_the_given_files_and_the_report_says_so(tmp_path):
    data = _idx_folder(tmp_path / "idx")
    seen: list = []

    def run(config):
        seen.append(config)
        return fake_runs.paper_run(config)
    path, stats = reproduce(tmp_path / "out", TINY, only=["table5"], workers=0, run_fn=run, progress=False,
                            data_dir=data)
    assert stats.failed == 0 and seen
    assert {c.task_options.get("data_dir") for c in seen} == {str(data.resolve())}
    assert f"MNIST-format IDX files in {data.resolve()}" in path.read_text()
    # the stored options build the task from those files: 4x4 images in 4 steps, 4 pixels each
    split = make_task(seen[0].task, **seen[0].task_options).splits(0)["train"]
    assert split.x.shape[0] == 4 and split.x.shape[2] == 4


def test_builtin_digits_are_named_when_no_folder_is_given(tmp_path):
    path, _ = reproduce(tmp_path, TINY, only=["table5"], workers=0, run_fn=fake_runs.paper_run, progress=False)
    assert "built-in 8x8 digits" in path.read_text()


def test_a_folder_without_idx_files_fails_before_any_run(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        reproduce(tmp_path / "out", TINY, only=["table5"], workers=0, progress=False,
                  run_fn=lambda c: pytest.fail("no run may start"), data_dir=tmp_path / "empty")
    assert not (tmp_path / "out" / "runs.sqlite").exists()
    assert main(["reproduce", "--quick", "--only", "table5", "--out", str(tmp_path / "o2"),
                 "--data-dir", str(tmp_path / "empty")]) == 2
