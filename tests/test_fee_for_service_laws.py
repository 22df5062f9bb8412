"""Laws fee-for-service must keep, checked on generated cases (hypothesis)."""
from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from funding_models.fee_for_service import payment, settle_fee_for_service
from funding_models.ledger import build_ledger

from conftest import claims_frame, contract, fee_schedule_frame

money = st.floats(min_value=0, max_value=1e9, allow_nan=False)
rate = st.floats(min_value=0, max_value=1)


@given(gross=money, ceiling=money)
def test_full_clawback_never_passes_the_ceiling(gross, ceiling):
    assert payment(gross, ceiling=ceiling, clawback_rate=1.0).paid <= ceiling + 1e-6


@given(gross=money, floor=money)
def test_full_topup_never_pays_below_the_floor(gross, floor):
    assert payment(gross, floor=floor, topup_rate=1.0).paid >= floor - 1e-6


@given(low=money, extra=money, ceiling=money, clawback=rate, floor=money, topup=rate)
def test_payment_never_falls_as_billing_rises(low, extra, ceiling, clawback, floor, topup):
    terms = dict(ceiling=ceiling, clawback_rate=clawback, floor=min(floor, ceiling),
                 topup_rate=topup)
    assert payment(low + extra, **terms).paid >= payment(low, **terms).paid - 1e-6


claim_line = st.tuples(
    st.sampled_from(["M1", "M2", "M3", "M4"]),
    st.sampled_from(["GP_1", "GP_2", "HOSP"]),
    st.sampled_from(["2023-03-01", "2024-01-31", "2024-12-31"]),
    st.sampled_from(["gp", "hospital"]),
    st.sampled_from(["G1", "G2", "X"]),
    st.integers(min_value=0, max_value=3),
    st.integers(min_value=-50_000, max_value=500_000).map(lambda c: c / 100),
)


def _settle(claims: pd.DataFrame):
    terms = contract(provider=["GP_1", "GP_2"], scope={"domains": ["gp"]},
                     performance_years=[2023, 2024], revenue_ceiling=2_000,
                     clawback_rate=0.7, degressive_tiers=[{"up_to": 500, "rate": 1.0},
                                                          {"rate": 0.9}])
    ledger = build_ledger(claims, fee_schedule=fee_schedule_frame({"G1": 12.34}))
    return settle_fee_for_service(terms, ledger).rows


@settings(max_examples=40, deadline=None)
@given(lines=st.lists(claim_line, min_size=1, max_size=40), seed=st.integers(0, 2**16),
       cut=st.integers(min_value=0, max_value=40))
def test_row_order_and_file_splits_change_nothing(lines, seed, cut):
    claims = claims_frame(lines)
    expected = _settle(claims)
    shuffled = claims.sample(frac=1, random_state=seed).reset_index(drop=True)
    assert _settle(shuffled) == expected
    # Two "files" read and stacked: the ledger is built on the concatenation.
    split = pd.concat([claims.iloc[cut:], claims.iloc[:cut]], ignore_index=True)
    assert _settle(split) == expected


@settings(max_examples=40, deadline=None)
@given(lines=st.lists(claim_line, min_size=1, max_size=40))
def test_ffs_equivalent_reconciles_to_the_cent(lines):
    claims = claims_frame(lines)
    in_scope = claims[claims["provider_id"].isin(["GP_1", "GP_2"]) & (claims["domain"] == "gp")]
    years = pd.to_datetime(in_scope["service_date"]).dt.year
    for row in _settle(claims):
        if row.ffs_equivalent is not None:
            assert row.ffs_equivalent == int(in_scope.loc[years == row.year, "amount"].sum())
