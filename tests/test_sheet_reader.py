"""Workbooks read in a process of their own (:mod:`fileio.sheet_reader`): the child ends
with the read, a child that dies is one sentence, and reading ahead changes nothing but
the time; a large sheet read in two halves (:mod:`fileio.sheet_halves`) is the sheet read
whole, for every layout, or it is read whole. What a crashing reader looks like from the
command line is a case of ``test_bad_inputs``."""
from __future__ import annotations

import datetime
import os
import re
import signal
from pathlib import Path

import pytest

from fileio import sheet_halves, sheet_reader
from fileio.errors import InputError
from fileio.inputs import read_inputs
from fileio.sources import read_table
from fileio.tables import CLAIMS
from input_files import declare_sizes, rewrite_xlsx, write_xlsx

HEADER = ["claim_id", "member_id", "provider_id", "service_date", "domain", "amount"]
ROWS = [HEADER, ["C1", "M1", "P1", "2024-01-15", "gp", "10.00"],
        ["C2", "M2", "P1", "2024-02-01", "hospital", "250.50"]]


@pytest.fixture
def workbook_path(tmp_path: Path) -> Path:
    return write_xlsx(tmp_path / "claims.xlsx", {"claims": ROWS, "notes": [["x"]]})


def test_the_children_end_with_the_read(workbook_path):
    inputs = read_inputs([workbook_path])
    assert len(inputs.claims) == 2
    assert sheet_reader._OPEN == {}


def test_a_table_read_outside_a_session_stops_its_child(workbook_path):
    reader = sheet_reader.workbook(workbook_path)
    raw = read_table(workbook_path, CLAIMS, {})
    assert raw.columns["amount"].to_pylist() == ["10.00", "250.50"]
    assert reader._child.poll() is not None
    assert sheet_reader._OPEN == {}


def test_a_child_that_dies_is_one_sentence(workbook_path):
    with sheet_reader.session():
        reader = sheet_reader.workbook(workbook_path)
        assert reader.sheets == ["claims", "notes"]
        os.kill(reader._child.pid, signal.SIGKILL)
        with pytest.raises(InputError) as refused:
            reader.table("claims")
    assert str(refused.value) == (
        f"{workbook_path}: the spreadsheet reader failed on this workbook (signal SIGKILL); "
        "open it in Excel, delete any stray cells beyond the tables, and save it again, or "
        "export the sheets as CSV.")


def test_reading_ahead_changes_nothing_but_the_time(workbook_path):
    plain = read_inputs([workbook_path]).claims
    sheet_reader.read_ahead(workbook_path)
    ahead = read_inputs([workbook_path]).claims
    assert ahead.equals(plain)
    assert sheet_reader._OPEN == {}


@pytest.mark.parametrize("name, text", [("missing.xlsx", None), ("text.xlsx", "a,b\n1,2\n"),
                                        ("claims.csv", "a,b\n1,2\n")])
def test_reading_ahead_leaves_every_problem_to_the_read(tmp_path, name, text):
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    sheet_reader.read_ahead(path)
    assert sheet_reader._OPEN == {}


# -- large sheets read in two halves ---------------------------------------------------------

def _claims_rows(count: int, *, title: bool = True, gap: range = range(0), offset: int = 0,
                 far: int | None = None) -> list[list]:
    """A claims sheet: an optional title and a blank row, the header, ``count`` rows (those
    in ``gap`` blank), every row shifted ``offset`` columns right; with ``far``, a cell
    eight columns right of the table in that data row."""
    rows = [["Claims export 2024"], []] if title else []
    rows.append(HEADER)
    for i in range(count):
        amount = "n/a" if i % 13 == 0 else round(10 + i * 0.37, 2)
        rows.append([] if i in gap else [f"C{i}", f"M{i % 40}", "P1",
                                         datetime.date(2024, 1, 1 + i % 28), "gp", amount])
    if far is not None:
        rows[far] = rows[far] + [None] * 7 + ["far"]
    return [[None] * offset + row if row else row for row in rows]


def _no_row_numbers(name: str, part: bytes) -> bytes:
    return re.sub(rb'<row r="\d+"', b"<row", part) if name.startswith("xl/worksheets/") else part


def _prefixed(name: str, part: bytes) -> bytes:
    if not name.startswith("xl/worksheets/"):
        return part
    part = re.sub(rb"<(/?)(?!\?)(\w+)", rb"<\1x:\2", part)
    return part.replace(b"xmlns=", b"xmlns:x=")


def _with_cdata(name: str, part: bytes) -> bytes:
    if not name.startswith("xl/worksheets/"):
        return part
    return re.sub(rb"<v>(\d+)</v>", rb"<v><![CDATA[\1]]></v>", part, count=1)


def _with_excel_errors(name: str, part: bytes) -> bytes:
    """Sheet rows 100 and 450 (one in each half) with ``#N/A`` for their amount (column
    H), and ``#REF!`` in column J of row 300, a helper column right of the table."""
    if not name.startswith("xl/worksheets/"):
        return part
    part = re.sub(rb'<c r="H(100|450)"[^>]*?(/>|>.*?</c>)', rb'<c r="H\1" t="e"><v>#N/A</v></c>',
                  part)
    return re.sub(rb'(<c r="H300"[^>]*?(/>|>.*?</c>))', rb'\1<c r="J300" t="e"><v>#REF!</v></c>',
                  part, count=1)


LAYOUTS = {
    "title rows": (lambda: _claims_rows(600), None, True),
    "from column C, no title": (lambda: _claims_rows(600, title=False, offset=2), None, True),
    "blank rows around the middle": (lambda: _claims_rows(600, gap=range(250, 350)), None, True),
    "a far cell in the first half": (lambda: _claims_rows(600, far=10), None, True),
    "a far cell in the second half": (lambda: _claims_rows(600, far=590), None, True),
    "rows without their numbers": (lambda: _claims_rows(600), _no_row_numbers, False),
    "elements with a namespace prefix": (lambda: _claims_rows(600), _prefixed, False),
    "CDATA": (lambda: _claims_rows(600), _with_cdata, False),
    "Excel errors": (lambda: _claims_rows(600, title=False, offset=2), _with_excel_errors,
                     True),
}


def _read(path: Path, split_from: int, monkeypatch):
    """The claims as read (cells, row numbers, blank rows, every column as given) and as
    checked (accepted rows, rejected rows)."""
    monkeypatch.setattr(sheet_halves, "SPLIT_FROM", split_from)
    raw = read_table(path, CLAIMS, {}, all_columns=True)
    inputs = read_inputs([path])
    return ({name: column.to_pylist() for name, column in raw.columns.items()},
            raw.rows.tolist(), raw.blank_rows,
            [(name, column.to_pylist()) for name, column in raw.as_given],
            inputs.claims.to_dict("list"), inputs.rejected.to_dict("list"))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_sheet_read_in_halves_is_the_sheet_read_whole(tmp_path, layout, monkeypatch):
    rows, change, cut = LAYOUTS[layout]
    path = write_xlsx(tmp_path / "claims.xlsx", {"claims": rows(), "notes": [["x"]]})
    if change is not None:
        rewrite_xlsx(path, change)
    joins = []
    real_joined = sheet_halves.joined
    monkeypatch.setattr(sheet_halves, "joined", lambda *a: joins.append(real_joined(*a))
                        or joins[-1])
    whole = _read(path, 2**62, monkeypatch)
    assert joins == []
    halves = _read(path, 0, monkeypatch)
    assert halves == whole
    cut_and_joined = bool(joins) and joins[0] is not None
    assert cut_and_joined == cut


@pytest.mark.parametrize("split_from", [2**62, 0])
def test_cells_with_an_excel_error_are_rejected_with_it(tmp_path, split_from, monkeypatch):
    """Read whole or in halves: a used column's error cells reject their rows with the
    error as value and reason; an error beside the table rejects nothing."""
    path = write_xlsx(tmp_path / "claims.xlsx", {"claims": _claims_rows(600, title=False,
                                                                         offset=2)})
    rewrite_xlsx(path, _with_excel_errors)
    monkeypatch.setattr(sheet_halves, "SPLIT_FROM", split_from)
    rejected = read_inputs([path]).rejected
    errors = rejected[rejected["value"].str.startswith("#")]
    assert errors["row"].tolist() == [100, 450]
    assert set(errors["value"]) == {"#N/A"} and set(errors["column"]) == {"amount"}
    assert errors["reason"].iloc[0].startswith("an error value (#N/A)")
    assert 300 not in rejected["row"].tolist()


def test_the_checks_of_a_sheet_read_in_halves_still_refuse(tmp_path, monkeypatch):
    monkeypatch.setattr(sheet_halves, "SPLIT_FROM", 0)
    path = write_xlsx(tmp_path / "claims.xlsx", {"claims": _claims_rows(600)})
    rewrite_xlsx(path, lambda name, part: part.replace(
        b"</sheetData>", b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData>')
        if name.startswith("xl/worksheets/") else part)
    with pytest.raises(InputError, match="spans A1:XFD1048576"):
        read_table(path, CLAIMS, {})
    assert sheet_halves.SPLIT_FROM == 0 and sheet_reader._OPEN == {}


def test_a_part_that_lies_about_its_size_is_refused_while_a_sheet_is_cut(tmp_path, monkeypatch):
    """The halves copy the workbook's other parts; one that unpacks to more than it
    declares is left to the checks, which refuse it as they do without halves."""
    monkeypatch.setattr(sheet_halves, "SPLIT_FROM", 0)
    path = write_xlsx(tmp_path / "claims.xlsx", {"claims": _claims_rows(600)})
    declare_sizes(path, {"xl/styles.xml": 100})
    with pytest.raises(InputError, match=r"part xl/styles.xml does not unpack to the 100 "
                                         "bytes its zip directory declares"):
        read_table(path, CLAIMS, {})
    assert sheet_reader._OPEN == {}
