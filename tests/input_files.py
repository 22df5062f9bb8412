"""Write small input tables to .xlsx, .csv and .parquet files for the reading tests.

A table is a list of rows, the first row being the header; ``None`` is an empty cell and
an empty list ``[]`` is a blank row (in .xlsx and .csv). Cell values are written as given:
a ``str`` is text, a ``float`` a number, a ``datetime.date`` a date cell (xlsx) or ISO text
(csv).
"""
from __future__ import annotations

import csv
import datetime
from pathlib import Path
from typing import Any, Sequence

Row = Sequence[Any]


def write_xlsx(path: Path, sheets: dict[str, Sequence[Row]]) -> Path:
    """Write a workbook with one sheet per entry of ``sheets``, rows from the first row.

    >>> write_xlsx(tmp / "claims.xlsx", {"claims": [["claim_id", "amount"], ["C1", 12.5]]})
    ... # doctest: +SKIP
    """
    import openpyxl

    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row_number, row in enumerate(rows, start=1):
            for column_number, value in enumerate(row, start=1):
                if value is not None:
                    cell = sheet.cell(row=row_number, column=column_number, value=value)
                    if isinstance(value, str):
                        cell.data_type = "s"  # text that looks like a formula stays text
    workbook.save(path)
    return Path(path)


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return str(value)


def write_csv(path: Path, rows: Sequence[Row], *, delimiter: str = ",",
              encoding: str = "utf-8", bom: bool = False, line_end: str = "\n") -> Path:
    """Write rows as a CSV file (``bom=True`` starts a UTF-8 file with a byte-order mark)."""
    with open(path, "w", newline="", encoding="utf-8-sig" if bom else encoding) as handle:
        writer = csv.writer(handle, delimiter=delimiter, lineterminator=line_end)
        for row in rows:
            writer.writerow([_csv_cell(v) for v in row])
    return Path(path)


def write_text(path: Path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` as it is, for CSV files with deliberate faults."""
    Path(path).write_bytes(text.encode(encoding))
    return Path(path)


def write_parquet(path: Path, rows: Sequence[Row], types: dict[str, Any] | None = None) -> Path:
    """Write rows (header first) as a Parquet file; blank rows are left out.

    ``types`` maps a column to a pyarrow type; other columns keep pyarrow's inference
    (text stays text, floats become double, ``datetime.date`` becomes date32).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    header, *body = rows
    body = [row for row in body if len(row)]
    types = types or {}
    arrays = [pa.array([row[i] if i < len(row) else None for row in body], type=types.get(name))
              for i, name in enumerate(header)]
    pq.write_table(pa.table(dict(zip(header, arrays))), path)
    return Path(path)


def write_table(path: Path, rows: Sequence[Row], sheet: str = "claims") -> Path:
    """Write ``rows`` in the format named by ``path``'s extension (one sheet for xlsx)."""
    suffix = Path(path).suffix
    if suffix == ".xlsx":
        return write_xlsx(path, {sheet: rows})
    if suffix == ".csv":
        return write_csv(path, rows)
    if suffix == ".parquet":
        return write_parquet(path, rows)
    raise ValueError(f"no writer for {suffix}")


def rewrite_xlsx(path: Path, change=lambda name, part: part, extra=None) -> Path:
    """Rewrite the workbook at ``path`` part by part: ``change(name, bytes)`` gives each
    part's new bytes, and the parts of ``extra`` (name -> bytes) are added."""
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(Path(path).read_bytes())) as source, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, change(info.filename, source.read(info)))
        for name, part in (extra or {}).items():
            target.writestr(name, part)
    Path(path).write_bytes(out.getvalue())
    return Path(path)


def declare_sizes(path: Path, sizes: dict[str, int]) -> Path:
    """Make the zip at ``path`` declare other unpacked sizes (name -> bytes) for some of
    its parts, in its central directory, without changing what the parts hold: what a zip
    bomb's directory claims, checked before anything is unpacked."""
    import struct
    import zipfile

    data = bytearray(Path(path).read_bytes())
    end = data.rfind(b"PK\x05\x06")  # end of central directory record
    entries = struct.unpack_from("<H", data, end + 10)[0]
    position = struct.unpack_from("<I", data, end + 16)[0]
    for _ in range(entries):
        name_length, extra_length, comment_length = struct.unpack_from("<HHH", data,
                                                                       position + 28)
        name = bytes(data[position + 46: position + 46 + name_length]).decode()
        if name in sizes:
            struct.pack_into("<I", data, position + 24, sizes[name])  # uncompressed size
        position += 46 + name_length + extra_length + comment_length
    Path(path).write_bytes(bytes(data))
    with zipfile.ZipFile(path) as archive:
        assert {i.filename: i.file_size for i in archive.infolist() if i.filename in sizes} \
            == sizes
    return Path(path)


def write_xls(path: Path, rows: Sequence[Row]) -> Path:
    """Write an old Excel 97-2003 ``.xls`` workbook with xlwt (a real one, for the
    refusal tests)."""
    import xlwt

    book = xlwt.Workbook()
    sheet = book.add_sheet("claims")
    for row_number, row in enumerate(rows):
        for column_number, value in enumerate(row):
            if value is not None:
                sheet.write(row_number, column_number, value)
    book.save(str(path))
    return Path(path)


def encrypt_xlsx(path: Path, password: str = "secret") -> Path:
    """Encrypt the workbook at ``path`` in place with a password, as Excel does
    (msoffcrypto-tool's OOXML agile encryption)."""
    import io

    from msoffcrypto.format.ooxml import OOXMLFile

    plain = io.BytesIO(Path(path).read_bytes())
    encrypted = io.BytesIO()
    OOXMLFile(plain).encrypt(password, encrypted)
    Path(path).write_bytes(encrypted.getvalue())
    return Path(path)
