"""Workbooks read in a process of their own (:mod:`fileio.sheet_reader`): the child ends
with the read, a child that dies is one sentence, and reading ahead changes nothing but
the time. What a crashing reader looks like from the command line is a case of
``test_bad_inputs``."""
from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from fileio import sheet_reader
from fileio.errors import InputError
from fileio.inputs import read_inputs
from fileio.sources import read_table
from fileio.tables import CLAIMS
from input_files import write_xlsx

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
