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
        target.set_major_formatter(FuncFormatter(lambda v, _: short_number(v)))
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
    return f"{v:.0e}" if float(f"{v:.0e}") == v else f"{v:.1e}"
