"""A catalogue of bad inputs (issue 8): every way an input can be wrong, run through the real
command, each with the exact outcome expected.

Each case writes its files into its own folder (no binary blobs: old ``.xls`` files are
made with xlwt, encrypted workbooks with msoffcrypto-tool, bombs by rewriting a zip) and
runs ``fundcalc validate --strict --rejected`` (or ``compare``). The outcome is one of:

- :class:`Refused`: exit 2 and exactly one sentence on stderr, naming the file and what to
  do; no traceback, no output file;
- :class:`Rejected`: exit 1 (``--strict``) and exactly these rejected rows, with rows read =
  accepted + rejected;
- :class:`Accepted`: exit 0 and validate's report line for the claims;
- :class:`Settled`: ``compare`` exits 0, and a contract's Summary status and sheet say what
  is wrong with it.
"""
from __future__ import annotations

import csv
import errno
import datetime
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import openpyxl
import pyarrow as pa
import pytest
from click.testing import CliRunner

from cli import main
from input_files import (
    declare_sizes, encrypt_xlsx, rewrite_xlsx, write_csv, write_parquet, write_text, write_xls,
    write_xlsx,
)

HEADER = ["claim_id", "member_id", "provider_id", "service_date", "domain", "amount"]
MEMBERS_HEADER = ["member_id", "segment", "attributed_provider", "enrollment_start",
                  "enrollment_end", "sex", "risk_score", "birth_date"]
D = datetime.date
#: A file name longer than file systems allow (255 bytes).
LONG_NAME = "a" * 300

#: The reasons the reader gives, as the Rejected sheet shows them.
BLANK = "required value is blank"
NOT_AMOUNT = "not an amount (write 1234.56; for 1.234,56 set decimal_comma: true)"
NOT_DATE = ("not a date (use an Excel date or YYYY-MM-DD text, or set date_format in the "
            "contracts file)")
TOO_LARGE = "amount beyond ±100,000,000 (an export error?)"
UNKNOWN_MEMBER = "member not in the members table (or its members row was rejected)"
DIFFERENT_REPEAT = "claim_id+line repeated with different content; all such rows are rejected"


def claim(claim_id="C1", amount="10.00", member="M1", date="2024-01-15", domain="gp",
          provider="P1"):
    """One claims row in :data:`HEADER` order."""
    return [claim_id, member, provider, date, domain, amount]


def members_row(member_id="M1", segment="elderly", provider="P1", start=None, end=None,
                sex=None, risk=None, birth=None):
    """One members row in :data:`MEMBERS_HEADER` order."""
    return [member_id, segment, provider, start, end, sex, risk, birth]


# -- what a case expects ----------------------------------------------------------------

@dataclass(frozen=True)
class Refused:
    """Exit 2 with this one sentence on stderr; ``{dir}`` stands for the case's folder."""

    message: str


@dataclass(frozen=True)
class Rejected:
    """Exit 1 under ``--strict``; exactly these rejected rows, each (table, row, column,
    value, reason), and ``accepted`` claim lines."""

    rows: tuple[tuple[str, int, str, str, str], ...]
    accepted: int


@dataclass(frozen=True)
class Accepted:
    """Exit 0; validate's line for the claims file (after ``<file>: claims: ``)."""

    line: str


@dataclass(frozen=True)
class Settled:
    """``compare`` exits 0; the contract's Summary status and its sheet hold these texts."""

    contract: str
    status: str
    warning: str | None


@dataclass(frozen=True)
class Case:
    """Files to write (``make(folder)`` returns the command's arguments) and the outcome."""

    make: Callable[[Path], list[str]]
    outcome: Refused | Rejected | Accepted | Settled


# -- how the files of a case are written --------------------------------------------------

def validate(*files: Path, **options: Path | str) -> list[str]:
    """``fundcalc validate`` arguments: claims files, then ``--name value`` options."""
    args = ["validate", *map(str, files)]
    for name, value in options.items():
        args += [f"--{name.replace('_', '-')}", str(value)]
    return args


def claims_csv(folder: Path, *rows, header=HEADER, **dialect) -> Path:
    return write_csv(folder / "claims.csv", [header, *rows], **dialect)


def claims_xlsx(folder: Path, *rows, header=HEADER) -> Path:
    return write_xlsx(folder / "claims.xlsx", {"claims": [header, *rows]})


def contracts_file(folder: Path, *lines: str) -> Path:
    """A contracts file with the given lines before one fee-for-service contract."""
    path = folder / "contracts.yaml"
    path.write_text("\n".join([*lines,
                               "contracts:",
                               "  - name: Practice",
                               "    model: fee_for_service",
                               "    provider: P1",
                               "    scope: {domains: all}",
                               "    performance_years: [2024]", ""]))
    return path


def with_contract(folder: Path, *contract_lines: str) -> list[str]:
    """``fundcalc compare`` on one good claim and a members table with one contract."""
    claims = claims_csv(folder, claim())
    members = write_csv(folder / "members.csv", [MEMBERS_HEADER, members_row()])
    contracts = folder / "contracts.yaml"
    contracts.write_text("\n".join(["contracts:", *contract_lines, ""]))
    return ["compare", str(claims), "--members", str(members), "--contracts", str(contracts),
            "-o", str(folder / "out.xlsx")]


def good_compare(folder: Path, output: str | Path) -> list[str]:
    """``fundcalc compare`` on good files, writing to ``output`` (relative to the folder)."""
    claims = claims_csv(folder, claim())
    return ["compare", str(claims), "--contracts", str(contracts_file(folder)), "-o",
            str(folder / output)]


def one_row_per_cell(folder: Path, column: str, cell, *, kind="xlsx") -> list[str]:
    """Claims with one good row and one whose ``column`` holds ``cell`` (typed in xlsx)."""
    header = [*HEADER, "line", "care_code", "quantity", "paid_date"]
    good = [*claim("C1"), "1", "A1", 1, D(2024, 2, 1)]
    bad = [*claim("C2"), "1", "A1", 1, D(2024, 2, 1)]
    bad[header.index(column)] = cell
    if kind == "xlsx":
        return validate(claims_xlsx(folder, good, bad, header=header))
    return validate(claims_csv(folder, good, bad, header=header))


def merged_header(folder: Path, cells: str, title_row: bool) -> list[str]:
    """A workbook whose header cells ``cells`` (such as ``B1:C1``) are merged."""
    path = folder / "claims.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "claims"
    if title_row:
        sheet.append(["Claims export 2024, all practices"])
    sheet.append(HEADER)
    sheet.append(claim())
    sheet.merge_cells(cells)
    book.save(path)
    return validate(path)


def with_formula(folder: Path, formula: str, cached: str | None, cell_type: str = "n"
                 ) -> list[str]:
    """A workbook whose F3 (amount of the second claim) is a formula, with or without the
    value Excel cached for it."""
    path = claims_xlsx(folder, claim("C1"), claim("C2", amount="0"))
    cached_xml = "" if cached is None else f"<v>{cached}</v>"
    type_xml = "" if cell_type == "n" else f' t="{cell_type}"'

    def put_formula(name: str, part: bytes) -> bytes:
        if not name.startswith("xl/worksheets/"):
            return part
        return re.sub(rb'<c r="F3"[^>]*>.*?</c>',
                      f'<c r="F3"{type_xml}><f>{formula}</f>{cached_xml}</c>'.encode(), part)

    rewrite_xlsx(path, put_formula)
    return validate(path)


def stray_cell(folder: Path, sheet: str, row: int, column: int) -> list[str]:
    """A claims workbook with a cell at (``row``, ``column``) of ``sheet``: openpyxl
    declares the sheet's range (its dimension) up to it, as Excel does."""
    book = openpyxl.Workbook()
    book.active.title = "claims"
    book.active.append(HEADER)
    book.active.append(claim())
    target = book["claims"] if sheet == "claims" else book.create_sheet(sheet)
    target["A1"] = target["A1"].value or "notes"
    target.cell(row=row, column=column, value="x")
    book.save(folder / "claims.xlsx")
    return validate(folder / "claims.xlsx")


def far_cell_not_declared(folder: Path) -> list[str]:
    """A claims sheet whose last row holds a cell at XFD1048576 while its dimension still
    says A1:F2 (a hand-edited sheet): found among the sheet's last cells."""
    def add_far_row(name: str, part: bytes) -> bytes:
        if not name.startswith("xl/worksheets/"):
            return part
        far = b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
        return part.replace(b"</sheetData>", far + b"</sheetData>")

    path = rewrite_xlsx(claims_xlsx(folder, claim()), add_far_row)
    return validate(path)


def far_cell_hidden(folder: Path) -> list[str]:
    """A claims sheet with a cell at XFD2, its dimension saying A1:F2 and 400 000 rows of
    column A after it, so that neither the dimension nor the last rows show the far
    cell: the reader asks for 16 384 x 400 002 cells, more memory than a machine has, and
    its process aborts (the process that reads the sheet, not fundcalc's own)."""
    def add_far_cell(name: str, part: bytes) -> bytes:
        if not name.startswith("xl/worksheets/"):
            return part
        rows = b"".join(b'<row r="%d"><c r="A%d"><v>1</v></c></row>' % (r, r)
                        for r in range(3, 400_003))
        part = part.replace(b'<row r="2">', b'<row r="2"><c r="XFD2"><v>1</v></c>', 1)
        return part.replace(b"</sheetData>", rows + b"</sheetData>")

    return validate(rewrite_xlsx(claims_xlsx(folder, claim()), add_far_cell))


def zip_encrypted(folder: Path) -> list[str]:
    """A workbook whose zip entries are marked encrypted, as ``zip -P`` marks them (bit 0
    of each entry's flags, in its local header and in the central directory)."""
    import struct

    path = claims_xlsx(folder, claim())
    data = bytearray(path.read_bytes())
    for signature, flags_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        position = data.find(signature)
        while position >= 0:
            flags = struct.unpack_from("<H", data, position + flags_at)[0]
            struct.pack_into("<H", data, position + flags_at, flags | 0x1)
            position = data.find(signature, position + 4)
    path.write_bytes(bytes(data))
    return validate(path)


def truncated(folder: Path) -> list[str]:
    path = claims_xlsx(folder, claim())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return validate(path)


def entity_bomb(folder: Path, padding: bytes = b"") -> list[str]:
    """A sheet that declares the "billion laughs" entities (never expanded: refused),
    behind ``padding`` (such as a long comment)."""
    laughs = ['<!ENTITY lol "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)]
    doctype = padding + f"<!DOCTYPE lolz [{''.join(laughs)}]>".encode()

    def add_doctype(name: str, part: bytes) -> bytes:
        if not name.startswith("xl/worksheets/"):
            return part
        return part.replace(b"?>", b"?>" + doctype, 1) if part.startswith(b"<?xml") \
            else doctype + part

    return validate(rewrite_xlsx(claims_xlsx(folder, claim()), add_doctype))


def declared_bomb(folder: Path, sizes: dict[str, int], extra: dict[str, bytes] | None = None
                  ) -> list[str]:
    """A workbook whose zip directory declares huge unpacked sizes (its parts are small)."""
    path = rewrite_xlsx(claims_xlsx(folder, claim()), extra=extra)
    return validate(declare_sizes(path, sizes))


def titled_csv(folder: Path, title: str) -> list[str]:
    """Claims CSV below ``title``: a good claim, then one whose amount is words. Lines end
    at \\n, \\r\\n and \\r only, also inside quotes (as pyarrow counts them)."""
    lines = [",".join(HEADER), ",".join(claim("C1")), ",".join(claim("C2", "abc"))]
    return validate(write_text(folder / "claims.csv", title + "\n".join(lines) + "\n"))


def latin1(folder: Path) -> list[str]:
    rows = [claim("C1", domain="Crèche"), claim("C2", amount="één")]
    return validate(claims_csv(folder, *rows, delimiter=";", encoding="latin-1"))


def long_cell(folder: Path, column: str) -> list[str]:
    row = claim("C2")
    row[HEADER.index(column)] = "9" * 40_000 if column == "amount" else "X" * 40_000
    return validate(claims_csv(folder, claim("C1"), row))


def output_is_input(folder: Path) -> list[str]:
    args = good_compare(folder, "out.xlsx")
    return [*args[:-1], args[1]]


def output_in_input_folder(folder: Path) -> list[str]:
    """``compare`` out of core on a folder of Parquet claims, writing over a file in it."""
    (folder / "claims").mkdir()
    part = write_parquet(folder / "claims" / "part0.parquet", [HEADER, claim()])
    return ["compare", str(folder / "claims"), "--contracts", str(contracts_file(folder)),
            "--engine", "duckdb", "-o", str(part)]


def parquet_amounts(folder: Path) -> list[str]:
    rows = [HEADER, claim("C1", 10.0), claim("C2", float("nan")), claim("C3", float("inf")),
            claim("C4", float("-inf")), claim("C5", 2e8)]
    return validate(write_parquet(folder / "claims.parquet", rows))


def parquet_cells(folder: Path, column: str, cells: tuple, arrow_type=None, engine=None
                  ) -> list[str]:
    """Parquet claims of two rows whose ``column`` holds ``cells`` (as ``arrow_type``):
    ``validate``, or ``compare`` under ``engine``."""
    rows = [claim("C1"), claim("C2")]
    for row, cell in zip(rows, cells):
        row[HEADER.index(column)] = cell
    path = write_parquet(folder / "claims.parquet", [HEADER, *rows],
                         None if arrow_type is None else {column: arrow_type})
    if engine is None:
        return validate(path)
    return ["compare", str(path), "--contracts", str(contracts_file(folder)), "--engine",
            engine, "-o", str(folder / "out.xlsx")]


def members_case(folder: Path, *members, claims=None, **options) -> list[str]:
    claims_path = claims_csv(folder, *(claims or [claim()]))
    members_path = write_csv(folder / "members.csv", [MEMBERS_HEADER, *members])
    return validate(claims_path, members=members_path, **options)


def reversed_enrollment(folder: Path) -> list[str]:
    return members_case(folder, members_row("M1"),
                        members_row("M2", start="2024-03-01", end="2024-02-29"),
                        claims=[claim("C1"), claim("C2", member="M2")])


def duplicate_members(folder: Path) -> list[str]:
    return members_case(folder, members_row("M1"), members_row("M1"),
                        members_row("M2", sex="F"), members_row("M2", sex="M"),
                        claims=[claim("C1"), claim("C2", member="M2")])


def day_first(folder: Path, setting: bool) -> list[str]:
    path = claims_csv(folder, claim("C1", date="15-01-2024"), claim("C2", date="2024-01-16"))
    if not setting:
        return validate(path)
    return validate(path, contracts=contracts_file(folder, "date_format: '%d-%m-%Y'"))


def decimal_comma(folder: Path, setting: bool) -> list[str]:
    path = claims_csv(folder, claim("C1", "1.234,56"), claim("C2", "-0,125"), delimiter=";")
    if not setting:
        return validate(path)
    return validate(path, contracts=contracts_file(folder, "decimal_comma: true"))


def fee_schedule(folder: Path) -> list[str]:
    schedule = write_csv(folder / "fees.csv", [["care_code", "tariff"], ["A1", "12.50"],
                                               ["A2", "free"], ["A1", "13.00"]])
    return validate(claims_csv(folder, claim()), fee_schedule=schedule)


def attribution(folder: Path) -> list[str]:
    table = write_csv(folder / "attribution.csv", [
        ["member_id", "year", "provider_id"], ["M1", "2024", "P1"], ["M1", "2025.5", "P1"],
        ["M1", "next", "P1"], ["M9", "2024", "P1"]])
    return members_case(folder, members_row("M1"), attribution=table)


def csv_named_xlsx(folder: Path) -> list[str]:
    path = folder / "claims.xlsx"
    write_csv(path, [HEADER, claim()])
    return validate(path)


def xls_named_xlsx(folder: Path) -> list[str]:
    return validate(write_xls(folder / "claims.xlsx", [HEADER, claim()]))


DIR = "{dir}"
CATALOGUE: dict[str, Case] = {
    # -- files that cannot be read at all -------------------------------------------------
    "empty csv": Case(lambda f: validate(write_text(f / "claims.csv", "")),
                      Refused(f"{DIR}/claims.csv: the file is empty.")),
    "empty xlsx": Case(lambda f: validate(write_text(f / "claims.xlsx", "")),
                       Refused(f"{DIR}/claims.xlsx: the file is empty.")),
    "blank lines only": Case(
        lambda f: validate(write_text(f / "claims.csv", "\n\n\n")),
        Refused(f"{DIR}/claims.csv: no header row with the claims columns (claim_id, "
                "member_id, provider_id, service_date, domain, amount) in the first 30 rows; "
                "add them, or map your headers with `columns:` in the contracts file.")),
    "sheet without cells": Case(
        lambda f: validate(write_xlsx(f / "claims.xlsx", {"claims": []})),
        Refused(f"{DIR}/claims.xlsx, sheet 'claims': the sheet is empty; it needs a header "
                "row and data.")),
    "missing file": Case(lambda f: validate(f / "nowhere.csv"),
                         Refused(f"{DIR}/nowhere.csv: no such file; check the path.")),
    "missing required column": Case(
        lambda f: validate(claims_csv(f, claim()[:5], header=HEADER[:5])),
        Refused(f"{DIR}/claims.csv: the claims table lacks required column(s) amount (headers "
                "found: claim_id, member_id, provider_id, service_date, domain); rename them "
                "or map them with `columns:` in the contracts file.")),
    "required column twice": Case(
        lambda f: validate(claims_xlsx(f, [*claim(), "2.00"], header=[*HEADER, "Amount "])),
        Refused(f"{DIR}/claims.xlsx, sheet 'claims': column 'amount' appears twice in the "
                "header; keep one.")),
    "merged cells hide a header": Case(
        lambda f: merged_header(f, "B1:C1", title_row=False),
        Refused(f"{DIR}/claims.xlsx, sheet 'claims': the claims table lacks required "
                "column(s) provider_id (headers found: claim_id, member_id, service_date, "
                "domain, amount); rename them or map them with `columns:` in the contracts "
                "file.")),
    "csv named .xlsx": Case(
        csv_named_xlsx,
        Refused(f"{DIR}/claims.xlsx: not a readable .xlsx workbook; it looks like a text "
                "(CSV) file: rename it to .csv.")),
    "old .xls (xlwt)": Case(
        lambda f: validate(write_xls(f / "claims.xls", [HEADER, claim()])),
        Refused(f"{DIR}/claims.xls: old .xls workbooks are not read; save it as .xlsx.")),
    "old .xls named .xlsx": Case(
        xls_named_xlsx,
        Refused(f"{DIR}/claims.xlsx: this is an old .xls workbook (Excel 97-2003); open it "
                "in Excel and save it as .xlsx (Excel Workbook).")),
    "encrypted xlsx (msoffcrypto)": Case(
        lambda f: validate(encrypt_xlsx(claims_xlsx(f, claim()))),
        Refused(f"{DIR}/claims.xlsx: the workbook is protected by a password; open it in "
                "Excel, remove the password (File > Info > Protect Workbook) and save it "
                "as .xlsx.")),
    "a stray cell at XFD1048576": Case(
        lambda f: stray_cell(f, "claims", 1_048_576, 16_384),
        Refused(f"{DIR}/claims.xlsx: sheet 'claims' spans A1:XFD1048576 (17,179,869,184 "
                "cells from row 1), more than the 60,000,000 cells fundcalc reads; delete "
                "the stray cells beyond the table (the rows below it and the columns to its "
                "right) and save it again.")),
    "a stray cell at BF1048576 on the second sheet": Case(
        lambda f: stray_cell(f, "Members & more", 1_048_576, 58),
        Refused(f"{DIR}/claims.xlsx: sheet 'Members & more' spans A1:BF1048576 "
                "(60,817,408 cells from row 1), more than the 60,000,000 cells fundcalc "
                "reads; delete the stray cells beyond the table (the rows below it and the "
                "columns to its right) and save it again.")),
    "zip bomb: a part unpacks to more than it declares": Case(
        lambda f: declared_bomb(f, {"xl/worksheets/sheet1.xml": 100}),
        Refused(f"{DIR}/claims.xlsx: part xl/worksheets/sheet1.xml does not unpack to the "
                "100 bytes its zip directory declares (a zip bomb, or a damaged file); "
                "refused. Export the workbook again.")),
    "a stray cell at XFD1048576 that the dimension leaves out": Case(
        far_cell_not_declared,
        Refused(f"{DIR}/claims.xlsx: sheet 'claims' spans A1:XFD1048576 (17,179,869,184 "
                "cells from row 1), more than the 60,000,000 cells fundcalc reads; delete "
                "the stray cells beyond the table (the rows below it and the columns to its "
                "right) and save it again.")),
    "a far cell that neither the dimension nor the last rows show": Case(
        far_cell_hidden,
        Refused(f"{DIR}/claims.xlsx: the spreadsheet reader failed on this workbook (signal "
                "SIGABRT); open it in Excel, delete any stray cells beyond the tables, and "
                "save it again, or export the sheets as CSV.")),
    "xlsx with encrypted zip entries (zip -P)": Case(
        zip_encrypted,
        Refused(f"{DIR}/claims.xlsx: the workbook's zip entries are encrypted (password-"
                "protected); save it again without a password.")),
    "truncated zip": Case(
        truncated,
        Refused(f"{DIR}/claims.xlsx: not a readable .xlsx workbook; the file is damaged "
                "(truncated?).")),
    "zip bomb: one part declares 3 GiB": Case(
        lambda f: declared_bomb(f, {"xl/worksheets/sheet1.xml": 3 * 1024**3}),
        Refused(f"{DIR}/claims.xlsx: part xl/worksheets/sheet1.xml would unpack "
                "{ratio} times its size (a zip bomb?); refused.")),
    "zip bomb: parts declare 9 GiB in all": Case(
        lambda f: declared_bomb(  # 615 parts of 15 MiB each, below the ratio check's size
            f, {f"xl/pad{i}.xml": 15 * 1024**2 for i in range(615)},
            extra={f"xl/pad{i}.xml": b"<x/>" * 1000 for i in range(615)}),
        Refused(f"{DIR}/claims.xlsx: the workbook would unpack to 9.0 GiB, more than 8 GiB; "
                "refused. Export the claims as CSV or Parquet instead.")),
    "XML entity bomb": Case(
        entity_bomb,
        Refused(f"{DIR}/claims.xlsx: part xl/worksheets/sheet1.xml declares XML entities "
                "or a document type (an entity bomb?); refused. Save the workbook again "
                "from Excel or LibreOffice.")),
    "XML entity bomb behind a long comment": Case(
        lambda f: entity_bomb(f, padding=b"<!-- " + b"x" * 8000 + b" -->"),
        Refused(f"{DIR}/claims.xlsx: part xl/worksheets/sheet1.xml declares XML entities "
                "or a document type (an entity bomb?); refused. Save the workbook again "
                "from Excel or LibreOffice.")),
    "binary file named .csv": Case(
        lambda f: validate(write_text(f / "claims.csv", "PK\x03\x04\x00\x00binary\x00")),
        Refused(f"{DIR}/claims.csv: this is not a text (CSV) file; give a .csv, .xlsx or "
                ".parquet.")),
    "UTF-16 text named .csv (Excel's Unicode Text)": Case(
        lambda f: validate(write_text(f / "claims.csv", "claim_id\tamount\r\nC1\t10\r\n",
                                      encoding="utf-16")),
        Refused(f"{DIR}/claims.csv: a UTF-16 text file (as Excel's 'Unicode Text' saves); "
                "save it as 'CSV UTF-8 (comma delimited)' and give that.")),
    "unknown file type": Case(
        lambda f: validate(write_text(f / "claims.json", "{}")),
        Refused(f"{DIR}/claims.json: unknown file type '.json'; give .xlsx, .csv or "
                ".parquet.")),
    # -- rows rejected with their reason --------------------------------------------------
    "header only": Case(
        lambda f: validate(claims_csv(f)),
        Accepted("0 rows read, 0 accepted, 0 rejected; amount read 0.00, accepted 0.00, "
                 "rejected 0.00")),
    "title rows above the header": Case(
        lambda f: validate(write_xlsx(f / "claims.xlsx", {"claims": [
            ["Claims export"], ["run on 2024-03-01", None, "by: finance"], [], HEADER,
            claim()]})),
        Accepted("1 rows read, 1 accepted, 0 rejected; amount read 10.00, accepted 10.00, "
                 "rejected 0.00")),
    "merged title cells above the header": Case(
        lambda f: merged_header(f, "A1:F1", title_row=True),
        Accepted("1 rows read, 1 accepted, 0 rejected; amount read 10.00, accepted 10.00, "
                 "rejected 0.00")),
    "merged header cell over an empty column": Case(
        lambda f: merged_header(f, "F1:G1", title_row=False),
        Accepted("1 rows read, 1 accepted, 0 rejected; amount read 10.00, accepted 10.00, "
                 "rejected 0.00")),
    "blank claim_id": Case(lambda f: one_row_per_cell(f, "claim_id", None),
                           Rejected((("claims", 3, "claim_id", "", BLANK),), 1)),
    "blank member_id": Case(lambda f: one_row_per_cell(f, "member_id", " "),
                            Rejected((("claims", 3, "member_id", "", BLANK),), 1)),
    "blank provider_id": Case(lambda f: one_row_per_cell(f, "provider_id", None),
                              Rejected((("claims", 3, "provider_id", "", BLANK),), 1)),
    "blank domain": Case(lambda f: one_row_per_cell(f, "domain", None),
                         Rejected((("claims", 3, "domain", "", BLANK),), 1)),
    "numbers in text columns are text": Case(
        lambda f: validate(claims_xlsx(f, [1001, 42, 7, D(2024, 1, 15), "gp", 10.0])),
        Accepted("1 rows read, 1 accepted, 0 rejected; amount read 10.00, accepted 10.00, "
                 "rejected 0.00")),
    "service_date as a number": Case(
        lambda f: one_row_per_cell(f, "service_date", 45306),
        Rejected((("claims", 3, "service_date", "45306", NOT_DATE),), 1)),
    "service_date as words": Case(
        lambda f: one_row_per_cell(f, "service_date", "last Tuesday"),
        Rejected((("claims", 3, "service_date", "last Tuesday", NOT_DATE),), 1)),
    "service_date 30 February": Case(
        lambda f: one_row_per_cell(f, "service_date", "2024-02-30"),
        Rejected((("claims", 3, "service_date", "2024-02-30", "not a real calendar date"),),
                 1)),
    "service_date in 1850": Case(
        lambda f: one_row_per_cell(f, "service_date", D(1850, 1, 1), kind="csv"),
        Rejected((("claims", 3, "service_date", "1850-01-01",
                   "date outside the years 1900-2199"),), 1)),
    "paid_date as words": Case(
        lambda f: one_row_per_cell(f, "paid_date", "soon"),
        Rejected((("claims", 3, "paid_date", "soon", NOT_DATE),), 1)),
    "quantity as words": Case(
        lambda f: one_row_per_cell(f, "quantity", "two"),
        Rejected((("claims", 3, "quantity", "two", "not a number"),), 1)),
    "negative quantity": Case(
        lambda f: one_row_per_cell(f, "quantity", -1),
        Rejected((("claims", 3, "quantity", "-1", "must not be below 0"),), 1)),
    "amount as words": Case(
        lambda f: one_row_per_cell(f, "amount", "ten euros"),
        Rejected((("claims", 3, "amount", "ten euros", NOT_AMOUNT),), 1)),
    "amount as a date cell": Case(
        lambda f: one_row_per_cell(f, "amount", D(2024, 1, 15)),
        Rejected((("claims", 3, "amount", "2024-01-15 00:00:00", NOT_AMOUNT),), 1)),
    "amount as TRUE": Case(
        lambda f: one_row_per_cell(f, "amount", True),
        Rejected((("claims", 3, "amount", "true", NOT_AMOUNT),), 1)),
    "amount NaN, inf, 1e999 as text": Case(
        lambda f: validate(claims_csv(f, claim("C1", "NaN"), claim("C2", "inf"),
                                      claim("C3", "-Infinity"), claim("C4", "1e999"),
                                      claim("C5", "7.00"))),
        Rejected((("claims", 2, "amount", "NaN", NOT_AMOUNT),
                  ("claims", 3, "amount", "inf", NOT_AMOUNT),
                  ("claims", 4, "amount", "-Infinity", NOT_AMOUNT),
                  ("claims", 5, "amount", "1e999", NOT_AMOUNT)), 1)),
    "absurd amounts": Case(
        lambda f: validate(claims_csv(f, claim("C1", "100000000.01"),
                                      claim("C2", "-250000000"), claim("C3", "9" * 30),
                                      claim("C4", "100000000.00"))),
        Rejected((("claims", 2, "amount", "100000000.01", TOO_LARGE),
                  ("claims", 3, "amount", "-250000000", TOO_LARGE),
                  ("claims", 4, "amount", "9" * 30, TOO_LARGE)), 1)),
    "Parquet NaN, inf and absurd floats": Case(
        parquet_amounts,
        Rejected((("claims", 2, "amount", "", BLANK),
                  ("claims", 3, "amount", "inf", "not a finite amount"),
                  ("claims", 4, "amount", "-inf", "not a finite amount"),
                  ("claims", 5, "amount", "200000000", TOO_LARGE)), 1)),
    "Parquet member_id as lists": Case(
        lambda f: parquet_cells(f, "member_id", (["M1"], ["M1", "M2"])),
        Refused(f"{DIR}/claims.parquet: column 'member_id' is a list column "
                "(list<element: string>); give plain values, one per cell.")),
    "Parquet amount as structs, out of core": Case(
        lambda f: parquet_cells(f, "amount", ({"euro": 10.0}, {"euro": 2.5}), engine="duckdb"),
        Refused(f"{DIR}/claims.parquet: column 'amount' is a struct column "
                "(struct<euro: double>); give plain values, one per cell.")),
    "Parquet member_id as bytes that are not UTF-8": Case(
        lambda f: parquet_cells(f, "member_id", (b"M1", b"\xff\xfe"), pa.binary()),
        Refused(f"{DIR}/claims.parquet: column 'member_id' is a binary column holding bytes "
                "that are not UTF-8 text; give it as text (strings).")),
    "Parquet member_id as UTF-8 bytes": Case(
        lambda f: parquet_cells(f, "member_id", (b"M1", b"M1"), pa.binary()),
        Accepted("2 rows read, 2 accepted, 0 rejected; amount read 20.00, accepted 20.00, "
                 "rejected 0.00")),
    "Parquet dictionary-encoded member_id": Case(
        lambda f: parquet_cells(f, "member_id", ("M1", "M1"), pa.dictionary(pa.int32(), pa.string())),
        Accepted("2 rows read, 2 accepted, 0 rejected; amount read 20.00, accepted 20.00, "
                 "rejected 0.00")),
    "day-first dates without date_format": Case(
        lambda f: day_first(f, setting=False),
        Rejected((("claims", 2, "service_date", "15-01-2024", NOT_DATE),), 1)),
    "day-first dates with date_format": Case(
        lambda f: day_first(f, setting=True),
        Accepted("2 rows read, 2 accepted, 0 rejected; amount read 20.00, accepted 20.00, "
                 "rejected 0.00")),
    "decimal commas without decimal_comma": Case(
        lambda f: decimal_comma(f, setting=False),
        Rejected((("claims", 2, "amount", "1.234,56", NOT_AMOUNT),
                  ("claims", 3, "amount", "-0,125", NOT_AMOUNT)), 0)),
    "decimal commas with decimal_comma": Case(
        lambda f: decimal_comma(f, setting=True),  # -0.125 rounds half to even: -0.12
        Accepted("2 rows read, 2 accepted, 0 rejected; amount read 1,234.44, accepted "
                 "1,234.44, rejected 0.00")),
    "duplicate claim lines": Case(
        lambda f: validate(claims_csv(f, claim("C1", "5.00"), claim("C2"),
                                      claim("C1", "5.00"), claim("C2", "11.00"))),
        Rejected((("claims", 3, "claim_id,line", "C2/", DIFFERENT_REPEAT),
                  ("claims", 4, "claim_id,line", "C1/",
                   "exact copy of {dir}/claims.csv row 2 (kept once)"),
                  ("claims", 5, "claim_id,line", "C2/", DIFFERENT_REPEAT)), 1)),
    "a line with a field too many": Case(
        lambda f: validate(write_text(f / "claims.csv", ",".join(HEADER) + "\n"
                                      + ",".join(claim()) + ",surplus\n"
                                      + ",".join(claim("C2")) + "\n")),
        Rejected((("claims", 2, "", ",".join(claim()) + ",surplus",
                   "has 7 fields where the header has 6"),), 1)),
    "claims of members missing from the members table": Case(
        lambda f: members_case(f, members_row("M1"),
                               claims=[claim("C1"), claim("C2", member="M404")]),
        Rejected((("claims", 3, "member_id", "M404", UNKNOWN_MEMBER),), 1)),
    "enrollment ending before it starts": Case(
        reversed_enrollment,
        Rejected((("members", 3, "enrollment_end", "2024-02-29",
                   "enrollment ends before it starts"),
                  ("claims", 3, "member_id", "M2", UNKNOWN_MEMBER)), 1)),
    "duplicate members": Case(
        duplicate_members,
        Rejected((("members", 3, "member_id", "M1",
                   "exact copy of {dir}/members.csv row 2 (kept once)"),
                  ("members", 4, "member_id", "M2",
                   "member_id repeated with different content; all such rows are rejected"),
                  ("members", 5, "member_id", "M2",
                   "member_id repeated with different content; all such rows are rejected"),
                  ("claims", 3, "member_id", "M2", UNKNOWN_MEMBER)), 1)),
    "member cells of the wrong type": Case(
        lambda f: members_case(f, members_row("M1"),
                               members_row("M2", sex="Q"), members_row("M3", risk="high"),
                               members_row("M4", risk="0"), members_row("M5", birth="unknown"),
                               members_row("M6", start="the first")),
        Rejected((("members", 3, "sex", "Q", "not one of F, M, X"),
                  ("members", 4, "risk_score", "high", "not a number"),
                  ("members", 5, "risk_score", "0", "must be greater than 0"),
                  ("members", 6, "birth_date", "unknown", NOT_DATE),
                  ("members", 7, "enrollment_start", "the first", NOT_DATE)), 1)),
    "fee schedule: a tariff as words, a code twice": Case(
        fee_schedule,
        Rejected((("fee_schedule", 3, "tariff", "free", NOT_AMOUNT),
                  ("fee_schedule", 2, "care_code", "A1",
                   "care_code repeated with different content; all such rows are rejected"),
                  ("fee_schedule", 4, "care_code", "A1",
                   "care_code repeated with different content; all such rows are rejected")),
                 1)),
    "attribution: years that are not years, unknown members": Case(
        attribution,
        Rejected((("attribution", 3, "year", "2025.5", "not a whole number"),
                  ("attribution", 4, "year", "next", "not a number"),
                  ("attribution", 5, "member_id", "M9", UNKNOWN_MEMBER)), 1)),
    "CSV with a byte-order mark": Case(
        lambda f: validate(claims_csv(f, claim(), bom=True)),
        Accepted("1 rows read, 1 accepted, 0 rejected; amount read 10.00, accepted 10.00, "
                 "rejected 0.00")),
    "CSV with semicolons and CRLF": Case(
        lambda f: validate(claims_csv(f, claim(), claim("C2", "2.50"), delimiter=";",
                                      line_end="\r\n")),
        Accepted("2 rows read, 2 accepted, 0 rejected; amount read 12.50, accepted 12.50, "
                 "rejected 0.00")),
    **{f"CSV title row holding {name}": Case(
        lambda f, title=title: titled_csv(f, title),
        Rejected((("claims", 4, "amount", "abc", NOT_AMOUNT),), 1))
       for name, title in (("U+2028", "Export\u2028Q1\n"), ("U+0085", "Export\x85Q1\n"),
                           ("a form feed", "Export\fQ1\n"))},
    **{f"CSV title {name}": Case(  # two lines, as pyarrow counts them
        lambda f, title=title: titled_csv(f, title),
        Rejected((("claims", 5, "amount", "abc", NOT_AMOUNT),), 1))
       for name, title in (("rows ending in CR and CRLF", "Export\rQ1\r\n"),
                           ("row holding a quoted newline", '"Claims export\nQ1"\n'))},
    "CSV in Latin-1": Case(
        latin1, Rejected((("claims", 3, "amount", "één", NOT_AMOUNT),), 1)),
    "formula with a cached value: the value is used": Case(
        lambda f: with_formula(f, "SUM(2,3.5)", "5.5"),
        Accepted("2 rows read, 2 accepted, 0 rejected; amount read 15.50, accepted 15.50, "
                 "rejected 0.00")),
    "formula without a cached value: blank": Case(
        lambda f: with_formula(f, "SUM(2,3.5)", None),
        Rejected((("claims", 3, "amount", "", BLANK),), 1)),
    "formula caching text: the text is checked": Case(
        lambda f: with_formula(f, 'HYPERLINK("http://x","click")', "click", "str"),
        Rejected((("claims", 3, "amount", "click", NOT_AMOUNT),), 1)),
    "a 40 000-character amount": Case(
        lambda f: long_cell(f, "amount"),
        Rejected((("claims", 3, "amount", "9" * 40_000, TOO_LARGE),), 1)),
    "a 40 000-character claim id": Case(
        lambda f: long_cell(f, "claim_id"),
        Accepted("2 rows read, 2 accepted, 0 rejected; amount read 20.00, accepted 20.00, "
                 "rejected 0.00")),
    # -- contracts naming what the data does not have ------------------------------------
    "contract naming an unknown provider": Case(
        lambda f: with_contract(f, "  - name: Ghost", "    model: fee_for_service",
                                "    provider: NOBODY", "    scope: {domains: all}",
                                "    performance_years: [2024]"),
        Settled("Ghost", "ok; no claims in scope",
                "provider(s) NOBODY billed no claims in the data")),
    "contract naming an unknown domain": Case(
        lambda f: with_contract(f, "  - name: Stars", "    model: fee_for_service",
                                "    provider: P1", "    scope: {domains: [astrology]}",
                                "    performance_years: [2024]"),
        Settled("Stars", "ok; no claims in scope",
                "domain(s) astrology do not occur in the claims")),
    "contract naming an unknown segment": Case(
        lambda f: with_contract(f, "  - name: Mars", "    model: shared_savings",
                                "    provider: P1", "    scope: {domains: all, segment: martians}",
                                "    benchmark_pmpm: 100", "    sharing_rate: 0.5",
                                "    performance_years: [2024]"),
        Settled("Mars", "not settled: no members in the population in 2024",
                "segment 'martians' has no members in the members table")),
    "contract year without claims": Case(
        lambda f: with_contract(f, "  - name: Later", "    model: fee_for_service",
                                "    provider: P1", "    scope: {domains: all}",
                                "    performance_years: [2031]"),
        Settled("Later", "not settled: 2031 is outside the claims data (2024–2024)", None)),
    "header only, in compare": Case(
        lambda f: ["compare", str(claims_csv(f)), "--contracts", str(contracts_file(f)), "-o",
                   str(f / "out.xlsx")],
        Refused(f"{DIR}/claims.csv: no claim line was accepted (0 rejected); nothing to "
                "settle. See why with `fundcalc validate --rejected rejected.csv`.")),
    "no claim line accepted": Case(
        lambda f: ["compare", str(claims_csv(f, claim("C1", "abc"))), "--contracts",
                   str(contracts_file(f)), "-o", str(f / "out.xlsx")],
        Refused(f"{DIR}/claims.csv: no claim line was accepted (1 rejected); nothing to "
                "settle. See why with `fundcalc validate --rejected rejected.csv`.")),
    # -- output paths ---------------------------------------------------------------------
    "output folder missing": Case(
        lambda f: good_compare(f, "missing/out.xlsx"),
        Refused(f"The output folder {DIR}/missing does not exist; create it or choose "
                "another output path.")),
    "output path is a folder": Case(
        lambda f: good_compare(f, "."),  # click refuses it before the run
        Refused("Invalid value for '-o' / '--output': File '{dir}' is a directory.")),
    "output path is a device": Case(
        lambda f: good_compare(f, "/dev/full"),
        Refused("The output path /dev/full exists and is not a regular file; give a file "
                "name to write to.")),
    "output path is an input": Case(
        output_is_input,
        Refused(f"The output path {DIR}/claims.csv is also an input of this run; choose "
                "another output path so the input is not overwritten.")),
    "rejected rows written over an input": Case(
        lambda f: validate(claims_csv(f, claim()), rejected=f / "claims.csv"),
        Refused(f"The output path {DIR}/claims.csv is also an input of this run; choose "
                "another output path so the input is not overwritten.")),
    "rejected rows written over the contracts file": Case(
        lambda f: validate(claims_csv(f, claim()), contracts=contracts_file(f),
                           rejected=f / "contracts.yaml"),
        Refused(f"The output path {DIR}/contracts.yaml is also an input of this run; choose "
                "another output path so the input is not overwritten.")),
    "output written into the claims folder": Case(
        output_in_input_folder,
        Refused(f"The output path {DIR}/claims/part0.parquet is inside the input folder "
                f"{DIR}/claims, whose files are all inputs of this run; choose a path "
                "outside it.")),
    "output file name too long": Case(
        lambda f: good_compare(f, LONG_NAME + ".xlsx"),
        Refused(f"The output path {DIR}/{LONG_NAME}.xlsx cannot be used (File name too "
                "long); choose another output path.")),
    "input file name too long": Case(
        lambda f: validate(f / (LONG_NAME + ".csv")),
        Refused(f"{DIR}/{LONG_NAME}.csv: cannot be read (File name too long); check the "
                "path.")),
    "contracts file name too long": Case(
        lambda f: ["compare", str(claims_csv(f, claim())), "--contracts",
                   str(f / (LONG_NAME + ".yaml")), "-o", str(f / "out.xlsx")],
        Refused(f"{DIR}/{LONG_NAME}.yaml: cannot be read: File name too long")),
    "output in a folder where no file can be made (/proc)": Case(
        lambda f: good_compare(f, "/proc/out.xlsx"),
        Refused("Cannot create a file in /proc (No such file or directory); choose a folder "
                "you can write to.")),
}


def test_the_catalogue_has_at_least_40_cases():
    assert len(CATALOGUE) >= 40


def run_case(case: Case, folder: Path):
    """Run a case's command; a traceback (any exception but SystemExit) fails the test."""
    args = case.make(folder)
    if args[0] == "validate" and "--rejected" not in args:
        args += ["--strict", "--rejected", str(folder / "rejected.csv")]
    result = CliRunner().invoke(main, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError("a traceback") from result.exception
    assert "Traceback" not in result.output
    return result


def rejected_rows(path: Path, folder: Path) -> list[tuple]:
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    # Values a spreadsheet would run as a formula were written with a leading apostrophe.
    return [(r["table"], int(r["row"]), r["column"],
             r["value"][1:] if r["value"][:2] in ("'-", "'=", "'+", "'@") else r["value"],
             r["reason"].replace(str(folder), "{dir}")) for r in rows]


@pytest.mark.parametrize("name", list(CATALOGUE))
def test_bad_input(tmp_path, name):
    case = CATALOGUE[name]
    folder = tmp_path.resolve()
    result = run_case(case, folder)
    outcome = case.outcome
    if isinstance(outcome, Refused):
        assert result.exit_code == 2, result.output
        expected = outcome.message.replace("{dir}", str(folder))
        if "{ratio}" in expected:  # the packed size depends on zlib's version
            expected = re.escape(expected).replace(re.escape("{ratio}"), r"[\d,]+")
            assert re.fullmatch(f"fundcalc: {expected}\n", result.stderr), result.stderr
        elif expected.startswith("Invalid value"):
            assert expected in result.stderr
        else:
            assert result.stderr == f"fundcalc: {expected}\n"
        assert not (folder / "out.xlsx").exists() and not (folder / "rejected.csv").exists()
        return
    if isinstance(outcome, Settled):
        assert result.exit_code == 0, result.output
        book = openpyxl.load_workbook(folder / "out.xlsx")
        summary = list(book["Summary"].iter_rows(values_only=True))
        status = [dict(zip(summary[0], row))["status"] for row in summary[1:]
                  if dict(zip(summary[0], row))["contract"] == outcome.contract]
        assert status and all(s.startswith(outcome.status) for s in status), status
        sheet = [c for row in book[outcome.contract].iter_rows(values_only=True) for c in row]
        assert outcome.warning is None or outcome.warning in sheet
        return
    assert result.exit_code == (0 if isinstance(outcome, Accepted) else 1), result.output
    claims_line = next(line for line in result.stdout.splitlines() if ": claims: " in line)
    for line in result.stdout.splitlines():  # rows read = accepted + rejected, per file
        counts = re.search(r"([\d,]+) rows read, ([\d,]+) accepted, ([\d,]+) rejected", line)
        if counts is None:  # the line on the contracts file
            continue
        read, accepted, rejected = (int(n.replace(",", "")) for n in counts.groups())
        assert read == accepted + rejected, line
    if isinstance(outcome, Accepted):
        assert claims_line.split(": claims: ", 1)[1] == outcome.line
        assert rejected_rows(folder / "rejected.csv", folder) == []
    else:
        assert int(re.search(r"([\d,]+) accepted", claims_line)[1]) == outcome.accepted
        assert sorted(rejected_rows(folder / "rejected.csv", folder)) == sorted(outcome.rows)



def _raise(number: int, text: str):
    """A stand-in for an OS call that fails with ``OSError(number)`` naming its last
    argument."""
    def fail(*args, **kwargs):
        raise OSError(number, text, str(args[-1]) if args else None)
    return fail


@pytest.mark.parametrize("module, call, number, text, message", [
    # EROFS as the output's temporary file is made
    ("tempfile", "mkstemp", errno.EROFS, "Read-only file system",
     "Cannot create a file in {dir} (Read-only file system); choose a folder you can "
     "write to."),
    # any other OSError naming a path: EIO as the output is moved into place
    ("os", "replace", errno.EIO, "Input/output error",
     "{dir}/out.xlsx: Input/output error; check the path and that it can be read (inputs) "
     "or written (outputs)."),
])
def test_an_os_error_writing_the_output_is_one_sentence(tmp_path, monkeypatch, module, call,
                                                         number, text, message):
    """Exit 2, one sentence, and no file left beside the inputs."""
    import importlib

    folder = tmp_path.resolve()
    args = good_compare(folder, "out.xlsx")
    monkeypatch.setattr(importlib.import_module(module), call, _raise(number, text))
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert result.stderr == f"fundcalc: {message.format(dir=folder)}\n"
    assert sorted(p.name for p in folder.iterdir()) == ["claims.csv", "contracts.yaml"]
