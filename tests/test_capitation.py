"""Capitation (SPEC §4.3): corridors, factors, partial months, stop-loss and carve-outs,
hand-worked.

The members of the hand-worked case, in 2024 (ages on 1 January 2024):
    M1  F, born 1950-06-01 (73: band F 65–74, factor 1.5), GP_S, enrolled all year: 12 months
    M2  M, born 1990-03-15 (33: band M 30–44, factor 0.8), GP_S, enrolled 15 Jan – 10 Apr:
        4 member months (fractional: 17/31 + 1 + 1 + 10/30 = 2.881720)
    M3  F, born 2010-01-01 (14: band F 5–17, factor 0.5), GP_B, all year: 12 months
The book (all three): mean factor (1.5 x 12 + 0.8 x 4 + 0.5 x 12) / 28 = 27.2 / 28 =
0.971429, so GP_S's normalised factors are 1.5 / 0.971429 = 1.544118 and 0.823529.
Rate 150.00 PMPM: K = 150 x (1.544118 x 12 + 0.823529 x 4) = 150 x 21.823529 = 3 273.53.
Claims in scope (gp, paramedical): M1 gp 300 + paramedical 2 900 = 3 200 (plus a carved-out
G999 of 150 and a hospital claim of 5 000 out of scope); M2 gp 80 (a gp claim of 60 on
1 June falls outside enrollment); M3 gp 50 (not GP_S's). Cost of care D = 3 280.
Stop-loss at 2 500, insurer 90%: M1's 700 above it → 630.
"""
from __future__ import annotations

import pandas as pd
import pytest

from funding_models.capitation import corridor_settlement
from funding_models.compare import settle_contracts
from funding_models.ledger import build_ledger
from tests.conftest import claims_frame, contract, members_frame

BANDS = [{"from": 0.03, "to": 0.08, "provider_share": 0.5},
         {"from": 0.08, "provider_share": 0.2}]
FACTORS = [
    {"sex": "F", "age_from": 0, "age_to": 4, "factor": 0.9},
    {"sex": "F", "age_from": 5, "age_to": 17, "factor": 0.5},
    {"sex": "F", "age_from": 18, "age_to": 64, "factor": 1.0},
    {"sex": "F", "age_from": 65, "age_to": 74, "factor": 1.5},
    {"sex": "F", "age_from": 75, "age_to": None, "factor": 2.0},
    {"sex": "M", "age_from": 0, "age_to": 29, "factor": 0.6},
    {"sex": "M", "age_from": 30, "age_to": 44, "factor": 0.8},
    {"sex": "M", "age_from": 45, "age_to": None, "factor": 1.4},
]
CLAIMS = [
    ("M1", "GP_S", "2024-02-01", "gp", "G1", 1, 300),
    ("M1", "PARA", "2024-03-01", "paramedical", "P1", 1, 2_900),
    ("M1", "GP_S", "2024-04-01", "gp", "G999", 1, 150),
    ("M1", "HOSP", "2024-05-01", "hospital", "H1", 1, 5_000),
    ("M2", "GP_S", "2024-02-01", "gp", "G1", 1, 80),
    ("M2", "GP_S", "2024-06-01", "gp", "G1", 1, 60),
    ("M3", "GP_B", "2024-02-01", "gp", "G1", 1, 50),
]


def members(m1_risk=1.2):
    frame = members_frame([
        ("M1", "elderly", "GP_S", m1_risk, "2020-01-01", None),
        ("M2", "adults", "GP_S", 0.9, "2024-01-15", "2024-04-10"),
        ("M3", "youth", "GP_B", 0.6, "2020-01-01", None),
    ])
    frame["sex"] = ["F", "M", "F"]
    frame["birth_date"] = pd.to_datetime(["1950-06-01", "1990-03-15", "2010-01-01"]).astype(
        "datetime64[s]")
    return frame


def ledger(claims=CLAIMS, convention="any_day", frame=None):
    return build_ledger(claims_frame(claims), members=members() if frame is None else frame,
                        member_months_convention=convention)


def terms(**overrides):
    base = dict(model="capitation", name="Practice South", provider="GP_S",
                scope={"domains": ["gp", "paramedical"]}, carve_out_codes=["G999"],
                performance_years=[2024], rate_pmpm=150, risk_adjustment="age_sex",
                age_sex_factors=FACTORS, stop_loss={"attachment": 2_500, "insurer_share": 0.9},
                risk_corridors=BANDS)
    return contract(**{**base, **overrides})


def settle(the_terms, the_ledger=None):
    (result,) = settle_contracts([the_terms], the_ledger or ledger())
    return result


def line(result, year=2024):
    table = next(t for t in result.tables if t.title == "Capitation per performance year")
    return table.frame.set_index("year").loc[year]


@pytest.mark.parametrize("cost, expected", [
    # SPEC §4.3: K = 100M, bands 3–8% at provider share 0.5, above 8% at 0.2.
    (105e6, 1.0e6),    # loss 5%: (5% − 3%) x 0.5 x 100M
    (110e6, 4.1e6),    # loss 10%: 5% x 0.5 + 2% x 0.8 = 4.1%
    (95e6, -1.0e6),    # gain 5%: the provider returns 1.0M
    (102e6, 0.0),      # inside the first 3%: the provider keeps all
    (100e6, 0.0),
])
def test_spec_corridor_check(cost, expected):
    bands = [(0.03, 0.08, 0.5), (0.08, None, 0.2)]
    assert corridor_settlement(100e6, cost, bands) == pytest.approx(expected)


def test_hand_worked_capitation():
    """K = 3 273.53; stop-loss 630; D = 3 280. Result ratio after stop-loss (SPEC §4.3:
    (K + stop-loss − D) / K) = 623.53 / 3 273.53 = 19.0476%: the provider keeps the first
    3%, returns 50% of 3–8% (0.025) and 80% of 8–19.0476% (0.088381): 0.113381 x 3 273.53
    = 371.16 returned. Provider revenue 3 273.53 + 630 − 371.16 = 3 532.37; result
    252.37."""
    result = settle(terms())
    (row,) = result.rows
    assert (row.members, row.member_months) == (2, 16)
    assert row.ffs_equivalent == row.provider_cost == 328_000
    assert row.stop_loss == 63_000 and row.corridor == -37_116
    assert row.insurer_cost == row.provider_revenue == 327_353 + 63_000 - 37_116
    assert row.provider_result == 353_237 - 328_000
    figures = line(result)
    assert figures["capitation_revenue"] == 3_273.53
    assert figures["book_mean_factor"] == pytest.approx(27.2 / 28)
    assert figures["mean_factor"] == pytest.approx(21.823529 / 16, abs=1e-6)
    assert figures["carved_out"] == 150.00
    assert figures["stop_loss_members"] == 1 and figures["cost_above_attachment"] == 700.00
    assert figures["result_rate"] == pytest.approx(623.53 / 3_273.53)
    above = next(t for t in result.tables if t.title.startswith("Members above")).frame
    assert above[["member", "cost_of_care", "stop_loss"]].values.tolist() == [
        ["M1", 3_200.0, 630.0]]


def test_fractional_member_months():
    """M2 counts 2.881720 months: book mean (18 + 0.8 x 2.881720 + 6) / 26.881720 =
    0.978560; K = 150 x (18 + 2.305376) / 0.978560 = 3 112.54."""
    result = settle(terms(risk_corridors=None, stop_loss=None),
                    ledger(convention="fractional"))
    assert result.rows[0].member_months == pytest.approx(14.881720, abs=1e-6)
    assert line(result)["capitation_revenue"] == 3_112.54


def test_factors_as_given_without_normalising():
    """K = 150 x (1.5 x 12 + 0.8 x 4) = 150 x 21.2 = 3 180.00."""
    result = settle(terms(normalize=False, risk_corridors=None, stop_loss=None))
    assert line(result)["capitation_revenue"] == 3_180.00
    assert result.rows[0].provider_result == 318_000 - 328_000


def test_risk_score_factors():
    """Book mean (1.2 x 12 + 0.9 x 4 + 0.6 x 12) / 28 = 25.2 / 28 = 0.9; K = 150 x (1.2 x
    12 + 0.9 x 4) / 0.9 = 150 x 20 = 3 000.00."""
    result = settle(terms(risk_adjustment="risk_score", age_sex_factors=None,
                          risk_corridors=None, stop_loss=None))
    assert line(result)["capitation_revenue"] == 3_000.00


def test_no_risk_adjustment_pays_the_rate_per_member_month():
    result = settle(terms(risk_adjustment="none", age_sex_factors=None, risk_corridors=None,
                          stop_loss=None))
    assert line(result)["capitation_revenue"] == 150 * 16


def test_historical_rate_with_a_discount():
    """2023 (baseline): M1 gp 400, enrolled all year, M2 not yet enrolled: 400 / 12 =
    33.3333 PMPM, trended 10% and discounted 4%: 33.3333 x 1.1 x 0.96 = 35.20 PMPM; no
    factors: K = 35.20 x 16 = 563.20."""
    claims = CLAIMS + [("M1", "GP_S", "2023-05-01", "gp", "G1", 1, 400)]
    result = settle(terms(rate_pmpm="historical", baseline_years=[2023], trend=0.10,
                          discount=0.04, risk_adjustment="none", age_sex_factors=None,
                          risk_corridors=None, stop_loss=None), ledger(claims=claims))
    assert line(result)["rate_pmpm"] == pytest.approx(35.20)
    assert line(result)["capitation_revenue"] == 563.20


def test_members_without_a_factor_count_as_one_with_a_warning():
    frame = members()
    frame.loc[1, "birth_date"] = None
    result = settle(terms(risk_corridors=None, stop_loss=None), ledger(frame=frame))
    assert any("1 members of the book have no birth date" in w for w in result.warnings)


def test_without_a_members_table_capitation_is_not_settled():
    (result,) = settle_contracts([terms()], build_ledger(claims_frame(CLAIMS)))
    assert "needs a members table" in result.rows[0].status


def test_enrollment_gaps_count_only_enrolled_months_and_care():
    """M1 enrolled January–March and July–December 2024 (enrollment table): 3 + 6 = 9
    months, and the paramedical claim of 1 March still counts but one dated 1 May, in the
    gap, does not. No factors: K = 150 x (9 + 4) = 1 950.00; cost 300 + 2 900 + 80 = 3 280
    (the 400 of May left out)."""
    enrollment = pd.DataFrame({
        "member_id": ["M1", "M1", "M2", "M3"],
        "enrollment_start": pd.to_datetime(["2024-01-01", "2024-07-01", "2024-01-15",
                                            "2020-01-01"]).astype("datetime64[s]"),
        "enrollment_end": pd.to_datetime(["2024-03-31", "2024-12-31", "2024-04-10",
                                          "2024-12-31"]).astype("datetime64[s]"),
    })
    claims = CLAIMS + [("M1", "PARA", "2024-05-01", "paramedical", "P1", 1, 400)]
    the_ledger = build_ledger(claims_frame(claims), members=members(), enrollment=enrollment)
    result = settle(terms(risk_adjustment="none", age_sex_factors=None, stop_loss=None,
                          risk_corridors=None), the_ledger)
    assert result.rows[0].member_months == 13
    assert line(result)["capitation_revenue"] == 1_950.00
    assert result.rows[0].provider_cost == 328_000


def test_age_is_taken_on_1_january_of_the_year_whatever_month_years_start():
    """Contract years from July. In contract year 2024 a member born 15 March 1974 is 49
    on 1 January 2024 (SPEC §4.3: age on 1 January of t), though 50 when the year starts
    on 1 July: the 0–49 band's factor 1.0 applies, not the 50+ band's 2.0 (review
    finding)."""
    from funding_models.member_factors import book_factors

    frame = members_frame([("A", "adults", "GP_S", 1.0)])
    frame["sex"], frame["birth_date"] = ["F"], pd.to_datetime(["1974-03-15"]).astype(
        "datetime64[s]")
    ledger_july = build_ledger(claims_frame([("A", "GP_S", "2024-08-01", "gp", "G", 1, 10)]),
                               members=frame, year_start_month=7)
    bands = [{"sex": "F", "age_from": 0, "age_to": 49, "factor": 1.0},
             {"sex": "F", "age_from": 50, "age_to": None, "factor": 2.0}]
    factors = book_factors(ledger_july, terms(age_sex_factors=bands, normalize=False), 2024)
    assert factors.used.tolist() == [1.0]
