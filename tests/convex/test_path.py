"""reg specs, the auto grid and validation selection, against hand-computed values."""

import math

import pytest

from spikeopt.convex.path import PathPoint, auto_regs, check_reg_spec, path_regs, select


@pytest.mark.parametrize(
    "spec, expected",
    [("auto", "auto"), ("AUTO", "auto"), (0.5, 0.5), (1, 1.0), ("1e-3", 1e-3), ("1e-2,1e-3", [1e-2, 1e-3]),
     ([0.1, "1e-3"], [0.1, 1e-3]), ((0.2,), [0.2])],
)
def test_reg_spec_forms(spec, expected):
    assert check_reg_spec(spec) == expected


@pytest.mark.parametrize("spec", [0, -1e-3, float("nan"), float("inf"), "abc", [], ["auto"], True, None, {"a": 1}])
def test_bad_reg_spec_names_the_allowed_forms(spec):
    with pytest.raises(ValueError, match="'auto'"):
        check_reg_spec(spec)


def test_auto_grid_is_geometric_from_half_reg_max_to_a_hundredth():
    regs = auto_regs(2.0)
    expected = [0.5 * 2.0 * (2e-2) ** (i / 7) for i in range(8)]  # 8 points, 0.5 -> 1e-2 of reg_max
    assert len(regs) == 8
    for r, e in zip(regs, expected):
        assert math.isclose(r, e, rel_tol=1e-12)
    assert math.isclose(regs[-1], 2e-2, rel_tol=1e-12)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan")])
def test_auto_grid_needs_a_positive_reg_max(bad):
    with pytest.raises(ValueError, match="reg_max"):
        auto_regs(bad)


def test_path_regs_sorted_largest_first_without_duplicates():
    assert path_regs([1e-3, 1e-2, 1e-3], None) == [1e-2, 1e-3]
    assert path_regs(0.3, None) == [0.3]
    with pytest.raises(ValueError, match="reg_max"):
        path_regs("auto", None)
    assert path_regs("auto", 0.0) == [1e-3]  # no atom correlates with the targets: one solve, W = 0


def _point(reg, val, eligible=True, val_loss=None):
    return PathPoint(reg=reg, primal=1.0, dual=1.0, gap=0.0, converged=eligible, n_iter=1, time_s=0.0,
                     active_atoms=1, subnetworks=1, train={"accuracy": 1.0},
                     val=None if val is None else {"accuracy": val, "other": 0.0}, eligible=eligible,
                     val_loss=val_loss)


def test_select_best_validation_metric_ties_to_larger_reg():
    points = [_point(1e-1, 0.7), _point(1e-2, 0.9), _point(1e-3, 0.9), _point(1e-4, 0.8)]
    assert select(points) == 1  # 0.9 twice: the larger reg


def test_select_breaks_metric_ties_by_validation_loss_then_reg():
    points = [_point(1e-1, 0.9, val_loss=0.60), _point(1e-2, 0.9, val_loss=0.35), _point(1e-3, 0.9, val_loss=0.41),
              _point(1e-4, 0.8, val_loss=0.10)]
    assert select(points) == 1  # three-way tie on accuracy: the lowest loss, not the largest reg
    assert select([_point(1e-1, 0.9, val_loss=0.3), _point(1e-2, 0.9, val_loss=0.3)]) == 0  # then the larger reg


def test_select_skips_ineligible_points_even_when_best():
    points = [_point(1e-1, 0.7), _point(1e-2, 0.99, eligible=False), _point(1e-3, 0.8)]
    assert select(points) == 2


def test_select_needs_validation_for_a_path_but_not_for_one_point():
    assert select([_point(1e-2, None)]) == 0
    with pytest.raises(ValueError, match="validation split"):
        select([_point(1e-2, None), _point(1e-3, None)])


def test_select_with_no_eligible_point_names_the_gaps():
    with pytest.raises(ValueError, match="gap"):
        select([_point(1e-2, 0.5, eligible=False)])


def test_stop_early_after_two_drops_below_the_best():
    from spikeopt.convex.path import stop_early

    vals = [0.4, 0.6, 0.7, 0.65]
    assert not stop_early([_point(1.0 / (i + 1), v) for i, v in enumerate(vals)])  # one drop only
    vals.append(0.66)
    assert stop_early([_point(1.0 / (i + 1), v) for i, v in enumerate(vals)])  # two in a row below 0.7
    assert not stop_early([_point(1.0 / (i + 1), v) for i, v in enumerate([0.4, 0.7, 0.65, 0.7])])  # tie: not below
    # ineligible points neither count as drops nor as the best
    pts = [_point(1.0, 0.5), _point(0.5, 0.9, eligible=False), _point(0.2, 0.45), _point(0.1, 0.6)]
    assert not stop_early(pts)


def test_extend_continues_a_path_whose_last_point_is_best():
    from spikeopt.convex.path import extend

    regs = [0.4, 0.2, 0.1]
    rising = [_point(r, v) for r, v in zip(regs, [0.5, 0.6, 0.7])]
    assert extend(rising, regs, reg_max=1.0) == pytest.approx(0.05)  # the path's own ratio
    turned = [_point(r, v) for r, v in zip(regs, [0.5, 0.7, 0.6])]
    assert extend(turned, regs, reg_max=1.0) is None
    assert extend(rising, regs, reg_max=1.0, floor=0.08) is None  # 0.05 would be below the floor
    assert extend(rising[:2], regs, reg_max=1.0) is None  # not at the end of the path yet
    flat = [_point(r, 1.0, val_loss=l) for r, l in zip(regs, [0.3, 0.2, 0.1])]
    assert extend(flat, regs, reg_max=1.0) is None  # saturated accuracy: the loss tie-break does not extend
