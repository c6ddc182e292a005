"""Readable log axes: matplotlib labels minor ticks of a short log axis (``2x10^2 3x10^2 4x10^2``) and
they overlap; we label either the data's own values or whole decades, never both."""

from __future__ import annotations

import math
from typing import Any, Sequence

MAX_VALUE_TICKS = 7


def log_axis(ax: Any, values: Sequence[float], axis: str = "x", exact: bool = True) -> None:
    """Log scale on ``axis`` with non-overlapping labels.

    Few distinct values (a size or reg grid): ticks at exactly those values, written plainly
    (``128``, ``1e-05``). Many values, or ``exact=False`` (a curve's y axis): ticks at 1, 2, 5 x 10^k
    (ranges under 2.5 decades) or decades, no minor labels.
    """
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, NullLocator

    if axis not in ("x", "y"):
        raise ValueError(f"axis must be 'x' or 'y', got {axis!r}")
    target = ax.xaxis if axis == "x" else ax.yaxis
    (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
    distinct = sorted({float(v) for v in values if v is not None and v > 0})
    target.set_minor_formatter(NullFormatter())
    if exact and 0 < len(distinct) <= MAX_VALUE_TICKS:
        target.set_minor_locator(NullLocator())
        (ax.set_xticks if axis == "x" else ax.set_yticks)(distinct)
        shown = set(_labelled(ax, distinct, axis))
        target.set_major_formatter(FuncFormatter(lambda v, _: short_number(v) if v in shown else ""))
    else:
        decades = math.log10(distinct[-1] / distinct[0]) if distinct else 0.0
        subs = (1.0, 2.0, 5.0) if decades < 2.5 else (1.0,)
        target.set_major_locator(LogLocator(base=10, subs=subs, numticks=12))
        target.set_major_formatter(FuncFormatter(lambda v, _: short_number(v)))


def short_number(v: float) -> str:
    """``128``, ``0.002``, ``1e-05``: plain where short, else one-digit scientific."""
    if v == 0:
        return "0"
    if 1e-3 <= abs(v) < 1e5:
        return f"{v:g}"
    one_digit = f"{v:.0e}"
    # tick locators compute 10**k in floating point (1.0000000000000002e-05): equal within rounding
    return one_digit if math.isclose(float(one_digit), v, rel_tol=1e-9) else f"{v:.1e}"


def _labelled(ax: Any, values: list[float], axis: str) -> list[float]:
    """The values whose labels fit: every tick keeps its mark, but a label that would touch its
    neighbour's is dropped (e.g. 5888 beside 7680 on a 512..7680 axis). The ends always keep theirs.
    Label widths are estimated from the font size, positions from the axes' size in inches."""
    import matplotlib as mpl

    if len(values) < 3:
        return list(values)
    fig = ax.get_figure()
    box = ax.get_position()
    inches = (box.width * fig.get_figwidth()) if axis == "x" else (box.height * fig.get_figheight())
    span = math.log10(values[-1] / values[0]) * (1 + 2 * mpl.rcParams[f"axes.{axis}margin"])
    size = mpl.font_manager.FontProperties(size=mpl.rcParams[f"{axis}tick.labelsize"]).get_size_in_points()
    pad = 0.5 * size / 72  # half an em between labels

    def extent(v: float) -> float:  # label width (x) or height (y) in inches
        return (0.6 * size * len(short_number(v)) if axis == "x" else size) / 72

    def fits(a: float, b: float) -> bool:
        gap = math.log10(b / a) / span * inches
        return gap >= (extent(a) + extent(b)) / 2 + pad

    kept = [values[0]]
    for v in values[1:-1]:
        if fits(kept[-1], v) and fits(v, values[-1]):
            kept.append(v)
    return kept + [values[-1]]
