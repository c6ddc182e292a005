"""Learning-rate schedules of SG and SAST against hand-computed learning rates per epoch."""

from __future__ import annotations

import math

import pytest

from spikeopt.snn.network import ParallelLIFSNN
from spikeopt.tasks.registry import make_task
from spikeopt.train.sast import SASTConfig, train_sast
from spikeopt.train.surrogate import SGConfig, train_sg


def _setup():
    task = make_task("first-last-xor", steps=4, n_train=32, n_val=16, n_test=16)
    splits = task.splits(0)
    net = ParallelLIFSNN(1, 2, subnetworks=2, width=4, seed=0)
    return task, splits, net


def _lrs(history) -> list[float]:
    return [r["lr"] for r in history.records if "lr" in r]


@pytest.mark.parametrize("schedule,expected", [
    ("constant", [0.01] * 6),
    ("cosine", [0.01 * 0.5 * (1 + math.cos(math.pi * e / 6)) for e in range(6)]),
    ("step", [0.01, 0.01, 0.001, 0.001, 0.0001, 0.0001]),
])
def test_sg_learning_rate_per_epoch(schedule, expected):
    task, splits, net = _setup()
    cfg = SGConfig(epochs=6, lr=0.01, batch_size=16, progress=False, lr_schedule=schedule, lr_step_size=2, lr_gamma=0.1)
    history = train_sg(net, task, splits["train"], splits["val"], cfg)
    assert _lrs(history) == pytest.approx(expected)


def test_constant_schedule_keeps_the_old_training_bit_for_bit():
    task, splits, net = _setup()
    other = ParallelLIFSNN(1, 2, subnetworks=2, width=4, seed=0)
    train_sg(net, task, splits["train"], None, SGConfig(epochs=2, lr=0.01, batch_size=16, progress=False))
    cfg = SGConfig(epochs=2, lr=0.01, batch_size=16, progress=False, lr_schedule="step", lr_step_size=5)
    train_sg(other, task, splits["train"], None, cfg)  # no decay within 2 epochs: the same steps
    for a, b in zip(net.parameters(), other.parameters()):
        assert (a == b).all()


def test_sast_cosine():
    task, splits, net = _setup()
    cfg = SASTConfig(epochs=4, lr=0.02, batch_size=16, rho=0.05, progress=False, lr_schedule="cosine",
                     measure_overhead=False)
    history = train_sast(net, task, splits["train"], splits["val"], cfg)
    assert _lrs(history) == pytest.approx([0.02 * 0.5 * (1 + math.cos(math.pi * e / 4)) for e in range(4)])


@pytest.mark.parametrize("kwargs,match", [
    ({"lr_schedule": "linear"}, "lr_schedule"),
    ({"lr_step_size": 0}, "lr_step_size"),
    ({"lr_gamma": 1.5}, "lr_gamma"),
])
def test_bad_settings_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SGConfig(**kwargs)
    with pytest.raises(ValueError, match=match):
        SASTConfig(**kwargs)


def test_constant_schedule_keeps_stored_run_keys():
    from spikeopt.experiments.config import RunConfig

    base = RunConfig()
    assert base.override(["sg.lr_schedule=constant", "sast.lr_gamma=0.1"]).key() == base.key()
    assert base.override(["sg.lr_schedule=cosine"]).key() != base.key()
