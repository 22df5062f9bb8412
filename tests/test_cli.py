"""The fundcalc command run on real files: exit codes, stderr and the workbook's cells."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from cli import main

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_workbooks"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def spec_example(tmp_path):
    """SPEC §4.1's ceiling example as files: 108 lines of 100 000 at HOSP_A in 2024, one
    bad line (text amount), and a contract with ceiling 10.0M and claw-back 65%."""
    workbook = openpyxl.Workbook()
    claims = workbook.active
    claims.title = "claims"
    claims.append(["claim_id", "member_id", "provider_id", "service_date", "domain", "amount"])
    for i in range(108):
        claims.append([f"C{i}", f"M{i}", "HOSP_A", dt.date(2024, 3, 1), "hospital", 100_000])
    claims.append(["C999", "M1", "HOSP_A", dt.date(2024, 3, 1), "hospital", None])
    claims.cell(row=110, column=6, value="=1+1 oops").data_type = "s"  # text, not a formula
    claims_path = tmp_path / "claims.xlsx"
    workbook.save(claims_path)
    contracts_path = tmp_path / "contracts.yaml"
    contracts_path.write_text(
        "contracts:\n"
        "  - name: Hospital A, ceiling contract\n"
        "    model: fee_for_service\n"
        "    provider: HOSP_A\n"
        "    scope: {domains: [hospital]}\n"
        "    performance_years: [2024]\n"
        "    revenue_ceiling: 10000000\n"
        "    clawback_rate: 0.65\n")
    return claims_path, contracts_path


def test_compare_writes_the_settlement_into_the_workbook(spec_example, tmp_path):
    claims_path, contracts_path = spec_example
    out = tmp_path / "out.xlsx"
    result = run("compare", claims_path, "--contracts", contracts_path, "-o", out,
                 "--json", tmp_path / "out.json")
    assert result.exit_code == 0, result.output
    book = openpyxl.load_workbook(out)
    assert book.sheetnames[:2] == ["Read me", "Summary"]
    assert {"Inputs", "Rejected"} <= set(book.sheetnames)
    summary = book["Summary"]
    header = [c.value for c in summary[1]]
    row = {h: c for h, c in zip(header, summary[2])}
    # 10.0M + (1 − 0.65) × 0.8M = 10.28M; FFS equivalent 108 × 100 000 = 10.8M.
    assert row["insurer_cost"].value == pytest.approx(10_280_000)
    assert row["ffs_equivalent"].value == pytest.approx(10_800_000)
    assert row["provider_result"].value == pytest.approx(-520_000)
    assert "0.00" in row["insurer_cost"].number_format
    assert row["contract"].value == "Hospital A, ceiling contract"
    rejected = book["Rejected"]
    rejected_header = [c.value for c in rejected[1]]
    bad = dict(zip(rejected_header, (c.value for c in rejected[2])))
    assert bad["row"] == 110 and bad["column"] == "amount" and bad["value"] == "=1+1 oops"
    inputs = [[c.value for c in r] for r in book["Inputs"].iter_rows()]
    claims_row = next(r for r in inputs if "claims" in r and r[0] == str(claims_path))
    assert 109 in claims_row and 108 in claims_row and 1 in claims_row  # read/accepted/rejected
    summary_json = json.loads((tmp_path / "out.json").read_text())
    assert summary_json[0]["insurer_cost"] == 10_280_000.0
    assert summary_json[0]["shared_savings"] is None


def test_strict_exits_1_when_rows_were_rejected(spec_example, tmp_path):
    claims_path, contracts_path = spec_example
    result = run("compare", claims_path, "--contracts", contracts_path, "-o",
                 tmp_path / "out.xlsx", "--strict")
    assert result.exit_code == 1
    assert (tmp_path / "out.xlsx").exists()


@pytest.mark.parametrize("break_it, message", [
    (lambda c, k: c.write_text("not,a,workbook\n"), "not a readable .xlsx"),
    (lambda c, k: c.unlink(), "no such file"),
    (lambda c, k: k.write_text("contracts:\n  - name: X\n    model: fee_for_service\n"
                               "    provider: A\n    performance_years: [2024]\n"
                               "    clawback_rate: 1.5\n"), "clawback_rate"),
    (lambda c, k: _drop_amount_column(c), "amount"),
])
def test_unusable_input_is_one_sentence_and_exit_2(spec_example, tmp_path, break_it, message):
    claims_path, contracts_path = spec_example
    break_it(claims_path, contracts_path)
    out = tmp_path / "out.xlsx"
    result = CliRunner().invoke(main, ["compare", str(claims_path), "--contracts",
                                       str(contracts_path), "-o", str(out)])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def _drop_amount_column(path: Path) -> None:
    book = openpyxl.load_workbook(path)
    book["claims"].delete_cols(6)
    book.save(path)


def test_output_equal_to_an_input_is_refused(spec_example):
    claims_path, contracts_path = spec_example
    result = CliRunner().invoke(main, ["compare", str(claims_path), "--contracts",
                                       str(contracts_path), "-o", str(claims_path)])
    assert result.exit_code == 2


def test_validate_reports_reconciliation(spec_example, tmp_path):
    claims_path, _ = spec_example
    result = run("validate", claims_path, "--rejected", tmp_path / "rejected.csv")
    assert result.exit_code == 0
    assert "109 rows read, 108 accepted, 1 rejected" in result.output
    assert "amount read 10,800,000.00" in result.output
    assert "'=1+1 oops" in (tmp_path / "rejected.csv").read_text()


def test_shipped_sample_runs_and_is_byte_identical(tmp_path):
    first, second = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    args = [SAMPLE / "claims.xlsx", "--contracts", SAMPLE / "contracts.yaml"]
    assert run("compare", *args, "-o", first).exit_code == 0
    assert run("compare", *args, "-o", second).exit_code == 0
    assert first.read_bytes() == second.read_bytes()
    workbook = openpyxl.load_workbook(first)
    rows = list(workbook["Summary"].iter_rows(values_only=True))
    records = [dict(zip(rows[0], row)) for row in rows[1:] if row[1] and row[0] == "base"]
    assert len({r["contract"] for r in records}) >= 9
    # The Dutch-style population contract: 31 993.71 shared (see contracts.yaml).
    north = next(r for r in records if r["contract"] == "Practices North population contract")
    assert north["model"] == "shared_savings" and north["shared_savings"] == 31_993.71
    assert north["members"] == 1_068 and north["provider_result"] == 31_993.71
    # Capitation for practice South: see contracts.yaml for the arithmetic.
    south = next(r for r in records if r["model"] == "capitation")
    assert (south["stop_loss"], south["corridor"], south["provider_result"]) == (
        2_338.20, 859.81, -4_507.67)
    # The bundles: a diabetes condition bundle (prospective) and hip episodes (NPRA).
    bundles = {r["contract"]: r for r in records if r["model"] == "bundled"}
    assert bundles["Care group diabetes bundle"]["provider_result"] == -4_206.52
    assert bundles["Hip replacement episodes"]["reconciliation"] == -5_022.33
    episodes = list(workbook["Episodes"].iter_rows(values_only=True))
    assert episodes[0][:2] == ("scenario", "contract")
    assert [row[0] for row in episodes[1:]] == ["base"] * 5 + ["dermatology to primary care"] * 5
    # The waterbed: the hospital-only contract under the dermatology scenario saves in
    # scope, spills over to GP care, and nets less than its savings in scope.
    spill_rows = list(workbook["Spillover"].iter_rows(values_only=True))
    header = next(r for r in spill_rows if r[:3] == ("scenario", "contract", "year")
                  and "targeted_savings" in r)
    years = [dict(zip(header, r)) for r in spill_rows if r[0] == "dermatology to primary care"
             and r[1] == "All practices, hospital-only shared savings" and r[3] is not None
             and len(r) > 7]
    totals = next(y for y in years if isinstance(y["targeted_savings"], float))
    assert totals["targeted_savings"] > 0 and totals["spillover"] > 0
    assert totals["net_insurer_savings"] < totals["targeted_savings"]
    domain_header = next(r for r in spill_rows if r[:4] == ("scenario", "contract", "year",
                                                           "domain"))
    gp = next(dict(zip(domain_header, r)) for r in spill_rows
              if r[0] == "dermatology to primary care" and r[3] == "gp"
              and r[1] == "All practices, hospital-only shared savings")
    assert gp["delta"] > 0 and gp["in_scope"] is False
    assert workbook["Spillover"]._charts
    sheet = workbook["Practices North population cont"]
    cells = [c for row in sheet.iter_rows(values_only=True) for c in row if c is not None]
    assert "Settlement per performance year" in cells and "Baseline years" in cells


def test_schema_prints_the_contracts_schema():
    result = run("schema")
    assert result.exit_code == 0
    assert "contracts" in json.loads(result.output)["properties"]


def test_sample_writes_a_workbook_and_contracts(tmp_path):
    result = run("sample", "-o", tmp_path / "s", "--members", 200, "--years", "2023-2024")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "s" / "claims.xlsx").exists()
    assert (tmp_path / "s" / "contracts.yaml").exists()


def test_quiet_prints_nothing_but_errors(tmp_path):
    args = ["compare", SAMPLE / "claims.xlsx", "--contracts", SAMPLE / "contracts.yaml",
            "-o", tmp_path / "out.xlsx", "--quiet"]
    result = run(*args)
    assert result.exit_code == 0 and result.output == ""
    result = run("compare", SAMPLE / "claims.xlsx", "--contracts", tmp_path / "none.yaml",
                 "-o", tmp_path / "out.xlsx", "--quiet")
    assert result.exit_code == 2 and "no such file" in result.output


def test_an_unwritable_json_path_stops_the_run_before_any_output(tmp_path):
    result = run("compare", SAMPLE / "claims.xlsx", "--contracts", SAMPLE / "contracts.yaml",
                 "-o", tmp_path / "out.xlsx", "--json", tmp_path / "missing" / "out.json")
    assert result.exit_code == 2 and "does not exist" in result.output
    assert not (tmp_path / "out.xlsx").exists()
