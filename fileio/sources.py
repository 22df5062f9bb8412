"""Read one input table from an ``.xlsx`` sheet, a ``.csv`` or a ``.parquet`` file.

Cells come back as text columns (Parquet keeps its types) together with the row number a
user sees in the file, so that every rejected row can be pointed at. Headers match
case-insensitively after trimming, with spaces and hyphens read as ``_``, after the user's
``columns:`` renames; the header may sit below title rows.

Spreadsheets are read with fastexcel (Rust's calamine, straight to Arrow columns): about
twenty times faster than openpyxl cell by cell and without a Python object per cell.
"""
from __future__ import annotations

import codecs
import csv
import functools
import hashlib
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from fileio import sheet_reader
from fileio.errors import InputError, first_line
from fileio.tables import TableSpec, normalise_header, pick_sheet

#: How many rows from the top may hold titles before the header.
HEADER_SEARCH_ROWS = 30

#: Where a CSV line ends, for pyarrow: after \n, \r\n or \r (a split that keeps the ends,
#: which the csv module needs to keep a line break within a quoted value).
_LINE_END = re.compile(r"(?<=\n)|(?<=\r)(?!\n)")

#: What pyarrow raises on a damaged Parquet file: its own errors, I/O errors, and text
#: (column names, values) that is not UTF-8.
_PARQUET_ERRORS = (pa.ArrowException, OSError, ValueError)


@dataclass
class RawTable:
    """One table as read from one file, before its cells are parsed.

    Attributes
    ----------
    file : str
        The path as given.
    sheet : str
        Sheet name for workbooks, ``""`` for CSV and Parquet.
    columns : dict of str to pyarrow.Array
        The spec's columns found in the file, by canonical name.
    rows : numpy.ndarray
        Row number of each row as the user sees it (sheet row, CSV line, Parquet row).
    blank_rows : int
        Rows whose cells were all empty; not data, counted for the record.
    malformed : list of (int or None, str, str)
        CSV lines that could not be split into the header's fields: row, text, reason.
    as_given : list of (str, pyarrow.Array)
        With ``all_columns``: every column of the file, in its order, under its own
        header (``column N`` where the header cell is empty); else empty.
    record_lines : numpy.ndarray or None
        On the last batch of a CSV file read in batches whose quoted values span lines:
        the line that the record its batches numbered ``n`` starts on is
        ``record_lines[n]`` (batches number records as lines, not knowing yet).
    error_cells : dict of str to dict of int to str
        In a workbook: per column, the rows whose cell holds an Excel error, and the error
        (``#N/A``), which the cell holds as its text.
    """

    file: str
    sheet: str
    columns: dict[str, pa.Array]
    rows: np.ndarray
    blank_rows: int = 0
    malformed: list[tuple[int | None, str, str]] = field(default_factory=list)
    as_given: list[tuple[str, pa.Array]] = field(default_factory=list)
    record_lines: np.ndarray | None = None
    error_cells: dict[str, dict[int, str]] = field(default_factory=dict)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in blocks; worked out once for a file as long as
    its inode, size, modification and status-change times stay the same."""
    status = Path(path).stat()
    # A rewrite changes the status-change time, which copying tools cannot set.
    return _sha256(str(path), status.st_ino, status.st_size, status.st_mtime_ns,
                   status.st_ctime_ns)


@functools.lru_cache(maxsize=256)
def _sha256(path: str, *status: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_kind(path: Path) -> str:
    """``xlsx``, ``csv`` or ``parquet`` from the file's extension."""
    suffix = path.suffix.lower()
    kinds = {".xlsx": "xlsx", ".xlsm": "xlsx", ".csv": "csv", ".txt": "csv",
             ".parquet": "parquet", ".pq": "parquet"}
    if suffix == ".xls":
        raise InputError(f"{path}: old .xls workbooks are not read; save it as .xlsx.")
    if suffix not in kinds:
        raise InputError(f"{path}: unknown file type {suffix!r}; give .xlsx, .csv or .parquet.")
    return kinds[suffix]


def check_readable(path: Path) -> None:
    """Refuse a path that is missing, not a regular file, empty, or cannot be looked at."""
    try:
        exists, is_file = path.exists(), path.is_file()
        empty = is_file and path.stat().st_size == 0
    except OSError as error:  # a name too long, a loop of links
        raise InputError(f"{path}: cannot be read ({error.strerror}); check the path.") from None
    if not exists:
        raise InputError(f"{path}: no such file; check the path.")
    if not is_file:
        raise InputError(f"{path}: not a regular file; give the path of a spreadsheet.")
    if empty:
        raise InputError(f"{path}: the file is empty.")


def workbook_sheets(path: Path) -> list[str]:
    """Names of the sheets of a workbook, as its reader lists them
    (:mod:`fileio.sheet_reader`: the checks of the workbook run meanwhile)."""
    return sheet_reader.workbook(path).sheets


def read_table(path: Path, spec: TableSpec, rename: dict[str, str], sheet: str | None = None,
               all_columns: bool = False) -> RawTable:
    """Read ``spec``'s columns from one file.

    Parameters
    ----------
    path : Path
        The file.
    spec : TableSpec
        Which table; its required columns must be present.
    rename : dict
        The user's ``columns:`` map (header -> canonical name), already normalised.
    sheet : str, optional
        For workbooks, the sheet to read (default: the sheet named like the table, or
        the only sheet for claims).
    all_columns : bool
        Also keep every column of the file as given (:attr:`RawTable.as_given`).

    Raises
    ------
    InputError
        When the file cannot be read or lacks a required column.
    """
    kind = file_kind(path)
    if kind == "xlsx":
        return _read_xlsx(path, spec, rename, sheet, all_columns)
    if kind == "csv":
        return _read_csv(path, spec, rename, all_columns)
    return _read_parquet(path, spec, rename, all_columns)


def _match_columns(headers: list[object], spec: TableSpec, rename: dict[str, str]) -> dict[str, int]:
    """Map canonical column name -> position among ``headers``; refuse duplicates."""
    found: dict[str, int] = {}
    wanted = {c.name for c in spec.columns}
    for position, header in enumerate(headers):
        if header is None or str(header).strip() == "":
            continue
        name = normalise_header(header)
        name = rename.get(name, name)
        if name not in wanted:
            continue
        if name in found:
            raise InputError(f"column {name!r} appears twice in the header; keep one.")
        found[name] = position
    return found


def _find_header(preview: list[list[object]], spec: TableSpec, rename: dict[str, str]) -> int:
    """Index of the header row among the first rows: the first with every required column,
    else the one with the most (so that the error names what is missing)."""
    best, best_count = None, 0
    for index, cells in enumerate(preview[:HEADER_SEARCH_ROWS]):
        # Names without the duplicate check: a header that repeats a column is still the
        # header, and the caller's _match_columns then says which column repeats.
        names = {rename.get(normalise_header(h), normalise_header(h)) for h in cells
                 if h is not None and str(h).strip() != ""}
        count = sum(name in names for name in spec.required)
        if count == len(spec.required):
            return index
        if count > best_count:
            best, best_count = index, count
    if best is None:
        raise InputError(
            f"no header row with the {spec.name} columns "
            f"({', '.join(spec.required)}) in the first {HEADER_SEARCH_ROWS} rows; "
            "add them, or map your headers with `columns:` in the contracts file."
        )
    return best


def _require(found: dict[str, int], spec: TableSpec, headers: list[object]) -> None:
    missing = [name for name in spec.required if name not in found]
    if missing:
        shown = ", ".join(str(h) for h in headers if h not in (None, "")) or "none"
        raise InputError(
            f"the {spec.name} table lacks required column(s) {', '.join(missing)} "
            f"(headers found: {shown}); rename them or map them with `columns:` in the "
            "contracts file."
        )


def _drop_blank_rows(columns: dict[str, pa.Array], rows: np.ndarray,
                     as_given: list[tuple[str, pa.Array]] | None = None
                     ) -> tuple[dict[str, pa.Array], np.ndarray, int, list[tuple[str, pa.Array]]]:
    """Leave out rows whose cells are all blank: the spec's cells, or with ``as_given``
    every cell of the row (which loses the same rows)."""
    from fileio.parsing import is_blank

    as_given = as_given or []
    if not columns or len(rows) == 0:
        return columns, rows, 0, as_given
    judged = [array for _, array in as_given] or list(columns.values())
    blank = is_blank(judged[0])
    for array in judged[1:]:
        if not blank.any():  # a column without blanks: no row is blank
            break
        blank &= is_blank(array)
    if not blank.any():
        return columns, rows, 0, as_given
    keep = pa.array(~blank)
    return ({name: array.filter(keep) for name, array in columns.items()}, rows[~blank],
            int(blank.sum()), [(name, array.filter(keep)) for name, array in as_given])


def _headers_as_given(headers: list[object]) -> list[str]:
    """Each header as text; an empty one is named by its position."""
    return [str(h).strip() if h is not None and str(h).strip() else f"column {i}"
            for i, h in enumerate(headers, 1)]


def _in_context(where: str, error: InputError) -> InputError:
    return InputError(f"{where}: {error}")


def _read_xlsx(path: Path, spec: TableSpec, rename: dict[str, str], sheet: str | None,
               all_columns: bool) -> RawTable:
    reader = sheet_reader.workbook(path)
    try:
        name = pick_sheet(path, spec, reader.sheets, sheet)
        sheet_rows = reader.table(name)  # row 0 is the sheet's first row
        errors = reader.error_cells(name)
    finally:
        sheet_reader.release(reader)
    where = f"{path}, sheet {name!r}"
    if sheet_rows.num_rows == 0:
        raise InputError(f"{where}: the sheet is empty; it needs a header row and data.")
    grid = [list(row.values()) for row in sheet_rows.slice(0, HEADER_SEARCH_ROWS).to_pylist()]
    try:
        header_index = _find_header(grid, spec, rename)
        found = _match_columns(grid[header_index], spec, rename)
        _require(found, spec, grid[header_index])
    except InputError as error:
        raise _in_context(where, error) from None
    names = sorted(found, key=found.get)
    data = sheet_rows.slice(header_index + 1)
    columns = {n: data.column(found[n]) for n in names}
    rows = np.arange(data.num_rows, dtype=np.int64) + header_index + 2
    first = int((sheet_rows.schema.metadata or {}).get(sheet_reader.FIRST_COLUMN, b"0"))
    columns, error_cells = _with_errors(columns, found, errors, first, rows)
    as_given = (list(zip(_headers_as_given(grid[header_index]), data.columns))
                if all_columns else None)
    columns, rows, blank, as_given = _drop_blank_rows(columns, rows, as_given)
    return RawTable(str(path), name, columns, rows, blank, as_given=as_given,
                    error_cells=error_cells)


def _with_errors(columns: dict[str, pa.Array], found: dict[str, int],
                 errors: dict[tuple[int, int], str], first_column: int, rows: np.ndarray
                 ) -> tuple[dict[str, pa.Array], dict[str, dict[int, str]]]:
    """The columns with each cell that holds an Excel error (``errors``: by sheet column
    and row, from 1) given that error as its text, and per column the rows of those
    cells (``first_column``: the sheet column of the columns' position 0, from 0)."""
    by_column: dict[str, dict[int, str]] = {}
    if not len(rows):
        return columns, by_column
    at_position = {position: name for name, position in found.items()}
    for (column, row), text in errors.items():
        name = at_position.get(column - 1 - first_column)
        if name is not None and rows[0] <= row <= rows[-1]:
            by_column.setdefault(name, {})[row] = text
    for name, cells in by_column.items():
        mask = np.zeros(len(rows), dtype=bool)
        mask[np.fromiter(cells, dtype=np.int64) - rows[0]] = True
        columns[name] = pc.replace_with_mask(
            columns[name].cast(pa.string()), pa.array(mask),
            pa.array([cells[row] for row in sorted(cells)], pa.string()))
    return columns, by_column


@dataclass(frozen=True)
class _CsvRow:
    """A CSV record: its fields, the line it starts on (from 0) and how many lines it
    takes (more than one where a quoted value holds a line break)."""

    cells: list[str]
    line: int
    lines: int = 1


def _sniff_csv(path: Path) -> tuple[str, str, list[str]]:
    """Encoding, delimiter and the first lines of a CSV file."""
    with open(path, "rb") as handle:
        head = handle.read(1 << 20)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(f"{path}: a UTF-16 text file (as Excel's 'Unicode Text' saves); save "
                         "it as 'CSV UTF-8 (comma delimited)' and give that.")
    if b"\x00" in head:
        raise InputError(f"{path}: this is not a text (CSV) file; give a .csv, .xlsx or .parquet.")
    cut = head.rfind(b"\n") + 1 if len(head) == 1 << 20 else len(head)
    try:
        text = head[:cut].decode("utf-8-sig")
        encoding = "utf-8"
    except UnicodeDecodeError:
        text = head[:cut].decode("cp1252", errors="replace")
        encoding = "cp1252"
    # Lines as pyarrow's skip_rows counts them: ends at \n, \r\n or \r only (not at a
    # form feed or U+2028, as str.splitlines has it) and also inside quotes.
    lines = _LINE_END.split(text)
    sample = "".join(lines[:HEADER_SEARCH_ROWS])
    counts = {d: sample.count(d) for d in (",", ";", "\t", "|")}
    delimiter = max(counts, key=counts.get) if any(counts.values()) else ","
    return encoding, delimiter, lines


def _quoted_rows(lines: list[str], delimiter: str) -> list[_CsvRow]:
    """The first rows as CSV reads them: a quoted value may span lines (a header cell
    wrapped in Excel, ``"Service⏎Date"``)."""
    return list(itertools.islice(_csv_records(lines, delimiter), HEADER_SEARCH_ROWS))


def _csv_records(lines: Iterable[str], delimiter: str) -> Iterator[_CsvRow]:
    """The records of ``lines`` (each with its line end) as Python's csv module reads
    them, each with the line it starts on, counted from 0; up to one it cannot read."""
    reader = csv.reader(lines, delimiter=delimiter)
    while True:
        line = reader.line_num
        try:
            cells = next(reader)
        except (StopIteration, csv.Error):
            return
        yield _CsvRow(cells, line, reader.line_num - line)


def _line_rows(lines: list[str], delimiter: str) -> list[_CsvRow]:
    """The first lines, each read as a row of its own: a quote left open by a title
    above the header then spoils its own line only."""
    return [_CsvRow(next(csv.reader([line], delimiter=delimiter), []), number)
            for number, line in enumerate(lines[:HEADER_SEARCH_ROWS])]


@dataclass
class _CsvLayout:
    """How a CSV file is laid out: encoding, delimiter, where the header is and which of
    its fields are the spec's columns; ``malformed`` collects the lines set aside.
    ``trailing_delimiter``: the data lines end in a delimiter that the header does not
    (an empty field more, read and left out)."""

    encoding: str
    delimiter: str
    header: _CsvRow
    found: dict[str, int]
    trailing_delimiter: bool = False
    malformed: list[tuple[int | None, str, str]] = field(default_factory=list)
    lines: int = 0  # in the whole file (:func:`_scan`)

    @property
    def field_names(self) -> list[str]:
        return [f"f{i}" for i in range(len(self.header.cells) + self.trailing_delimiter)]

    def fields(self, all_columns: bool = False) -> list[str]:
        """The fields to read: the spec's columns, or every field."""
        names = self.field_names
        return names if all_columns else [names[self.found[n]] for n in self.found]

    def options(self, threads: bool, all_columns: bool = False,
                block_size: int | None = None) -> dict:
        """pyarrow's CSV options: every field as text; a line with another number of
        fields than the header is set aside into ``malformed``."""
        def keep_aside(row) -> str:
            reason = (f"has {row.actual_columns} fields where the header has "
                      f"{len(self.header.cells)}"
                      + (" and the other lines one more, empty, after a last delimiter"
                         if self.trailing_delimiter else ""))
            self.malformed.append((row.number, row.text, reason))
            return "skip"

        return {
            "read_options": pacsv.ReadOptions(
                skip_rows=self.header.line + self.header.lines,
                column_names=self.field_names,
                encoding=self.encoding, use_threads=threads,
                **({} if block_size is None else {"block_size": block_size})),
            "parse_options": pacsv.ParseOptions(
                delimiter=self.delimiter, ignore_empty_lines=False,
                invalid_row_handler=keep_aside, newlines_in_values=True),
            "convert_options": pacsv.ConvertOptions(
                column_types={f: pa.string() for f in self.field_names},
                include_columns=self.fields(all_columns)),
        }

    def first_line(self) -> int:
        """The line number of the first data line."""
        return self.header.line + self.header.lines + 1


def _csv_layout(path: Path, spec: TableSpec, rename: dict[str, str]) -> _CsvLayout:
    """The file's layout; a file whose first megabyte reads as UTF-8 but which is not
    UTF-8 throughout is read as cp1252 (both engines, whichever column the byte is in)."""
    layout = _csv_header(path, spec, rename)
    all_utf8, layout.lines = _scan(path, layout.encoding == "utf-8")
    if not all_utf8:
        layout.encoding = "cp1252"  # the first megabyte was UTF-8, a later byte is not
    return layout


def _csv_header(path: Path, spec: TableSpec, rename: dict[str, str]) -> _CsvLayout:
    """The layout found in the file's first megabyte: the header among the rows as CSV
    reads them, else (a quote left open above it) among the lines read one by one."""
    encoding, delimiter, lines = _sniff_csv(path)
    problem = None
    for rows in (_quoted_rows(lines, delimiter), _line_rows(lines, delimiter)):
        try:
            index = _find_header([row.cells for row in rows], spec, rename)
            header = rows[index]
            found = _match_columns(header.cells, spec, rename)
            _require(found, spec, header.cells)
        except InputError as error:
            problem = problem or error
            continue
        if header.cells and header.cells[0].startswith("\ufeff"):
            header.cells[0] = header.cells[0][1:]
        return _CsvLayout(encoding, delimiter, header, found,
                          _ends_in_delimiter(header.cells, rows[index + 1:]))
    raise _in_context(str(path), problem) from None


def _ends_in_delimiter(header: list[str], rows: list[_CsvRow]) -> bool:
    """Whether the data rows seen after the header all end in a delimiter that the header
    does not: one field more than the header, and empty."""
    data = [row.cells for row in rows if any(cell.strip() for cell in row.cells)]
    return bool(data) and all(len(cells) == len(header) + 1 and not cells[-1].strip()
                              for cells in data)


def _read_csv(path: Path, spec: TableSpec, rename: dict[str, str], all_columns: bool
              ) -> RawTable:
    layout = _csv_layout(path, spec, rename)
    try:
        table = pacsv.read_csv(path, **layout.options(True, all_columns))
        if any(number is None for number, _, _ in layout.malformed):
            layout.malformed.clear()  # only a single thread knows the line numbers
            table = pacsv.read_csv(path, **layout.options(False, all_columns))
    except (pa.ArrowInvalid, UnicodeDecodeError) as error:
        raise InputError(f"{path}: cannot read the CSV ({first_line(error)}).") from None
    names = layout.field_names
    columns = {n: table.column(names[layout.found[n]]).combine_chunks() for n in layout.found}
    # Records numbered as lines, then moved to the lines they start on where a quoted
    # value spans lines.
    rows = _renumber_around(np.arange(table.num_rows, dtype=np.int64) + layout.first_line(),
                            [n for n, _, _ in layout.malformed if n is not None])
    lines = _record_lines(path, layout, table.num_rows + len(layout.malformed))
    if lines is not None:
        rows = lines[rows]
        layout.malformed[:] = [(int(lines[n]), text, reason)
                               for n, text, reason in layout.malformed]
    as_given = (list(zip(_headers_as_given(layout.header.cells),
                         (table.column(f).combine_chunks() for f in names)))
                if all_columns else None)
    columns, rows, blank, as_given = _drop_blank_rows(columns, rows, as_given)
    return RawTable(str(path), "", columns, rows, blank, list(layout.malformed), as_given)


def csv_batches(path: Path, spec: TableSpec, rename: dict[str, str], batch_rows: int
                ) -> Iterator[RawTable]:
    """Read ``spec``'s columns of a CSV file about ``batch_rows`` rows at a time, for files
    larger than memory; rows, blank rows and malformed lines come out as :func:`read_table`
    gives them (each malformed line with the batch read when it was found).

    Raises
    ------
    InputError
        When the file cannot be read or lacks a required column.
    """
    layout = _csv_layout(path, spec, rename)
    try:
        yield from _csv_chunks(path, layout, batch_rows)
    except (pa.ArrowInvalid, UnicodeDecodeError) as error:
        raise InputError(f"{path}: cannot read the CSV ({first_line(error)}).") from None


def _record_lines(path: Path, layout: _CsvLayout, records: int) -> np.ndarray | None:
    """Where each data record starts, if the file has more lines than records (a quoted
    value spans lines): the record numbered ``n`` when records are numbered as lines
    starts on line ``result[n]``. None where each record is one line, or where Python's
    csv module counts the records otherwise than pyarrow (they stay numbered as lines)."""
    skip = layout.header.line + layout.header.lines
    if layout.lines - skip <= records:
        return None
    # Only quotes, delimiters and line ends matter here, and they are ASCII: cp1252 text
    # read as UTF-8 keeps them.
    with open(path, encoding="utf-8", errors="replace", newline="") as handle:
        for _ in range(skip):
            handle.readline()
        starts = [row.line for row in _csv_records(handle, layout.delimiter)]
    if len(starts) != records:
        return None
    first = layout.first_line()
    return np.concatenate([np.arange(first), np.asarray(starts, dtype=np.int64) + first])


def _scan(path: Path, utf8: bool) -> tuple[bool, int]:
    """One pass over the file: whether its bytes are all UTF-8 (checked with ``utf8``,
    else False) and how many lines it holds (lines end at \\n, \\r\\n or \\r; a last
    line without an end counts)."""
    decoder = codecs.getincrementaldecoder("utf-8")() if utf8 else None
    lines, last = 0, b""
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 24), b""):
            if decoder is not None:
                try:
                    decoder.decode(block)
                except UnicodeDecodeError:
                    decoder = None
                    utf8 = False
            lines += _line_ends(block)
            if last == b"\r" and block[:1] == b"\n":
                lines -= 1  # a \r\n cut between two blocks
            last = block[-1:]
    if decoder is not None:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8 = False
    return utf8, lines + (last not in (b"", b"\n", b"\r"))


def _line_ends(block: bytes) -> int:
    """How many line ends (\\n, \\r\\n, \\r) ``block`` holds."""
    codes = np.frombuffer(block, dtype=np.uint8)
    ends = np.count_nonzero(codes == 10)
    returns = codes == 13
    if returns.any():  # \r alone ends a line too, \r\n once
        ends += np.count_nonzero(returns) - np.count_nonzero(returns[:-1] & (codes[1:] == 10))
    return int(ends)


def _csv_chunks(path: Path, layout: _CsvLayout, batch_rows: int) -> Iterator[RawTable]:
    names = layout.field_names
    reader = pacsv.open_csv(path, **layout.options(False, block_size=1 << 24))
    next_line = layout.first_line()
    skipped: list[int] = []  # numbers of the malformed lines not yet passed
    pending, records = None, 0
    for batch in itertools.chain(reader, [None]):
        if batch is not None:
            block = pa.Table.from_batches([batch])
            pending = block if pending is None else pa.concat_tables([pending, block])
        while pending is not None and (pending.num_rows >= batch_rows or batch is None):
            chunk, pending = pending.slice(0, batch_rows), pending.slice(batch_rows)
            pending = pending if pending.num_rows else None
            found = len(layout.malformed)  # taken by count: the reader may add more
            malformed = layout.malformed[:found]
            del layout.malformed[:found]
            skipped += [n for n, _, _ in malformed if n is not None]
            rows = _renumber_around(np.arange(next_line, next_line + chunk.num_rows), skipped)
            next_line = int(rows[-1]) + 1 if len(rows) else next_line
            skipped = [n for n in skipped if n >= next_line]
            columns = {n: chunk.column(names[layout.found[n]]).combine_chunks()
                       for n in layout.found}
            columns, rows, blank, _ = _drop_blank_rows(columns, rows)
            records += chunk.num_rows + len(malformed)
            yield RawTable(str(path), "", columns, rows, blank, malformed)
    # Malformed lines after the last row, and where records start if values span lines.
    lines = _record_lines(path, layout, records + len(layout.malformed))
    if layout.malformed or lines is not None:
        yield RawTable(str(path), "", {n: pa.array([], pa.string()) for n in layout.found},
                       np.arange(0, dtype=np.int64), 0, list(layout.malformed),
                       record_lines=lines)


def _renumber_around(rows: np.ndarray, skipped: list[int]) -> np.ndarray:
    """Line numbers of the rows kept when the ``skipped`` lines were set aside (``rows``:
    their numbers counted as if none was)."""
    if not skipped or not len(rows):
        return rows
    lines = np.arange(rows[0], rows[-1] + len(skipped) + 1)
    return np.setdiff1d(lines, skipped)[: len(rows)]


def _read_parquet(path: Path, spec: TableSpec, rename: dict[str, str], all_columns: bool
                  ) -> RawTable:
    names, found = _parquet_columns(path, spec, rename)
    try:
        table = pq.read_table(path, columns=None if all_columns
                              else [names[found[n]] for n in found])
        table.validate(full=True)  # damaged pages may hold text that is not UTF-8
    except _PARQUET_ERRORS as error:
        raise InputError(f"{path}: cannot read the Parquet file ({first_line(error)}).") from None
    columns = _binary_as_text(path, {n: table.column(names[found[n]]) for n in found})
    rows = np.arange(1, table.num_rows + 1, dtype=np.int64)
    as_given = (list(zip(_headers_as_given(names),
                         (c.combine_chunks() for c in table.columns)))
                if all_columns else None)
    columns, rows, blank, as_given = _drop_blank_rows(columns, rows, as_given)
    return RawTable(str(path), "", columns, rows, blank, as_given=as_given)


def check_columns(path: Path, spec: TableSpec, rename: dict[str, str]) -> None:
    """Check from its header alone that a CSV or Parquet file has ``spec``'s required
    columns.

    Raises
    ------
    InputError
        As :func:`read_table` would for the file's header.
    """
    if file_kind(path) == "csv":
        _csv_header(path, spec, rename)
    else:
        _parquet_columns(path, spec, rename)


def parquet_batches(path: Path, spec: TableSpec, rename: dict[str, str], batch_rows: int
                    ) -> Iterator[RawTable]:
    """Read ``spec``'s columns of a Parquet file a batch of about ``batch_rows`` rows at a
    time, for files larger than memory; rows are numbered as :func:`read_table` numbers
    them.

    Raises
    ------
    InputError
        When the file cannot be read or lacks a required column.
    """
    names, found = _parquet_columns(path, spec, rename)
    first_row = 1
    try:
        batches = pq.ParquetFile(path).iter_batches(
            batch_size=batch_rows, columns=[names[found[n]] for n in found])
        for batch in batches:
            batch.validate(full=True)  # damaged pages may hold text that is not UTF-8
            columns = _binary_as_text(path, {n: batch.column(names[found[n]]) for n in found})
            rows = np.arange(first_row, first_row + batch.num_rows, dtype=np.int64)
            first_row += batch.num_rows
            columns, rows, blank, _ = _drop_blank_rows(columns, rows)
            yield RawTable(str(path), "", columns, rows, blank)
    except _PARQUET_ERRORS as error:
        raise InputError(f"{path}: cannot read the Parquet file ({first_line(error)}).") from None


def _parquet_columns(path: Path, spec: TableSpec, rename: dict[str, str]
                     ) -> tuple[list[str], dict[str, int]]:
    """The file's column names, and the position of each of ``spec``'s columns."""
    try:
        schema = pq.read_schema(path)
    except _PARQUET_ERRORS as error:
        raise InputError(f"{path}: not a readable Parquet file ({first_line(error)}).") from None
    names = list(schema.names)
    try:
        found = _match_columns(names, spec, rename)
        _require(found, spec, names)
    except InputError as error:
        raise _in_context(str(path), error) from None
    for name, position in found.items():
        _refuse_nested(path, name, schema.field(position).type)
    return names, found


def _refuse_nested(path: Path, name: str, arrow_type: pa.DataType) -> None:
    """Refuse a column of lists, structs, maps or unions: a cell must hold one value.
    Dictionary-encoded columns are judged by their values."""
    if pa.types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    if not pa.types.is_nested(arrow_type):
        return
    kind = next((kind for kind, test in (("list", pa.types.is_list),
                                         ("list", pa.types.is_large_list),
                                         ("list", pa.types.is_fixed_size_list),
                                         ("map", pa.types.is_map),
                                         ("struct", pa.types.is_struct))
                 if test(arrow_type)), "nested")
    raise InputError(f"{path}: column {name!r} is a {kind} column ({arrow_type}); give plain "
                     "values, one per cell.")


def _binary_as_text(path: Path, columns: dict[str, pa.Array]) -> dict[str, pa.Array]:
    """Read binary columns as UTF-8 text; refuse one whose bytes are not UTF-8."""
    for name, array in columns.items():
        arrow_type = array.type.value_type if pa.types.is_dictionary(array.type) else array.type
        if not (pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type)
                or pa.types.is_fixed_size_binary(arrow_type)):
            continue
        try:
            columns[name] = array.cast(pa.large_string())
        except pa.ArrowInvalid:
            raise InputError(f"{path}: column {name!r} is a binary column holding bytes that "
                             "are not UTF-8 text; give it as text (strings).") from None
    return columns
