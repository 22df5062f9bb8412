"""Laws capitation must keep, for any claims (hypothesis).

With a fixed rate and column attribution, what the provider is paid in capitation does
not depend on how much care is used; the provider's result falls one for one with the
cost of care until stop-loss or a corridor applies; a population whose risk scores are
all doubled, the rest of the book unchanged, is paid more; corridors are symmetric.
"""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from funding_models.capitation import corridor_settlement
from funding_models.compare import settle_contracts
from funding_models.ledger import build_ledger
from tests.conftest import claims_frame, contract, members_frame

MEMBERS = [("M1", "adults", "GP_A", 1.1), ("M2", "adults", "GP_A", 0.9),
           ("M3", "elderly", "GP_B", 1.4), ("M4", "adults", "GP_A", 1.0),
           ("M5", "youth", "GP_B", 0.5)]

claim_lines = st.lists(st.tuples(
    st.sampled_from(["M1", "M2", "M3", "M4", "M5"]),
    st.sampled_from(["GP_A", "GP_B", "PARA"]),
    st.sampled_from(["2024-01-10", "2024-06-15", "2024-12-31"]),
    st.sampled_from(["gp", "paramedical"]),
    st.just("X"), st.just(1),
    st.integers(0, 300_000).map(lambda cents: cents / 100),
), min_size=1, max_size=30)


def capitation(**overrides):
    base = dict(model="capitation", name="laws", provider="GP_A", performance_years=[2024],
                rate_pmpm=60, risk_adjustment="risk_score")
    return contract(**{**base, **overrides})


def settle(terms, lines, members=MEMBERS):
    ledger = build_ledger(claims_frame(lines), members=members_frame(members))
    return settle_contracts([terms], ledger)[0].rows[0]


@settings(max_examples=40, deadline=None)
@given(claim_lines, claim_lines)
def test_capitation_revenue_does_not_depend_on_utilisation(lines, other_lines):
    # Both sets of claims start with one claim of the same member, so that the run covers
    # 2024 either way; member months come from the members table, not from claims.
    anchor = [("M5", "GP_B", "2024-01-01", "gp", "X", 1, 1.0)]
    terms = capitation(stop_loss=None, risk_corridors=None)
    first, second = settle(terms, anchor + lines), settle(terms, anchor + other_lines)
    assert first.provider_revenue == second.provider_revenue


@settings(max_examples=40, deadline=None)
@given(claim_lines, st.integers(1, 100_000))
def test_result_falls_one_for_one_with_cost_below_the_attachment(lines, extra_cents):
    terms = capitation(stop_loss={"attachment": 1e7, "insurer_share": 0.9})
    more = lines + [("M1", "GP_A", "2024-03-03", "gp", "X", 1, extra_cents / 100)]
    before, after = settle(terms, lines), settle(terms, more)
    assert before.provider_result - after.provider_result == extra_cents


@settings(max_examples=40, deadline=None)
@given(claim_lines)
def test_a_sicker_population_is_paid_more(lines):
    doubled = [(m, s, p, r * 2 if p == "GP_A" else r) for m, s, p, r in MEMBERS]
    terms = capitation(stop_loss=None, risk_corridors=None)
    assert settle(terms, lines, doubled).provider_revenue > settle(terms, lines).provider_revenue


@given(st.floats(1, 1e9), st.floats(0, 0.9), st.floats(0, 0.2), st.floats(0, 1),
       st.floats(0, 1))
def test_corridors_are_symmetric_and_never_pass_the_result(revenue, result_rate, start,
                                                             share_in, share_above):
    bands = [(start, start + 0.05, share_in), (start + 0.05, None, share_above)]
    dear, cheap = revenue * (1 + result_rate), revenue * (1 - result_rate)
    loss = corridor_settlement(revenue, dear, bands)
    gain = corridor_settlement(revenue, cheap, bands)
    tolerance = 1e-9 * revenue  # the float rounding of the costs themselves
    assert abs(loss + gain) <= tolerance
    assert -tolerance <= loss <= (dear - revenue) + tolerance
