"""Contracts in a workbook: the template reads back as the sample contracts file, every
problem names its sheet, row and column, and text is never written as a formula."""
from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import openpyxl
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli import main
from contracts import ContractsError, load_contracts, parse_contracts
from contracts.sheet_rows import (
    CONTRACT_COLUMNS,
    SCENARIO_COLUMNS,
    SETTING_COLUMNS,
    column_comment,
    read_cell,
    write_cell,
)
from fileio.contracts_sheet import read_contracts_workbook, write_contracts_workbook
from fileio.sample_data import CONTRACTS_YAML, write_sample

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_workbooks"
COLUMN = {c.name: c for c in CONTRACT_COLUMNS + SCENARIO_COLUMNS}


def ceiling_contract(**terms):
    return {"name": "Hospital A", "model": "fee_for_service", "provider": "HOSP_A",
            "scope": {"domains": ["hospital"]}, "performance_years": [2024],
            "revenue_ceiling": 1650000, **terms}


def problems_of(tmp_path, data) -> list[str]:
    path = tmp_path / "contracts.xlsx"
    write_contracts_workbook(data, path)
    with pytest.raises(ContractsError) as caught:
        read_contracts_workbook(path)
    return caught.value.problems


# -- the template ------------------------------------------------------------------------

def test_template_reads_back_as_the_sample_contracts_file(tmp_path):
    # fundcalc sample writes contracts.xlsx beside contracts.yaml: the same terms.
    paths = write_sample(tmp_path, members=40, formats=("csv",))
    assert [p.name for p in paths][-2:] == ["contracts.xlsx", "contracts.yaml"]
    from_yaml, _ = load_contracts(tmp_path / "contracts.yaml")
    from_sheet, text = load_contracts(tmp_path / "contracts.xlsx")
    assert from_sheet == from_yaml
    assert len(from_sheet.contracts) == 10 and from_sheet.scenarios
    assert text.startswith(f"# {tmp_path / 'contracts.xlsx'}: the sheets contracts, "
                           "settings, scenarios, as read")


def test_shipped_template_is_the_one_sample_writes(tmp_path):
    write_contracts_workbook(yaml.safe_load(CONTRACTS_YAML), tmp_path / "contracts.xlsx")
    assert (tmp_path / "contracts.xlsx").read_bytes() == (SAMPLE / "contracts.xlsx").read_bytes()
    assert load_contracts(SAMPLE / "contracts.xlsx")[0] == load_contracts(
        SAMPLE / "contracts.yaml")[0]


def test_template_has_a_comment_on_every_column_header():
    book = openpyxl.load_workbook(SAMPLE / "contracts.xlsx")
    for sheet in ("contracts", "scenarios"):
        for cell in book[sheet][1]:
            assert cell.comment is not None, (sheet, cell.value)
            assert cell.comment.text.startswith(f"{cell.value}: ")
    comment = {c.value: c.comment.text for c in book["contracts"][1]}
    assert "clawed back" in comment["clawback_rate"]
    assert "Used by: fee_for_service." in comment["clawback_rate"]
    assert "{key: value, key: value}, {key: value}" in comment["risk_corridors"]
    assert comment["model"].startswith("model: The funding model: fee_for_service, "
                                       "shared_savings, capitation or bundled")
    # Every term written as a mapping or a list of mappings shows how, by example.
    for column in CONTRACT_COLUMNS + SCENARIO_COLUMNS + SETTING_COLUMNS:
        if column.shape in ("map", "rows"):
            assert "For example: " in column_comment(column), column.name
    rows = list(book["contracts"].iter_rows(min_row=2, values_only=True))
    header = [c.value for c in book["contracts"][1]]
    capitation = dict(zip(header, rows[6]))
    assert capitation["risk_corridors"] == ("{from: 0.03, to: 0.08, provider_share: 0.5}, "
                                            "{from: 0.08, provider_share: 0.2}")
    assert capitation["stop_loss.attachment"] == 1500 and capitation["rate_pmpm"] == 20


def test_same_contracts_give_the_same_bytes(tmp_path):
    data = yaml.safe_load(CONTRACTS_YAML)
    write_contracts_workbook(data, tmp_path / "a.xlsx")
    write_contracts_workbook(data, tmp_path / "b.xlsx")
    assert (tmp_path / "a.xlsx").read_bytes() == (tmp_path / "b.xlsx").read_bytes()


# -- the compact form of a cell ----------------------------------------------------------

@pytest.mark.parametrize("column, text, value", [
    ("performance_years", "2024", [2024]),
    ("performance_years", "2023, 2024", [2023, 2024]),
    ("provider", "GP_N1,GP_N2", ["GP_N1", "GP_N2"]),
    ("carve_out_codes", "0123, G999", ["0123", "G999"]),  # ids and codes stay as written
    ("provider", "[GP_N1, 'GP, North']", ["GP_N1", "GP, North"]),
    ("scope.domains", "all", "all"),
    ("scope.domains", "hospital", ["hospital"]),
    ("revenue_ceiling", "1650000", 1650000),
    ("revenue_ceiling", "2024:1650000, 2025 : 1700000", {2024: 1650000, 2025: 1700000}),
    ("minimum_savings_rate", "cms", "cms"),
    ("minimum_savings_rate", "confidence: 0.9", {"confidence": 0.9}),
    ("loss_sharing_rate", "quality_slope: 0.75, min: 0.4, max: 0.75",
     {"quality_slope": 0.75, "min": 0.4, "max": 0.75}),
    ("degressive_tiers", "{up_to: 900000, rate: 1}, {rate: 0.8}",
     [{"up_to": 900000, "rate": 1}, {"rate": 0.8}]),
    ("risk_corridors", "{from: 0.03, provider_share: 0.5}", [{"from": 0.03, "provider_share": 0.5}]),
    ("age_sex_factors", "age_sex_factors.csv", "age_sex_factors.csv"),
    ("spillover.trends", "gp: 0.01, pharmacy: 0.04", {"gp": 0.01, "pharmacy": 0.04}),
    ("normalize", "false", False),
    ("name", "2024", "2024"),  # text terms are taken as written
    ("shift.from.care_codes", "DERM1, DERM2", ["DERM1", "DERM2"]),
])
def test_cells_are_read_in_the_compact_form(column, text, value):
    assert read_cell(COLUMN[column], text) == value


@pytest.mark.parametrize("column, value", [
    ("performance_years", [2023, 2024]), ("provider", ["GP_N1", "GP_N2"]),
    ("scope.domains", ["hospital", "gp"]), ("revenue_ceiling", {2024: 1650000.5}),
    ("degressive_tiers", [{"up_to": 900000, "rate": 1.0}, {"rate": 0.8}]),
    ("minimum_savings_rate", {"confidence": 0.9}), ("carve_out_codes", ["a, b", "c"]),
    ("winsorize", [0.01, 0.99]),
])
def test_written_cells_read_back(column, value):
    cell = write_cell(COLUMN[column], value)
    assert read_cell(COLUMN[column], str(cell)) == value


# -- problems name the sheet, the row and the column ------------------------------------

def test_a_term_out_of_range_names_row_and_column(tmp_path):
    data = {"contracts": [ceiling_contract(name="A"), ceiling_contract(name="B"),
                          ceiling_contract(name="C", clawback_rate=1.5)]}
    assert problems_of(tmp_path, data) == [
        f"{tmp_path / 'contracts.xlsx'}, sheet contracts, row 4, column clawback_rate: "
        "must be at most 1 (got 1.5)"]


@pytest.mark.parametrize("terms, expected", [
    ({"lump_sum": 420000}, "row 2, column lump_sum: cannot be combined with revenue_ceiling"),
    ({"sharing_rate": 0.5}, "row 2, column sharing_rate: not a term of a fee_for_service contract; "
                     "leave the cell blank"),
    ({"degressive_tiers": [{"up_to": 900000, "rate": 1}, {"up_to": 950000, "rate": 0.8}]},
     "row 2, column degressive_tiers: the last tier must have no up_to"),
    ({"degressive_tiers": [{"rate": -1}]}, "row 2, column degressive_tiers: [1].rate: must be "
                                           "at least 0 (got -1)"),
    ({"scope": {"domains": [5]}},
     "row 2, column scope.domains: must be 'all' or a non-empty list of domain names"),
    ({"performance_years": [2024, 2023]}, "row 2, column performance_years: must list years "
                                          "in increasing order"),
    ({"model": "fee_for_servise"}, "row 2, column model: unknown model 'fee_for_servise' "
                                   "(did you mean 'fee_for_service'?)"),
    ({"revenue_ceiling": "{2024: 5"}, "row 2, column revenue_ceiling: cannot be read"),
])
def test_problems_are_placed_in_their_column(tmp_path, terms, expected):
    problems = problems_of(tmp_path, {"contracts": [ceiling_contract(**terms)]})
    assert any(expected in p for p in problems), problems
    assert all(p.startswith(f"{tmp_path / 'contracts.xlsx'}, sheet contracts, row 2")
               for p in problems)


def test_nested_terms_are_placed_in_their_column(tmp_path):
    capitation = {"name": "Cap", "model": "capitation", "provider": "GP_S",
                  "performance_years": [2024], "rate_pmpm": 20,
                  "stop_loss": {"attachment": 1500, "insurer_share": 1.2},
                  "risk_corridors": [{"from": 0.08, "to": 0.03, "provider_share": 0.5}]}
    problems = problems_of(tmp_path, {"contracts": [capitation]})
    where = f"{tmp_path / 'contracts.xlsx'}, sheet contracts, row 2"
    assert f"{where}, column stop_loss.insurer_share: must be at most 1 (got 1.2)" in problems
    assert any(p.startswith(f"{where}, column risk_corridors: ") for p in problems)


def test_an_unknown_column_is_named_with_a_suggestion(tmp_path):
    path = tmp_path / "contracts.xlsx"
    write_contracts_workbook({"contracts": [ceiling_contract()]}, path)
    book = openpyxl.load_workbook(path)
    book["contracts"]["P1"] = "clawbak_rate"
    book.save(path)
    with pytest.raises(ContractsError, match=r"sheet contracts, column P: 'clawbak_rate' is "
                                             r"not a contract term \(did you mean "
                                             r"'clawback_rate'\?\)"):
        read_contracts_workbook(path)


def test_settings_and_scenarios_name_their_rows(tmp_path):
    data = yaml.safe_load(CONTRACTS_YAML)
    data["member_months"] = "monthly"
    data["scenarios"][0]["shift"]["fraction"] = 1.5
    shutil.copy(SAMPLE / "age_sex_factors.csv", tmp_path)
    problems = problems_of(tmp_path, data)
    path = tmp_path / "contracts.xlsx"
    assert problems == [
        f"{path}, sheet settings, row 4, column value: member_months: must be 'any_day' or "
        "'fractional' (got 'monthly')",
        f"{path}, sheet scenarios, row 2, column shift.fraction: must be at most 1 (got 1.5)"]


def test_a_second_change_of_a_scenario_takes_a_row_of_its_own(tmp_path):
    growth = {"domain": "pharmacy", "rate": 0.05}
    shifts = [{"from": {"domain": "hospital", "care_codes": ["DERM1"]}, "to_domain": "gp",
               "fraction": 0.3, "cost_ratio": 0.4},
              {"from": {"domain": "hospital", "care_codes": ["DERM2"]}, "to_domain": "gp",
               "fraction": 2, "cost_ratio": 0.4}]
    data = {"contracts": [ceiling_contract()],
            "scenarios": [{"name": "two shifts", "shift": shifts, "growth": growth}]}
    problems = problems_of(tmp_path, data)
    assert problems == [f"{tmp_path / 'contracts.xlsx'}, sheet scenarios, row 3, column "
                        "shift.fraction: must be at most 1 (got 2)"]
    shifts[1]["fraction"] = 0.2
    write_contracts_workbook(data, tmp_path / "contracts.xlsx")
    scenario = read_contracts_workbook(tmp_path / "contracts.xlsx")[0].scenarios[0]
    assert [s.fraction for s in scenario.shift] == [0.3, 0.2]
    assert [g.rate for g in scenario.growth] == [0.05]


def test_titles_above_the_header_and_columns_in_any_order(tmp_path):
    path = tmp_path / "Contracten.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Contracts"
    sheet.append(["Contracts for 2024, as agreed"])
    sheet.append([])
    sheet.append(["Model", "Name", "Provider", "Performance years", "Lump sum"])
    sheet.append(["fee_for_service", "Mental health lump sum", "MH_1", "2023, 2024", 420000])
    sheet.append([])
    book.save(path)
    (terms,) = load_contracts(path)[0].contracts
    assert (terms.name, terms.provider, terms.performance_years, terms.lump_sum) == (
        "Mental health lump sum", ("MH_1",), [2023, 2024], 420000.0)
    sheet["D4"] = "2023, 2023"
    book.save(path)
    with pytest.raises(ContractsError, match=r"sheet Contracts, row 4, column "
                                             r"performance_years: must list years"):
        load_contracts(path)


def test_a_workbook_without_a_contracts_sheet_says_so(tmp_path):
    path = tmp_path / "terms.xlsx"
    book = openpyxl.Workbook()
    book.active.title = "Blad1"
    book.save(path)
    with pytest.raises(ContractsError, match=r"no sheet named 'contracts' \(sheets: Blad1\)"):
        load_contracts(path)


def test_names_used_twice_are_refused_as_in_a_contracts_file(tmp_path):
    problems = problems_of(tmp_path, {"contracts": [ceiling_contract(), ceiling_contract()]})
    assert problems == [f"{tmp_path / 'contracts.xlsx'}: each contract needs its own name; "
                        "used more than once: 'Hospital A'"]


def test_an_entity_bomb_is_refused_before_parsing(tmp_path):
    path = tmp_path / "contracts.xlsx"
    write_contracts_workbook({"contracts": [ceiling_contract()]}, path)
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path) as original, zipfile.ZipFile(bomb, "w") as copy:
        for entry in original.infolist():
            content = original.read(entry)
            if entry.filename == "xl/worksheets/sheet1.xml":
                content = b"<!DOCTYPE x [<!ENTITY a \"aaaa\">]>" + content
            copy.writestr(entry, content)
    with pytest.raises(ContractsError, match="declares XML entities"):
        load_contracts(bomb)


# -- safe writing --------------------------------------------------------------------------

def test_text_that_looks_like_a_formula_is_written_as_text(tmp_path):
    names = ['=HYPERLINK("http://example.com","click")', "+1+2", "@SUM(A1)", "#N/A"]
    data = {"contracts": [ceiling_contract(name=name, notes="=1+1") for name in names]}
    path = tmp_path / "contracts.xlsx"
    write_contracts_workbook(data, path)
    with zipfile.ZipFile(path) as archive:
        sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/sheet")]
        assert not any(b"<f>" in archive.read(n) for n in sheets)
    book = openpyxl.load_workbook(path)
    cells = [row[0] for row in book["contracts"].iter_rows(min_row=2)]
    assert [c.value for c in cells] == names and {c.data_type for c in cells} == {"s"}
    assert [c.name for c in read_contracts_workbook(path)[0].contracts] == names


# -- on the command line -------------------------------------------------------------------

def test_compare_takes_the_contracts_workbook(tmp_path):
    write_sample(tmp_path, members=300, formats=("csv",), seed=3)
    args = [str(tmp_path / "claims.csv"), "--members", str(tmp_path / "members.csv"),
            "--fee-schedule", str(tmp_path / "fee_schedule.csv"),
            "--attribution", str(tmp_path / "attribution.csv"),
            "--enrollment", str(tmp_path / "enrollment.csv")]
    summaries = []
    for contracts in ("contracts.yaml", "contracts.xlsx"):
        out = tmp_path / f"{contracts}.out.xlsx"
        result = CliRunner().invoke(main, ["compare", *args, "--contracts",
                                           str(tmp_path / contracts), "-o", str(out)])
        assert result.exit_code == 0, result.output
        book = openpyxl.load_workbook(out, read_only=True)
        summaries.append(list(book["Summary"].iter_rows(values_only=True)))
    assert summaries[0] == summaries[1]


def test_compare_reports_a_bad_cell_in_one_sentence(tmp_path):
    path = tmp_path / "contracts.xlsx"
    write_contracts_workbook({"contracts": [ceiling_contract(clawback_rate=1.5)]}, path)
    claims = tmp_path / "claims.csv"
    claims.write_text("claim_id,member_id,provider_id,service_date,domain,amount\n"
                      "C1,M1,HOSP_A,2024-03-01,hospital,100\n")
    result = CliRunner().invoke(main, ["compare", str(claims), "--contracts", str(path),
                                       "-o", str(tmp_path / "out.xlsx")])
    assert result.exit_code == 2
    assert result.stderr == (f"fundcalc: {path}, sheet contracts, row 2, column "
                             "clawback_rate: must be at most 1 (got 1.5)\n")


# -- the law: a contract written to the sheet reads back as the same terms ----------------

_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF), min_size=1,
                max_size=12).filter(lambda t: t.strip() == t and t)


def _excel_number(value: float) -> float:
    return float(f"{value:.15g}")


@st.composite
def fee_for_service_terms(draw):
    years = sorted(draw(st.sets(st.integers(2000, 2030), min_size=1, max_size=3)))
    amount = st.floats(0, 1e9, allow_nan=False).map(lambda v: round(v, 2))
    ceiling = draw(st.one_of(amount, st.fixed_dictionaries({y: amount for y in years})))
    # A number cell is read to the full precision the file keeps (Excel: 15 significant
    # digits; the writer, openpyxl, 16).
    tiers = draw(st.lists(st.floats(0, 2).map(_excel_number), min_size=1, max_size=3))
    bounds = sorted(draw(st.sets(st.integers(1, 10**7), min_size=len(tiers) - 1,
                                 max_size=len(tiers) - 1)))
    return {"name": draw(_TEXT), "model": "fee_for_service",
            "provider": draw(st.lists(_TEXT, min_size=1, max_size=3)),
            "scope": {"domains": draw(st.one_of(st.just("all"),
                                                st.lists(_TEXT.map(str.lower), min_size=1,
                                                         max_size=2)))},
            "performance_years": years, "revenue_ceiling": ceiling,
            "clawback_rate": draw(st.floats(0, 1).map(_excel_number)),
            "degressive_tiers": [{"up_to": b, "rate": r} for b, r in zip(bounds, tiers)]
            + [{"rate": tiers[-1]}],
            "notes": draw(st.one_of(st.none(), _TEXT))}


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(terms=fee_for_service_terms())
def test_a_contract_reads_back_from_the_sheet_as_from_yaml(tmp_path, terms):
    terms = {k: v for k, v in terms.items() if v is not None}
    try:
        expected = parse_contracts({"contracts": [terms]})
    except ContractsError:
        return  # terms the contracts file refuses are refused by the sheet too (tested above)
    path = tmp_path / "contracts.xlsx"
    write_contracts_workbook({"contracts": [terms]}, path)
    assert read_contracts_workbook(path)[0] == expected



def _lump_sum_sheet(path: Path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "contracts"
    sheet.append(["model", "name", "provider", "performance_years", "clawback_rate",
                  "revenue_ceiling"])
    sheet.append(["fee_for_service", "Hospital A", "HOSP_A", 2024, 0.3, 1650000])
    return book, sheet


@pytest.mark.parametrize("value, message", [
    ("#N/A", r"column clawback_rate: an error value \(#N/A\); correct the formula or "
             "type the term"),
    ("=VLOOKUP(A1, B:C, 2, FALSE)", "column clawback_rate: a formula saved without its "
                                    "value; open and save the workbook"),
])
def test_an_error_value_or_a_formula_without_value_is_refused_not_taken_as_blank(
        tmp_path, value, message):
    # Blank would mean the default clawback rate of 1: a silent change of the terms.
    path = tmp_path / "contracts.xlsx"
    book, sheet = _lump_sum_sheet(path)
    sheet["E2"] = value
    book.save(path)
    with pytest.raises(ContractsError, match=f"sheet contracts, row 2, {message}"):
        load_contracts(path)


def test_numbers_are_read_to_full_precision(tmp_path):
    path = tmp_path / "contracts.xlsx"
    book, sheet = _lump_sum_sheet(path)
    sheet["E2"] = 1 / 3
    book.save(path)
    (terms,) = load_contracts(path)[0].contracts
    assert terms.clawback_rate == 1 / 3  # the text read gave 0.333333333


def test_a_file_name_with_a_drive_colon_is_a_file_name():
    cell = next(c for c in CONTRACT_COLUMNS if c.name == "age_sex_factors")
    assert read_cell(cell, r"C:\Users\an\factors.csv") == r"C:\Users\an\factors.csv"
    assert read_cell(cell, "v2:final/factors.csv") == "v2:final/factors.csv"
    assert read_cell(cell, "{age_from:0, sex: F, factor: 1.2}") == [
        {"age_from": 0, "sex": "F", "factor": 1.2}]


def test_a_value_under_a_blank_header_is_refused(tmp_path):
    path = tmp_path / "contracts.xlsx"
    book, sheet = _lump_sum_sheet(path)
    sheet["H2"] = 1700000  # meant as a ceiling, but column H has no header
    book.save(path)
    with pytest.raises(ContractsError, match="sheet contracts, row 2, column H: a value "
                                             "under a blank header"):
        load_contracts(path)

def test_two_sheets_that_read_as_contracts_are_refused(tmp_path):
    path = tmp_path / "contracts.xlsx"
    book, _ = _lump_sum_sheet(path)
    book.create_sheet("Contracts ")
    book.save(path)
    with pytest.raises(ContractsError, match="the sheets 'contracts' and 'Contracts ' both "
                                             "read as 'contracts'"):
        load_contracts(path)
