"""convex.reg as a value, a list or 'auto' in configs; keys of existing float configs do not change."""

import pytest

from spikeopt.experiments.config import RunConfig
from spikeopt.experiments.protocol import QUICK, method_spec, xor_base


# what cvx meant at 5eb1909 (the protocol pins it): Gaussian witnesses, one block, the plain network
PAPER_CVX = ["convex.witnesses=gaussian", "convex.atoms=null", "model.delays=none", "model.readout=null",
             "convex.select=val"]  # the paper selects on the validation split (protocols pin it)


def test_keys_of_float_reg_configs_are_those_from_before_the_path():
    # values computed on main at 5eb1909, before reg could be a path, before the growth, witness,
    # readout and delay fields: a config that means what it meant then keeps its key
    assert RunConfig().override(["method=cvx", "convex.reg=0.01", *PAPER_CVX]).key() == "ab593906692ceb2f"
    assert RunConfig().override(["method=sg-cvx", "convex.reg=1e-4", "task=mnist-seq", *PAPER_CVX]).key() == "480d1ad74873702d"
    # the default SG config (convex.reg defaulted to 1e-3 then) hashes as before when reg is pinned
    assert RunConfig().override(["convex.reg=1e-3", *PAPER_CVX]).key() == "7af90a0efd6c8145"
    # today's cvx default (calibrated witnesses, 8192 atoms) is another run, so another key
    assert RunConfig().override(["method=cvx", "convex.reg=0.01"]).key() != "ab593906692ceb2f"


def test_new_convex_fields_change_the_key_only_off_their_neutral_value():
    base = RunConfig().override(["convex.reg=0.01"])
    assert base.override(["convex.allow_unconverged=false", "convex.grow_rounds=0"]).key() == base.key()
    assert base.override(["convex.allow_unconverged=true"]).key() != base.key()
    assert base.override(["convex.grow_rounds=2"]).key() != base.key()


def test_protocol_runs_keep_their_float_reg_grid():
    spec = method_spec("t", QUICK, xor_base(QUICK, 8), "cvx")
    regs = sorted({cfg.convex.reg for _, cfg in spec.configs()})
    assert regs == sorted(QUICK.reg_grid)  # one-point paths, selected across runs as before


@pytest.mark.parametrize(
    "text, expected",
    [("convex: {reg: auto}\n", "auto"), ("convex: {reg: 1e-3}\n", 1e-3), ("convex: {reg: [1.0e-2, 1e-3]}\n", [1e-2, 1e-3])],
)
def test_reg_forms_load_from_yaml(tmp_path, text, expected):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    cfg = RunConfig.from_yaml(path)
    assert cfg.convex.reg == expected
    assert RunConfig.from_dict(cfg.to_dict()).key() == cfg.key()  # survives the round trip


def test_reg_overrides_and_errors():
    assert RunConfig().override(["convex.reg=auto"]).convex.reg == "auto"
    assert RunConfig().override(["convex.reg=1e-2,1e-3"]).convex.reg == [1e-2, 1e-3]
    with pytest.raises(ValueError, match="'auto'"):
        RunConfig().override(["convex.reg=often"])
    with pytest.raises(ValueError, match="grow_rounds"):
        RunConfig().override(["convex.grow_rounds=-1"])
