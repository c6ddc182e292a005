"""ADMM mid-run checkpoints: a run killed mid-way and resumed ends with exactly the uninterrupted
run's weights, variables and history."""

from __future__ import annotations

import pytest
import torch

from spikeopt.cli import main
from spikeopt.train import admm
from spikeopt.train.admm_config import ADMMConfig


def _data():
    gen = torch.Generator().manual_seed(3)
    x = (torch.rand(5, 24, 3, generator=gen) < 0.4).double()
    labels = torch.randint(0, 2, (24, 1), generator=gen)
    return x, labels


def _cfg(**kw):
    return ADMMConfig(iterations=7, warmup=2, track_every=2, checkpoint_every=2, shards=2, progress=False, **kw)


def _strip(history):
    return {k: v for k, v in history.as_dict().items() if k != "seconds"}


def test_killed_and_resumed_run_equals_the_uninterrupted_run(tmp_path, monkeypatch):
    x, labels = _data()
    full_w, full_h = admm.fit_admm(x, labels, [2], width=4, depth=2, cfg=_cfg(), seed=1)

    ckpt = tmp_path / "admm.ckpt"
    real = admm.admm_iteration

    def dies_in_iteration_5(weights, shards, cfg, iteration, gen):
        if iteration == 4:
            raise KeyboardInterrupt
        real(weights, shards, cfg, iteration, gen)

    monkeypatch.setattr(admm, "admm_iteration", dies_in_iteration_5)
    with pytest.raises(KeyboardInterrupt):
        admm.fit_admm(x, labels, [2], width=4, depth=2, cfg=_cfg(checkpoint=str(ckpt)), seed=1)
    monkeypatch.setattr(admm, "admm_iteration", real)
    assert torch.load(ckpt, weights_only=True)["iteration"] == 4  # the last write before the kill

    calls = []
    monkeypatch.setattr(admm, "admm_iteration", lambda *a: (calls.append(a[3]), real(*a)))
    res_w, res_h = admm.fit_admm(x, labels, [2], width=4, depth=2, cfg=_cfg(checkpoint=str(ckpt), resume=True),
                                 seed=1)
    assert calls == [4, 5, 6]  # only the iterations left are run
    assert _strip(res_h) == _strip(full_h)
    assert full_h.iteration == [0, 2, 4, 6, 7]
    for a, b in zip(full_w, res_w):
        assert torch.equal(a, b)


def test_checkpoint_is_refused_when_it_does_not_fit(tmp_path):
    x, labels = _data()
    ckpt = tmp_path / "admm.ckpt"
    admm.fit_admm(x, labels, [2], width=4, depth=1, cfg=_cfg(checkpoint=str(ckpt)), seed=1)
    with pytest.raises(ValueError, match="--resume"):
        admm.fit_admm(x, labels, [2], width=4, depth=1, cfg=_cfg(checkpoint=str(ckpt)), seed=1)
    with pytest.raises(ValueError, match="other layer sizes"):
        admm.fit_admm(x, labels, [2], width=5, depth=1, cfg=_cfg(checkpoint=str(ckpt), resume=True), seed=1)
    ckpt.write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a readable training checkpoint"):
        admm.fit_admm(x, labels, [2], width=4, depth=1, cfg=_cfg(checkpoint=str(ckpt), resume=True), seed=1)


def test_sg_checkpoint_is_not_taken_for_an_admm_one(tmp_path):
    from spikeopt.train.resume import save_state

    ckpt = tmp_path / "sg.ckpt"
    save_state(ckpt, {"trainer": "sg", "epoch": 1})
    x, labels = _data()
    with pytest.raises(ValueError, match="not a admm training checkpoint"):
        admm.fit_admm(x, labels, [2], width=4, depth=1, cfg=_cfg(checkpoint=str(ckpt), resume=True), seed=1)


def test_cli_admm_checkpoint_and_resume(tmp_path):
    base = ["train", "--task", "first-last-xor", "--steps", "4", "--n-train", "32", "--n-val", "8", "--n-test", "8",
            "--width", "4", "--subnetworks", "1", "--method", "admm", "--no-progress",
            "--set", "admm.iterations=4", "--set", "admm.warmup=1", "--set", "admm.checkpoint_every=2"]
    ckpt = tmp_path / "a.ckpt"
    assert main([*base, "--checkpoint", str(ckpt), "--out", str(tmp_path / "a.json")]) == 0
    assert torch.load(ckpt, weights_only=True)["iteration"] == 4
    assert main([*base, "--checkpoint", str(ckpt), "--resume", "--out", str(tmp_path / "b.json")]) == 0
