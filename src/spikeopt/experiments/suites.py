"""Every suite ``spikeopt reproduce`` knows, by name (``--only NAME``): the paper-001 tables first,
each with the claims its runs decide."""

from __future__ import annotations

from dataclasses import replace

from spikeopt.experiments.claims_001 import TABLE_CLAIMS
from spikeopt.experiments.suite import Suite
from spikeopt.experiments.suite_admm import ADMM_SUITE
from spikeopt.experiments.suite_sast import SAST_SUITE
from spikeopt.experiments.tables import DIRECT_SUITE, TABLE_SUITES

SUITES: dict[str, Suite] = {s.name: replace(s, claims=TABLE_CLAIMS[s.name]) for s in [*TABLE_SUITES, DIRECT_SUITE]}
SUITES[SAST_SUITE.name] = SAST_SUITE
SUITES[ADMM_SUITE.name] = ADMM_SUITE
