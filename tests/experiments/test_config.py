"""Run configs: YAML, dotted overrides, clear errors."""

import pytest

from spikeopt.experiments.config import RunConfig


def test_yaml_and_overrides(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("task: addition\ntask_options: {base: 3}\nmethod: cvx\nsg: {lr: 0.01}\nconvex: {reg: 0.0001}\n")
    cfg = RunConfig.from_yaml(path)
    assert cfg.task == "addition" and cfg.task_options == {"base": 3} and cfg.sg.lr == 0.01
    assert cfg.sg.epochs == RunConfig().sg.epochs  # untouched fields keep defaults
    cfg2 = cfg.override(["sg.lr=1e-3", "task_options.digits=4", "convex.beta_range=0.5,0.9", "seed=7"])
    assert cfg2.sg.lr == 1e-3 and cfg2.task_options == {"base": 3, "digits": 4}
    assert cfg2.convex.beta_range == (0.5, 0.9) and cfg2.seed == 7
    assert RunConfig.from_dict(cfg2.to_dict()) == cfg2


@pytest.mark.parametrize(
    "data, message",
    [
        ({"tsk": "x"}, "unknown config key"),
        ({"sg": {"learning_rate": 1}}, "unknown key"),
        ({"sg": {"lr": -1.0}}, "lr"),
        ({"convex": {"loss": "hinge"}}, "convex loss"),
    ],
)
def test_bad_configs_raise(data, message):
    with pytest.raises(ValueError, match=message):
        RunConfig.from_dict(data)


def test_bad_override_raises():
    with pytest.raises(ValueError, match="key=value"):
        RunConfig().override(["sg.lr"])
    with pytest.raises(ValueError, match="unknown config section"):
        RunConfig().override(["nope.lr=1"])


def test_yaml_exponent_floats_become_numbers(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("sg: {lr: 1e-3, grad_clip: 5e-1}\nmodel: {slope: 2e0}\n")
    cfg = RunConfig.from_yaml(path)
    assert cfg.sg.lr == 1e-3 and cfg.sg.grad_clip == 0.5 and cfg.model.slope == 2.0
