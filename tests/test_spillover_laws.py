"""Laws spillover must keep, for any claims (hypothesis): claims that grow exactly at the
trend give no spillover; for the same population and baseline, an all-domain contract's
targeted savings are a hospital-only contract's targeted savings less its spillover."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from funding_models.compare import compare
from funding_models.ledger import build_ledger
from tests.conftest import claims_frame, contract, members_frame

MEMBERS = [(f"M{i}", "adults", "GP_A" if i % 3 else "GP_B", 1.0) for i in range(6)]
DOMAINS = ["hospital", "gp", "pharmacy"]
TRENDS = {"hospital": 0.25, "gp": 0.5, "pharmacy": 0.0}

baseline_lines = st.lists(st.tuples(
    st.sampled_from([m for m, *_ in MEMBERS]), st.sampled_from(DOMAINS),
    st.integers(1, 250_000)), min_size=1, max_size=30)


def shared_savings(scope, **extra):
    return contract(model="shared_savings", name=f"scope {scope}", provider="GP_A",
                    scope={"domains": scope}, baseline_years=[2023],
                    performance_years=[2024], benchmark_pmpm=100, sharing_rate=0.5,
                    spillover={"trends": TRENDS}, **extra)


@settings(max_examples=40, deadline=None)
@given(baseline_lines)
def test_claims_growing_at_the_trend_give_no_spillover(lines):
    # Amounts in multiples of 4 cents: x 1.25 and x 1.5 stay whole cents.
    claims = []
    for number, (member, domain, cents) in enumerate(lines):
        amount = 4 * cents
        claims.append((member, "P", "2023-05-01", domain, "X", 1, amount / 100))
        claims.append((member, "P", "2024-05-01", domain, "X", 1,
                       amount * (1 + TRENDS[domain]) / 100))
    ledger = build_ledger(claims_frame(claims), members=members_frame(MEMBERS))
    (run,) = compare([shared_savings(["hospital"])], ledger)
    spill = run.spillover[0]
    if len(spill.domains):
        assert (spill.domains["delta"].abs() < 1e-6).all()
        assert run.rows[0].spillover == 0


@settings(max_examples=40, deadline=None)
@given(baseline_lines, baseline_lines)
def test_all_domain_savings_are_hospital_savings_less_their_spillover(before, after):
    claims = ([(m, "P", "2023-05-01", d, "X", 1, c / 100) for m, d, c in before]
              + [(m, "P", "2024-05-01", d, "X", 1, c / 100) for m, d, c in after])
    ledger = build_ledger(claims_frame(claims), members=members_frame(MEMBERS))
    hospital, everything = compare([shared_savings(["hospital"]), shared_savings("all")],
                                   ledger)[0].spillover
    if not len(hospital.years) or hospital.years["targeted_savings"].isna().any():
        return
    h, a = hospital.years.iloc[0], everything.years.iloc[0]
    assert abs(a["targeted_savings"] - (h["targeted_savings"] - h["spillover"])) <= 1
    assert a["spillover"] == 0
