"""The comparison workbook (SPEC §6): layout, number formats, charts, formula safety,
byte-identical output and atomic writing (fileio/workbook.py, fileio/atomic.py)."""
from __future__ import annotations

import datetime as dt
import os
import pickle
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fileio import workbook as workbook_module
from fileio.atomic import OutputPathError, atomic_output
from fileio.workbook import (
    COLUMN_MEANINGS, MAX_SHEET_NAME, RESERVED_SHEET_NAMES, contract_sheet_names,
    write_comparison_workbook,
)
from fileio.xlsx_style import MAX_CELL_CHARS, TRUNCATION_MARKER
from funding_models.results import (
    SUMMARY_COLUMNS, Comparison, ContractResult, InputFileReport, SummaryRow, Table,
    summary_frame,
)

REPO = Path(__file__).resolve().parents[1]

HOSTILE = ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "\tx", "\rx", "#N/A",
           "bell\x07here", "x" * 40_000]


# -- fixtures ---------------------------------------------------------------------------

def _summary_rows() -> list[SummaryRow]:
    # SPEC §4.1 example: ceiling 10.0M, gross 10.8M, clawback 0.65 -> paid 10.28M.
    ffs = SummaryRow("ACO North", "fee_for_service", "P1", 2023, insurer_cost=1028000000,
                     ffs_equivalent=1080000000, provider_revenue=1028000000,
                     provider_cost=1080000000, members=1200, member_months=14000.5)
    blank = SummaryRow('=HYPERLINK("http://x")', "capitation", "@SUM(A1)", 2023,
                       insurer_cost=None, ffs_equivalent=None, provider_revenue=None,
                       provider_cost=None, status="#N/A")
    shared = SummaryRow("ACO North", "fee_for_service", "P1", 2024, insurer_cost=1000000000,
                        ffs_equivalent=1000000000, provider_revenue=1000000000,
                        provider_cost=990000000, shared_savings=5000000,
                        savings_rate=0.0123)
    return [ffs, blank, shared]


def _tables() -> list[Table]:
    by_year = pd.DataFrame({
        "year": [2023, 2024], "insurer_cost": [10280000.0, None],
        "savings_rate": [0.0123, None], "members": [1200, 1300],
        "settled_on": [dt.date(2024, 6, 30), dt.date(2025, 6, 30)],
        "domain": ["hospital", "=1+1"], "factor": [1.0234, 0.98],
    })
    return [
        Table("By year", by_year, {"year": "year", "insurer_cost": "money",
                                   "savings_rate": "rate", "members": "count",
                                   "settled_on": "date"},
              note="Money in currency units."),
        Table("By provider", pd.DataFrame({"provider": ["P1"], "cost": [1.5]}),
              {"cost": "money"}),
    ]


def _comparison(rejected: pd.DataFrame | None = None) -> Comparison:
    rows = _summary_rows()
    contracts = [
        ContractResult("ACO North", "fee_for_service", [rows[0], rows[2]], _tables(),
                       warnings=["Provider P9 has no claims."]),
        ContractResult('=HYPERLINK("http://x")', "capitation", [rows[1]], _tables()[1:]),
    ]
    if rejected is None:
        rejected = pd.DataFrame({
            "file": "claims.csv", "sheet": "", "table": "claims",
            "row": range(2, 2 + len(HOSTILE)), "column": "amount", "value": HOSTILE,
            "reason": "not a number",
        })
    reports = [InputFileReport("claims.csv", "", "claims", "ab" * 32, rows_read=12,
                               rows_accepted=3, rows_rejected=9, amount_read=150000,
                               amount_accepted=120000, amount_rejected=30000, blank_rows=1)]
    return Comparison(summary_frame(rows), contracts, reports, rejected,
                      terms_text="contracts:\n  - name: ACO North\n\n=cmd|' /C calc'!A0\n",
                      settings={"version": "0.1.0", "seed": 3, "trend": 0.025})


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("workbook") / "comparison.xlsx"
    write_comparison_workbook(_comparison(), path)
    return path


@pytest.fixture(scope="module")
def book(written):
    return openpyxl.load_workbook(written)


def _sheet_xml(path: Path) -> dict[str, str]:
    """Worksheet XML by sheet name, read from the zip."""
    main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    relation = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
    with zipfile.ZipFile(path) as archive:
        book = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
        targets = {rel.get("Id"): rel.get("Target") for rel in rels}
        parts = {sheet.get("name"): targets[sheet.get(relation)]
                 for sheet in book.iter(f"{main}sheet")}
        return {name: archive.read(part[1:] if part.startswith("/") else f"xl/{part}")
                .decode() for name, part in parts.items()}


def _column(sheet, header: str) -> int:
    return [cell.value for cell in sheet[1]].index(header) + 1


# -- layout -----------------------------------------------------------------------------

def test_sheets_in_order(book):
    assert book.sheetnames == ["Read me", "Summary", "ACO North",
                               '=HYPERLINK("http___x")', "Spillover", "Inputs", "Rejected"]


def test_read_me_explains_every_summary_column(book):
    rows = list(book["Read me"].iter_rows(values_only=True))
    meanings = {row[0]: row[1] for row in rows}
    for column in SUMMARY_COLUMNS:
        assert meanings[column] == COLUMN_MEANINGS[column]
        assert meanings[column].count(". ") == 0 and meanings[column].endswith(".")
    texts = [value for row in rows for value in row if isinstance(value, str)]
    assert any(text.startswith("Compare contracts by insurer cost − FFS equivalent")
               for text in texts)
    for sheet in book.sheetnames:
        assert sheet in meanings


def test_summary_header_values_and_formats(book):
    sheet = book["Summary"]
    assert [cell.value for cell in sheet[1]][: len(SUMMARY_COLUMNS)] == list(SUMMARY_COLUMNS)
    assert all(cell.font.b for cell in sheet[1] if cell.value is not None)
    cost = sheet.cell(2, _column(sheet, "insurer_cost"))
    assert cost.value == 10280000.0
    assert "0.00" in cost.number_format and "EUR" in cost.number_format
    rate = sheet.cell(4, _column(sheet, "savings_rate"))
    assert rate.value == pytest.approx(0.0123) and rate.number_format == "0.00%"
    assert sheet.cell(2, _column(sheet, "members")).number_format == "#,##0"
    months = sheet.cell(2, _column(sheet, "member_months"))
    assert months.value == 14000.5 and months.number_format.startswith("#,##0.0")
    assert sheet.cell(2, _column(sheet, "year")).value == 2023
    assert sheet.cell(2, _column(sheet, "provider_result")).value == -520000.0


def test_summary_blanks_are_empty(book):
    sheet = book["Summary"]
    for header in ("insurer_cost", "provider_result", "shared_savings", "savings_rate"):
        assert sheet.cell(3, _column(sheet, header)).value is None
    values = [cell.value for row in sheet.iter_rows() for cell in row]
    assert not any(value in ("nan", "NaN", "<NA>", "None") for value in values)


def test_summary_frozen_and_filtered(book):
    sheet = book["Summary"]
    assert sheet.freeze_panes == "C2"
    assert sheet.auto_filter.ref == "A1:U4"


def test_summary_charts_are_native_and_right_of_table(book, written):
    charts = book["Summary"]._charts
    assert len(charts) == 2
    assert all(chart.anchor._from.col > len(SUMMARY_COLUMNS) for chart in charts)
    with zipfile.ZipFile(written) as archive:
        first = archive.read("xl/charts/chart1.xml").decode()
        second = archive.read("xl/charts/chart2.xml").decode()
        assert not [name for name in archive.namelist() if name.startswith("xl/media")]
    assert "'Summary'!$H$2:$H$4" in first and "Insurer cost" in first
    assert "'Summary'!$L$2:$L$4" in second and "Provider result" in second


def test_contract_sheet(book):
    sheet = book["ACO North"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:2] == ("Contract", "ACO North")
    assert rows[1][:2] == ("Model", "fee_for_service")
    assert rows[2][:2] == ("Provider", "P1")
    assert sheet.freeze_panes == "A4"
    assert ("Provider P9 has no claims.",) == rows[5][:1]
    title = [r for r, row in enumerate(rows, 1) if row[0] == "By year"][0]
    assert sheet.cell(title, 1).font.b
    assert sheet.cell(title + 1, 1).value == "Money in currency units."
    assert sheet.cell(title + 1, 1).font.i
    assert sheet.cell(title + 2, 1).value == "year" and sheet.cell(title + 2, 1).font.b
    first = title + 3
    assert sheet.cell(first, 1).value == 2023 and sheet.cell(first, 1).number_format == "0"
    assert sheet.cell(first, 2).value == 10280000.0
    assert "0.00" in sheet.cell(first, 2).number_format
    assert sheet.cell(first + 1, 2).value is None
    assert sheet.cell(first, 3).number_format == "0.00%"
    assert sheet.cell(first, 4).number_format == "#,##0"
    assert sheet.cell(first, 5).value == dt.datetime(2024, 6, 30)
    assert sheet.cell(first, 5).number_format == "yyyy-mm-dd"
    assert sheet.cell(first + 1, 6).value == "=1+1"
    assert sheet.cell(first + 1, 6).data_type == "s"
    assert sheet.cell(first, 7).value == pytest.approx(1.0234)
    assert rows[first + 1] == (None,) * len(rows[0])  # blank row between tables
    assert rows[first + 2][0] == "By provider"


def test_inputs_sheet(book):
    rows = list(book["Inputs"].iter_rows(values_only=True))
    header = rows.index(next(row for row in rows if row[0] == "file"))
    report = dict(zip(rows[header], rows[header + 1]))
    assert report["sha256"] == "ab" * 32
    assert (report["rows_read"], report["rows_accepted"], report["rows_rejected"],
            report["blank_rows"]) == (12, 3, 9, 1)
    assert (report["amount_read"], report["amount_accepted"],
            report["amount_rejected"]) == (1500.0, 1200.0, 300.0)
    settings_at = rows.index(next(row for row in rows if row[0] == "setting"))
    assert [row[:2] for row in rows[settings_at + 1: settings_at + 4]] == [
        ("version", "0.1.0"), ("seed", 3), ("trend", 0.025)]
    terms_at = rows.index(next(row for row in rows if row[0] == "Contract terms as given"))
    assert [row[0] for row in rows[terms_at + 1:]] == [
        "contracts:", "  - name: ACO North", None, "=cmd|' /C calc'!A0"]


def test_rejected_sheet(book):
    sheet = book["Rejected"]
    assert [cell.value for cell in sheet[1]] == ["file", "sheet", "table", "row", "column",
                                                 "value", "reason"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:G{len(HOSTILE) + 1}"
    assert sheet.cell(2, 4).value == 2 and sheet.cell(2, 2).value is None


# -- formula safety ---------------------------------------------------------------------

def test_no_formulas_anywhere(written):
    for name, xml in _sheet_xml(written).items():
        assert "<f>" not in xml and "<f " not in xml, name


def test_hostile_values_are_literal_text(book, written):
    sheet = book["Rejected"]
    values = [sheet.cell(row, 6) for row in range(2, len(HOSTILE) + 2)]
    assert all(cell.data_type == "s" for cell in values)
    expected = HOSTILE[:7] + ["bell\ufffdhere"]
    assert [cell.value for cell in values[:8]] == expected
    long = values[8].value
    assert len(long) == MAX_CELL_CHARS and long.endswith(TRUNCATION_MARKER)
    xml = _sheet_xml(written)["Rejected"]
    assert re.search(r'<c r="F2" t="inlineStr"><is><t[^>]*>=HYPERLINK\("http://x"\)</t>',
                     xml)


def test_hostile_names_in_summary_are_text(book):
    sheet = book["Summary"]
    for header, value in (("contract", '=HYPERLINK("http://x")'), ("provider", "@SUM(A1)"),
                          ("status", "#N/A")):
        cell = sheet.cell(3, _column(sheet, header))
        assert (cell.value, cell.data_type) == (value, "s")


# -- byte-identical output --------------------------------------------------------------

def test_same_comparison_gives_same_bytes(tmp_path, monkeypatch):
    first, second = tmp_path / "first.xlsx", tmp_path / "second.xlsx"
    write_comparison_workbook(_comparison(), first)
    later = time.time() + 400 * 86400
    monkeypatch.setattr(time, "time", lambda: later)
    write_comparison_workbook(_comparison(), second)
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(second) as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        core = archive.read("docProps/core.xml").decode()
    assert "<dc:creator>fundcalc</dc:creator>" in core and "2000-01-01T00:00:00Z" in core


def test_same_bytes_in_another_process(tmp_path):
    """Hash randomisation and the clock of another process change nothing."""
    pickled, first, second = (tmp_path / "c.pickle", tmp_path / "first.xlsx",
                              tmp_path / "second.xlsx")
    pickled.write_bytes(pickle.dumps(_comparison()))
    write_comparison_workbook(_comparison(), first)
    script = ("import pickle, sys; from fileio.workbook import write_comparison_workbook; "
              "write_comparison_workbook(pickle.load(open(sys.argv[1], 'rb')), sys.argv[2])")
    subprocess.run([sys.executable, "-c", script, str(pickled), str(second)], check=True,
                   cwd=REPO, env={**os.environ, "PYTHONHASHSEED": "12345",
                                  "PYTHONPATH": str(REPO)})
    assert first.read_bytes() == second.read_bytes()


# -- atomic writing and refusals --------------------------------------------------------

@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_failure_leaves_no_file(tmp_path, error):
    target = tmp_path / "out.csv"
    with pytest.raises(error):
        with atomic_output(target) as temporary:
            temporary.write_text("partial")
            raise error()
    assert list(tmp_path.iterdir()) == []


def test_failure_keeps_existing_output(tmp_path, monkeypatch):
    target = tmp_path / "comparison.xlsx"
    target.write_bytes(b"previous run")

    def broken(*args):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(workbook_module, "_copy_zip_deterministically", broken)
    with pytest.raises(RuntimeError):
        write_comparison_workbook(_comparison(), target)
    assert target.read_bytes() == b"previous run"
    assert list(tmp_path.iterdir()) == [target]


def test_success_replaces_output_with_usual_permissions(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old")
    target.chmod(0o640)
    with atomic_output(target) as temporary:
        assert temporary.parent == tmp_path and temporary != target
        temporary.write_text("new")
    assert target.read_text() == "new" and (target.stat().st_mode & 0o777) == 0o640
    assert list(tmp_path.iterdir()) == [target]


def _fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("make_path, words", [
    (lambda tmp: tmp / "missing" / "out.xlsx", "does not exist"),
    (lambda tmp: tmp, "not a regular file"),
    (lambda tmp: Path("/dev/full"), "not a regular file"),
    (_fifo, "not a regular file"),
], ids=["missing folder", "directory", "device", "fifo"])
def test_refused_output_paths(tmp_path, make_path, words):
    path = make_path(tmp_path)
    if not path.exists() and words != "does not exist":
        pytest.skip(f"{path} is not available here")
    before = sorted(tmp_path.iterdir())
    with pytest.raises(OutputPathError, match=words) as caught:
        write_comparison_workbook(_comparison(), path)
    assert isinstance(caught.value, ValueError)
    assert str(caught.value).count(";") == 1 and str(caught.value).endswith(".")
    assert sorted(tmp_path.iterdir()) == before


def test_output_may_not_be_an_input(tmp_path, monkeypatch):
    claims = tmp_path / "claims.xlsx"
    claims.write_bytes(b"claims")
    (tmp_path / "link.xlsx").symlink_to(claims)
    monkeypatch.chdir(tmp_path)
    for output in (claims, "claims.xlsx", tmp_path / "sub" / ".." / "claims.xlsx",
                   tmp_path / "link.xlsx"):
        (tmp_path / "sub").mkdir(exist_ok=True)
        with pytest.raises(OutputPathError, match="also an input"):
            write_comparison_workbook(_comparison(), output, inputs=[str(claims)])
    assert claims.read_bytes() == b"claims"


# -- sheet names ------------------------------------------------------------------------

def test_long_and_duplicate_contract_names(tmp_path):
    long = "Shared savings contract with a very long name indeed"
    names = [long, long, long.upper(), "a/b:c?d*e[f]g\\h", "'quoted'", "'''", "summary",
             "History", "x" * 40 + "'"]
    sheets = contract_sheet_names(names)
    assert sheets[:3] == [long[:31], long[:27] + " (2)", long.upper()[:27] + " (3)"]
    assert sheets[3:] == ["a_b_c_d_e_f_g_h", "quoted", "Contract", "summary (2)",
                          "History (2)", "x" * 31]
    rows = _summary_rows()
    contracts = [ContractResult(name, "capitation", rows[1:2], []) for name in names]
    comparison = Comparison(summary_frame(rows), contracts, [], pd.DataFrame(), "", {})
    path = tmp_path / "names.xlsx"
    write_comparison_workbook(comparison, path)
    assert openpyxl.load_workbook(path).sheetnames[2:-3] == sheets


@given(st.lists(st.text(max_size=40), max_size=12))
@settings(max_examples=200, deadline=None)
def test_sheet_names_are_always_valid_and_unique(names):
    sheets = contract_sheet_names(names)
    assert len(sheets) == len(names)
    folded = [sheet.casefold() for sheet in sheets]
    assert len(set(folded)) == len(folded)
    assert not set(folded) & {name.casefold() for name in RESERVED_SHEET_NAMES}
    for sheet in sheets:
        assert 0 < len(sheet) <= MAX_SHEET_NAME
        assert not re.search(r"[\[\]:*?/\\\x00-\x1f]", sheet)
        assert not sheet.startswith("'") and not sheet.endswith("'")


# -- edge cases -------------------------------------------------------------------------

def test_empty_comparison(tmp_path):
    comparison = Comparison(summary_frame([]), [], [], pd.DataFrame(), "", {})
    path = tmp_path / "empty.xlsx"
    write_comparison_workbook(comparison, path)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Read me", "Summary", "Spillover", "Inputs", "Rejected"]
    assert book["Summary"]._charts == []
    assert book["Rejected"].auto_filter.ref == "A1:G1"


def test_more_rejected_rows_than_a_sheet_holds(tmp_path, monkeypatch):
    monkeypatch.setattr(workbook_module, "MAX_DATA_ROWS", 5)
    rejected = pd.DataFrame({"file": "claims.csv", "row": range(8), "reason": "bad"})
    path = tmp_path / "many.xlsx"
    write_comparison_workbook(_comparison(rejected), path)
    sheet = openpyxl.load_workbook(path)["Rejected"]
    assert sheet.max_row == 6 and sheet.auto_filter.ref == "A1:G6"
    assert "8 rows were rejected" in sheet.cell(1, 9).value


@pytest.mark.slow
def test_hundred_thousand_rejected_rows_write_quickly(tmp_path):
    count = 100_000
    rejected = pd.DataFrame({
        "file": "claims.csv", "sheet": "Claims", "table": "claims",
        "row": range(2, count + 2), "column": "amount",
        "value": [f"=SUM(A{i})" if i % 3 == 0 else f"x{i}" for i in range(count)],
        "reason": [f"not a number ({i})" for i in range(count)],
    })
    started = time.perf_counter()
    write_comparison_workbook(_comparison(rejected), tmp_path / "big.xlsx")
    assert time.perf_counter() - started < 10
