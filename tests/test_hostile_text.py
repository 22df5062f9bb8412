"""Text from inputs that a spreadsheet would run (issue 8): cells beginning with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return come out of every output workbook as literal
text. Checked in the sheet XML inside the xlsx zip: no cell holds a formula, and each
hostile text is a string cell holding exactly that text. Text from inputs quoted in a
message (a header, a contract's name) keeps to its line and cannot drive the terminal.
"""
from __future__ import annotations

import datetime
import os
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pytest
from click.testing import CliRunner

from cli import main
from input_files import write_csv, write_xlsx

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
RELATION = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"

PROVIDER = '=HYPERLINK("http://evil.example","click")'
DOMAIN = "+gp"
MEMBER = "-M1"
CARE_CODE = "@SUM(A1:A9)"
CLAIM_ID = "\t=1+1"
SEGMENT = "@risky"
BAD_AMOUNT = "\r=2+2"
CONTRACT = "=cmd|' /C calc'!A0"
HOSTILE = [PROVIDER, DOMAIN, MEMBER, CARE_CODE, CLAIM_ID, SEGMENT, BAD_AMOUNT, CONTRACT]


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError("a traceback") from result.exception
    return result


def _text(element) -> str:
    """The text of an inline string or shared string item (rich-text runs joined)."""
    return "" if element is None else "".join(t.text or "" for t in element.iter(f"{MAIN}t"))


def sheet_cells(path: Path) -> dict[str, list[tuple[str, str | None, bool, str | None]]]:
    """Every cell of every sheet, read from the XML: (reference, type, has a formula, the
    text of a string cell)."""
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        shared = ([_text(item) for item in ElementTree.fromstring(
            archive.read("xl/sharedStrings.xml")).iter(f"{MAIN}si")]
            if "xl/sharedStrings.xml" in names else [])
        book = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
        targets = {rel.get("Id"): rel.get("Target") for rel in rels}
        cells = {}
        for sheet in book.iter(f"{MAIN}sheet"):
            part = targets[sheet.get(RELATION)]
            xml = archive.read(part[1:] if part.startswith("/") else f"xl/{part}")
            found = []
            for cell in ElementTree.fromstring(xml).iter(f"{MAIN}c"):
                kind = cell.get("t")
                text = None
                if kind == "inlineStr":
                    text = _text(cell.find(f"{MAIN}is"))
                elif kind == "s":
                    text = shared[int(cell.find(f"{MAIN}v").text)]
                elif kind == "str":
                    text = cell.findtext(f"{MAIN}v")
                found.append((cell.get("r"), kind, cell.find(f"{MAIN}f") is not None, text))
            cells[sheet.get("name")] = found
    return cells


def assert_literal(path: Path, expected: dict[str, list[str]]) -> None:
    """No formula anywhere, no cell of a formula's result type (``str``); each sheet named
    in ``expected`` holds each of its texts as a string cell with exactly that text (or
    beginning with it, for the copy of the contracts file)."""
    cells = sheet_cells(path)
    for sheet, found in cells.items():
        assert not any(formula for _, _, formula, _ in found), sheet
        assert all(kind in (None, "n", "s", "inlineStr", "b", "d") for _, kind, _, _ in found)
    for sheet, texts in expected.items():
        strings = [text for _, kind, _, text in cells[sheet] if kind in ("s", "inlineStr")]
        for text in texts:
            assert any(s == text or s.startswith(text) for s in strings), (sheet, text)


#: Cells are trimmed when read, so a tab or carriage return before a cell's text goes;
#: file names keep theirs, and are shown as given.
TAB_FILE = "\t=1+1.csv"
CR_FILE = "\r@x.csv"


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    """``fundcalc compare`` on claims, members and contracts full of hostile text, two of
    the claims files named by hostile relative paths."""
    folder = tmp_path_factory.mktemp("hostile")
    day = datetime.date(2024, 3, 1)
    header = ["claim_id", "member_id", "provider_id", "service_date", "domain", "care_code",
              "amount"]
    write_xlsx(folder / "claims.xlsx", {
        "claims": [
            header,
            [CLAIM_ID, MEMBER, PROVIDER, day, DOMAIN, CARE_CODE, 120.0],
            ["C2", MEMBER, PROVIDER, datetime.date(2023, 3, 1), DOMAIN, CARE_CODE, 100.0],
            ["C3", MEMBER, PROVIDER, day, "hospital", "HIP", 900.0],
            ["C4", MEMBER, PROVIDER, day, DOMAIN, CARE_CODE, BAD_AMOUNT],
            ["C5", MEMBER, PROVIDER, CARE_CODE, DOMAIN, CARE_CODE, 1.0],
        ],
        "members": [
            ["member_id", "segment", "attributed_provider", "conditions"],
            [MEMBER, SEGMENT, PROVIDER, "diabetes"],
        ],
    })
    write_csv(folder / TAB_FILE, [header, ["C6", MEMBER, PROVIDER, day, DOMAIN, "X", "=3+3"]])
    write_csv(folder / CR_FILE, [header, ["C7", MEMBER, PROVIDER, day, DOMAIN, "X", "7"]])
    contracts = folder / "contracts.yaml"
    quoted = PROVIDER.replace('"', '\\"')
    contracts.write_text(
        "contracts:\n"
        f'  - name: "{CONTRACT}"\n'
        "    model: fee_for_service\n"
        f'    provider: "{quoted}"\n'
        f'    scope: {{domains: ["{DOMAIN}"], segment: "{SEGMENT}"}}\n'
        "    performance_years: [2024]\n"
        "  - name: Savings\n"
        "    model: shared_savings\n"
        f'    provider: "{quoted}"\n'
        "    scope: {domains: all}\n"
        "    baseline_years: [2023]\n"
        "    performance_years: [2024]\n"
        "    sharing_rate: 0.5\n"
        "  - name: Hips\n"
        "    model: bundled\n"
        f'    provider: "{quoted}"\n'
        "    bundle: {kind: episode, trigger_codes: [HIP], window_days: 90}\n"
        "    scope: {domains: all}\n"
        "    performance_years: [2024]\n"
        "    price: 500\n")
    out = folder / "comparison.xlsx"
    before = os.getcwd()
    os.chdir(folder)
    try:
        result = run("compare", "claims.xlsx", TAB_FILE, CR_FILE, "--contracts",
                     "contracts.yaml", "-o", "comparison.xlsx")
    finally:
        os.chdir(before)
    assert result.exit_code == 0, result.output
    return out


def test_compare_workbook_holds_hostile_text_as_text(hostile_run):
    cells = sheet_cells(hostile_run)
    contract_sheet = next(name for name in cells if name.startswith("=cmd"))
    assert_literal(hostile_run, {
        "Read me": [contract_sheet],
        "Summary": [CONTRACT, PROVIDER],
        contract_sheet: [CONTRACT, PROVIDER, DOMAIN],
        "Savings": [PROVIDER, DOMAIN],
        "Hips": [PROVIDER],
        "Spillover": [DOMAIN],
        "Episodes": [MEMBER],
        "Inputs": [TAB_FILE, CR_FILE, f'  - name: "{CONTRACT}"'],
        "Rejected": ["=2+2", CARE_CODE, "=3+3", TAB_FILE],
    })


def test_settle_workbook_holds_hostile_text_as_text(tmp_path):
    """Cells are trimmed when read, so a leading tab or carriage return goes; what
    follows it stays literal text."""
    cases = write_xlsx(tmp_path / "cases.xlsx", {"cases": [
        ["aco", "benchmark", "expenditure", "=note"],
        [PROVIDER, 1000000.0, 950000.0, CLAIM_ID],
        [MEMBER, 1000000.0, 1010000.0, BAD_AMOUNT],
        [CARE_CODE, "-", "+x", DOMAIN],
    ]})
    terms = tmp_path / "terms.yaml"
    terms.write_text("sharing_rate: 0.5\n")
    out = tmp_path / "settled.xlsx"
    result = run("settle", cases, "--contract", terms, "-o", out)
    assert result.exit_code == 0, result.output
    assert_literal(out, {"settlement": ["=note", PROVIDER, MEMBER, CARE_CODE, "=1+1", "=2+2",
                                        DOMAIN, "-", "+x"]})


#: Text that would break a message's line or drive the terminal showing it, as a
#: workbook can hold it: a line break, a colour sequence opened by the one-byte control
#: sequence introducer (0x9b), and a right-to-left override.
TERMINAL = "\nok\x9b31m\u202e"
TERMINAL_SHOWN = "\\nok\\x9b31m\\u202e"


def test_a_header_quoted_in_a_message_stays_on_its_line(tmp_path):
    """The claims lack a column and one header holds control characters: the message
    quotes the headers with those characters escaped, on one line."""
    claims = write_xlsx(tmp_path / "claims.xlsx", {"claims": [
        ["claim_id", "member_id", "provider_id", f"date{TERMINAL}", "domain", "amount"],
        ["C1", "M1", "P1", "2024-01-05", "gp", 10.0]]})
    contracts = tmp_path / "contracts.yaml"
    contracts.write_text("contracts:\n  - name: A\n    model: fee_for_service\n"
                         "    provider: P1\n    performance_years: [2024]\n")
    result = run("compare", claims, "--contracts", contracts, "-o", tmp_path / "out.xlsx")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and result.stderr.endswith("\n")
    assert f"date{TERMINAL_SHOWN}" in result.stderr
    assert "\x9b" not in result.stderr and "\u202e" not in result.stderr


def test_a_contract_name_quoted_in_a_message_stays_on_its_line(tmp_path):
    """A contract's name (YAML writes the escape as \\e) in a contracts error: each
    problem on one line, the name's control characters escaped."""
    contracts = tmp_path / "contracts.yaml"
    contracts.write_text('contracts:\n  - name: "red\\e[31m\\r\\nname"\n'
                         "    model: fee_for_service\n    provider: P1\n"
                         "    performance_years: [2024]\n    clawback_rate: 1.5\n"
                         "  - name: B\n    model: fee_for_service\n    provider: P1\n"
                         "    performance_years: [2024]\n    price_factor: -1\n")
    claims = write_csv(tmp_path / "claims.csv", [["claim_id"], ["C1"]])
    result = run("compare", claims, "--contracts", contracts, "-o", tmp_path / "out.xlsx")
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 2, result.stderr
    assert "red\\x1b[31m\\r\\nname" in lines[0] and "clawback_rate" in lines[0]
    assert "\x1b" not in result.stderr
