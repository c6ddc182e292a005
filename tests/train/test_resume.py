"""Mid-run checkpoints: a run stopped after some epochs and resumed ends exactly where an
uninterrupted run ends (same weights, same history)."""

from __future__ import annotations

import pytest

from spikeopt.cli import main
from spikeopt.snn.network import ParallelLIFSNN
from spikeopt.tasks.registry import make_task
from spikeopt.train.surrogate import SGConfig, train_sg


def _setup():
    task = make_task("first-last-xor", steps=4, n_train=48, n_val=16, n_test=16)
    return task, task.splits(0), ParallelLIFSNN(1, 2, subnetworks=2, width=4, seed=0)


def _cfg(epochs, **kw):
    return SGConfig(epochs=epochs, lr=0.01, batch_size=16, progress=False, lr_schedule="step", lr_step_size=1,
                    lr_gamma=0.7, **kw)


def _strip(records):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in records]


def test_resumed_run_equals_the_uninterrupted_run(tmp_path):
    task, splits, straight = _setup()
    full = train_sg(straight, task, splits["train"], splits["val"], _cfg(5))
    _, _, net = _setup()
    ckpt = tmp_path / "sg.ckpt"
    train_sg(net, task, splits["train"], splits["val"], _cfg(2, checkpoint=str(ckpt)))  # "killed" after epoch 2
    _, _, resumed_net = _setup()  # a fresh process: nothing but the checkpoint carries over
    resumed = train_sg(resumed_net, task, splits["train"], splits["val"], _cfg(5, checkpoint=str(ckpt), resume=True))
    assert _strip(resumed.records) == _strip(full.records)
    assert (resumed.best_epoch, resumed.best_score) == (full.best_epoch, full.best_score)
    for a, b in zip(straight.parameters(), resumed_net.parameters()):
        assert (a == b).all()


def test_existing_checkpoint_is_not_overwritten_silently(tmp_path):
    task, splits, net = _setup()
    ckpt = tmp_path / "sg.ckpt"
    train_sg(net, task, splits["train"], None, _cfg(1, checkpoint=str(ckpt)))
    with pytest.raises(ValueError, match="--resume"):
        train_sg(net, task, splits["train"], None, _cfg(2, checkpoint=str(ckpt)))
    ckpt.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable training checkpoint"):
        train_sg(net, task, splits["train"], None, _cfg(2, checkpoint=str(ckpt), resume=True))


def test_cli_flags(tmp_path, capsys):
    base = ["train", "--task", "first-last-xor", "--steps", "4", "--n-train", "48", "--n-val", "16", "--n-test", "16",
            "--subnetworks", "2", "--width", "4", "--no-progress"]
    assert main([*base, "--method", "sg", "--resume"]) == 2
    assert "--checkpoint" in capsys.readouterr().err
    assert main([*base, "--method", "cvx", "--checkpoint", str(tmp_path / "c")]) == 2
    assert "convex solve" in capsys.readouterr().err
    ckpt = tmp_path / "c"
    assert main([*base, "--method", "sg-sg", "--epochs", "1", "--ft-epochs", "1", "--checkpoint", str(ckpt)]) == 0
    assert ckpt.is_file() and (tmp_path / "c.finetune").is_file()
    assert main([*base, "--method", "sg-sg", "--epochs", "2", "--ft-epochs", "1", "--checkpoint", str(ckpt),
                 "--resume", "--out", str(tmp_path / "r.json")]) == 0


def test_sast_resumed_run_equals_the_uninterrupted_run(tmp_path):
    from spikeopt.train.sast import SASTConfig, train_sast

    def cfg(epochs, **kw):
        return SASTConfig(epochs=epochs, lr=0.01, batch_size=16, rho=0.05, progress=False, measure_overhead=False,
                          lr_schedule="step", lr_step_size=1, lr_gamma=0.7, **kw)

    task, splits, straight = _setup()
    full = train_sast(straight, task, splits["train"], splits["val"], cfg(4))
    _, _, net = _setup()
    ckpt = tmp_path / "sast.ckpt"
    train_sast(net, task, splits["train"], splits["val"], cfg(2, checkpoint=str(ckpt)))
    _, _, resumed_net = _setup()
    resumed = train_sast(resumed_net, task, splits["train"], splits["val"], cfg(4, checkpoint=str(ckpt), resume=True))
    strip = lambda recs: [{k: v for k, v in r.items() if "seconds" not in k} for r in recs]  # noqa: E731
    assert strip(resumed.records) == strip(full.records)
    for a, b in zip(straight.parameters(), resumed_net.parameters()):
        assert (a == b).all()
