"""Fee-for-service (SPEC §4.1): the worked example and hand-worked cases."""
from __future__ import annotations

import pytest

from funding_models.fee_for_service import apply_tiers, payment, settle_fee_for_service


def test_spec_ceiling_example():
    # SPEC §4.1: C = 10.0M, G = 10.8M, r = 0.65 → 10.0M + 0.35 × 0.8M = 10.28M.
    result = payment(10_800_000, ceiling=10_000_000, clawback_rate=0.65)
    assert result.paid == pytest.approx(10_280_000)
    assert result.clawback == pytest.approx(0.65 * 800_000)
    assert result.bound == "ceiling"


def test_spec_ceiling_example_settled_from_claims(make_ledger, make_contract):
    # The same example through the ledger: 108 hospital lines of 100 000 = 10.8M.
    rows = [(f"M{i}", "HOSP_A", "2024-03-01", "hospital", "H1", 1, 100_000) for i in range(108)]
    terms = make_contract(provider="HOSP_A", scope={"domains": ["hospital"]},
                          performance_years=[2024], revenue_ceiling=10_000_000,
                          clawback_rate=0.65)
    row = settle_fee_for_service(terms, make_ledger(rows)).rows[0]
    assert row.insurer_cost == 1_028_000_000  # cents
    assert row.ffs_equivalent == row.provider_cost == 1_080_000_000
    assert row.provider_result == -52_000_000


@pytest.mark.parametrize("gross, expected", [
    # tiers: first 1 000 at 100%, next 1 000 at 80%, the rest at 50%
    (500, 500.0),                          # within the first slice
    (1000, 1000.0),                        # exactly the first bound
    (1500, 1000 + 0.8 * 500),              # 1 400
    (2500, 1000 + 0.8 * 1000 + 0.5 * 500),  # 2 050
])
def test_degressive_tiers_by_hand(gross, expected):
    tiers = [(1000, 1.0), (2000, 0.8), (None, 0.5)]
    assert apply_tiers(gross, tiers) == pytest.approx(expected)


def test_floor_tops_up_part_of_the_shortfall():
    # F = 5 000, G = 4 000, u = 0.5 → paid 4 000 + 0.5 × 1 000 = 4 500.
    result = payment(4_000, floor=5_000, topup_rate=0.5)
    assert result.paid == pytest.approx(4_500)
    assert result.bound == "floor"


@pytest.mark.parametrize("gross", [0, 3_000, 7_500, 12_000])
def test_lump_sum_pays_the_agreed_amount_whatever_is_billed(gross, make_ledger, make_contract):
    # Aanneemsom: ceiling = floor = 7 500 with r = u = 1 → always 7 500.
    rows = [("M1", "MH_1", "2024-05-01", "mental_health", "P1", 1, gross)]
    terms = make_contract(provider="MH_1", performance_years=[2024], lump_sum=7_500)
    row = settle_fee_for_service(terms, make_ledger(rows)).rows[0]
    assert row.insurer_cost == 750_000
    assert row.ffs_equivalent == gross * 100


def test_tariffs_price_factor_corrections_and_unpriced_lines(make_ledger, make_contract):
    rows = [
        ("M1", "GP_1", "2024-01-10", "gp", "G1", 2, 40.00),   # tariff 25 × 2 = 50
        ("M1", "GP_1", "2024-01-10", "gp", "G1", 1, -20.00),  # correction: −25 × 1
        ("M2", "GP_1", "2024-02-10", "gp", "X9", 1, 80.00),   # no tariff: 80 × 0.9 = 72
        ("M2", "GP_1", "2024-02-10", "gp", None, 1, 10.00),   # no code: 10 × 0.9 = 9
        ("M3", "GP_2", "2024-02-10", "gp", "G1", 1, 99.00),   # another provider
        ("M3", "GP_1", "2024-02-10", "lab", "G1", 1, 99.00),  # out of scope
    ]
    terms = make_contract(provider="GP_1", scope={"domains": ["gp"]},
                          performance_years=[2024], price_factor=0.9)
    result = settle_fee_for_service(terms, make_ledger(rows, tariffs={"G1": 25.00}))
    row = result.rows[0]
    assert row.insurer_cost == (50 - 25 + 72 + 9) * 100  # 106.00
    assert row.ffs_equivalent == (40 - 20 + 80 + 10) * 100  # 110.00
    per_year = result.tables[0].frame.iloc[0]
    assert per_year["lines"] == 4
    assert per_year["unpriced_lines"] == 2
    assert "2 lines without tariff" in row.status


def test_joint_ceiling_over_several_providers_and_years(make_ledger, make_contract):
    rows = [
        ("M1", "GP_N1", "2023-06-01", "gp", "G1", 1, 600),
        ("M2", "GP_N2", "2023-06-01", "gp", "G1", 1, 600),   # 2023: joint 1 200
        ("M1", "GP_N1", "2024-06-01", "gp", "G1", 1, 400),
        ("M2", "GP_N2", "2024-06-01", "gp", "G1", 1, 400),   # 2024: joint 800
    ]
    terms = make_contract(provider=["GP_N1", "GP_N2"], performance_years=[2023, 2024],
                          revenue_ceiling={2023: 1_000, 2024: 1_000}, clawback_rate=1.0)
    result = settle_fee_for_service(terms, make_ledger(rows))
    assert [r.year for r in result.rows] == [2023, 2024]
    assert [r.insurer_cost for r in result.rows] == [100_000, 80_000]  # 1 000, then 800
    assert result.rows[0].provider == "GP_N1, GP_N2"


def test_year_outside_the_data_is_blank_with_a_reason(make_ledger, make_contract):
    rows = [("M1", "GP_1", "2024-06-01", "gp", "G1", 1, 10)]
    terms = make_contract(provider="GP_1", performance_years=[2024, 2025])
    rows_out = settle_fee_for_service(terms, make_ledger(rows)).rows
    assert rows_out[1].insurer_cost is None
    assert "outside the claims data" in rows_out[1].status


def test_unknown_provider_is_a_warning_not_a_crash(make_ledger, make_contract):
    rows = [("M1", "GP_1", "2024-06-01", "gp", "G1", 1, 10)]
    terms = make_contract(provider="NOBODY", performance_years=[2024], revenue_floor=100)
    result = settle_fee_for_service(terms, make_ledger(rows))
    assert result.warnings and "NOBODY" in result.warnings[0]
    assert result.rows[0].insurer_cost == 10_000  # the floor still pays: 1 × (100 − 0)
    assert "no claims in scope" in result.rows[0].status


def test_an_unknown_provider_close_to_one_in_the_data_is_named(make_ledger, make_contract):
    """12345 against 012345 (leading zeros a spreadsheet dropped), gp_1 against GP_1."""
    rows = [("M1", "012345", "2024-06-01", "gp", "G1", 1, 10),
            ("M1", "GP_1", "2024-06-01", "gp", "G1", 1, 10)]
    terms = make_contract(provider=["12345", "gp_1", "NOBODY"], performance_years=[2024])
    (warning,) = settle_fee_for_service(terms, make_ledger(rows)).warnings
    assert warning == ("provider(s) 12345, NOBODY, gp_1 billed no claims in the data (it has "
                       "012345 for 12345; GP_1 for gp_1: write the id as the claims do)")


def test_rounding_is_once_per_year_half_to_even(make_ledger, make_contract):
    # Three lines of 0.01 at price factor 0.5 = 0.5 + 0.5 + 0.5 = 1.5 cents → 2 cents
    # (rounded once per year; rounding per line would give 0 + 0 + 0).
    rows = [(f"M{i}", "P", "2024-01-01", "gp", "Z", 1, 0.01) for i in range(3)]
    terms = make_contract(provider="P", performance_years=[2024], price_factor=0.5)
    assert settle_fee_for_service(terms, make_ledger(rows)).rows[0].insurer_cost == 2


def test_a_segment_limits_the_lines_to_its_members():
    """Of HOSP's 2024 lines (M1 elderly 300, M2 adults 200), the elderly contract pays 300;
    without a members table a segment cannot be told, and the contract says so."""
    from funding_models.compare import settle_contracts
    from funding_models.ledger import build_ledger
    from tests.conftest import claims_frame, contract, members_frame

    claims = claims_frame([("M1", "HOSP", "2024-02-01", "hospital", "H", 1, 300),
                           ("M2", "HOSP", "2024-03-01", "hospital", "H", 1, 200)])
    members = members_frame([("M1", "elderly", "GP", 1.0), ("M2", "adults", "GP", 1.0)])
    terms = contract(provider="HOSP", performance_years=[2024],
                     scope={"domains": ["hospital"], "segment": "elderly"})
    (result,) = settle_contracts([terms], build_ledger(claims, members=members))
    assert result.rows[0].insurer_cost == 30_000
    (blind,) = settle_contracts([terms], build_ledger(claims))
    assert "scope.segment 'elderly' needs a members table" in blind.rows[0].status
