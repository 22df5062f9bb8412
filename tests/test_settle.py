"""``fundcalc settle``: aggregate cases settled without claims, run on real files."""
from __future__ import annotations

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from cli import main


def run(*args):
    return CliRunner().invoke(main, ["settle", *[str(a) for a in args]],
                              catch_exceptions=False)


@pytest.fixture
def cases(tmp_path):
    """SPEC §4.2's example (500.00 vs 495.50 PMPM over 125 000 member months) under
    MSR 1% and 0, a CMS-table case and a row with an unreadable benchmark."""
    path = tmp_path / "cases.csv"
    path.write_text(
        "case,benchmark,expenditure,members,minimum_savings_rate\n"
        "SPEC MSR 1%,62500000,61937500,10417,1%\n"
        "SPEC MSR 0,62500000,61937500,10417,0\n"
        "CMS table,62500000,60000000,6150,cms\n"
        "unreadable,6.25e7 euro,61937500,10417,0\n", encoding="utf-8")
    return path


@pytest.fixture
def terms(tmp_path):
    path = tmp_path / "terms.yaml"
    path.write_text("sharing_rate: 0.5\n", encoding="utf-8")
    return path


def settled(tmp_path, cases_text: str, terms_text: str) -> pd.DataFrame:
    """The CSV output of settling ``cases_text`` under ``terms_text``."""
    cases, terms, out = (tmp_path / n for n in ("cases.csv", "terms.yaml", "out.csv"))
    cases.write_text(cases_text)
    terms.write_text(terms_text)
    assert run(cases, "--contract", terms, "-o", out).exit_code == 0
    return pd.read_csv(out)


def read(path):
    return pd.read_csv(path, dtype=str, keep_default_na=False).set_index("case")


def test_settle_to_csv_repeats_the_input_and_adds_the_results(cases, terms, tmp_path):
    out = tmp_path / "settled.csv"
    result = run(cases, "--contract", terms, "-o", out)
    assert result.exit_code == 0, result.output
    assert "Settled 3 of 4 case(s)" in result.output and "1 not settled" in result.output
    table = read(out)
    assert list(table.columns) == [
        "benchmark", "expenditure", "members", "savings", "savings_rate",
        "minimum_savings_rate", "minimum_loss_rate", "shared_savings", "shared_losses",
        "net_settlement", "status"]
    # SPEC: nothing with MSR 1% (savings rate 0.9%), 281 250 with MSR 0.
    assert table.loc["SPEC MSR 1%", "shared_savings"] == "0.0"
    assert table.loc["SPEC MSR 0", "shared_savings"] == "281250.0"
    assert table.loc["SPEC MSR 0", "net_settlement"] == "281250.0"
    # N = 6 150: MSR 3.56997%; savings 4% pass: 2 500 000 x 50% = 1 250 000.
    assert float(table.loc["CMS table", "minimum_savings_rate"]) == pytest.approx(0.0356997)
    assert table.loc["CMS table", "shared_savings"] == "1250000.0"
    assert table.loc["unreadable", "benchmark"] == "6.25e7 euro"
    assert table.loc["unreadable", "shared_savings"] == ""
    assert table.loc["unreadable", "status"].startswith("not settled: benchmark: not an amount")


def test_strict_exits_1_when_a_case_is_not_settled(cases, terms, tmp_path):
    result = run(cases, "--contract", terms, "-o", tmp_path / "out.csv", "--strict")
    assert result.exit_code == 1


def test_settle_to_xlsx_writes_numbers(cases, terms, tmp_path):
    out = tmp_path / "settled.xlsx"
    assert run(cases, "--contract", terms, "-o", out).exit_code == 0
    sheet = openpyxl.load_workbook(out).active
    rows = list(sheet.iter_rows(values_only=True))
    header = rows[0]
    spec_row = dict(zip(header, rows[2]))
    assert spec_row["case"] == "SPEC MSR 0" and spec_row["shared_savings"] == 281_250
    assert spec_row["expenditure"] == 61_937_500  # input numbers stay numbers
    assert sheet.cell(row=3, column=header.index("shared_savings") + 1).number_format != "General"


def test_terms_from_a_preset_and_case_columns_that_override_them(tmp_path):
    """mssp_basic_e: 50%, MSR 2%, 0.98, cap 10%, losses 30% capped at 4%. Case 1: savings
    5 000 000 on 100 000 000 (5%): 5 000 000 x 50% x 0.98 = 2 450 000. Case 2 sets
    sharing_rate 0.4: 1 960 000. Case 3: loss 6 000 000 x 30% = 1 800 000."""
    table = settled(tmp_path, "benchmark,expenditure,sharing_rate\n100000000,95000000,\n"
                              "100000000,95000000,0.4\n100000000,106000000,\n",
                    "preset: mssp_basic_e\n")
    assert table["shared_savings"].tolist() == [2_450_000, 1_960_000, 0]
    assert table["shared_losses"].tolist() == [0, 0, 1_800_000]
    assert table["net_settlement"].tolist() == [2_450_000, 1_960_000, -1_800_000]


def test_terms_from_a_contracts_file_with_one_shared_savings_contract(tmp_path):
    cases = tmp_path / "cases.csv"
    cases.write_text("benchmark,expenditure\n1000000,950000\n")
    contracts = tmp_path / "contracts.yaml"
    contracts.write_text(
        "columns: {Bench: benchmark}\n"
        "contracts:\n"
        "  - {name: FFS, model: fee_for_service, provider: H, performance_years: [2024]}\n"
        "  - {name: Dutch, model: shared_savings, provider: G, performance_years: [2024],\n"
        "     benchmark_pmpm: 100, minimum_savings_rate: 0.02, sharing_rate: 0.5,\n"
        "     sharing_basis: above_threshold}\n")
    out = tmp_path / "out.csv"
    assert run(cases, "--contract", contracts, "-o", out).exit_code == 0
    # (50 000 − 20 000) x 50% = 15 000.
    assert pd.read_csv(out)["shared_savings"].tolist() == [15_000]


def test_without_terms_each_case_gives_its_own(tmp_path):
    cases = tmp_path / "cases.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.append(["Benchmark", "Expenditure", "Sharing rate"])
    workbook.active.append([1_000_000, 900_000, 0.6])
    workbook.active.append([1_000_000, 900_000, None])
    workbook.save(cases)
    out = tmp_path / "out.csv"
    assert run(cases, "-o", out).exit_code == 0
    table = pd.read_csv(out)
    assert table["shared_savings"].tolist()[0] == 60_000
    assert table["status"].tolist()[1] == "not settled: sharing_rate: is required"


def test_text_from_the_cases_is_never_a_formula(tmp_path, terms):
    cases = tmp_path / "cases.csv"
    cases.write_text('case,benchmark,expenditure\n"=HYPERLINK(""http://x"")",100,90\n')
    out = tmp_path / "out.csv"
    assert run(cases, "--contract", terms, "-o", out).exit_code == 0
    assert pd.read_csv(out)["case"].tolist() == ["'=HYPERLINK(\"http://x\")"]
    out_xlsx = tmp_path / "out.xlsx"
    assert run(cases, "--contract", terms, "-o", out_xlsx).exit_code == 0
    cell = openpyxl.load_workbook(out_xlsx).active["A2"]
    assert cell.data_type == "s" and cell.value == '=HYPERLINK("http://x")'


@pytest.mark.parametrize("terms_text, message", [
    ("sharing_rate: 1.5\n", "sharing_rate: must be at most 1 (got 1.5)"),
    ("sharing_rat: 0.5\n", "sharing_rat: not a sharing term (did you mean 'sharing_rate'?)"),
    ("benchmark_pmpm: 100\n", "benchmark_pmpm: not a sharing term"),
    ("preset: mssp_enhancd\n", "unknown preset 'mssp_enhancd' (did you mean 'mssp_enhanced'?)"),
])
def test_bad_terms_are_exit_2_with_the_key(cases, tmp_path, terms_text, message):
    terms = tmp_path / "terms.yaml"
    terms.write_text(terms_text)
    result = run(cases, "--contract", terms, "-o", tmp_path / "out.csv")
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "out.csv").exists()


def test_a_cases_file_without_expenditure_is_exit_2(tmp_path, terms):
    cases = tmp_path / "cases.csv"
    cases.write_text("benchmark,spend\n100,90\n")
    result = run(cases, "--contract", terms, "-o", tmp_path / "out.csv")
    assert result.exit_code == 2
    assert "lacks required column(s) expenditure" in result.output


def test_output_must_be_csv_or_xlsx(cases, terms, tmp_path):
    result = run(cases, "--contract", terms, "-o", tmp_path / "out.json")
    assert result.exit_code == 2 and "must be a .csv or .xlsx file" in result.output


def test_same_cases_give_the_same_bytes(cases, terms, tmp_path):
    first, second = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    run(cases, "--contract", terms, "-o", first)
    run(cases, "--contract", terms, "-o", second)
    assert first.read_bytes() == second.read_bytes()


def test_a_csv_line_that_does_not_fit_the_header_is_a_case_not_settled(tmp_path, terms):
    cases = tmp_path / "cases.csv"
    cases.write_text("benchmark,expenditure\n100,90,5\n200,100\n")
    out = tmp_path / "out.csv"
    result = run(cases, "--contract", terms, "-o", out, "--strict")
    assert result.exit_code == 1 and "Settled 1 of 2 case(s)" in result.output
    assert pd.read_csv(out)["status"].tolist()[-1].startswith(
        "not settled: line 2: has 3 fields where the header has 2")


def test_a_column_named_twice_is_refused(tmp_path, terms):
    cases = tmp_path / "cases.csv"
    cases.write_text("benchmark,expenditure,note,note\n100,90,a,b\n")
    result = run(cases, "--contract", terms, "-o", tmp_path / "out.csv")
    assert result.exit_code == 2 and "'note' appear twice in the header" in result.output


def test_a_formula_looking_header_is_written_as_text(tmp_path, terms):
    cases = tmp_path / "cases.csv"
    cases.write_text("benchmark,expenditure,=cmd\n100,90,x\n")
    out = tmp_path / "out.csv"
    assert run(cases, "--contract", terms, "-o", out).exit_code == 0
    assert out.read_text().splitlines()[0].split(",")[2] == "'=cmd"


def test_decimal_comma_reads_term_columns_too(tmp_path):
    """3,9% = 0.039 and 0,5 = 0.5: savings of 5% pass the MSR, 50 000 x 0.5 = 25 000."""
    table = settled(tmp_path, "benchmark;expenditure;minimum_savings_rate;sharing_rate\n"
                              "1.000.000,00;950.000,00;3,9%;0,5\n", "decimal_comma: true\n")
    assert table["minimum_savings_rate"].tolist() == [0.039]
    assert table["shared_savings"].tolist() == [25_000]


def test_a_contracts_file_with_an_unknown_key_is_refused(tmp_path):
    cases = tmp_path / "cases.csv"
    cases.write_text("benchmark,expenditure\n100,90\n")
    contracts = tmp_path / "contracts.yaml"
    contracts.write_text(
        "bogus: 1\ncontracts:\n  - {name: D, model: shared_savings, provider: G,\n"
        "     performance_years: [2024], benchmark_pmpm: 100, sharing_rate: 0.5,\n"
        "     minimum_saving_rate: 0.03}\n")
    result = run(cases, "--contract", contracts, "-o", tmp_path / "out.csv")
    assert result.exit_code == 2
    assert ("contract 'D': unknown key 'minimum_saving_rate' (did you mean "
            "'minimum_savings_rate'?)") in result.output
    assert "unknown key 'bogus'" in result.output


def test_a_negative_expenditure_is_settled_with_a_remark(tmp_path, terms):
    cases = tmp_path / "cases.csv"
    cases.write_text("benchmark,expenditure\n100,-5\n")
    out = tmp_path / "out.csv"
    assert run(cases, "--contract", terms, "-o", out).exit_code == 0
    assert pd.read_csv(out)["status"].tolist()[0].endswith(
        "; expenditure is below 0: check the figures")


def test_the_output_may_not_be_the_terms_file(cases, terms):
    result = CliRunner().invoke(main, ["settle", str(cases), "--contract", str(terms),
                                       "-o", str(terms)])
    assert result.exit_code == 2
    assert "is also an input of this run" in result.stderr
    assert terms.read_text(encoding="utf-8") == "sharing_rate: 0.5\n"


def test_an_xlsx_output_keeps_ids_and_odd_numbers_as_written(tmp_path, terms):
    path = tmp_path / "cases.csv"
    path.write_text("case,benchmark,expenditure,members,note\n"
                    "007,62500000,61937500,10417,inf\n"
                    "0012345678901234567,62500000,61937500,10417,1e400\n", encoding="utf-8")
    out = tmp_path / "settled.xlsx"
    assert run(path, "--contract", terms, "-o", out).exit_code == 0
    rows = list(openpyxl.load_workbook(out)["settlement"].iter_rows(values_only=True))
    header = rows[0]
    cases = [row[header.index("case")] for row in rows[1:]]
    notes = [row[header.index("note")] for row in rows[1:]]
    assert cases == ["007", "0012345678901234567"] and notes == ["inf", "1e400"]
    assert [row[header.index("members")] for row in rows[1:]] == [10417, 10417]
