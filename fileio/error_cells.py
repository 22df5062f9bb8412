"""Cells of a sheet that hold an Excel error (``#N/A``, ``#REF!``, ``#DIV/0!``...).

The sheet reader gives such a cell as a blank, which would let a failed lookup pass for an
empty optional column. They are found instead in the sheet's XML, as the checks unpack it
(:func:`fileio.safety.check_parts`), so that the rows holding them can be rejected with
the error they show.
"""
from __future__ import annotations

import html
import re

#: A cell of type ``e`` (error), whatever the order of its attributes and the namespace
#: prefix: its reference and what it holds.
_ERROR_CELL = re.compile(
    rb"""<(?:\w+:)?c\s(?=[^>]*\bt\s*=\s*["']e["'])[^>]*?\br\s*=\s*["']\$?([A-Za-z]+)\$?(\d+)"""
    rb"""["'][^>]*>(.*?)</(?:\w+:)?c>""", re.S)
_VALUE = re.compile(rb"<(?:\w+:)?v>([^<]*)</(?:\w+:)?v>")
#: How the type attribute of an error cell is written.
_MARKS = (b't="e"', b"t='e'")
#: How much of a chunk's end is kept, for a cell cut between two chunks (a cell with its
#: formula is far shorter: Excel caps formulas at 8 192 characters).
_OVERLAP = 64 * 1024


class ErrorCells:
    """Collects a sheet's error cells from its XML, handed over in chunks in order.

    Attributes
    ----------
    found : dict of (int, int) to str
        Per cell, as (column, row) numbered from 1, the error it shows (``#N/A``).
    """

    def __init__(self):
        self.found: dict[tuple[int, int], str] = {}
        self._tail = b""

    def take(self, chunk: bytes) -> None:
        """Look for error cells in the next chunk of the sheet's XML."""
        # Every error starts with "#", which is quick to look for and rare in a sheet.
        if b"#" in chunk or b"#" in self._tail:
            data = self._tail + chunk
            if any(mark in data for mark in _MARKS):
                self._collect(data)
        # The last _OVERLAP bytes, however small the chunks.
        self._tail = (self._tail[len(chunk) - _OVERLAP:] + chunk if len(chunk) < _OVERLAP
                      else chunk[-_OVERLAP:])

    def _collect(self, data: bytes) -> None:
        for letters, row, body in _ERROR_CELL.findall(data):
            value = _VALUE.search(body)
            text = html.unescape(value[1].decode("utf-8", "replace")) if value else ""
            self.found[(column_number(letters), int(row))] = text.strip() or "#error"


def column_number(letters: bytes) -> int:
    """The number (from 1) of a column's letters, such as ``b"AB"`` (28)."""
    number = 0
    for letter in letters.upper():
        number = number * 26 + letter - ord("A") + 1
    return number
