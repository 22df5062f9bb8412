"""Cells that hold an Excel error, found in a sheet's XML chunk by chunk
(:mod:`fileio.error_cells`): however the XML is written and wherever the chunks are cut."""
from __future__ import annotations

import pytest

from fileio.error_cells import ErrorCells

SHEET = (b'<worksheet><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c>'
         b'<c r="B1" s="2" t="e"><f>VLOOKUP(A1,X!A:B,2,0)</f><v>#N/A</v></c></row>'
         b"<row r='2'><x:c t='e' r='AB2'><x:v>#DIV/0!</x:v></x:c>"
         b'<c r="C2" t="n"><v>3</v></c><c r="$D$2" t="e"><v>#REF!</v></c></row>'
         b'<row r="3"><c r="E3" t="str"><v>t="e"</v></c></row></sheetData></worksheet>')

#: (column, row) from 1, and the error.
FOUND = {(2, 1): "#N/A", (28, 2): "#DIV/0!", (4, 2): "#REF!"}


@pytest.mark.parametrize("size", [1, 7, 40, 1000])
def test_error_cells_are_found_wherever_the_chunks_are_cut(size):
    errors = ErrorCells()
    for start in range(0, len(SHEET), size):
        errors.take(SHEET[start:start + size])
    assert errors.found == FOUND


def test_a_sheet_without_error_cells_finds_none():
    errors = ErrorCells()
    errors.take(b'<row r="1"><c r="A1" t="str"><v>#N/A</v></c></row>')
    assert errors.found == {}
