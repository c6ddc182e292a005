"""The one epoch loop of the gradient methods against a hand-written training loop: SG, and SAST at
rho = 0 (which is plain surrogate-forward training by design), give the same weights bit for bit."""

from __future__ import annotations

import copy

import torch

from spikeopt.snn.config import ModelConfig
from spikeopt.tasks.registry import make_task
from spikeopt.train.sast import SASTConfig, train_sast
from spikeopt.train.surrogate import SGConfig, train_sg

EPOCHS, BATCH, LR, CLIP, DECAY = 2, 32, 1e-2, 0.5, 1e-3


def naive_loop(model, task, train, seed):
    """Adam with coupled L2, a fresh seeded shuffle per epoch, clipping of the global gradient norm."""
    gen = torch.Generator().manual_seed(seed)
    params = list(model.parameters())
    opt = torch.optim.Adam(params, lr=LR, weight_decay=DECAY)
    for _ in range(EPOCHS):
        model.train()
        order = torch.randperm(len(train), generator=gen)
        for begin in range(0, len(train), BATCH):
            idx = order[begin : begin + BATCH]
            loss = task.loss(model(train.x[:, idx])[0], train.y[idx])
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, CLIP)
            opt.step()


def setup():
    task = make_task("mnist-seq", steps=8, n_train=80)
    model = ModelConfig(subnetworks=2, width=6).build(task.in_features, task.out_features, "final", seed=1)
    return task, task.splits(0)["train"], model


def test_sg_loop_equals_a_hand_written_loop():
    task, train, model = setup()
    ref = copy.deepcopy(model)
    train_sg(model, task, train, None, SGConfig(epochs=EPOCHS, batch_size=BATCH, lr=LR, grad_clip=CLIP,
                                                 weight_decay=DECAY, progress=False), seed=3)
    naive_loop(ref, task, train, seed=3)
    for a, b in zip(model.state_dict().values(), ref.state_dict().values()):
        assert torch.equal(a, b)


def test_sast_at_rho_zero_equals_the_hand_written_plain_loop():
    task, train, model = setup()
    ref = copy.deepcopy(model)
    cfg = SASTConfig(rho=0.0, epochs=EPOCHS, batch_size=BATCH, lr=LR, grad_clip=CLIP, weight_decay=DECAY,
                     progress=False)
    history = train_sast(model, task, train, None, cfg, seed=3)
    ref.spike_mode, ref.detach_reset = "smooth", False  # what SAST trains: the surrogate-forward network
    naive_loop(ref, task, train, seed=3)
    for a, b in zip(model.state_dict().values(), ref.state_dict().values()):
        assert torch.equal(a, b)
    assert [r["epoch"] for r in history.records] == [0, 1, 2]
    assert history.records[1]["lr"] == LR


def test_sast_with_rho_moves_away_from_the_plain_loop():
    task, train, model = setup()
    ref = copy.deepcopy(model)
    cfg = SASTConfig(rho=0.5, epochs=1, batch_size=BATCH, lr=LR, grad_clip=CLIP, weight_decay=DECAY,
                     progress=False, measure_overhead=False)
    train_sast(model, task, train, None, cfg, seed=3)
    ref.spike_mode, ref.detach_reset = "smooth", False
    naive_loop(ref, task, train, seed=3)
    assert any(not torch.equal(a, b) for a, b in zip(model.state_dict().values(), ref.state_dict().values()))
