"""Log-axis tick labels do not overlap (the Table 6 plot's labels did) and say the plotted values."""

from __future__ import annotations

import matplotlib  # imported directly: with the test extra installed this fails, never skips

matplotlib.use("Agg", force=True)
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from spikeopt.plots.ticks import log_axis, short_number  # noqa: E402


def _visible_labels(fig, ax):
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    labels = [t for t in ax.get_xticklabels() + ax.xaxis.get_minorticklabels() if t.get_text() and t.get_visible()]
    lo, hi = ax.get_xlim()
    inside = [t for t in labels if min(lo, hi) <= t.get_position()[0] <= max(lo, hi)]
    return [(t.get_text(), t.get_window_extent(renderer)) for t in inside]


def _overlaps(boxes) -> bool:
    boxes = sorted(boxes, key=lambda b: b[1].x0)
    return any(a[1].x1 > b[1].x0 for a, b in zip(boxes, boxes[1:]))


def _figure(xs):
    fig, ax = plt.subplots(figsize=(4.2, 3.4))
    ax.plot(xs, range(len(xs)), marker="o")
    return fig, ax


@pytest.mark.parametrize("xs", [[128, 256, 512, 1024], [100, 150, 200, 300, 400], [2e-4, 5e-4, 1e-3, 3e-3, 8e-3]])
def test_few_values_are_labelled_exactly_without_overlap(xs):
    fig, ax = _figure(xs)
    log_axis(ax, xs)
    boxes = _visible_labels(fig, ax)
    assert [t for t, _ in boxes] == [short_number(x) for x in xs]
    assert not _overlaps(boxes)
    plt.close(fig)


def test_crowded_exact_values_drop_labels_not_ticks():
    """The full Table 6 grid: 5888 and 7680 sit 0.11 decades apart, and their labels overlapped."""
    xs = [512, 2304, 4096, 5888, 7680]
    fig, ax = _figure(xs)
    log_axis(ax, xs)
    boxes = _visible_labels(fig, ax)
    texts = [t for t, _ in boxes]
    assert not _overlaps(boxes)
    assert texts[0] == "512" and texts[-1] == "7680" and "5888" not in texts
    assert list(ax.get_xticks()) == xs  # every value keeps its tick mark
    plt.close(fig)


def test_matplotlib_default_overlaps_on_the_table6_grid():
    """The bug being fixed: a plain log axis over 128..1024 labels minor ticks on top of each other."""
    xs = [128, 256, 512, 1024]
    fig, ax = _figure(xs)
    ax.set_xscale("log")
    assert _overlaps(_visible_labels(fig, ax))
    plt.close(fig)


def test_many_values_get_decade_labels_without_overlap():
    xs = [10 ** (-5 + 0.25 * i) for i in range(17)]  # 1e-5 .. 1e-1
    fig, ax = _figure(xs)
    log_axis(ax, xs)
    boxes = _visible_labels(fig, ax)
    assert {t for t, _ in boxes} >= {"1e-05", "0.001", "0.1"}
    assert not _overlaps(boxes)
    plt.close(fig)


def test_short_number():
    assert [short_number(v) for v in (128, 0.002, 1e-5, 2.5e-6, 3e5, 0)] == ["128", "0.002", "1e-05", "2.5e-06", "3e+05", "0"]
    # a locator's 10**k carries rounding error (matplotlib 3.11 places 1.0000000000000002e-05)
    assert short_number(1.0000000000000002e-05) == "1e-05" and short_number(1.0000000000000002e-06 * 2.5) == "2.5e-06"
    with pytest.raises(ValueError, match="axis"):
        log_axis(plt.gca(), [1, 2], axis="z")
