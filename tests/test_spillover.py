"""Cross-domain spillover and scenarios (SPEC §5): SPEC's check from small files, a
difference-in-differences case and scenario shifts, worked by hand."""
from __future__ import annotations

import json

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from cli import main
from contracts import parse_contracts
from funding_models.compare import compare
from funding_models.ledger import build_ledger
from funding_models.scenarios import apply_scenario
from tests.conftest import claims_frame, contract, members_frame


def test_spec_check_from_small_files(tmp_path):
    """SPEC §5: hospital (in scope) 1 000 000 in 2023 at trend 3% → expected 1 030 000,
    actual 980 000: targeted savings 50 000. GP 200 000 at 2% → 204 000, actual 224 000:
    +20 000; mental health 100 000 at 4% → 104 000, actual 104 000: 0. Spillover 20 000.
    The contract (a revenue floor of 990 000 on HOSP's 980 000) pays 10 000 above
    fee-for-service: net insurer savings 50 000 − 20 000 − 10 000 = 20 000; offset 0.40."""
    lines = ["claim_id,member_id,provider_id,service_date,domain,amount"]
    spend = {2023: {"hospital": 1_000_000, "gp": 200_000, "mental_health": 100_000},
             2024: {"hospital": 980_000, "gp": 224_000, "mental_health": 104_000}}
    providers = {"hospital": "HOSP", "gp": "GP_A", "mental_health": "MH"}
    for year, domains in spend.items():
        for domain, amount in domains.items():
            for member in range(10):  # ten members share each domain's spend
                lines.append(f"{year}{domain}{member},M{member},{providers[domain]},"
                             f"{year}-06-01,{domain},{amount / 10:.2f}")
    (tmp_path / "claims.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "members.csv").write_text(
        "member_id\n" + "\n".join(f"M{m}" for m in range(10)) + "\n")
    (tmp_path / "contracts.yaml").write_text(
        "contracts:\n"
        "  - name: Hospital floor\n"
        "    model: fee_for_service\n"
        "    provider: HOSP\n"
        "    scope: {domains: [hospital]}\n"
        "    baseline_years: [2023]\n"
        "    performance_years: [2024]\n"
        "    revenue_floor: 990000\n"
        "    spillover: {trends: {hospital: 0.03, gp: 0.02, mental_health: 0.04}}\n")
    result = CliRunner().invoke(main, [
        "compare", str(tmp_path / "claims.csv"), "--members", str(tmp_path / "members.csv"),
        "--contracts", str(tmp_path / "contracts.yaml"), "-o", str(tmp_path / "out.xlsx"),
        "--json", str(tmp_path / "out.json")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    (row,) = json.loads((tmp_path / "out.json").read_text())
    assert row["spillover"] == 20_000 and row["net_insurer_savings"] == 20_000
    sheet = openpyxl.load_workbook(tmp_path / "out.xlsx")["Spillover"]
    rows = list(sheet.iter_rows(values_only=True))
    header = next(i for i, r in enumerate(rows) if r[:3] == ("scenario", "contract", "year")
                  and "targeted_savings" in r)
    year = dict(zip(rows[header], rows[header + 1]))
    assert year["targeted_savings"] == 50_000 and year["spillover"] == 20_000
    assert year["cost_beyond_ffs"] == 10_000 and year["offset_ratio"] == pytest.approx(0.40)
    assert sheet._charts, "the Spillover sheet has its chart"


def test_difference_in_differences():
    """GP PMPM of the population (5 000 members of GP_A, all year) goes 100 → 130; of the
    comparison segment 100 → 110. Expected 100 x 110/100 = 110 PMPM; delta 20 PMPM x
    60 000 member months = 1 200 000 of spillover (GP care is outside the hospital-only
    scope)."""
    population = [(f"P{i}", "adults", "GP_A", 1.0) for i in range(5_000)]
    control = [(f"C{i}", "control", "GP_B", 1.0) for i in range(100)]
    claims = ([(f"P{i}", "GP_A", "2023-05-01", "gp", "G", 1, 1_200) for i in range(5_000)]
              + [(f"P{i}", "GP_A", "2024-05-01", "gp", "G", 1, 1_560) for i in range(5_000)]
              + [(f"C{i}", "GP_B", "2023-05-01", "gp", "G", 1, 1_200) for i in range(100)]
              + [(f"C{i}", "GP_B", "2024-05-01", "gp", "G", 1, 1_320) for i in range(100)])
    ledger = build_ledger(claims_frame(claims), members=members_frame(population + control))
    terms = contract(model="shared_savings", name="GP A hospital", provider="GP_A",
                     scope={"domains": ["hospital"]}, baseline_years=[2023],
                     performance_years=[2024], benchmark_pmpm=50, sharing_rate=0.5,
                     trend=0.5, spillover={"comparison_segment": "control"})
    (run,) = compare([terms], ledger)
    gp = run.spillover[0].domains.set_index("domain").loc["gp"]
    assert gp["member_months"] == 60_000
    assert gp["expected_pmpm"] == pytest.approx(110 * 100)  # cents
    assert gp["delta"] == pytest.approx(1_200_000 * 100)
    assert run.rows[0].spillover == 120_000_000


def test_shift_at_cost_ratio_one_moves_exactly_the_shifted_amount():
    """30% of each HOSP_A DERM1 line of 2024 moves to gp: 101.01 → 30.30 moved (30.303
    rounded), 70.71 kept; 200.00 → 60.00 and 140.00. Total unchanged; 90.30 moves from
    hospital to gp; 2023 and other codes untouched."""
    claims = [("M1", "HOSP_A", "2024-02-01", "hospital", "DERM1", 1, 101.01),
              ("M2", "HOSP_A", "2024-03-01", "hospital", "DERM1", 2, 200.00),
              ("M1", "HOSP_A", "2024-03-01", "hospital", "HIP01", 1, 5_000),
              ("M1", "HOSP_A", "2023-03-01", "hospital", "DERM1", 1, 100.00),
              ("M2", "HOSP_B", "2024-03-01", "hospital", "DERM1", 1, 100.00)]
    ledger = build_ledger(claims_frame(claims))
    scenario = parse_contracts({"contracts": [{"name": "x", "model": "fee_for_service",
                                               "provider": "H", "performance_years": [2024]}],
                                "scenarios": [{"name": "derm", "shift": {
                                    "from": {"domain": "hospital", "care_codes": ["DERM1"],
                                             "provider": "HOSP_A"},
                                    "to_domain": "gp", "fraction": 0.3,
                                    "cost_ratio": 1}}]}).scenarios[0]
    changed = apply_scenario(ledger, scenario, [2024])
    before = ledger.claims.groupby(["year", "domain"], observed=True)["amount"].sum()
    after = changed.claims.groupby(["year", "domain"], observed=True)["amount"].sum()
    assert changed.claims["amount"].sum() == ledger.claims["amount"].sum()
    assert after[(2024, "gp")] == 3_030 + 6_000
    assert before[(2024, "hospital")] - after[(2024, "hospital")] == 9_030
    assert after[(2023, "hospital")] == before[(2023, "hospital")]
    moved = changed.claims[changed.claims["domain"] == "gp"]
    assert moved["provider"].astype(str).tolist() == ["HOSP_A", "HOSP_A"]
    assert moved["quantity"].tolist() == pytest.approx([0.3, 0.6])


def test_shift_to_the_attributed_provider_at_a_lower_cost():
    """DERM1 of 100.00 for M1 (attributed to GP_N1): 40.00 moves at cost ratio 0.5, so
    GP_N1 bills 20.00 of gp care and the total falls by 20.00."""
    members = members_frame([("M1", "adults", "GP_N1", 1.0)])
    ledger = build_ledger(claims_frame([("M1", "HOSP_A", "2024-02-01", "hospital", "DERM1",
                                         1, 100)]), members=members)
    scenario = parse_contracts({"contracts": [{"name": "x", "model": "fee_for_service",
                                               "provider": "H", "performance_years": [2024]}],
                                "scenarios": [{"name": "derm", "shift": {
                                    "from": {"domain": "hospital"}, "to_domain": "gp",
                                    "to_provider": "attributed", "to_care_code": "DERM_GP",
                                    "fraction": 0.4, "cost_ratio": 0.5}}]}).scenarios[0]
    claims = apply_scenario(ledger, scenario, [2024]).claims
    assert claims[["provider", "domain", "care_code", "amount"]].astype(
        {"provider": str, "domain": str, "care_code": str}).values.tolist() == [
        ["HOSP_A", "hospital", "DERM1", 6_000], ["GP_N1", "gp", "DERM_GP", 2_000]]


def test_growth_scales_a_domain_in_the_years_given():
    ledger = build_ledger(claims_frame([("M1", "PH", "2023-02-01", "pharmacy", "R", 1, 100),
                                        ("M1", "PH", "2024-02-01", "pharmacy", "R", 1, 100),
                                        ("M1", "GP", "2024-02-01", "gp", "G", 1, 100)]))
    scenario = parse_contracts({"contracts": [{"name": "x", "model": "fee_for_service",
                                               "provider": "H", "performance_years": [2024]}],
                                "scenarios": [{"name": "pharmacy +5%", "growth": {
                                    "domain": "pharmacy", "rate": 0.05}}]}).scenarios[0]
    claims = apply_scenario(ledger, scenario, [2024]).claims
    assert claims["amount"].tolist() == [10_000, 10_500, 10_000]


def test_scenarios_give_summary_rows_side_by_side_and_from_a_file(tmp_path):
    from tests.test_bundled import CLAIMS

    pd.DataFrame(CLAIMS, columns=["member_id", "provider_id", "service_date", "domain",
                                  "care_code", "quantity", "amount"]).assign(
        claim_id=[f"C{i}" for i in range(len(CLAIMS))]).to_csv(tmp_path / "claims.csv",
                                                               index=False)
    (tmp_path / "contracts.yaml").write_text(
        "contracts:\n  - {name: HOSP_A floor, model: fee_for_service, provider: HOSP_A,\n"
        "     scope: {domains: [hospital]}, performance_years: [2024], revenue_floor: 1}\n"
        "scenarios:\n  - {name: hospital +10%, growth: {domain: hospital, rate: 0.1}}\n")
    (tmp_path / "more.yaml").write_text(
        "- {name: hips to HOSP_B, shift: {from: {domain: hospital, care_codes: HIP01},\n"
        "   to_domain: hospital, to_provider: HOSP_B, fraction: 1, cost_ratio: 1}}\n")
    result = CliRunner().invoke(main, [
        "compare", str(tmp_path / "claims.csv"), "--contracts", str(tmp_path / "contracts.yaml"),
        "--scenario", str(tmp_path / "more.yaml"), "-o", str(tmp_path / "out.xlsx"), "--json",
        str(tmp_path / "out.json")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "out.json").read_text())
    paid = {row["scenario"]: row["insurer_cost"] for row in rows}
    # HOSP_A's 2024 hospital lines: 10 000 + 8 000 + 4 000 + 6 000 + 12 000 = 40 000.
    assert paid == {"base": 40_000, "hospital +10%": 44_000, "hips to HOSP_B": 8_000}


@pytest.mark.parametrize("scenario, message", [
    ({"name": "x"}, "a scenario needs a shift or a growth"),
    ({"name": "base", "growth": {"domain": "gp", "rate": 0.1}}, "name: 'base' is the "
                                                                 "comparison without changes"),
    ({"name": "x", "shift": {"from": {"domain": "hospital"}, "to_domain": "gp",
                             "fraction": 1.5, "cost_ratio": 1}},
     "shift[1].fraction: must be at most 1"),
])
def test_scenario_terms_are_checked(scenario, message):
    from contracts import ContractsError

    with pytest.raises(ContractsError) as caught:
        parse_contracts({"contracts": [{"name": "c", "model": "fee_for_service",
                                        "provider": "H", "performance_years": [2024]}],
                         "scenarios": [scenario]})
    assert message in str(caught.value)


def test_spillover_is_blank_with_the_reason_without_baseline_years():
    ledger = build_ledger(claims_frame([("M1", "H", "2024-01-01", "hospital", "X", 1, 10)]))
    terms = contract(provider="H", performance_years=[2024])
    (run,) = compare([terms], ledger)
    assert run.rows[0].spillover is None
    assert "spillover blank: no baseline years" in run.rows[0].status


def test_a_scenario_that_selects_no_claims_says_so():
    ledger = build_ledger(claims_frame([("M1", "H", "2024-01-05", "hospital", "X", 1, 10)]))
    contracts_file = parse_contracts({
        "contracts": [{"name": "c", "model": "fee_for_service", "provider": "H",
                       "performance_years": [2024]}],
        "scenarios": [{"name": "dentistry", "growth": {"domain": "dentistry", "rate": 0.1}}]})
    base, scenario = compare(contracts_file.contracts, ledger, contracts_file.scenarios)
    assert scenario.rows[0].insurer_cost == base.rows[0].insurer_cost
    assert "scenario 'dentistry' selects no claims in 2024" in scenario.rows[0].status


def test_a_shift_to_the_attributed_provider_without_attribution_is_not_settled():
    members = members_frame([("M1", "adults", None, 1.0)])
    ledger = build_ledger(claims_frame([("M1", "H", "2024-01-05", "hospital", "D", 1, 10)]),
                          members=members)
    contracts_file = parse_contracts({
        "contracts": [{"name": "c", "model": "fee_for_service", "provider": "H",
                       "performance_years": [2024]}],
        "scenarios": [{"name": "derm", "shift": {"from": {"domain": "hospital"},
                                                 "to_domain": "gp",
                                                 "to_provider": "attributed",
                                                 "fraction": 0.5, "cost_ratio": 1}}]})
    _, scenario = compare(contracts_file.contracts, ledger, contracts_file.scenarios)
    assert "none of the 1 shifted claims' members is attributed" in scenario.rows[0].status
