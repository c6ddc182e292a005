"""Separate pretraining and fine-tuning rows (paper 001 App. F): each stage of a two-stage method
trains on its own disjoint part of the training split."""

from __future__ import annotations

import pytest
import torch

import spikeopt.train.cvx as cvx_module
import spikeopt.train.surrogate as surrogate_module
from spikeopt.experiments.config import RunConfig
from spikeopt.tasks import make_task
from spikeopt.tasks.base import SequenceData
from spikeopt.train.registry import MethodSettings, run_method
from spikeopt.train.stages import StageConfig, stage_splits
from spikeopt.train.surrogate import SGConfig


def _rows(data) -> set[bytes]:
    """Each training sequence as bytes, so stages can be compared by content, not by index."""
    return {data.x[:, i].numpy().tobytes() for i in range(len(data))}


@pytest.fixture
def task():
    return make_task("first-last-xor", steps=4, n_train=40, n_val=16, n_test=16)


def _distinct_rows(task) -> dict:
    """The task's splits with training inputs made distinct (binary XOR sequences repeat), so rows
    can be told apart by content."""
    splits = task.splits(0)
    train = splits["train"]
    x = torch.rand(train.x.shape, generator=torch.Generator().manual_seed(0))
    return {**splits, "train": SequenceData(x, train.y)}


def test_partition_is_disjoint_complete_seeded_and_sized(task):
    splits = _distinct_rows(task)
    first, second = stage_splits(splits, StageConfig(pretrain_fraction=0.25), seed=3)
    assert (len(first["train"]), len(second["train"])) == (10, 30)
    a, b = _rows(first["train"]), _rows(second["train"])
    assert not a & b and a | b == _rows(splits["train"])
    assert first["val"] is splits["val"] and second["test"] is splits["test"]
    again, _ = stage_splits(splits, StageConfig(pretrain_fraction=0.25), seed=3)
    assert torch.equal(again["train"].x, first["train"].x)
    other, _ = stage_splits(splits, StageConfig(pretrain_fraction=0.25), seed=4)
    assert not torch.equal(other["train"].x, first["train"].x)


def test_unset_fraction_shares_every_row(task):
    splits = task.splits(0)
    first, second = stage_splits(splits, StageConfig(), seed=0)
    assert first is splits and second is splits


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.5, float("nan"), True])
def test_bad_fraction_is_refused_naming_the_field(bad):
    with pytest.raises(ValueError, match="stages.pretrain_fraction"):
        StageConfig(pretrain_fraction=bad)


def test_fraction_that_empties_a_stage_says_which_range_works(task):
    with pytest.raises(ValueError, match="leaves a stage without rows"):
        stage_splits(task.splits(0), StageConfig(pretrain_fraction=0.001), seed=0)


def _spy(monkeypatch, seen: list[set[bytes]]) -> None:
    real = surrogate_module.train_sg

    def spy(model, task, train, *args, **kwargs):
        seen.append(_rows(train))
        return real(model, task, train, *args, **kwargs)
    monkeypatch.setattr(surrogate_module, "train_sg", spy)


@pytest.mark.parametrize("method", ["sg-sg", "sg-cvx", "cvx-sg"])
def test_each_stage_of_a_two_stage_method_trains_on_its_own_rows(task, monkeypatch, method):
    splits = _distinct_rows(task)
    seen: list[set[bytes]] = []
    _spy(monkeypatch, seen)
    convex_rows: list[set[bytes]] = []
    real_readout = cvx_module.convex_readout

    def readout_spy(task_, train, *args, **kwargs):
        convex_rows.append(_rows(train))
        return real_readout(task_, train, *args, **kwargs)
    monkeypatch.setattr(cvx_module, "convex_readout", readout_spy)
    settings = MethodSettings(sg=SGConfig(epochs=1, progress=False), finetune=SGConfig(epochs=1, progress=False),
                              stages=StageConfig(pretrain_fraction=0.5))
    settings.convex = RunConfig().with_values({"convex.progress": False, "convex.atoms": 64}).convex
    run_method(method, task, splits, settings, 0, torch.device("cpu"))
    order = {"sg-sg": seen, "sg-cvx": seen + convex_rows, "cvx-sg": convex_rows + seen}[method]
    assert len(order) == 2, "one training set per stage"
    first, second = order
    assert len(first) == len(second) == 20
    assert not first & second and first | second == _rows(splits["train"])


def test_fraction_is_a_cli_flag_and_leaves_stored_run_keys_alone():
    from spikeopt.cli import train_flags

    flags = {f.name: f.path for f in train_flags(RunConfig())}
    assert flags["--pretrain-fraction"] == "stages.pretrain_fraction"
    base = RunConfig()
    assert base.with_values({"stages.pretrain_fraction": 0.5}).key() != base.key()
    data = base.to_dict()
    del data["stages"]  # a config stored before the section existed
    assert RunConfig.from_dict(data).key() == base.key()
