"""Every suite ``spikeopt reproduce`` knows, by name (``--only NAME``): the paper-001 tables first."""

from __future__ import annotations

from spikeopt.experiments.suite import Suite
from spikeopt.experiments.tables import TABLE_SUITES

SUITES: dict[str, Suite] = {s.name: s for s in TABLE_SUITES}
