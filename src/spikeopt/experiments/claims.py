"""A paper's claim set beside what we measured, with a verdict: the rows of the report's claims table.

Every suite of ``spikeopt reproduce`` may state the claims its runs test. A claim is a sentence the
paper makes (a number in a table, or a comparison in the text), the paper's value, ours, and one of
four verdicts. ``not run`` means the runs that decide it are not in the store yet; ``not testable``
means our data or the surviving text cannot decide it, and ``why`` says what is missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from spikeopt.experiments.report import md_table

Verdict = Literal["holds", "fails", "not testable", "not run"]
VERDICTS: tuple[Verdict, ...] = ("holds", "fails", "not testable", "not run")


@dataclass(frozen=True)
class Claim:
    """One claim: ``paper`` ("001", "003", "004"), ``where`` in it (e.g. "Table 2"), the ``claim`` in one
    line, the paper's value and ours as display strings, the verdict, and ``why`` (the test applied)."""

    paper: str
    where: str
    claim: str
    paper_value: str | None
    measured: str | None
    verdict: Verdict
    why: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")


def verdict(holds: bool | None) -> Verdict:
    """``holds``/``fails`` from a test result; ``None`` (the deciding runs are missing) is ``not run``."""
    if holds is None:
        return "not run"
    return "holds" if holds else "fails"


def render_claims(claims: Sequence[Claim]) -> str:
    """The claims table plus a one-line count per verdict."""
    if not claims:
        return "_no claims were checked in this report_"
    rows = [[c.paper, c.where, c.claim, c.paper_value, c.measured, f"**{c.verdict}**", c.why or None] for c in claims]
    counts = ", ".join(f"{sum(c.verdict == v for c in claims)} {v}" for v in VERDICTS)
    head = ["paper", "where", "claim", "paper's value", "ours", "verdict", "how it was decided"]
    return md_table(head, rows) + f"\n\n{len(claims)} claims: {counts}."
