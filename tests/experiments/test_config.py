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


def test_malformed_yaml_names_file_line_and_column(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("method: sg\nsg:\n  lr: 0.1\n   epochs: 3\n")  # bad indentation on line 4
    with pytest.raises(ValueError) as err:
        RunConfig.from_yaml(path)
    message = str(err.value)
    assert message.startswith(f"{path} line 4 column") and "malformed YAML" in message
    assert "\n" not in message  # one line, not PyYAML's multi-line dump


@pytest.mark.parametrize("text, field, line, words", [
    ("method: sg\nsg:\n  epochs: 1.5\n", "sg.epochs", 3, "must be an integer"),
    ("sg:\n  epochs: true\n", "sg.epochs", 2, "boolean"),
    ("model:\n  width: '32'\n  beta: no\n", "model.beta", 3, "boolean"),
    ("seed: 1.25\n", "seed", 1, "must be an integer"),
    ("sast:\n  two_batches: 1\n", "sast.two_batches", 2, "true or false"),
    ("convex:\n  reg: -1.0\n", "convex.reg", 2, "reg must be > 0"),
    ("- 1\n- 2\n", None, None, "must be a mapping"),
])
def test_bad_yaml_values_name_file_line_and_field(tmp_path, text, field, line, words):
    path = tmp_path / "run.yaml"
    path.write_text(text)
    with pytest.raises((ValueError, TypeError)) as err:
        RunConfig.from_yaml(path)
    message = str(err.value)
    assert str(path) in message and words in message
    if field is not None:
        assert f"{path} line {line}:" in message and field in message


def test_integral_floats_fill_integer_fields(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("sg: {epochs: 1e1, batch_size: 64.0}\nseed: 3\n")
    cfg = RunConfig.from_yaml(path)
    assert cfg.sg.epochs == 10 and isinstance(cfg.sg.epochs, int) and cfg.sg.batch_size == 64


@pytest.mark.parametrize("item, field", [("sg.epochs=true", "sg.epochs"), ("sg.patience=false", "sg.patience"),
                                         ("model.subnetworks=2.5", "model.subnetworks"), ("seed=no", "seed")])
def test_overrides_refuse_booleans_and_fractions_for_integers(item, field):
    with pytest.raises(ValueError) as err:
        RunConfig().override([item])
    assert field in str(err.value) and repr(item) in str(err.value)
