"""The method contract: one registry, typed sections per method, no import circle, and the CLI flags
generated from the config fields still being the flags users have (names and meaning)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch

from spikeopt.cli import train_flags
from spikeopt.experiments.config import RunConfig, progress_off
from spikeopt.train.registry import METHODS, MethodSettings, methods_for, run_method

# the flags of `spikeopt train` before they were generated, with the config field each set
FORMER_FLAGS = {
    "--subnetworks": "model.subnetworks", "--width": "model.width", "--depth": "model.depth", "--beta": "model.beta",
    "--threshold": "model.threshold", "--reset": "model.reset_mechanism", "--surrogate": "model.surrogate",
    "--slope": "model.slope", "--epochs": "sg.epochs", "--lr": "sg.lr", "--batch-size": "sg.batch_size",
    "--weight-decay": "sg.weight_decay", "--grad-clip": "sg.grad_clip", "--patience": "sg.patience",
    "--ft-epochs": "finetune.epochs", "--ft-lr": "finetune.lr", "--reg": "convex.reg", "--loss": "convex.loss",
    "--tol": "convex.tol", "--max-iter": "convex.max_iter", "--grow-rounds": "convex.grow_rounds",
    "--grow-candidates": "convex.grow_candidates", "--grow-add": "convex.grow_add",
    "--witness-scale": "convex.witness_scale", "--admm-rho": "admm.rho", "--admm-sigma": "admm.sigma",
    "--admm-delta": "admm.delta", "--admm-theta": "admm.theta", "--admm-epsilon": "admm.epsilon",
    "--admm-iterations": "admm.iterations", "--admm-warmup": "admm.warmup", "--admm-shards": "admm.shards",
    "--rho": "sast.rho", "--sam-optimizer": "sast.optimizer", "--momentum": "sast.momentum",
    "--drop-fraction": "sast.drop_fraction", "--noise-fraction": "sast.noise_fraction",
    "--jitter-us": "sast.jitter_us", "--noise-std": "sast.noise_std",
}


def test_former_flags_keep_their_names_and_meaning():
    flags = {f.name: f.path for f in train_flags(RunConfig())}
    for name, path in FORMER_FLAGS.items():
        assert flags.get(name) == path, name


def test_every_flag_shows_its_default():
    defaults = RunConfig()
    for flag in train_flags(defaults):
        section, field = flag.path.split(".")
        assert f"(default: {getattr(getattr(defaults, section), field)}" in flag.help, flag.name


def test_methods_declare_typed_sections_of_the_run_config():
    kinds = {f.name: type(getattr(MethodSettings(), f.name)) for f in dataclasses.fields(MethodSettings)}
    assert list(METHODS) == ["sg", "cvx", "sg-cvx", "sg-sg", "cvx-sg", "admm", "sast"]
    for name, method in METHODS.items():
        assert method.name == name and "model" in method.configs
        for section, kind in method.configs.items():
            assert kinds[section] is kind, (name, section)
    assert methods_for("per_step") == ["sg", "cvx", "sg-cvx", "sg-sg", "cvx-sg", "sast"]
    assert methods_for("final") == list(METHODS)


def test_a_method_gets_only_its_sections_and_they_are_type_checked():
    from spikeopt.tasks import make_task

    task = make_task("first-last-xor", steps=4, n_train=32, n_val=16, n_test=16)
    settings = MethodSettings()
    settings.sg = SimpleNamespace(epochs=1)  # not an SGConfig
    with pytest.raises(TypeError, match="settings.sg must be a SGConfig"):
        run_method("sg", task, task.splits(0), settings, 0, torch.device("cpu"))
    assert METHODS["cvx"].sections_of(MethodSettings()).keys() == {"model", "convex"}


def test_no_import_circle_the_leaves_do_not_import_the_registry():
    code = ("import sys, spikeopt.train.admm, spikeopt.train.sast, spikeopt.train.cvx, spikeopt.train.surrogate; "
            "print(sorted(m for m in sys.modules if m in ('spikeopt.train.registry', 'spikeopt.train.pipelines')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_progress_off_covers_every_section_with_a_bar():
    assert sorted(progress_off()) == sorted(f"{s}.progress=false" for s in ("sg", "finetune", "convex", "admm", "sast"))


def test_boolean_flags_parse_true_and_false_words():
    import argparse

    from spikeopt.cli import _yes_no

    assert [_yes_no(w) for w in ("true", "False", "yes", "NO", "on", "off", "1", "0")] == [
        True, False, True, False, True, False, True, False]
    with pytest.raises(argparse.ArgumentTypeError, match="true or false"):
        _yes_no("maybe")
    flags = {f.name: f for f in train_flags(RunConfig())}
    assert flags["--admm-select"].type is bool and flags["--admm-select"].path == "admm.select"
