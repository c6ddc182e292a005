"""The convex flags of the command line: --reg (value, list, auto), --allow-unconverged, growth, certify."""

import json

import pytest

from spikeopt.cli import main
from spikeopt.convex.path import auto_regs
from spikeopt.convex.solution import ConvergenceWarning

XOR = ["--task", "first-last-xor", "--steps", "4", "--n-train", "100", "--n-val", "40", "--n-test", "40",
       "--method", "cvx", "--subnetworks", "8", "--width", "4"]


def _run(tmp_path, *flags):
    out = tmp_path / "r.json"
    assert main(["train", *XOR, *flags, "--out", str(out)]) == 0
    return json.loads(out.read_text())


def test_reg_list_is_a_path_in_the_result(tmp_path, capsys):
    result = _run(tmp_path, "--reg", "1e-2,3e-2")
    path = result["path"]
    assert [p["reg"] for p in path] == [3e-2, 1e-2] and sum(p["selected"] for p in path) == 1
    assert result["config"]["convex"]["reg"] == [1e-2, 3e-2]
    assert {"train", "val", "active_atoms", "subnetworks", "primal", "dual", "gap", "converged", "time_s"} <= set(path[0])
    assert result["certificate"]["reg"] == next(p["reg"] for p in path if p["selected"])
    out = capsys.readouterr().out
    assert "reg path (cross-validation-selected *)" in out  # 40 validation sequences: scored by 5 folds
    refit = result["refit"]  # ... so the selected reg is re-solved on train + val
    assert refit["used"] and refit["rows"] == 140 and result["certificate"]["reg"] == refit["reg"]
    assert (f"refit: reg {refit['reg']:.3e} re-solved on train + val (100 + 40 sequences), so the val metrics above "
            f"are in-sample; held-out estimate {refit['held_out']['accuracy']:.4f}") in out


def test_refit_can_be_turned_off(tmp_path):
    result = _run(tmp_path, "--reg", "1e-2,3e-2", "--set", "convex.refit=false", "--set", "convex.atoms=256")
    assert "refit" not in result and result["config"]["convex"]["refit"] is False


def test_single_reg_is_a_one_point_path(tmp_path):
    result = _run(tmp_path, "--reg", "0.01")
    assert len(result["path"]) == 1 and result["selection"]["rule"] == "single reg"
    assert result["config"]["convex"]["reg"] == 0.01


def test_reg_auto_and_allow_unconverged_route(tmp_path):
    with pytest.warns(ConvergenceWarning, match="allow_unconverged"):
        result = _run(tmp_path, "--reg", "auto", "--max-iter", "1", "--allow-unconverged")
    sel = result["selection"]
    assert sel["reg_spec"] == "auto" and result["config"]["convex"]["allow_unconverged"] is True
    regs = [p["reg"] for p in result["path"]] + sel["skipped_after_validation_drop"]
    grid = auto_regs(sel["reg_max"])  # then extended below the grid while its last point was the best
    assert regs[:len(grid)] == pytest.approx(grid, rel=1e-12) and len(regs) == len(grid) + sel["extended_below_grid"]
    assert not all(p["converged"] for p in result["path"])  # 1 iteration does not reach 1e-6 everywhere
    assert all(p["eligible"] for p in result["path"])  # allowed: every point may be selected


def test_default_reg_is_auto(tmp_path):
    result = _run(tmp_path)
    skipped = result["selection"]["skipped_after_validation_drop"]
    extended = result["selection"]["extended_below_grid"]
    assert result["config"]["convex"]["reg"] == "auto" and len(result["path"]) + len(skipped) == 8 + extended


def test_stopped_short_solve_exits_2_with_one_line(tmp_path, capsys):
    assert main(["train", *XOR, "--reg", "1e-3", "--max-iter", "1", "--no-progress", "--out", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "duality gap" in err and "--allow-unconverged" in err
    assert not (tmp_path / "r.json").exists()


def test_growth_flags_reach_the_stage(tmp_path):
    result = _run(tmp_path, "--reg", "0.01", "--subnetworks", "1", "--grow-rounds", "2", "--grow-candidates", "4",
                  "--grow-add", "2")
    grow = result["column_generation"]
    assert result["config"]["convex"]["grow_rounds"] == 2 and grow["candidate_subnetworks"] == 4
    assert all(r["added"] <= 2 for r in grow["rounds"]) and len(grow["rounds"]) <= 3
    assert result["certificate"]["level"] in ("dictionary", "sampled")


def test_certify_reports_the_selected_reg(tmp_path, capsys):
    out = tmp_path / "c.json"
    assert main(["certify", "--task", "first-last-xor", "--steps", "4", "--n-train", "100", "--n-val", "20",
                 "--n-test", "20", "--width", "4", "--counts", "2,4", "--reg", "1e-2,3e-2", "--out", str(out)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split()[:4] == ["K", "test", "acc", "reg"] and len(lines) == 4  # header, 2 rows, "written"
    rows = json.loads(out.read_text())["rows"]
    assert all(len(r["path"]) == 2 and r["reg"] in (1e-2, 3e-2) for r in rows)


@pytest.mark.parametrize("value", ["-1", "abc", "0"])
def test_bad_reg_exits_2(value, capsys):
    assert main(["train", *XOR, "--reg", value]) == 2
    assert "'auto'" in capsys.readouterr().err


def test_certify_complete_needs_one_reg(capsys):
    assert main(["certify", "--complete", "--task", "first-last-xor", "--steps", "3", "--depth", "1",
                 "--n-train", "24", "--n-val", "12", "--n-test", "12", "--width", "4"]) == 2
    assert "one reg" in capsys.readouterr().err
