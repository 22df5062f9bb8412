"""A large sheet read in two halves at once, by two reader processes.

Calamine reads a sheet on one core, however many there are. A sheet of
:data:`SPLIT_FROM` bytes or more (unpacked) is therefore cut, at a row boundary past its
middle, into two workbooks of one sheet each, which two reader processes read at the same
time; the halves are then put back together. The cut is made while the sheet's part is
checked (:func:`fileio.safety.check_part`), in the one pass that unpacks it.

So that the halves line up as the whole sheet would, each gets one marker cell in column
A: the first half in row *K* (the first row of the second half), the second half in row
*K - 1*. The first half then reads from row 1 to row *K*, the second from row *K - 1*, both
from column A; the marker rows are dropped, and the columns that are empty in both halves
before the sheet's first used column. Where anything is not as expected — a row without
its number at the cut, CDATA, elements with a namespace prefix, the markers not where they
belong — the sheet is read whole instead.
"""
from __future__ import annotations

import re
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from fileio.safety import check_part, declares_something

if TYPE_CHECKING:  # pyarrow is loaded when the halves are joined, not before they are cut
    import pyarrow as pa

#: Sheets this large (their XML, unpacked) are read in two halves. Measured on the
#: benchmark's samples: at 47 MB (100 000 lines) cutting costs 0.25 s more than it saves,
#: at 147 MB (300 000 lines) it is about even, at 490 MB (a million) it saves 1 s.
SPLIT_FROM = 128 * 2**20

#: The share of the sheet's XML in the first half: its reader starts as soon as it is
#: written, the second's once the rest is, so the first is the larger.
FIRST_HALF = 0.55

#: The text of the marker cells.
MARKER = "fundcalc: where the halves of a sheet meet"

_SHEET_DATA = re.compile(rb"<sheetData>")
_ROW_END = re.compile(rb"</row>")
_ROW_START = re.compile(rb"<row\b([^>]*)>")
_ROW_NUMBER = re.compile(rb"""\sr\s*=\s*["'](\d+)["']""")
_PREFIXED = re.compile(rb"<\w+:(?:row|c|sheetData)\b")
_EMPTY_SHEET = (b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                b"<sheetData/></worksheet>")


@dataclass(frozen=True)
class Halves:
    """Two one-sheet workbooks that hold a sheet's rows before row ``row`` and from it."""

    first: Path
    second: Path
    row: int


def split_sheet(path: Path, part: str, folder: Path,
                first_half_done: Callable[[Path], None] = lambda path: None
                ) -> tuple[Halves | None, dict[tuple[int, int], str]]:
    """Check the sheet part ``part`` of the workbook ``path`` and cut it in two (into
    ``folder``). ``first_half_done`` is called with the first half's path as soon as that
    half is written, before the rest of the part is checked: its reader must not be
    trusted until this returns.

    Returns
    -------
    halves : Halves or None
        None when the sheet is better read whole (its part is checked all the same).
    error_cells : dict
        The part's cells that hold an Excel error (:func:`fileio.safety.check_part`).

    Raises
    ------
    InputError
        When the part fails its checks.
    """
    halves = []
    try:
        with zipfile.ZipFile(path) as source:
            for name in ("first-half.xlsx", "second-half.xlsx"):
                halves.append(_OneSheetWorkbook(source, part, folder / name))
            middle = int(source.getinfo(part).file_size * FIRST_HALF)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, OSError):
        for half in halves:
            half.close()
        # A part that does not unpack, or no room for the halves: the checks say what is
        # wrong, or the sheet is read whole once they pass.
        return None, check_part(path, part)
    one, other = halves
    try:
        cut = _Cut(middle, one, other, first_half_done)
        errors = check_part(path, part, cut.take)
    except OSError:  # no room for the halves
        errors = None
    finally:
        one.close()
        other.close()
    if errors is None:
        return None, check_part(path, part)
    row = cut.finish()
    return (None if row is None else Halves(one.path, other.path, row)), errors


class _OneSheetWorkbook:
    """A new workbook (stored, not compressed) with ``source``'s XML parts — its sheets
    empty, but ``part`` — open for writing ``part`` (:attr:`stream`). Pictures and other
    binary parts are left out: the reader needs none of them."""

    def __init__(self, source: zipfile.ZipFile, part: str, path: Path):
        self.path = path
        self._zip = zipfile.ZipFile(path, "w", zipfile.ZIP_STORED)
        try:
            for info in source.infolist():
                name = info.filename
                if name == part or not name.endswith((".xml", ".rels")):
                    continue
                self._zip.writestr(name, _EMPTY_SHEET if name.startswith("xl/worksheets/")
                                   and name.endswith(".xml") else source.read(info))
            self.stream = self._zip.open(part, "w", force_zip64=True)
        except BaseException:
            self._zip.close()
            raise

    def close(self) -> None:
        """Finish the workbook (once)."""
        if not self.stream.closed:
            self.stream.close()
            self._zip.close()


class _Cut:
    """Where a sheet's XML goes as it is unpacked: to the first half until the first row
    that ends past ``middle`` bytes, then to the second (after the sheet's opening)."""

    def __init__(self, middle: int, first: _OneSheetWorkbook, second: _OneSheetWorkbook,
                 first_half_done: Callable[[Path], None]):
        self.middle, self.first_half_done = middle, first_half_done
        self.first, self.second = first, second
        self.seen = 0
        self.opening = None  # the XML up to and including <sheetData>
        self.row = None  # the first row of the second half
        self.pending = b""  # bytes past the middle, before a row ends
        self.last = b""  # the end of the chunk before
        self.usable = True

    def take(self, chunk: bytes) -> None:
        if not self.usable:
            return
        if self.opening is None:
            found = _SHEET_DATA.search(chunk)
            if found is None or _PREFIXED.search(chunk) or declares_something(chunk):
                self.usable = False
                return
            self.opening = chunk[:found.end()]
        if b"<![CDATA[" in chunk or b"<![CDATA[" in self.last + chunk[:8]:
            self.usable = False
            return
        self.last = chunk[-8:]
        start, self.seen = self.seen, self.seen + len(chunk)
        if self.row is not None:
            self.second.stream.write(chunk)
        elif self.seen <= self.middle:
            self.first.stream.write(chunk)
        else:
            self._cut(chunk, max(0, self.middle - start))

    def _cut(self, chunk: bytes, middle: int) -> None:
        text = self.pending + chunk
        end = _ROW_END.search(text, 0 if self.pending else middle)
        start = None if end is None else _ROW_START.search(text, end.end())
        if start is None:  # the row goes on in the next chunk
            self.pending = text
            return
        number = _ROW_NUMBER.search(start[1])
        if number is None:
            self.usable = False
            return
        self.row = int(number[1])
        self.first.stream.write(text[:end.end()])
        self.first.stream.write(_marker_row(self.row) + b"</sheetData></worksheet>")
        self.second.stream.write(self.opening + _marker_row(self.row - 1))
        self.second.stream.write(text[start.start():])
        self.pending = b""
        self.first.close()
        self.first_half_done(self.first.path)

    def finish(self) -> int | None:
        """The first row of the second half, or None when the sheet is read whole."""
        return self.row if self.usable and self.row is not None and self.row > 1 else None


def _marker_row(row: int) -> bytes:
    return (f'<row r="{row}"><c r="A{row}" t="inlineStr"><is><t>{MARKER}</t></is></c>'
            "</row>").encode()


def joined(first: pa.RecordBatch, second: pa.RecordBatch, row: int) -> pa.RecordBatch | None:
    """The whole sheet from its halves as read (the first from row 1, the second from
    its first cell, both with every column from A), or None when the markers are not
    where they belong. It starts at the sheet's first used column, which its metadata
    names (:data:`fileio.sheet_reader.FIRST_COLUMN`). Columns are put together two at a
    time (Arrow copies them without the interpreter)."""
    import pyarrow as pa

    from fileio.sheet_reader import FIRST_COLUMN

    if not (first.num_rows == row and _is_marker_row(first, row - 1)
            and second.num_rows >= 1 and _is_marker_row(second, 0)):
        return None
    halves = (first.slice(0, row - 1), second.slice(1))

    def column(index: int) -> pa.Array:
        return pa.concat_arrays([half.column(index).cast(pa.string())
                                 if index < half.num_columns else pa.nulls(len(half), pa.string())
                                 for half in halves])

    width = max(first.num_columns, second.num_columns)
    with ThreadPoolExecutor(max_workers=2) as pool:
        columns = list(pool.map(column, range(width)))
    used = next((i for i, c in enumerate(columns) if c.null_count < len(c)), width - 1)
    return pa.RecordBatch.from_arrays(columns[used:],
                                      names=[f"column {i}" for i in range(used, width)],
                                      metadata={FIRST_COLUMN: str(used)})


def _is_marker_row(batch: pa.RecordBatch, index: int) -> bool:
    row = [batch.column(i)[index].as_py() for i in range(batch.num_columns)]
    return row[0] == MARKER and all(cell is None for cell in row[1:])
