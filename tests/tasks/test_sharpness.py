"""Paper 004's theory-alignment measurements against independent computations."""

from __future__ import annotations

import copy

import pytest
import torch

from spikeopt.snn.config import ModelConfig
from spikeopt.snn.network import spike_mode
from spikeopt.tasks import make_task
from spikeopt.tasks.robustness import sharpness_scores


@pytest.fixture
def setup():
    task = make_task("first-last-xor", steps=4, n_train=24, n_val=8, n_test=8)
    data = task.splits(0)["train"]
    data = type(data)(torch.rand(data.x.shape, generator=torch.Generator().manual_seed(2)), data.y)
    model = ModelConfig(subnetworks=2, width=4).build(task.in_features, task.out_features, task.readout, seed=3)
    return task, data, model


def test_sharpness_is_the_loss_rise_at_the_normalised_gradient_step(setup):
    task, data, model = setup
    before = copy.deepcopy(model.state_dict())
    out = sharpness_scores(task, model, data, rho=0.2)
    ref = copy.deepcopy(model)
    with spike_mode(ref, "smooth"):
        ref.eval()
        loss = task.loss(ref(data.x)[0], data.y)
        loss.backward()
        grads = [p.grad.double() for p in ref.parameters()]
        norm = torch.sqrt(sum((g ** 2).sum() for g in grads))
        with torch.no_grad():
            for p, g in zip(ref.parameters(), grads):
                p += (0.2 * g / norm).to(p.dtype)
            up = task.loss(ref(data.x)[0], data.y)
    assert out["loss"] == pytest.approx(float(loss), rel=1e-6)
    assert out["sharpness"] == pytest.approx(float(up - loss), rel=1e-4, abs=1e-7)
    assert out["sharpness"] > 0
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items()), "weights restored exactly"


def test_input_gradient_norm_equals_a_per_sample_loop(setup):
    task, data, model = setup
    out = sharpness_scores(task, model, data, rho=0.05)
    norms = []
    with spike_mode(model, "smooth"):
        model.eval()
        for i in range(len(data)):
            x = data.x[:, i : i + 1].clone().requires_grad_(True)
            (g,) = torch.autograd.grad(task.loss(model(x)[0], data.y[i : i + 1]), x)
            norms.append(float(g.double().norm()))
    assert out["input_grad_norm"] == pytest.approx(sum(norms) / len(norms), rel=1e-5)
    assert out["rows"] == len(data)
    assert sharpness_scores(task, model, data, 0.05, max_rows=5)["rows"] == 5
