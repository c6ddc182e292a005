"""Markdown building blocks for reports: tables, ours-vs-paper cells, better/worse marks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from spikeopt.experiments.select import Stat

TOLERANCE = 0.005  # differences smaller than this are marked "≈" (equal at the table's precision)


def md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub Markdown table; ``None`` cells print as ``—``."""
    if any(len(r) != len(header) for r in rows):
        raise ValueError(f"every row needs {len(header)} cells to match the header {list(header)}")
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join("—" if c is None else str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def fmt_stat(stat: Stat | None, digits: int = 3) -> str | None:
    return None if stat is None else stat.fmt(digits)


def fmt_num(value: float | None, digits: int = 3) -> str | None:
    return None if value is None else f"{value:.{digits}f}"


def mark(ours: float | None, paper: float | None, higher_is_better: bool = True) -> str | None:
    """``▲ better`` / ``▼ worse`` / ``≈`` of ours against the paper; None when either is missing."""
    if ours is None or paper is None:
        return None
    diff = (ours - paper) if higher_is_better else (paper - ours)
    if abs(diff) < TOLERANCE:
        return "≈"
    return f"▲ +{abs(ours - paper):.3f}" if diff > 0 else f"▼ −{abs(ours - paper):.3f}"


def mean(stat: Stat | None) -> float | None:
    return None if stat is None else stat.mean


def header(title: str, protocol_lines: list[str], extra: list[str] | None = None) -> str:
    lines = [f"# {title}", "", "Protocol:", "", *protocol_lines, ""]
    lines += [
        "Cells show our test metric as mean ± sample std over seeds, after selecting per seed the",
        "grid point with the best validation metric. `paper` is the value transcribed from the paper",
        "(`—` where text extraction lost it); the mark compares ours with it: ▲ better, ▼ worse, ≈ within",
        f"{TOLERANCE}. Our tasks, sizes and budgets differ from the paper's (see notes): compare trends.",
        "",
    ]
    return "\n".join(lines + (extra or []))
