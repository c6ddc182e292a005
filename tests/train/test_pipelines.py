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


def test_cvx_records_its_witnesses_and_reaches_the_atom_target():
    task = make_task("mnist-seq", **TINY["mnist-seq"])
    splits = task.splits(0)
    s = settings()
    s.convex = ConvexConfig(reg=1e-2, atoms=300, progress=False)
    out = run_method("cvx", task, splits, s, seed=0, device=torch.device("cpu"))
    w = out.info["witnesses"]
    assert w["kind"] == "calibrated" and w["readout"] == "final" and w["atoms_target"] == 300
    assert w["blocks"][0]["kind"] == "calibrated" and w["blocks"][0]["band"] == [0.05, 0.95]
    assert set(w["diagnostics"]) >= {"silent_fraction", "saturated_fraction", "duplicate_fraction"}
    assert out.info["dictionary"]["atoms"] == 300
    assert out.model.readout == "final"


def test_model_readout_integrate_gives_sg_and_cvx_the_same_architecture():
    task = make_task("mnist-seq", **TINY["mnist-seq"])
    splits = task.splits(0)
    s = settings()
    s.model = ModelConfig(subnetworks=4, width=6, readout="integrate", readout_leak=0.9)
    s.convex = ConvexConfig(reg=1e-2, atoms=100, progress=False)
    cvx = run_method("cvx", task, splits, s, seed=0, device=torch.device("cpu"))
    sg = run_method("sg", task, splits, s, seed=0, device=torch.device("cpu"))
    assert cvx.model.readout == sg.model.readout == "integrate"
    assert cvx.model.readout_leak == sg.model.readout_leak == 0.9
    assert cvx.info["dictionary"]["layout"] == "integrate"
    assert 0.0 <= task.evaluate(cvx.model, splits["test"])["accuracy"] <= 1.0


def test_gaussian_witnesses_with_one_block_remain_available():
    task = make_task("first-last-xor", **TINY["first-last-xor"])
    s = settings()
    s.convex = ConvexConfig(reg=1e-2, witnesses="gaussian", atoms=None, progress=False)
    out = run_method("cvx", task, task.splits(0), s, seed=0, device=torch.device("cpu"))
    assert out.info["witnesses"]["blocks"] == [{"kind": "gaussian", "seed": 0}]
    assert out.info["dictionary"]["raw_columns"] == 24


@pytest.mark.parametrize("kwargs, match", [({"witnesses": "uniform"}, "witnesses"), ({"atoms": 0}, "atoms"),
                                           ({"rate_band": (0.9, 0.1)}, "rate_band"),
                                           ({"near_duplicate": 1.0}, "near_duplicate")])
def test_convex_config_names_bad_witness_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ConvexConfig(**kwargs)
