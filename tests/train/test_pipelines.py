"""The paper's variants end to end on tiny tasks: each trains, certifies and reconstructs."""

import pytest
import torch

from spikeopt.snn.config import ModelConfig
from spikeopt.tasks import make_task
from spikeopt.train.pipelines import ConvexConfig, MethodSettings, run_method
from spikeopt.train.surrogate import SGConfig

TINY = {
    "first-last-xor": {"steps": 4, "n_train": 200, "n_val": 50, "n_test": 50},
    "addition": {"digits": 3, "n_train": 64, "n_val": 32, "n_test": 32, "n_ood": 16, "ood_factors": (2,)},
    "mnist-seq": {"steps": 8, "n_train": 200},
}


def settings():
    return MethodSettings(
        model=ModelConfig(subnetworks=4, width=6, depth=1),
        sg=SGConfig(epochs=2, batch_size=64, progress=False),
        finetune=SGConfig(epochs=1, batch_size=64, progress=False),
        convex=ConvexConfig(reg=1e-2, tol=1e-6),
    )


@pytest.mark.parametrize("method", ["sg", "cvx", "sg-cvx", "sg-sg", "cvx-sg"])
@pytest.mark.parametrize("task_name", list(TINY))
def test_every_method_runs_on_every_task(method, task_name):
    task = make_task(task_name, **TINY[task_name])
    splits = task.splits(0)
    out = run_method(method, task, splits, settings(), seed=0, device=torch.device("cpu"))
    metrics = task.evaluate(out.model, splits["test"])
    assert 0.0 <= next(iter(metrics.values())) <= 1.0
    if method in ("cvx", "sg-cvx", "cvx-sg"):
        cert = out.info["certificate"]
        assert cert["dual"] <= cert["primal"] and cert["gap"] <= 1e-6 and cert["converged"]
    if method in ("sg-sg", "cvx-sg"):
        assert "finetune" in out.info["history"]


def test_sg_cvx_uses_the_trained_hidden_layers():
    task = make_task("first-last-xor", **TINY["first-last-xor"])
    splits = task.splits(0)
    sg = run_method("sg", task, splits, settings(), 0, torch.device("cpu")).model
    sgcvx = run_method("sg-cvx", task, splits, settings(), 0, torch.device("cpu")).model
    # every subnetwork of the reconstruction is one of the SG network's subnetworks
    for k in range(sgcvx.subnetworks):
        assert any(torch.equal(sgcvx.weights[0][k], sg.weights[0][j]) for j in range(sg.subnetworks))


def test_unknown_method_lists_valid_ones():
    task = make_task("first-last-xor", **TINY["first-last-xor"])
    with pytest.raises(ValueError, match="sg-cvx"):
        run_method("magic", task, task.splits(0), settings(), 0, torch.device("cpu"))


@pytest.mark.parametrize("task_name", ["first-last-xor", "mnist-seq"])
def test_admm_runs_through_the_pipeline(task_name):
    from spikeopt.train.admm import ADMMConfig

    task = make_task(task_name, **TINY[task_name])
    s = settings()
    s.admm = ADMMConfig(iterations=4, warmup=1, progress=False)
    out = run_method("admm", task, task.splits(0), s, seed=0, device=torch.device("cpu"))
    assert len(out.info["admm"]["train_accuracy"]) >= 1
    assert 0.0 <= task.evaluate(out.model, task.splits(0)["test"])["accuracy"] <= 1.0
