"""A real spreadsheet client: LibreOffice opens the comparison workbook, prints it, and
saves it again (scripts/render_workbook.py). Slow, and skipped without LibreOffice."""
from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from cli import main

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_workbooks"

spec = importlib.util.spec_from_file_location("render_workbook",
                                              REPO / "scripts" / "render_workbook.py")
render_workbook = sys.modules["render_workbook"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(render_workbook)

needs_libreoffice = pytest.mark.skipif(
    shutil.which("soffice") is None or shutil.which("pdftotext") is None,
    reason="LibreOffice (soffice) and poppler-utils are not installed")


@pytest.mark.slow
@needs_libreoffice
def test_libreoffice_shows_the_summary_and_keeps_the_charts(tmp_path):
    comparison = tmp_path / "comparison.xlsx"
    result = CliRunner().invoke(main, ["compare", str(SAMPLE / "claims.xlsx"), "--contracts",
                                       str(SAMPLE / "contracts.yaml"), "-o", str(comparison)])
    assert result.exit_code == 0, result.output
    out = tmp_path / "rendered"
    status = render_workbook.main([str(comparison), "--out", str(out), "--picture",
                                   str(out / "summary.png"), "--chart-picture",
                                   str(out / "summary_chart.png")])
    assert status == 0
    assert len(list(out.glob("page-*.png"))) == len(
        openpyxl.load_workbook(comparison, read_only=True).sheetnames)
    for picture in ("summary.png", "summary_chart.png"):
        assert (out / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # What the check looked for: every contract and, per row, two figures as shown.
    header, expected = render_workbook.summary_expectations(comparison)
    assert "Practices North population contract" in expected and "31,993.71" in expected
    charts = render_workbook.charts_in(out / "round_trip" / "comparison.xlsx")
    assert charts == render_workbook.charts_in(comparison)
    assert [(c.sheet, c.title) for c in charts] == [
        ("Summary", "Insurer cost by contract and year (EUR)"),
        ("Summary", "Provider result by contract and year (EUR)"),
        ("Spillover", "Spend against expected by domain (EUR): below 0 saved, above 0 "
                      "spilled over")]


@pytest.mark.slow
@needs_libreoffice
def test_a_workbook_without_charts_fails_the_check(tmp_path):
    book = openpyxl.Workbook()
    book.active.title = "Summary"
    book.active.append(["contract", "insurer_cost", "provider_result"])
    book.active.append(["Hospital A", 1672178.65, -135384.06])
    for column in "ABC":
        book.active.column_dimensions[column].width = 30
    for cell in ("B2", "C2"):
        book.active[cell].number_format = "#,##0.00"
    book.save(tmp_path / "plain.xlsx")
    failures = render_workbook.check(tmp_path / "plain.xlsx", tmp_path / "rendered")
    assert failures == [f"{tmp_path / 'plain.xlsx'} has no charts to check"]
