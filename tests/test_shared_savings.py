"""Shared savings on claims (SPEC §2 populations, §4.2): hand-worked examples.

The base case: three members, enrolled throughout 2023–2024.
    M1 elderly, attributed to GP_A, risk 1.2      M2 adults, GP_A, risk 0.8
    M3 adults, GP_B, risk 1.6
Claims (euros):           2023                          2024
    M1   hospital HOSP 1 200, gp GP_A 120           hospital HOSP 1 000, gp GP_A 140
    M2   gp GP_A 240                                gp GP_A 200, pharmacy PH (RX9) 100
    M3   hospital HOSP 600                          hospital HOSP 700
GP_A's population (M1, M2): 24 member months a year; in-scope spend (all domains) 1 560
in 2023 (65.00 PMPM) and 1 440 in 2024.
"""
from __future__ import annotations

import pandas as pd
import pytest

from funding_models.compare import settle_contracts
from funding_models.ledger import build_ledger
from funding_models.results import summary_frame
from tests.conftest import attribution_frame, claims_frame, contract, members_frame

CLAIMS = [
    ("M1", "HOSP", "2023-03-01", "hospital", "H1", 1, 1_200),
    ("M1", "GP_A", "2023-04-01", "gp", "G1", 1, 120),
    ("M2", "GP_A", "2023-05-01", "gp", "G1", 1, 240),
    ("M3", "HOSP", "2023-06-01", "hospital", "H1", 1, 600),
    ("M1", "HOSP", "2024-03-01", "hospital", "H1", 1, 1_000),
    ("M1", "GP_A", "2024-04-01", "gp", "G1", 1, 140),
    ("M2", "GP_A", "2024-05-01", "gp", "G1", 1, 200),
    ("M2", "PH", "2024-06-01", "pharmacy", "RX9", 1, 100),
    ("M3", "HOSP", "2024-07-01", "hospital", "H1", 1, 700),
]
MEMBERS = [("M1", "elderly", "GP_A", 1.2), ("M2", "adults", "GP_A", 0.8),
           ("M3", "adults", "GP_B", 1.6)]


def ledger(claims=CLAIMS, members=MEMBERS, **kwargs):
    return build_ledger(claims_frame(claims),
                        members=members_frame(members) if members is not None else None,
                        **kwargs)


def terms(**overrides):
    base = dict(model="shared_savings", name="GP A shared savings", provider="GP_A",
                baseline_years=[2023], trend=0.02, performance_years=[2024],
                minimum_savings_rate=0.02, sharing_rate=0.5)
    return contract(**{**base, **overrides})


def settle(the_terms, the_ledger=None):
    (result,) = settle_contracts([the_terms], the_ledger or ledger())
    return result


def row(the_terms, the_ledger=None, year=2024):
    result = settle(the_terms, the_ledger)
    return next(r for r in result.rows if r.year == year)


def settlement(result):
    table = next(t for t in result.tables if t.title == "Settlement per performance year")
    return table.frame.set_index("year")


def test_historical_benchmark_with_trend():
    """Baseline 65.00 PMPM x 1.02 = 66.30; benchmark 66.30 x 24 = 1 591.20; expenditure
    1 440; savings 151.20 (9.50%) ≥ 2%: 50% of 151.20 = 75.60 shared."""
    r = row(terms())
    assert (r.members, r.member_months) == (2, 24)
    assert r.savings_rate == pytest.approx(151.20 / 1_591.20)
    assert r.shared_savings == 7_560 and r.shared_losses == 0
    assert r.ffs_equivalent == 144_000 and r.insurer_cost == 144_000 + 7_560
    # GP_A billed 140 + 200 of the population's 2024 care.
    assert r.provider_cost == 34_000 and r.provider_revenue == 34_000 + 7_560
    assert r.provider_result == 7_560
    line = settlement(settle(terms())).loc[2024]
    assert line["benchmark"] == 1_591.20 and line["expenditure"] == 1_440.00
    assert line["benchmark_pmpm"] == pytest.approx(66.30)


def test_scope_limits_the_spend_to_its_domains():
    """gp only: 2023 360/24 = 15.00 PMPM x 1.02 = 15.30; benchmark 367.20; expenditure
    340; savings 27.20 (7.41%): 13.60 shared."""
    r = row(terms(scope={"domains": ["gp"]}))
    assert r.shared_savings == 1_360 and r.ffs_equivalent == 34_000


def test_segment_and_two_sided_losses_with_a_cap():
    """Adults of GP_A = M2: 2023 240/12 = 20.00 x 1.02 = 20.40 PMPM, benchmark 244.80;
    2024 expenditure 300: loss 55.20 (22.5%). Loss rate 30%: 16.56, capped at 5% of
    244.80 = 12.24."""
    r = row(terms(scope={"segment": "Adults"}, loss_sharing_rate=0.3, loss_cap=0.05))
    assert r.members == 1 and r.shared_losses == 1_224 and r.shared_savings == 0
    assert r.insurer_cost == 30_000 - 1_224
    assert r.provider_result == -1_224
    assert "loss_cap reached" in r.status
    one_sided = row(terms(scope={"segment": "adults"}))
    assert one_sided.shared_losses == 0
    assert "one-sided" in one_sided.status


def test_truncation_counts_each_members_year_at_most_the_limit():
    """Truncated at 1 000: M1's 1 320 (2023) and 1 140 (2024) count 1 000. Baseline
    (1 000 + 240)/24 = 51.6667 x 1.02 = 52.70, benchmark 1 264.80; expenditure 1 000 +
    300 = 1 300: a loss of 35.20 (−2.78%), which a one-sided contract does not share.
    The insurer still pays the claims in full: FFS equivalent 1 440."""
    result = settle(terms(truncate_member_spend=1_000))
    line = settlement(result).loc[2024]
    assert line["benchmark"] == 1_264.80 and line["expenditure"] == 1_300.00
    r = result.rows[0]
    assert r.ffs_equivalent == 144_000 and r.shared_savings == 0


def test_carve_out_codes_leave_the_spend():
    """Without RX9's 100, expenditure 1 340: savings 251.20, 125.60 shared."""
    r = row(terms(carve_out_codes=["RX9"]))
    assert r.ffs_equivalent == 134_000 and r.shared_savings == 12_560


def test_attribution_table_changes_the_population_and_risk_adjustment():
    """M3 moves to GP_A in 2024 (attribution table). R_2023 = (1.2 + 0.8)/2 = 1.0 and
    R_2024 = (1.2 + 0.8 + 1.6)/3 = 1.2. Benchmark PMPM 66.30 x 1.2 = 79.56 x 36 =
    2 864.16; expenditure 1 440 + 700 = 2 140: savings 724.16, 362.08 shared. With
    risk_cap 5%: 66.30 x 1.05 = 69.615 x 36 = 2 506.14; savings 366.14, 183.07 shared."""
    moved = ledger(attribution=attribution_frame([("M3", 2024, "GP_A"), ("M3", 2023, "GP_B")]))
    free = settle(terms(risk_adjustment="risk_score"), moved)
    assert free.rows[0].members == 3
    assert settlement(free).loc[2024, "risk_factor"] == pytest.approx(1.2)
    assert free.rows[0].shared_savings == 36_208
    capped = settle(terms(risk_adjustment="risk_score", risk_cap=0.05), moved)
    assert settlement(capped).loc[2024, "benchmark"] == 2_506.14
    assert capped.rows[0].shared_savings == 18_307


def test_plurality_attribution_ties_go_to_the_lowest_provider_id():
    """M3 has 50 of gp care at GP_A and 50 at GP_B in 2024: a tie, so GP_A; members
    without gp claims in a year (M3 in 2023) are not attributed."""
    claims = CLAIMS + [("M3", "GP_B", "2024-08-01", "gp", "G1", 1, 50),
                       ("M3", "GP_A", "2024-09-01", "gp", "G1", 1, 50)]
    result = settle(terms(attribution="plurality", scope={"domains": ["gp"]}),
                    ledger(claims=claims))
    population = next(t for t in result.tables if t.title == "Population per year").frame
    assert population.set_index("year")["members"].to_dict() == {2023: 2, 2024: 3}


def test_attribution_none_takes_every_member():
    r = row(terms(attribution="none"))
    assert r.members == 3 and r.ffs_equivalent == 214_000


def test_agreed_benchmark_over_several_years_with_a_total():
    """2023: 70.00 x 24 = 1 680 vs 1 560: savings 120 (7.14%), 60 shared. 2024: 66.30 x 24
    = 1 591.20 vs 1 440: 75.60 shared. Contract total 135.60."""
    result = settle(terms(benchmark_pmpm={2023: 70, 2024: 66.30}, baseline_years=None,
                          performance_years=[2023, 2024]))
    assert [r.shared_savings for r in result.rows] == [6_000, 7_560]
    table = settlement(result)
    assert table.loc["total", "shared_savings"] == 135.60
    assert table.loc["total", "benchmark"] == 1_680 + 1_591.20


def test_confidence_msr_from_the_last_baseline_year():
    """2023 annualised spend: M1 1 320, M2 240: mean 780, sample standard deviation
    763.675, CV 0.979070; N = 2: MSR = 1.2815516 x 0.979070 / √2 = 88.72%."""
    result = settle(terms(minimum_savings_rate={"confidence": 0.9}))
    assert settlement(result).loc[2024, "minimum_savings_rate"] == pytest.approx(
        1.2815516 * 0.979070 / 2 ** 0.5, abs=1e-6)
    assert result.rows[0].shared_savings == 0


def test_enrollment_limits_member_months_and_spend():
    """M2 enrolled until 30 June 2024: 6 member months in 2024 and the claim of 1 Oct 2024
    does not count. Population 2024: 18 months, benchmark 66.30 x 18 = 1 193.40 (baseline
    2023: M2 enrolled all year, 65.00 PMPM); expenditure 1 440 (the October claim left
    out)."""
    members = [MEMBERS[0], ("M2", "adults", "GP_A", 0.8, "2023-01-01", "2024-06-30"),
               MEMBERS[2]]
    claims = CLAIMS + [("M2", "GP_A", "2024-10-01", "gp", "G1", 1, 80)]
    result = settle(terms(), ledger(claims=claims, members=members))
    line = settlement(result).loc[2024]
    assert line["member_months"] == 18 and line["benchmark"] == 1_193.40
    assert line["expenditure"] == 1_440.00


@pytest.mark.parametrize("overrides, reason", [
    ({"minimum_savings_rate": "cms"}, "the CMS table starts at 5,000 members"),
    ({"baseline_years": [2021]}, "baseline year 2021 is outside the claims data (2023–2024)"),
    ({"performance_years": [2025]}, "2025 is outside the claims data"),
    ({"scope": {"segment": "youth"}}, "no members in the population in 2024"),
])
def test_years_that_cannot_be_settled_are_blank_with_the_reason(overrides, reason):
    r = settle(terms(**overrides)).rows[-1]
    assert r.status.startswith("not settled") and reason in r.status
    assert r.insurer_cost is None and r.shared_savings is None


def test_without_a_members_table_the_contract_says_so():
    result = settle(terms(), ledger(members=None))
    assert "needs a members table" in result.rows[0].status
    assert result.warnings and result.rows[0].insurer_cost is None


def test_summary_row_of_a_shared_savings_contract():
    summary = summary_frame(settle(terms()).rows)
    assert summary.loc[0, ["model", "members", "shared_savings", "shared_losses"]].tolist() == [
        "shared_savings", 2, 75.60, 0.0]
    assert summary.loc[0, "provider_result"] == 75.60
    assert isinstance(summary, pd.DataFrame)
