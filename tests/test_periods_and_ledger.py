"""Contract years, member months (SPEC §2) and the ledger's aggregates."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from funding_models.ledger import build_ledger
from funding_models.periods import MergedSpans, contract_year, member_months

from conftest import claims_frame


def days(*texts):
    return np.array(texts, dtype="datetime64[D]")


@pytest.mark.parametrize("convention, expected", [
    # SPEC §2: 15 Jan – 10 Apr → Jan, Feb, Mar, Apr = 4;
    # fractional 17/31 + 29/29 + 31/31 + 10/30 = 2.882 (2024 is a leap year).
    ("any_day", 4.0),
    ("fractional", 17 / 31 + 1 + 1 + 10 / 30),
])
def test_spec_member_months_example(convention, expected):
    frame = member_months(np.array([0]), days("2024-01-15"), days("2024-04-10"),
                          np.array([2024]), convention)
    assert frame["member_months"].iloc[0] == pytest.approx(expected)
    if convention == "fractional":
        assert round(expected, 3) == 2.882


def test_gaps_overlaps_and_years():
    # Member 0: two spans in January (a gap of a week) and one into March:
    # any_day counts January once; fractional counts the enrolled days.
    member = np.array([0, 0, 1])
    start = days("2024-01-01", "2024-01-20", "2023-12-15")
    end = days("2024-01-12", "2024-03-15", "2025-01-31")
    any_day = member_months(member, start, end, np.array([2023, 2024, 2025]), "any_day")
    assert any_day.values.tolist() == [[0, 2024, 3.0], [1, 2023, 1.0], [1, 2024, 12.0],
                                       [1, 2025, 1.0]]
    fractional = member_months(member, start, end, np.array([2024]), "fractional")
    # January: 12 + 12 days of 31; February 1; March 15/31.
    assert fractional["member_months"].iloc[0] == pytest.approx(24 / 31 + 1 + 15 / 31)


def test_contract_years_starting_in_april():
    dates = days("2024-03-31", "2024-04-01", "2025-03-31")
    assert contract_year(dates, 4).tolist() == [2023, 2024, 2024]
    frame = member_months(np.array([0]), days("2024-01-01"), days("2024-12-31"),
                          np.array([2023, 2024]), "any_day", year_start_month=4)
    assert frame["member_months"].tolist() == [3.0, 9.0]  # Jan–Mar 2024; Apr–Dec 2024


def test_enrolled_on_finds_the_span_of_each_claim():
    spans = MergedSpans(np.array([0, 0]), days("2024-01-01", "2024-02-01"),
                        days("2024-01-10", "2024-02-28"))
    flags = spans.hold(np.array([0, 0, 0, 1]), days("2024-01-05", "2024-01-15", "2024-02-01",
                                                    "2024-01-01"))
    assert flags.tolist() == [True, False, True, False]


def test_ledger_aggregates_once_per_member_year_domain_provider():
    claims = claims_frame([
        ("M1", "GP_1", "2023-05-01", "gp", "G1", 1, 10.00),
        ("M1", "GP_1", "2023-06-01", "gp", "G1", 1, 15.50),
        ("M1", "GP_1", "2024-06-01", "gp", "G1", 1, 20.00),
        ("M2", "HOSP", "2024-07-01", "hospital", "H1", 1, 1_000.00),
        ("M2", "HOSP", "2024-07-01", "hospital", "H1", 1, -1_000.00),
    ])
    members = pd.DataFrame({
        "member_id": ["M1", "M2"],
        "enrollment_start": days("2023-01-01", "2024-07-01"),
        "enrollment_end": np.array(["NaT", "NaT"], dtype="datetime64[D]"),
    })
    ledger = build_ledger(claims, members=members)
    assert ledger.years == (2023, 2024)
    spend = ledger.spend.assign(member=lambda f: f["member"].astype(str),
                                domain=lambda f: f["domain"].astype(str),
                                provider=lambda f: f["provider"].astype(str))
    assert spend[["member", "year", "domain", "amount", "lines"]].values.tolist() == [
        ["M1", 2023, "gp", 2550, 2], ["M1", 2024, "gp", 2000, 1],
        ["M2", 2024, "hospital", 0, 2]]
    months = ledger.member_months.assign(member=lambda f: f["member"].astype(str))
    assert months.values.tolist() == [["M1", 2023, 12.0], ["M1", 2024, 12.0],
                                      ["M2", 2024, 6.0]]
    assert ledger.claims["enrolled"].all()


def test_claims_outside_enrollment_are_kept_but_flagged():
    claims = claims_frame([("M1", "GP_1", "2024-01-15", "gp", "G1", 1, 10.0),
                           ("M1", "GP_1", "2024-03-15", "gp", "G1", 1, 10.0)])
    members = pd.DataFrame({"member_id": ["M1"], "enrollment_start": days("2024-02-01"),
                            "enrollment_end": days("2024-12-31")})
    ledger = build_ledger(claims, members=members)
    assert ledger.claims["enrolled"].tolist() == [False, True]
    assert ledger.spend["amount"].sum() == 2000


def test_enrollment_table_replaces_the_members_span():
    claims = claims_frame([("M1", "GP_1", "2024-01-15", "gp", "G1", 1, 10.0)])
    members = pd.DataFrame({"member_id": ["M1", "M2"],
                            "enrollment_start": np.array(["NaT", "NaT"], dtype="datetime64[D]"),
                            "enrollment_end": np.array(["NaT", "NaT"], dtype="datetime64[D]")})
    enrollment = pd.DataFrame({"member_id": ["M1", "M1"],
                               "enrollment_start": days("2024-01-01", "2024-06-01"),
                               "enrollment_end": days("2024-02-29", "2024-06-30")})
    ledger = build_ledger(claims, members=members, enrollment=enrollment)
    months = ledger.member_months.assign(member=lambda f: f["member"].astype(str))
    assert months.values.tolist() == [["M1", 2024, 3.0]]  # Jan, Feb, Jun; M2 not enrolled


def test_without_enrollment_spans_nobody_is_enrolled():
    empty = np.array([], dtype="datetime64[D]")
    spans = MergedSpans(np.array([], dtype=np.int64), empty, empty)
    assert spans.hold(np.array([0, 3]), days("2024-01-05", "2024-02-01")).tolist() == [False,
                                                                                      False]


def _coded_claims(provider_codes, years, domain_codes, care_codes, amounts, categories):
    index = pd.Index([f"x{i:07d}" for i in range(categories)])
    return pd.DataFrame({
        "provider": pd.Categorical.from_codes(provider_codes, categories=index),
        "year": np.array(years, dtype=np.int64),
        "domain": pd.Categorical.from_codes(domain_codes, categories=index),
        "care_code": pd.Categorical.from_codes(care_codes, categories=index),
        "amount": np.array(amounts, dtype=np.int64), "quantity": np.ones(len(amounts)),
        "lines": np.ones(len(amounts), dtype=np.int32)})


def test_care_code_totals_with_keys_too_many_to_pack_into_one_integer():
    """A million ids per key over 300 years cannot be packed into 63 bits (10^18 x 300):
    the totals must still be per provider, year, domain and code, not wrapped around."""
    from funding_models.ledger import care_code_totals

    claims = _coded_claims([999_999, 5, 999_998, 5], [1900, 2199, 2000, 2199],
                           [5, 999_998, 5, 999_998], [123_456, -1, 7, -1],
                           [100, 200, 300, 400], 1_000_000)
    totals = care_code_totals(claims)
    rows = totals.astype(object).where(totals.notna(), None).values.tolist()
    assert rows == [
        ["x0000005", 2199, "x0999998", None, 600, 2.0, 2],   # 200 + 400, a blank code
        ["x0999998", 2000, "x0000005", "x0000007", 300, 1.0, 1],
        ["x0999999", 1900, "x0000005", "x0123456", 100, 1.0, 1]]


def test_care_code_totals_packed_equal_the_grouped_categoricals():
    from funding_models.ledger import _care_code_totals_by_groupby, care_code_totals

    rng = np.random.default_rng(11)
    n = 2_000
    claims = _coded_claims(rng.integers(-1, 30, n), rng.integers(2020, 2025, n),
                           rng.integers(0, 4, n), rng.integers(-1, 50, n),
                           rng.integers(-5_000, 50_000, n), 60)
    claims["quantity"] = rng.random(n) * 3
    pd.testing.assert_frame_equal(
        care_code_totals(claims),
        _care_code_totals_by_groupby(claims, ["provider", "year", "domain", "care_code"]))


def test_spend_detail_with_many_domains_and_providers_is_counted_per_group_seen():
    """20 000 lines, each with a domain and provider of its own, over three years: a slot
    per possible year x domain x provider (1.2 billion) would not fit in memory."""
    from funding_models.populations import _detail
    from conftest import ledger_of

    rows = [(f"M{i}", f"P{i:05d}", f"{2022 + i % 3}-03-01", f"d{i:05d}", "X", 1, 1 + i % 7)
            for i in range(20_000)]
    ledger = ledger_of(rows)
    every = np.arange(len(ledger.claims))
    detail = _detail(ledger, every, ledger.codes.amount)
    expected = (ledger.claims.assign(domain=ledger.claims["domain"].astype(str),
                                     provider=ledger.claims["provider"].astype(str))
                .groupby(["year", "domain", "provider"], as_index=False)
                [["amount", "lines"]].sum())
    got = detail.astype({"domain": str, "provider": str})
    assert len(got) == 20_000
    assert got.sort_values(["year", "domain", "provider"]).values.tolist() == \
        expected.values.tolist()
