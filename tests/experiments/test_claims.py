import pytest

from spikeopt.experiments.claims import Claim, render_claims, verdict


def test_verdict_maps_test_results_and_missing_runs():
    assert [verdict(True), verdict(False), verdict(None)] == ["holds", "fails", "not run"]


def test_unknown_verdict_is_refused_with_the_allowed_ones():
    with pytest.raises(ValueError, match="holds"):
        Claim("001", "Table 2", "CVX beats SG", "0.925", "0.9", "true")


def test_claims_table_has_one_row_per_claim_and_counts_verdicts():
    claims = [Claim("001", "Table 2", "CVX > SG on mnist-seq", "0.925 vs 0.913", "0.95 vs 0.94", "holds", "mean over 3 seeds"),
              Claim("004", "Abstract", "SAM closes the transfer gap", None, None, "not testable", "gap is zero")]
    text = render_claims(claims)
    lines = text.splitlines()
    assert lines[0].startswith("| paper | where | claim")
    assert sum(line.startswith("| 00") for line in lines) == 2
    assert "**not testable**" in text and "| — |" in text
    assert text.endswith("2 claims: 1 holds, 0 fails, 1 not testable, 0 not run.")
    assert render_claims([]) == "_no claims were checked in this report_"
