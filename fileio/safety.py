"""Checks that run before a spreadsheet is handed to a parser.

An ``.xlsx`` file is a zip of XML parts. Before any part is unpacked, the zip's declared
sizes are checked (a zip bomb declares gigabytes in kilobytes), and the XML parts are
checked for document type declarations, which a workbook never needs and an entity bomb
("billion laughs") depends on; a sheet's declared range must not hold more cells than the
reader can set aside. An OLE2 file named ``.xlsx`` is an old ``.xls`` workbook or
a password-protected one; the names of its streams say which, so the message can say what
to do.
"""
from __future__ import annotations

import contextlib
import functools
import html
import re
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Callable, Iterator

from fileio.error_cells import ErrorCells, column_number
from fileio.errors import InputError, first_line

#: Largest total unpacked size of a workbook's parts.
MAX_UNPACKED_BYTES = 8 * 1024**3
#: Largest unpacked / packed ratio of a part above :data:`RATIO_CHECK_FROM` bytes. Sheet XML
#: packs about 10-30 fold; bombs pack a thousand fold and more.
MAX_RATIO = 250
RATIO_CHECK_FROM = 16 * 1024**2

_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
#: How much of a part may come before its first element (the XML declaration, comments);
#: a workbook's parts have a line.
PROLOG_LIMIT = 1024**2
_SPACE = re.compile(rb"\s*")
#: How much of the end of a sheet's XML is searched for its last cells (its last rows).
TAIL_BYTES = 64 * 1024
#: Most cells a sheet's declared range may hold: 1 048 576 rows of 57 columns.
MAX_CELLS = 60_000_000
_CELL_REFERENCE = re.compile(rb"""<(?:\w+:)?c\s[^>]*?\br\s*=\s*["']\$?([A-Za-z]+)\$?(\d+)""")
_DIMENSION = re.compile(
    rb"""<(?:\w+:)?dimension\s+ref\s*=\s*["']\s*([$A-Za-z]+[$\d]+)(?::([$A-Za-z]+[$\d]+))?""")


def check_xlsx(path: Path) -> None:
    """Refuse an ``.xlsx`` that is not a workbook, is encrypted, or is a zip/XML bomb:
    :func:`check_container`, then :func:`check_parts`.

    Raises
    ------
    InputError
        With a sentence that says what the file is and what to do.
    """
    check_container(path)
    check_parts(path)


def check_container(path: Path) -> None:
    """The checks that unpack no part: that the file is a zip (not an old ``.xls`` or a
    password-protected workbook, not text), that its entries are not encrypted, and that
    its declared sizes are not a zip bomb's.

    Raises
    ------
    InputError
        With a sentence that says what the file is and what to do.
    """
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head == _OLE2_MAGIC:
        raise InputError(_ole2_message(path))
    if not zipfile.is_zipfile(path):
        hint = "save it as .xlsx" if head[:2] != b"PK" else "the file is damaged (truncated?)"
        if _looks_like_text(head):
            hint = "it looks like a text (CSV) file: rename it to .csv"
        raise InputError(f"{path}: not a readable .xlsx workbook; {hint}.")
    with _opened(path) as archive:
        _check_not_encrypted(path, archive)
        _check_sizes(path, archive)


def check_parts(path: Path, skip: frozenset[str] = frozenset()
                ) -> dict[str, dict[tuple[int, int], str]]:
    """The checks that unpack every XML part of a workbook that passed
    :func:`check_container` (but the parts named in ``skip``, which :func:`check_part`
    checks as they are read): no entity or document type declarations, each part exactly
    the size and checksum its zip directory declares, no sheet spanning more than
    :data:`MAX_CELLS` cells. Done once per workbook that several tables are read from (a
    file changed since is checked again; a refusal is not remembered).

    Returns
    -------
    dict
        Per sheet name, its cells that hold an Excel error, found on the way
        (:class:`fileio.error_cells.ErrorCells`); sheets without any are left out.

    Raises
    ------
    InputError
        With a sentence that says what is wrong and what to do.
    """
    status = path.stat()
    return _check_parts(path, status.st_size, status.st_mtime_ns, skip)


@functools.lru_cache(maxsize=16)
def _check_parts(path: Path, size: int, modified_ns: int, skip: frozenset[str]
                 ) -> dict[str, dict[tuple[int, int], str]]:
    errors = {}
    with _opened(path) as archive:
        sheet_names = None
        for info in archive.infolist():
            if info.filename in skip:
                continue
            if info.filename.startswith("xl/worksheets/") and sheet_names is None:
                sheet_names = sheet_parts(archive)
            found = _check_part(path, archive, info, sheet_names)
            if found and info.filename in (sheet_names or {}):
                errors[sheet_names[info.filename]] = found
    return errors


def check_part(path: Path, part: str, each_chunk: Callable[[bytes], None] = lambda chunk: None
               ) -> dict[tuple[int, int], str]:
    """Check one sheet part as :func:`check_parts` does, handing each unpacked chunk of it
    to ``each_chunk`` on the way (so that reading it and checking it take one pass).
    Returns its cells that hold an Excel error (:class:`fileio.error_cells.ErrorCells`).

    Raises
    ------
    InputError
        With a sentence that says what is wrong and what to do.
    """
    with _opened(path) as archive:
        return _check_part(path, archive, archive.getinfo(part), sheet_parts(archive),
                           each_chunk)


@contextlib.contextmanager
def _opened(path: Path) -> Iterator[zipfile.ZipFile]:
    """The workbook's zip; a damaged one is refused with one sentence."""
    try:
        with zipfile.ZipFile(path) as archive:
            yield archive
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as error:
        # A damaged part fails as it is unpacked (zlib), or names an unknown compression.
        raise InputError(f"{path}: the workbook is damaged ({first_line(error)}); export "
                         "it again.") from None


def _ole2_message(path: Path) -> str:
    """What to say of an OLE2 compound file named ``.xlsx``: Excel stores both an old
    ``.xls`` workbook and a password-protected ``.xlsx`` in that container; the names of its
    first streams tell them apart."""
    streams = set(_ole2_stream_names(path))
    if streams & {"EncryptedPackage", "EncryptionInfo"}:
        return (f"{path}: the workbook is protected by a password; open it in Excel, remove "
                "the password (File > Info > Protect Workbook) and save it as .xlsx.")
    if streams & {"Workbook", "Book"}:
        return (f"{path}: this is an old .xls workbook (Excel 97-2003); open it in Excel and "
                "save it as .xlsx (Excel Workbook).")
    return (f"{path}: this is an old .xls workbook or a password-protected .xlsx; open it in "
            "Excel, remove any password and save it as .xlsx (Excel Workbook).")


def _ole2_stream_names(path: Path) -> list[str]:
    """Names of the entries in the first sector of an OLE2 file's directory (empty when
    the header is damaged)."""
    with open(path, "rb") as handle:
        header = handle.read(512)
        if len(header) < 512:
            return []
        sector_size = 1 << struct.unpack_from("<H", header, 30)[0]
        first_sector = struct.unpack_from("<I", header, 48)[0]
        if sector_size not in (512, 4096) or first_sector >= 0xFFFFFFFA:
            return []
        handle.seek((first_sector + 1) * sector_size)
        directory = handle.read(sector_size)
    names = []
    for entry in range(0, len(directory) - 127, 128):
        length = struct.unpack_from("<H", directory, entry + 64)[0]
        if 2 <= length <= 64:  # bytes of UTF-16 text, with its closing zero
            names.append(directory[entry: entry + length - 2].decode("utf-16-le", "replace"))
    return names


def _looks_like_text(head: bytes) -> bool:
    return all(32 <= b < 127 or b in (9, 10, 13) for b in head.lstrip(b"\xef\xbb\xbf"))


def _check_not_encrypted(path: Path, archive: zipfile.ZipFile) -> None:
    """Refuse a zip whose entries are encrypted (``zip -P``): Excel never writes one, and
    its parts cannot be read without the password."""
    if any(info.flag_bits & 0x1 for info in archive.infolist()):
        raise InputError(f"{path}: the workbook's zip entries are encrypted (password-"
                         "protected); save it again without a password.")


def _check_sizes(path: Path, archive: zipfile.ZipFile) -> None:
    total = 0
    for info in archive.infolist():
        total += info.file_size
        packed = max(info.compress_size, 1)
        if info.file_size > RATIO_CHECK_FROM and info.file_size / packed > MAX_RATIO:
            raise InputError(
                f"{path}: part {info.filename} would unpack {info.file_size / packed:,.0f} "
                "times its size (a zip bomb?); refused."
            )
    if total > MAX_UNPACKED_BYTES:
        raise InputError(
            f"{path}: the workbook would unpack to {total / 1024**3:,.1f} GiB, more than "
            f"{MAX_UNPACKED_BYTES / 1024**3:,.0f} GiB; refused. Export the claims as CSV or "
            "Parquet instead."
        )


def _check_part(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo,
                sheet_names: dict[str, str] | None,
                each_chunk: Callable[[bytes], None] = lambda chunk: None
                ) -> dict[tuple[int, int], str]:
    """Check one part; return, for a sheet, its cells that hold an Excel error."""
    errors = ErrorCells()
    if not (info.filename.endswith(".xml") or info.filename.endswith(".rels")):
        return errors.found
    sheet = info.filename.startswith("xl/worksheets/")

    def take(chunk: bytes) -> None:
        each_chunk(chunk)
        errors.take(chunk)

    head, tail = _unpack_head(path, archive, info, take if sheet else each_chunk)
    if declares_something(head):
        raise InputError(
            f"{path}: part {info.filename} declares XML entities or a document type "
            "(an entity bomb?); refused. Save the workbook again from Excel or "
            "LibreOffice."
        )
    if sheet:
        _check_dimension(path, (sheet_names or {}).get(info.filename, info.filename), head,
                         tail)
    return errors.found


def _unpack_head(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo,
                 each_chunk: Callable[[bytes], None]) -> tuple[bytes, bytes]:
    """The first :data:`PROLOG_LIMIT` bytes of a part and its last :data:`TAIL_BYTES`, after
    unpacking all of it, a MiB at a time (each chunk handed to ``each_chunk``), to check
    the size its zip directory declares: zipfile stops at that size and then checks the
    part's CRC, which fails when the part holds more (a bomb that understates its sizes
    would pass :func:`_check_sizes`)."""
    try:
        with archive.open(info) as part:
            head = tail = part.read(PROLOG_LIMIT)
            each_chunk(head)
            previous = b""
            while chunk := part.read(1024**2):
                each_chunk(chunk)
                previous, tail = tail, chunk
            tail = (previous[-TAIL_BYTES:] + tail)[-TAIL_BYTES:]
    except zipfile.BadZipFile as error:
        if "CRC" not in str(error):
            raise
        raise InputError(
            f"{path}: part {info.filename} does not unpack to the {info.file_size:,} bytes "
            "its zip directory declares (a zip bomb, or a damaged file); refused. Export the "
            "workbook again.") from None
    return head, tail


def _check_dimension(path: Path, sheet: str, head: bytes, tail: bytes) -> None:
    """Refuse a sheet whose range holds more than :data:`MAX_CELLS` cells, its rows
    counted from row 1 as they are read: the reader sets aside a cell for each, and a
    stray cell far from the table would ask for hundreds of gigabytes. The range is the
    one the sheet declares (``<dimension ref="A1:XFD1048576"/>``, near its start), or
    reaches to the last cells of its XML (``tail``: the last rows) from column A; a
    hand-made sheet whose dimension understates its range, with a far cell before its last
    rows, is not caught."""
    spans = []
    found = _DIMENSION.search(head)
    if found is not None:
        (first_column, _), (last_column, last_row) = (_cell(found[1]),
                                                       _cell(found[2] or found[1]))
        spans.append((last_row * (last_column - first_column + 1),
                      b":".join(part for part in found.groups() if part).decode()))
    references = _CELL_REFERENCE.findall(tail)
    if references:
        letters = max({letters.upper() for letters, _ in references},
                      key=lambda text: (len(text), text))
        last_row = max(int(row) for _, row in references)
        spans.append((last_row * _cell(letters + b"1")[0], f"A1:{letters.decode()}{last_row}"))
    for count, span in spans:
        if count > MAX_CELLS:
            raise InputError(
                f"{path}: sheet {sheet!r} spans {span} ({count:,} cells from row 1), more "
                f"than the {MAX_CELLS:,} cells fundcalc reads; delete the stray cells "
                "beyond the table (the rows below it and the columns to its right) and save "
                "it again.")


def _cell(reference: bytes) -> tuple[int, int]:
    """Column and row numbers (from 1) of a cell reference such as ``$XFD$1048576``."""
    letters, digits = re.fullmatch(rb"\$?([A-Za-z]+)\$?(\d+)", reference).groups()
    return column_number(letters), int(digits)


def sheet_parts(archive: zipfile.ZipFile) -> dict[str, str]:
    """Each worksheet part's sheet name (part -> name), from the workbook part and its
    relationships; empty when they cannot be read."""
    try:
        workbook = archive.read("xl/workbook.xml")[:PROLOG_LIMIT]
        relations = archive.read("xl/_rels/workbook.xml.rels")[:PROLOG_LIMIT]
    except KeyError:
        return {}
    targets = {}
    for element in re.findall(rb"<(?:\w+:)?Relationship\b[^>]*>", relations):
        ident, target = _attribute(element, rb"Id"), _attribute(element, rb"Target")
        if ident and target:
            target = target.lstrip("/")
            targets[ident] = target if target.startswith("xl/") else "xl/" + target
    names = {}
    for element in re.findall(rb"<(?:\w+:)?sheet\b[^>]*>", workbook):
        name, ident = _attribute(element, rb"name"), _attribute(element, rb"\w+:id")
        if name and ident in targets:
            names[targets[ident]] = html.unescape(name)
    return names


def _attribute(element: bytes, name: bytes) -> str | None:
    found = re.search(rb"\s" + name + rb"""\s*=\s*(["'])(.*?)\1""", element)
    return None if found is None else found[2].decode("utf-8", "replace")


def declares_something(head: bytes) -> bool:
    """Whether an XML part's prolog holds a declaration (``<!DOCTYPE``, ``<!ENTITY``) — or
    does not end within ``head``. Comments and processing instructions are passed over,
    however long, so that a declaration cannot hide behind them."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        head = head.decode("utf-16", errors="replace").encode("utf-8")
    position = 3 if head.startswith(b"\xef\xbb\xbf") else 0
    while True:
        position = _SPACE.match(head, position).end()
        if head.startswith(b"<?", position):
            end = head.find(b"?>", position + 2)
            position = end + 2
        elif head.startswith(b"<!--", position):
            end = head.find(b"-->", position + 4)
            position = end + 3
        else:
            return head.startswith(b"<!", position)
        if end < 0:
            return True  # the prolog runs past PROLOG_LIMIT: no workbook writes one
