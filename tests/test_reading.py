"""Reading input tables (SPEC §1): formats, headers, row numbers, unreadable files, the
row rules, and the reconciliation rows read = accepted + rejected (rows and cents).

Tables are written to ``tmp_path`` with :mod:`input_files`; expected cents and row numbers
are worked out by hand in each test.
"""
from __future__ import annotations

import datetime
import random
from collections import Counter
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fileio.errors import InputError
from fileio.inputs import Inputs, ReadOptions, read_inputs
from input_files import (
    rewrite_xlsx, write_csv, write_parquet, write_table, write_text, write_xlsx,
)

FORMATS = ["xlsx", "csv", "parquet"]
#: The required claims columns, in the order the helpers below write them.
HEADER = ["claim_id", "member_id", "provider_id", "service_date", "domain", "amount"]
MEMBERS_HEADER = ["member_id", "birth_date", "sex", "segment", "enrollment_start",
                  "enrollment_end", "attributed_provider", "risk_score", "conditions"]
CONTENT = ["claim_id", "line", "member_id", "provider_id", "service_date", "domain",
           "care_code", "quantity", "amount", "paid_date"]


def claim(claim_id="C1", amount="10.00", member="M1", date="2024-01-15", domain="gp",
          provider="P1"):
    """One claims row in :data:`HEADER` order."""
    return [claim_id, member, provider, date, domain, amount]


def member(member_id, **cells):
    """One members row in :data:`MEMBERS_HEADER` order."""
    return [member_id, *(cells.get(name) for name in MEMBERS_HEADER[1:])]


def read(*claims: Path, **kwargs) -> Inputs:
    return read_inputs(list(claims), **kwargs)


def rejects(inputs: Inputs, table: str = "claims") -> list[tuple[int, str, str]]:
    """(row, column, reason) of each rejected row of ``table``, sorted by row."""
    frame = inputs.rejected[inputs.rejected["table"] == table]
    return sorted(zip(frame["row"].astype(int), frame["column"], frame["reason"]))


def report(inputs: Inputs, table: str = "claims"):
    (only,) = [r for r in inputs.reports if r.table == table]
    return only


def content(frame: pd.DataFrame) -> Counter:
    """The accepted rows as a multiset of plain tuples (no file, sheet or row)."""
    plain = frame[CONTENT].astype(object).where(frame[CONTENT].notna(), None)
    return Counter(map(tuple, plain.to_numpy().tolist()))


def error_of(*claims: Path, **kwargs) -> str:
    with pytest.raises(InputError) as caught:
        read(*claims, **kwargs)
    return str(caught.value)


# -- the same table from every format -------------------------------------------------------

FULL_HEADER = ["claim_id", "line", "member_id", "provider_id", "service_date", "domain",
               "care_code", "quantity", "amount", "paid_date"]
D = datetime.date
FULL_TABLE = [
    FULL_HEADER,
    ["C1", "1", "M1", "P1", D(2024, 1, 15), "GP", "A1", 2, 274.65999999999997, None],
    ["C1", "2", "M1", "P1", D(2024, 2, 29), "Hospital", None, None, -2.675, D(2024, 3, 1)],
    ["C2", None, "M2", "P2", D(2024, 12, 31), "mental_health", "B7", 1.5, 0.125, None],
    ["C3", "1", "M2", "P2", D(2023, 6, 30), "pharmacy", "Z9", 0, 1234.5, D(2023, 7, 2)],
]


@pytest.fixture
def full_table_read(tmp_path):
    return {kind: read(write_table(tmp_path / f"claims.{kind}", FULL_TABLE)) for kind in FORMATS}


def test_every_format_gives_the_same_accepted_rows(full_table_read):
    frames = {kind: inputs.claims.drop(columns=["_file", "_sheet", "_row"])
              for kind, inputs in full_table_read.items()}
    pd.testing.assert_frame_equal(frames["xlsx"], frames["csv"])
    pd.testing.assert_frame_equal(frames["xlsx"], frames["parquet"])


@pytest.mark.parametrize("kind", FORMATS)
def test_the_accepted_values_are_the_hand_computed_ones(full_table_read, kind):
    claims = full_table_read[kind].claims
    # 274.65999999999997 is float noise for 274.66; 2.675 and 0.125 round half to even
    assert claims["amount"].tolist() == [27466, -268, 12, 123450]
    assert claims["quantity"].tolist() == [2.0, 1.0, 1.5, 0.0]  # blank quantity is 1
    assert claims["domain"].tolist() == ["gp", "hospital", "mental_health", "pharmacy"]
    assert claims["line"].tolist() == ["1", "2", "", "1"]
    assert [str(d)[:10] for d in claims["service_date"]] == [
        "2024-01-15", "2024-02-29", "2024-12-31", "2023-06-30"]
    assert claims["paid_date"].isna().tolist() == [True, False, True, False]
    assert report(full_table_read[kind]).amount_accepted == 27466 - 268 + 12 + 123450


@pytest.mark.parametrize("kind, rows", [("xlsx", [2, 3, 4, 5]), ("csv", [2, 3, 4, 5]),
                                        ("parquet", [1, 2, 3, 4])])
def test_row_numbers_are_sheet_rows_csv_lines_or_parquet_records(full_table_read, kind, rows):
    assert full_table_read[kind].claims["_row"].tolist() == rows


# -- headers ----------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", FORMATS)
@pytest.mark.parametrize("header", [
    ["Claim ID", "Member-ID", " provider_id ", "SERVICE DATE", "Domain", "AMOUNT"],
    ["claim-id", "member  id", "Provider Id", "service - date", "DOMAIN ", " Amount"],
])
def test_headers_match_ignoring_case_spaces_and_hyphens(tmp_path, kind, header):
    path = write_table(tmp_path / f"c.{kind}", [header, claim(amount="1.50")])
    assert read(path).claims["amount"].tolist() == [150]


@pytest.mark.parametrize("kind", FORMATS)
def test_the_columns_map_renames_a_users_headers(tmp_path, kind):
    header = ["Declaratie-Nr", "Verzekerde", "Zorgaanbieder", "Datum", "Domein", "BEDRAG",
              "Opmerking"]
    path = write_table(tmp_path / f"c.{kind}", [header, [*claim(amount="12.34"), "note"]])
    options = ReadOptions(columns={"Declaratie nr": "claim_id", "verzekerde": "member_id",
                                   "Zorgaanbieder": "provider_id", "Datum": "Service Date",
                                   "Domein": "domain", "Bedrag": "amount"})
    claims = read(path, options=options).claims
    assert claims["amount"].tolist() == [1234]
    assert claims["member_id"].tolist() == ["M1"]


@pytest.mark.parametrize("kind", ["xlsx", "csv"])
def test_title_rows_above_the_header_are_skipped(tmp_path, kind):
    rows = [["Claims export, insurer X"], ["printed", "2025-01-02"], [], HEADER,
            claim("C1", "1.00"), claim("C2", "abc")]
    inputs = read(write_table(tmp_path / f"c.{kind}", rows))
    assert inputs.claims["_row"].tolist() == [5]
    assert [(row, column) for row, column, _ in rejects(inputs)] == [(6, "amount")]


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"])
def test_a_csv_header_cell_wrapped_over_two_lines_is_read(tmp_path, end):
    """A header cell wrapped in Excel and saved as CSV ("Service⏎Date", quoted) matches
    service_date; the data and its line numbers start after the header's second line."""
    lines = ["Claims export", ",".join(HEADER[:3]) + ',"Service' + end + 'Date",'
             + ",".join(HEADER[4:]), ",".join(claim("C1", "1.00")), ",".join(claim("C2", "x"))]
    path = write_text(tmp_path / "c.csv", end.join(lines) + end)
    inputs = read(path)
    # Line 1: the title; lines 2 and 3: the header; C1 on line 4, C2 on line 5.
    assert inputs.claims["_row"].tolist() == [4]
    assert [(row, column) for row, column, _ in rejects(inputs)] == [(5, "amount")]


def test_data_lines_ending_in_a_delimiter_the_header_lacks_are_read(tmp_path):
    """Some exports end every data line with a delimiter but not the header: the empty
    field after it is left out, in memory and in batches. Past the lines the header search
    sees, a line without it is set aside, saying why."""
    from fileio.sources import read_table
    from fileio.tables import CLAIMS

    lines = [",".join(HEADER)] + [",".join(claim(f"C{i}")) + "," for i in range(40)]
    lines.append(",".join(claim("C40")))
    path = write_text(tmp_path / "c.csv", "\n".join(lines) + "\n")
    inputs = read(path)
    assert inputs.claims["claim_id"].tolist() == [f"C{i}" for i in range(40)]
    ((row, _, reason),) = rejects(inputs)
    assert row == 42 and reason == ("has 6 fields where the header has 6 and the other "
                                    "lines one more, empty, after a last delimiter")
    whole = read_table(path, CLAIMS, {})
    columns, rows, _, malformed = _batches_as_one(path, 7)
    assert rows == whole.rows.tolist() and malformed == whole.malformed
    assert columns["claim_id"] == [f"C{i}" for i in range(40)]


def test_a_quote_left_open_in_a_title_above_the_csv_header_spoils_only_its_line(tmp_path):
    """A title with an unmatched quote would, read as CSV, run on into the header: the
    header is then looked for line by line, as before the quote."""
    lines = ['Claims for "Q1', ",".join(HEADER), ",".join(claim("C1", "1.00"))]
    inputs = read(write_text(tmp_path / "c.csv", "\n".join(lines) + "\n"))
    assert inputs.claims["_row"].tolist() == [3]


def test_a_csv_header_wrapped_over_lines_is_read_alike_in_batches(tmp_path):
    from fileio.sources import read_table
    from fileio.tables import CLAIMS

    lines = [",".join(HEADER[:3]) + ',"service\ndate",' + ",".join(HEADER[4:])]
    lines += [",".join(claim(f"C{i}")) for i in range(5)]
    path = write_text(tmp_path / "c.csv", "\n".join(lines) + "\n")
    whole = read_table(path, CLAIMS, {})
    columns, rows, _, _ = _batches_as_one(path, 2)
    assert rows == whole.rows.tolist() == [3, 4, 5, 6, 7]
    assert columns["claim_id"] == [f"C{i}" for i in range(5)]


def test_csv_rows_are_numbered_by_the_line_they_start_on_when_values_span_lines(tmp_path):
    """Quoted values with line breaks (\\r\\n, \\n, \\r) push the later rows, a malformed
    line and a blank line down: each rejected row names the line its record starts on,
    read at once and in batches."""
    from fileio.sources import csv_batches, read_table
    from fileio.tables import CLAIMS

    def line(claim_id, amount, note):
        return ",".join([*claim(claim_id, amount)[:5], amount, note])

    text = "\r\n".join([
        "Title", ",".join(HEADER) + ",note",              # lines 1-2
        line("C1", "1.00", '"two\r\nlines\nthree"'),      # lines 3-5
        line("C2", "x", "plain"),                          # line 6
        "short,row",                                       # line 7
        "",                                                # line 8
        line("C3", "y", '"a\rb"'),                         # lines 9-10
        line("C4", "z", "p")])                             # line 11
    path = write_text(tmp_path / "c.csv", text)
    inputs = read(path)
    assert inputs.claims["_row"].tolist() == [3]
    assert sorted(row for row, _, _ in rejects(inputs)) == [6, 7, 9, 11]
    whole = read_table(path, CLAIMS, {})
    assert [number for number, _, _ in whole.malformed] == [7]
    _, rows, _, malformed = _batches_as_one(path, 2)
    lines = list(csv_batches(path, CLAIMS, {}, 2))[-1].record_lines
    assert lines[rows].tolist() == whole.rows.tolist() == [3, 6, 9, 11]
    assert [lines[number] for number, _, _ in malformed] == [7]


def test_a_line_break_cut_between_two_blocks_counts_once(tmp_path):
    from fileio.sources import _scan

    path = tmp_path / "c.csv"
    path.write_bytes(b"x" * ((1 << 24) - 1) + b"\r\n" + b"a\rb\n\nlast")
    assert _scan(path, utf8=True) == (True, 5)
    path.write_bytes(b"x\r\r\n\xe9\n")
    assert _scan(path, utf8=True) == (False, 3)


def test_an_error_value_in_an_optional_column_rejects_its_row(tmp_path):
    """A failed lookup (#N/A) in care_code is not a blank care code: the row is rejected
    with the error as its value, and the sheet's other rows are read as before."""
    import re

    header = [*HEADER, "care_code"]
    path = write_xlsx(tmp_path / "c.xlsx", {"claims": [
        header, [*claim("C1"), "A1"], [*claim("C2"), "A2"], [*claim("C3"), "A3"]]})
    rewrite_xlsx(path, lambda name, part: re.sub(
        rb'<c r="G3"[^>]*>.*?</c>', b'<c r="G3" t="e"><f>VLOOKUP(A3,X!A:B,2,0)</f>'
        b"<v>#N/A</v></c>", part) if name.startswith("xl/worksheets/") else part)
    inputs = read(path)
    assert inputs.claims["claim_id"].tolist() == ["C1", "C3"]
    assert rejects(inputs) == [
        (3, "care_code", "an error value (#N/A); correct the formula or type the value")]
    assert inputs.rejected["value"].tolist() == ["#N/A"]


def test_a_sheet_that_starts_lower_and_further_right_keeps_its_row_numbers(tmp_path):
    rows = [[], [], [None, *HEADER], [None, *claim("C1", "1.00")], [],
            [None, *claim("C2", "x")]]
    inputs = read(write_xlsx(tmp_path / "c.xlsx", {"claims": rows}))
    assert inputs.claims["_row"].tolist() == [4]
    assert [row for row, _, _ in rejects(inputs)] == [6]


# -- sheets -----------------------------------------------------------------------------------

def test_a_one_sheet_workbook_is_the_claims_sheet(tmp_path):
    path = write_xlsx(tmp_path / "c.xlsx", {"Blad1": [HEADER, claim()]})
    inputs = read(path)
    assert inputs.claims["_sheet"].tolist() == ["Blad1"]
    assert inputs.members is None


def test_the_claims_workbook_can_hold_the_members_sheet(tmp_path):
    path = write_xlsx(tmp_path / "c.xlsx", {
        "Members": [MEMBERS_HEADER, member("M1"), member("M2")],
        "Claims": [HEADER, claim(member="M1"), claim("C2", member="M3")],
    })
    inputs = read(path)
    assert inputs.members["member_id"].tolist() == ["M1", "M2"]
    assert inputs.claims["claim_id"].tolist() == ["C1"]
    assert [(r.table, r.sheet) for r in inputs.reports] == [("claims", "Claims"),
                                                            ("members", "Members")]


def test_a_workbook_of_several_sheets_without_a_claims_sheet_is_refused(tmp_path):
    path = write_xlsx(tmp_path / "c.xlsx", {"2023": [HEADER], "2024": [HEADER]})
    message = error_of(path)
    assert message.startswith(str(path))
    assert "no sheet named 'claims'" in message and "2023, 2024" in message


# -- row numbers of rejected rows -------------------------------------------------------------

def test_rejected_rows_point_at_the_sheet_row(tmp_path):
    rows = [["Claims 2024"],                                     # row 1
            HEADER,                                              # row 2
            claim("C1"),                                         # row 3
            claim("C2", amount="abc"),                           # row 4
            [],                                                  # row 5, blank
            claim("C3", date="2024-02-30"),                      # row 6
            claim("C4", date="45306", amount="x"),               # row 7: the date fails first
            claim("C5", member=None),                            # row 8
            claim("C6")]                                         # row 9
    inputs = read(write_xlsx(tmp_path / "c.xlsx", {"claims": rows}))
    assert [(row, column) for row, column, _ in rejects(inputs)] == [
        (4, "amount"), (6, "service_date"), (7, "service_date"), (8, "member_id")]
    assert inputs.claims["_row"].tolist() == [3, 9]
    values = dict(zip(inputs.rejected["row"], inputs.rejected["value"]))
    assert values[4] == "abc" and values[7] == "45306" and values[8] == ""
    assert report(inputs).blank_rows == 1


def test_rejected_rows_point_at_the_csv_line_around_malformed_lines(tmp_path):
    text = ("Claims export\n"                                 # line 1
            ",,,,,\n"                                         # line 2
            "claim_id,member_id,provider_id,service_date,domain,amount\n"  # line 3
            "C1,M1,P1,2024-01-01,gp,1.00\n"                   # line 4
            "\n"                                              # line 5, blank
            "C2,M1,P1,2024-01-02,gp,2.00,surplus\n"           # line 6, too many fields
            "C3,M1,P1,2024-01-03,gp,abc\n"                    # line 7
            "C4,M1,P1,2024-01-04,gp\n"                        # line 8, too few fields
            "C5,M1,P1,2024-02-30,gp,5.00\n"                   # line 9
            "C6,M1,P1,2024-01-06,gp,6.00\n")                  # line 10
    inputs = read(write_text(tmp_path / "c.csv", text))
    assert [(row, column) for row, column, _ in rejects(inputs)] == [
        (6, ""), (7, "amount"), (8, ""), (9, "service_date")]
    reasons = dict((row, reason) for row, _, reason in rejects(inputs))
    assert reasons[6] == "has 7 fields where the header has 6"
    assert reasons[8] == "has 5 fields where the header has 6"
    assert inputs.claims["_row"].tolist() == [4, 10]
    assert inputs.claims["amount"].tolist() == [100, 600]
    counts = report(inputs)
    assert (counts.rows_read, counts.rows_accepted, counts.rows_rejected, counts.blank_rows) \
        == (6, 2, 4, 1)


def test_csv_line_numbers_hold_across_read_blocks(tmp_path):
    # About 2 MB: pyarrow reads it in several blocks and threads.
    lines = ["claim_id,member_id,provider_id,service_date,domain,amount"]
    lines += [f"C{i},M{i % 97},P1,2024-01-01,gp,{i % 1000}.25" for i in range(60_000)]
    for index in (100, 40_000, 59_000):   # line number = list index + 1
        lines[index] += ",surplus"
    lines[50_000] = ""
    inputs = read(write_text(tmp_path / "big.csv", "\n".join(lines) + "\n"))
    assert [row for row, _, _ in rejects(inputs)] == [101, 40_001, 59_001]
    claims = inputs.claims
    # claim C{i} was written on line i + 2
    assert (claims["_row"] == claims["claim_id"].str[1:].astype(int) + 2).all()
    assert len(claims) == 60_000 - 3 - 1


@pytest.mark.parametrize("kind, blank", [
    ("xlsx", 2),       # sheet rows 3 and 4; nothing is written in row 6, the sheet ends at 5
    ("csv", 3),        # lines 3 (empty), 4 (",,,,,") and 6 (empty)
    ("parquet", 1),    # a record of nulls; the empty rows are not written at all
])
def test_blank_rows_are_counted_not_rejected(tmp_path, kind, blank):
    rows = [HEADER, claim("C1"), [], [None] * 6, claim("C2"), []]
    inputs = read(write_table(tmp_path / f"c.{kind}", rows))
    counts = report(inputs)
    assert inputs.rejected.empty
    assert (counts.rows_read, counts.rows_accepted, counts.blank_rows) == (2, 2, blank)
    assert inputs.claims["_row"].tolist() == ([1, 3] if kind == "parquet" else [2, 5])


# -- CSV dialects and encodings ---------------------------------------------------------------

@pytest.mark.parametrize("delimiter, encoding, bom, line_end", [
    (",", "utf-8", True, "\n"),
    (";", "utf-8", False, "\r\n"),
    (";", "cp1252", False, "\r\n"),
    ("\t", "utf-8", False, "\n"),
    ("|", "cp1252", False, "\n"),
])
def test_csv_dialects(tmp_path, delimiter, encoding, bom, line_end):
    rows = [HEADER, claim("C1", "1.25", member="Zoë"), claim("C2", "-3.50", member="Ærø")]
    path = write_csv(tmp_path / "c.csv", rows, delimiter=delimiter, encoding=encoding, bom=bom,
                     line_end=line_end)
    claims = read(path).claims
    assert claims["claim_id"].tolist() == ["C1", "C2"]   # the BOM is not part of claim_id
    assert claims["member_id"].tolist() == ["Zoë", "Ærø"]
    assert claims["amount"].tolist() == [125, -350]


def test_a_cp1252_letter_after_the_first_megabyte(tmp_path):
    # The encoding is guessed from the first megabyte; this file is plain ASCII until then.
    lines = [",".join(HEADER)] + [",".join(claim(f"C{i}", "1.00")) for i in range(40_000)]
    lines.append(",".join(claim("CX", "2.00", member="Zoë")))
    path = write_text(tmp_path / "c.csv", "\n".join(lines) + "\n", encoding="cp1252")
    assert path.stat().st_size > 1 << 20
    claims = read(path).claims
    assert claims["member_id"].iloc[-1] == "Zoë" and claims["_row"].iloc[-1] == 40_002
    assert claims["amount"].sum() == 40_000 * 100 + 200


def test_decimal_comma_csv_with_semicolons(tmp_path):
    rows = [HEADER, claim("C1", "1.234,56"), claim("C2", "-0,125"), claim("C3", "1,234.56")]
    path = write_csv(tmp_path / "c.csv", rows, delimiter=";")
    inputs = read(path, options=ReadOptions(decimal_comma=True))
    assert inputs.claims["amount"].tolist() == [123456, -12]  # -12.5 cents -> even -12
    assert [row for row, _, _ in rejects(inputs)] == [4]
    plain = read(path)
    assert "decimal_comma" in rejects(plain)[0][2]


def test_day_first_dates_need_date_format(tmp_path):
    path = write_csv(tmp_path / "c.csv", [HEADER, claim(date="15-01-2024"),
                                          claim("C2", date="2024-01-16")])
    assert "date_format" in rejects(read(path))[0][2]
    claims = read(path, options=ReadOptions(date_format="%d-%m-%Y")).claims
    assert [str(d)[:10] for d in claims["service_date"]] == ["2024-01-15", "2024-01-16"]


def test_excel_date_cells_and_date_numbers(tmp_path):
    rows = [HEADER, claim("C1", date=D(2024, 1, 15)),
            claim("C2", date=datetime.datetime(2024, 1, 16, 14, 30)),
            claim("C3", date=45306)]            # a number, not a date cell
    inputs = read(write_xlsx(tmp_path / "c.xlsx", {"claims": rows}))
    assert [str(d)[:10] for d in inputs.claims["service_date"]] == ["2024-01-15", "2024-01-16"]
    [(row, column, reason)] = rejects(inputs)
    assert (row, column) == (4, "service_date") and "date_format" in reason


def test_parquet_typed_columns(tmp_path):
    import pyarrow as pa

    rows = [HEADER,
            [1, 17, "P1", datetime.datetime(2024, 1, 15, 9, 30, 0, 250000), "gp", 2.675],
            [2, 18, "P1", datetime.datetime(2024, 1, 16), "gp", float("nan")]]
    path = write_parquet(tmp_path / "c.parquet", rows,
                         types={"claim_id": pa.int64(), "member_id": pa.float64(),
                                "service_date": pa.timestamp("ms")})
    inputs = read(path)
    claims = inputs.claims
    assert claims["claim_id"].tolist() == ["1"] and claims["member_id"].tolist() == ["17"]
    assert claims["amount"].tolist() == [268]
    assert str(claims["service_date"][0])[:10] == "2024-01-15"
    assert rejects(inputs) == [(2, "amount", "required value is blank")]


# -- files that cannot be used ----------------------------------------------------------------

def test_parquet_decimal_dictionary_and_nullable_integer_columns(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "c.parquet"
    pq.write_table(pa.table({
        "claim_id": pa.array(["C1", "C2", "C1"]).dictionary_encode(),
        "line": pa.array([1, 1, 2], pa.int32()),
        "member_id": pa.array(["M1", "M1", "M1"], pa.large_string()),
        "provider_id": ["P1", "P1", "P1"],
        "service_date": pa.array([D(2024, 1, 15)] * 3, pa.date32()),
        "domain": ["gp", "gp", "gp"],
        "quantity": pa.array([2, None, 1], pa.int64()),
        "amount": pa.array([Decimal("2.675"), Decimal("-1.005"), Decimal("3")],
                           pa.decimal128(6, 3)),
    }), path)
    claims = read(path).claims
    assert claims["line"].tolist() == ["1", "1", "2"]
    assert claims["quantity"].tolist() == [2.0, 1.0, 1.0]
    assert claims["amount"].tolist() == [268, -100, 300]  # 267.5 -> 268, -100.5 -> -100


def test_parquet_dictionary_cells_of_white_space_are_blank(tmp_path):
    """A categorical (dictionary) column, as pandas writes one, is judged by its text:
    a member id or service date of spaces is a blank required value, not an id."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "c.parquet"
    pq.write_table(pa.table({
        "claim_id": ["C1", "C2", "C3"],
        "member_id": pa.array(["M1", "  ", "M1"]).dictionary_encode(),
        "provider_id": ["P1", "P1", "P1"],
        "service_date": pa.array(["2024-01-15", "2024-01-15", " "]).dictionary_encode(),
        "domain": ["gp", "gp", "gp"],
        "amount": [1.0, 2.0, 3.0],
    }), path)
    inputs = read(path)
    assert inputs.claims["claim_id"].tolist() == ["C1"]
    assert rejects(inputs) == [(2, "member_id", "required value is blank"),
                               (3, "service_date", "required value is blank")]


@pytest.mark.parametrize("kind", FORMATS)
def test_a_missing_required_column_names_the_file_and_the_column(tmp_path, kind):
    header = [h for h in HEADER if h != "amount"] + ["Bedrag"]
    path = write_table(tmp_path / f"c.{kind}", [header, claim()])
    message = error_of(path)
    assert message.startswith(str(path))
    assert "lacks required column(s) amount" in message and "Bedrag" in message
    assert "columns:" in message


@pytest.mark.parametrize("kind", FORMATS)
def test_a_column_twice_in_the_header_is_refused(tmp_path, kind):
    path = write_table(tmp_path / f"c.{kind}", [[*HEADER, "Amount "], [*claim(), "2.00"]])
    message = error_of(path)
    assert message.startswith(str(path))
    assert "'amount' appears twice" in message


def test_a_csv_without_any_header_row_is_refused(tmp_path):
    path = write_text(tmp_path / "c.csv", "a,b,c\n1,2,3\n")
    assert "no header row with the claims columns" in error_of(path)


OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # old .xls, or an encrypted .xlsx


def _valid_xlsx(path: Path) -> bytes:
    return write_xlsx(path, {"claims": [HEADER, claim()]}).read_bytes()


def _truncated_xlsx(path: Path) -> None:
    data = _valid_xlsx(path)
    path.write_bytes(data[: len(data) // 2])


def _rezip(path: Path, change=lambda name, part: part, extra=None) -> None:
    """Write a valid workbook at ``path`` with its parts changed and ``extra`` parts added."""
    _valid_xlsx(path)
    rewrite_xlsx(path, change, extra)


def _with_doctype(name: str, part: bytes) -> bytes:
    if name.startswith("xl/worksheets/"):
        return b'<!DOCTYPE lolz [<!ENTITY lol "lol">]>' + part
    return part


def _cut_sheet(name: str, part: bytes) -> bytes:
    return part[: len(part) // 2] if name.startswith("xl/worksheets/") else part


def _garbage_workbook(name: str, part: bytes) -> bytes:
    return b"<workbook>garbage" if name == "xl/workbook.xml" else part


UNREADABLE = {
    # name: (file name, how to make it (path -> None), words the message must hold)
    "missing": ("gone.xlsx", lambda p: None, ["no such file"]),
    "directory": ("folder.csv", lambda p: p.mkdir(), ["not a regular file"]),
    "empty csv": ("c.csv", lambda p: p.write_bytes(b""), ["empty"]),
    "empty xlsx": ("c.xlsx", lambda p: p.write_bytes(b""), ["empty"]),
    "csv named xlsx": ("c.xlsx", lambda p: p.write_text("claim_id,amount\nC1,2\n"),
                       ["not a readable .xlsx", "rename it to .csv"]),
    "random bytes xlsx": ("c.xlsx",
                          lambda p: p.write_bytes(bytes(random.Random(1).randrange(128, 256)
                                                        for _ in range(4000))),
                          ["not a readable .xlsx workbook", "save it as .xlsx"]),
    "truncated xlsx": ("c.xlsx", _truncated_xlsx, ["damaged", "truncated"]),
    "password protected": ("c.xlsx", lambda p: p.write_bytes(OLE2_MAGIC + b"\0" * 600),
                           ["password", "save it as .xlsx"]),
    "entity bomb": ("c.xlsx", lambda p: _rezip(p, change=_with_doctype),
                    ["declares XML entities", "refused"]),
    "zip bomb": ("c.xlsx",  # 20 MiB of zeros pack a thousand fold
                 lambda p: _rezip(p, extra={"xl/padding.xml": b"\0" * (20 * 1024**2)}),
                 ["zip bomb", "refused"]),
    "cut sheet xml": ("c.xlsx", lambda p: _rezip(p, change=_cut_sheet), ["cannot read the sheet"]),
    "bad workbook xml": ("c.xlsx", lambda p: _rezip(p, change=_garbage_workbook),
                         ["cannot open the workbook"]),
    "not parquet": ("c.parquet", lambda p: p.write_text("claim_id,amount\nC1,2\n"),
                    ["not a readable Parquet file"]),
    "binary csv": ("c.csv", lambda p: p.write_bytes(b"PK\x03\x04\x00\x00binary\x00"),
                   ["not a text (CSV) file"]),
    "old xls": ("c.xls", lambda p: p.write_bytes(OLE2_MAGIC), ["save it as .xlsx"]),
    "unknown type": ("c.json", lambda p: p.write_text("{}"), ["unknown file type '.json'"]),
    "empty sheet": ("c.xlsx", lambda p: write_xlsx(p, {"claims": []}), ["the sheet is empty"]),
}


@pytest.mark.parametrize("name", list(UNREADABLE))
def test_unreadable_files_stop_with_one_sentence_naming_the_file(tmp_path, name):
    file_name, make, words = UNREADABLE[name]
    path = tmp_path / file_name
    make(path)
    message = error_of(path)
    assert message.startswith(str(path))
    for word in words:
        assert word in message
    assert "\n" not in message and "Traceback" not in message and message.endswith(".")


def test_a_claims_file_named_twice_is_read_once(tmp_path):
    path = write_csv(tmp_path / "c.csv", [HEADER, claim("C1", "1.00"), claim("C2", "2.00")])
    inputs = read(path, path)
    assert [(r.rows_read, r.rows_accepted, r.amount_read) for r in inputs.reports] == [
        (2, 2, 300)]
    assert inputs.rejected.empty


def test_an_unreadable_members_file_names_that_file(tmp_path):
    claims = write_csv(tmp_path / "c.csv", [HEADER, claim()])
    members = write_text(tmp_path / "m.parquet", "member_id\nM1\n")
    assert error_of(claims, members=members).startswith(f"{members}: not a readable Parquet")


# -- row rules --------------------------------------------------------------------------------

def test_an_exact_copy_is_kept_once_and_the_copy_rejected(tmp_path):
    rows = [HEADER, claim("C1", "5.00"), claim("C2", "7.00"), claim("C1", "5.00")]
    inputs = read(write_csv(tmp_path / "c.csv", rows))
    assert inputs.claims["claim_id"].tolist() == ["C1", "C2"]
    [(row, column, reason)] = rejects(inputs)
    assert (row, column) == (4, "claim_id,line")
    assert "exact copy" in reason and "row 2" in reason
    assert inputs.rejected["value"].tolist() == ["C1/"]


def test_an_exact_copy_in_a_second_file_points_at_the_first(tmp_path):
    first = write_csv(tmp_path / "a.csv", [HEADER, claim("C1", "5.00")])
    second = write_xlsx(tmp_path / "b.xlsx", {"claims": [HEADER, claim("C2"),
                                                         claim("C1", 5.0)]})
    inputs = read(first, second)
    assert inputs.claims["claim_id"].tolist() == ["C1", "C2"]
    [(row, _, reason)] = rejects(inputs)
    assert row == 3 and reason == f"exact copy of {first} row 2 (kept once)"


def test_repeats_of_a_key_with_different_content_are_all_rejected(tmp_path):
    header = ["claim_id", "line", *HEADER[1:]]
    rows = [header,
            ["C1", "1", *claim(amount="5.00")[1:]],
            ["C1", "2", *claim(amount="6.00")[1:]],    # another line of the same claim
            ["C1", "1", *claim(amount="5.01")[1:]],    # the key of row 2, another amount
            ["C1", "1", *claim(amount="5.00")[1:]]]    # an exact copy of row 2
    inputs = read(write_csv(tmp_path / "c.csv", rows))
    assert inputs.claims["amount"].tolist() == [600]
    found = rejects(inputs)
    assert [row for row, _, _ in found] == [2, 4, 5]
    assert "exact copy" in found[2][2]
    assert all("repeated with different content" in reason for _, _, reason in found[:2])


def test_repeated_members_follow_the_same_rule_and_take_their_claims_along(tmp_path):
    claims = write_csv(tmp_path / "c.csv", [HEADER, claim("C1", member="M1"),
                                            claim("C2", member="M2")])
    members = write_csv(tmp_path / "m.csv", [
        MEMBERS_HEADER, member("M1", sex="F"), member("M1", sex="F"),
        member("M2", sex="F"), member("M2", sex="M")])
    inputs = read(claims, members=members)
    assert inputs.members["member_id"].tolist() == ["M1"]
    assert [(row, reason[:10]) for row, _, reason in rejects(inputs, "members")] == [
        (3, "exact copy"), (4, "member_id "), (5, "member_id ")]
    assert rejects(inputs) == [
        (3, "member_id", "member not in the members table (or its members row was rejected)")]


def test_claims_of_members_missing_from_the_members_table(tmp_path):
    claims = write_csv(tmp_path / "c.csv", [HEADER, claim("C1", member="M1"),
                                            claim("C2", member="M9")])
    members = write_csv(tmp_path / "m.csv", [MEMBERS_HEADER, member("M1")])
    with_members = read(claims, members=members)
    assert with_members.claims["claim_id"].tolist() == ["C1"]
    assert [(row, column) for row, column, _ in rejects(with_members)] == [(3, "member_id")]
    without = read(claims)
    assert without.claims["claim_id"].tolist() == ["C1", "C2"] and without.members is None


def test_sex_written_as_words_or_dutch_letters_is_read(tmp_path):
    """F, M and X, in any case; also Female/Male (Woman/Man) and the Dutch V (vrouw)."""
    claims = write_csv(tmp_path / "c.csv", [HEADER, claim("C1", member="M1")])
    written = ["f", "Female", "woman", "V", "Vrouw", "m", "MALE", "man", "x", "", "Q"]
    members = write_csv(tmp_path / "m.csv", [MEMBERS_HEADER] + [
        member(f"M{i}", sex=sex) for i, sex in enumerate(written, 1)])
    inputs = read(claims, members=members)
    assert inputs.members["sex"].tolist()[:9] == ["F"] * 5 + ["M"] * 3 + ["X"]
    assert [(row, column) for row, column, _ in rejects(inputs, "members")] == [(12, "sex")]


def test_a_member_listed_with_other_leading_zeros_is_said_to_be(tmp_path):
    """12345 in the claims (a spreadsheet kept the id as a number) and 012345 in the
    members table: still rejected, with the likely cause; 0 against 00 too."""
    claims = write_csv(tmp_path / "c.csv", [HEADER, claim("C1", member="12345"),
                                            claim("C2", member="M9"), claim("C3", member="00")])
    members = write_csv(tmp_path / "m.csv", [MEMBERS_HEADER, member("012345"), member("0")])
    reasons = [reason for _, _, reason in rejects(read(claims, members=members))]
    assert [r.startswith("member not in the members table, which has it with other "
                         "leading zeros") for r in reasons] == [True, False, True]


def test_enrollment_that_ends_before_it_starts_is_rejected(tmp_path):
    claims = write_csv(tmp_path / "c.csv", [HEADER, claim("C1", member="M1"),
                                            claim("C2", member="M2")])
    members = write_csv(tmp_path / "m.csv", [
        MEMBERS_HEADER,
        member("M1", enrollment_start="2024-03-01", enrollment_end="2024-03-01"),  # one day
        member("M2", enrollment_start="2024-03-01", enrollment_end="2024-02-29")])
    inputs = read(claims, members=members)
    assert inputs.members["member_id"].tolist() == ["M1"]
    assert rejects(inputs, "members") == [(3, "enrollment_end", "enrollment ends before it starts")]
    assert inputs.rejected.loc[inputs.rejected["table"] == "members", "value"].tolist() == [
        "2024-02-29"]
    assert [row for row, _, _ in rejects(inputs)] == [3]


def test_enrollment_and_attribution_tables(tmp_path):
    claims = write_csv(tmp_path / "c.csv", [HEADER, claim(member="M1")])
    members = write_csv(tmp_path / "m.csv", [MEMBERS_HEADER, member("M1")])
    enrollment = write_csv(tmp_path / "e.csv", [
        ["member_id", "enrollment_start", "enrollment_end"],
        ["M1", "2024-01-01", "2024-03-31"],
        ["M1", "2024-06-01", "2024-05-31"],     # reversed
        ["M7", "2024-01-01", "2024-12-31"]])    # unknown member
    attribution = write_csv(tmp_path / "a.csv", [
        ["member_id", "year", "provider_id"],
        ["M1", "2024", "P1"], ["M1", "2025.0", "P2"],
        ["M7", "2024", "P1"],                   # unknown member
        ["M1", "2026.5", "P1"]])                # not a year
    inputs = read(claims, members=members, enrollment=enrollment, attribution=attribution)
    assert len(inputs.enrollment) == 1
    assert [(row, column) for row, column, _ in rejects(inputs, "enrollment")] == [
        (3, "enrollment_end"), (4, "member_id")]
    assert inputs.attribution["year"].tolist() == [2024, 2025]
    assert [(row, column) for row, column, _ in rejects(inputs, "attribution")] == [
        (4, "member_id"), (5, "year")]


@pytest.mark.parametrize("column, cell, accepted, reason", [
    ("sex", "F", "F", None),
    ("sex", "m", "M", None),          # stored upper-case
    ("sex", " x ", "X", None),
    ("sex", "Q", None, "not one of F, M, X"),
    ("sex", "boy", None, "not one of F, M, X"),
    ("risk_score", "0.5", 0.5, None),
    ("risk_score", "0", None, "must be greater than 0"),
    ("risk_score", "-1.2", None, "must be greater than 0"),
    ("risk_score", "high", None, "not a number"),
    ("birth_date", "1950-02-29", None, "not a real calendar date"),
    ("segment", "Elderly", "elderly", None),
])
def test_member_cells(tmp_path, column, cell, accepted, reason):
    claims = write_csv(tmp_path / "c.csv", [HEADER, claim()])
    members = write_csv(tmp_path / "m.csv", [MEMBERS_HEADER, member("M1", **{column: cell})])
    inputs = read(claims, members=members)
    if reason is None:
        assert inputs.members[column].tolist() == [accepted]
    else:
        assert rejects(inputs, "members") == [(2, column, reason)]


@pytest.mark.parametrize("cell, quantity, reason", [
    ("3", 3.0, None),
    ("0", 0.0, None),
    ("0.5", 0.5, None),
    ("", 1.0, None),                  # default 1
    ("-1", None, "must not be below 0"),
    ("two", None, "not a number"),
])
def test_quantity(tmp_path, cell, quantity, reason):
    path = write_csv(tmp_path / "c.csv", [[*HEADER, "quantity"], [*claim(), cell]])
    inputs = read(path)
    if reason is None:
        assert inputs.claims["quantity"].tolist() == [quantity]
    else:
        assert rejects(inputs) == [(2, "quantity", reason)]


def test_negative_amounts_are_corrections_and_kept(tmp_path):
    rows = [HEADER, claim("C1", "120.00"), claim("C2", "-120.00"), claim("C3", "-0.01")]
    inputs = read(write_csv(tmp_path / "c.csv", rows))
    assert inputs.claims["amount"].tolist() == [12000, -12000, -1]
    assert report(inputs).amount_accepted == -1


@pytest.mark.parametrize("column", ["claim_id", "member_id", "provider_id", "service_date",
                                    "domain", "amount"])
def test_required_cells_may_not_be_blank(tmp_path, column):
    row = claim()
    row[HEADER.index(column)] = "  "
    inputs = read(write_csv(tmp_path / "c.csv", [HEADER, row, claim("C2")]))
    assert rejects(inputs) == [(2, column, "required value is blank")]


# -- reconciliation ---------------------------------------------------------------------------

def assert_reconciles(inputs: Inputs) -> None:
    for r in inputs.reports:
        assert r.rows_read == r.rows_accepted + r.rows_rejected, r
        if r.amount_read is not None:
            assert r.amount_read == r.amount_accepted + r.amount_rejected, r


def test_reconciliation_totals_are_the_hand_computed_sums(tmp_path):
    rows = [HEADER,
            claim("C1", "10.00"),                       # accepted   1000
            claim("C2", "20.505"),                      # accepted   2050 (2050.5 -> even)
            claim("C3", "-5.25"),                       # accepted   -525
            claim("C4", "abc"),                         # rejected      0 (not an amount)
            claim("C5", "7.125", date="2024-02-30"),    # rejected    712 (712.5 -> even)
            claim("C1", "10.00"),                       # rejected   1000 (exact copy)
            claim("C6", "1", member="M9")]              # rejected    100 (unknown member)
    claims = write_csv(tmp_path / "c.csv", rows)
    members = write_csv(tmp_path / "m.csv", [MEMBERS_HEADER, member("M1")])
    inputs = read(claims, members=members)
    counts = report(inputs)
    assert (counts.rows_read, counts.rows_accepted, counts.rows_rejected) == (7, 3, 4)
    assert counts.amount_accepted == 1000 + 2050 - 525
    assert counts.amount_rejected == 0 + 712 + 1000 + 100
    assert counts.amount_read == 1000 + 2050 - 525 + 712 + 1000 + 100
    assert inputs.claims["amount"].sum() == counts.amount_accepted
    assert report(inputs, "members").amount_read is None  # the members table has no amounts
    assert_reconciles(inputs)


def test_every_report_reconciles_over_tables_formats_and_files(tmp_path):
    workbook = write_xlsx(tmp_path / "w.xlsx", {
        "claims": [HEADER, claim("C1", 1.5), claim("C2", "x"), claim("C3", 2.25, member="M9")],
        "members": [MEMBERS_HEADER, member("M1"), member("M2", sex="Q")],
        "fee_schedule": [["care_code", "tariff"], ["A1", 12.5], ["A2", "n/a"]],
    })
    csv_claims = write_csv(tmp_path / "c.csv", [HEADER, claim("C4", "3.00"),
                                                claim("C1", "1.50"), claim("C5", "1,5")])
    parquet_claims = write_parquet(tmp_path / "c.parquet", [HEADER, claim("C6", 4.0)])
    inputs = read(workbook, csv_claims, parquet_claims)
    assert_reconciles(inputs)
    assert sorted((r.table, Path(r.file).suffix) for r in inputs.reports) == [
        ("claims", ".csv"), ("claims", ".parquet"), ("claims", ".xlsx"),
        ("fee_schedule", ".xlsx"), ("members", ".xlsx")]
    assert sum(r.rows_rejected for r in inputs.reports) == len(inputs.rejected)
    # accepted: C1 150, C4 300, C6 400; C1 in the CSV is an exact copy of the workbook's
    assert sorted(inputs.claims["amount"]) == [150, 300, 400]
    assert inputs.fee_schedule["tariff"].tolist() == [1250]
    assert all(len(r.sha256) == 64 for r in inputs.reports)


def test_splitting_the_claims_in_two_files_changes_nothing(tmp_path):
    rows = [claim("C1", "1.00"), claim("C2", "2.675"), claim("C3", "x"), claim("C4", "4.00"),
            # the second file:
            claim("C1", "1.00"),                       # an exact copy of a first-file row
            claim("C4", "4.01"),                       # a differing repeat of one
            claim("C5", "-0.50"), claim("C6", "6.00", date="2024-13-01")]
    whole = read(write_csv(tmp_path / "all.csv", [HEADER, *rows]))
    halves = read(write_csv(tmp_path / "a.csv", [HEADER, *rows[:4]]),
                  write_xlsx(tmp_path / "b.xlsx", {"claims": [HEADER, *rows[4:]]}))
    assert content(whole.claims) == content(halves.claims)
    for field in ("rows_read", "rows_accepted", "rows_rejected", "amount_read",
                  "amount_accepted", "amount_rejected"):
        assert sum(getattr(r, field) for r in whole.reports) == \
            sum(getattr(r, field) for r in halves.reports)
    # C1 100 + C2 268 + C5 -50; C4 both rejected
    assert report(whole).amount_accepted == 100 + 268 - 50


def reference_cents(text: str) -> int | None:
    """The cents of an amount cell by :mod:`decimal`, or None when it is not an amount."""
    if not text or text.strip() != text or "e" in text.lower() or "," in text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    if not value.is_finite():
        return None
    context = Context(prec=100)
    cents = int(value.scaleb(2, context).quantize(Decimal(1), ROUND_HALF_EVEN, context))
    return cents if abs(cents) <= 100_000_000 * 100 else None


CELLS = {
    "claim_id": st.sampled_from(["C1", "C2", "C3", "C4", ""]),
    "line": st.sampled_from(["1", "2", ""]),
    "member_id": st.sampled_from(["M1", "M2", "M3", ""]),
    "provider_id": st.sampled_from(["P1", "P2"]),
    "service_date": st.sampled_from(["2024-01-15", "2023-12-31", "2024-02-30", "45306", ""]),
    "domain": st.sampled_from(["gp", "Hospital", ""]),
    "quantity": st.sampled_from(["", "1", "2.5", "-1", "x"]),
    "amount": st.one_of(
        st.decimals(-10**4, 10**4, places=3, allow_nan=False).map(lambda d: f"{d:f}"),
        st.sampled_from(["abc", "1,5", "", "1e3", "123456789012", "0.005", "-2.675"])),
}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.fixed_dictionaries(CELLS), max_size=25), st.data())
def test_random_claims_reconcile_and_do_not_depend_on_order_or_files(
        tmp_path_factory, rows, data):
    folder = tmp_path_factory.mktemp("claims")
    members = write_csv(folder / "members.csv", [MEMBERS_HEADER, member("M1"), member("M2")])
    table = [list(CELLS), *([row[c] for c in CELLS] for row in rows)]
    original = read(write_csv(folder / "c.csv", table), members=members)

    assert_reconciles(original)
    counts = report(original)
    assert counts.rows_read == len(rows)     # provider_id is never blank: no blank rows
    assert counts.rows_accepted == len(original.claims)
    assert counts.amount_accepted == original.claims["amount"].sum()
    assert counts.amount_read == sum(reference_cents(row["amount"]) or 0 for row in rows)

    order = data.draw(st.permutations(range(len(rows))))
    cut = data.draw(st.integers(0, len(rows)))
    shuffled = [table[0], *(table[1:][i] for i in order)]
    variants = [
        read(write_csv(folder / "shuffled.csv", shuffled), members=members),
        read(write_csv(folder / "a.csv", shuffled[: cut + 1]),
             write_csv(folder / "b.csv", [table[0], *shuffled[cut + 1:]]), members=members),
    ]
    for variant in variants:
        assert_reconciles(variant)
        assert content(variant.claims) == content(original.claims)
        for field in ("rows_read", "rows_accepted", "amount_read", "amount_accepted"):
            assert sum(getattr(r, field) for r in variant.reports if r.table == "claims") \
                == getattr(counts, field)


def test_parquet_in_many_row_groups_reads_as_in_one(tmp_path):
    """Parquet columns arrive in chunks (one per row group); they are parsed as they come."""
    import pyarrow.parquet as pq

    from fileio.inputs import read_inputs
    from fileio.sample_data import write_sample

    write_sample(tmp_path, members=60, formats=("parquet",))
    table = pq.read_table(tmp_path / "claims.parquet")
    pq.write_table(table, tmp_path / "chunked.parquet", row_group_size=97)
    assert pq.ParquetFile(tmp_path / "chunked.parquet").num_row_groups > 5
    whole, chunked = (read_inputs([tmp_path / name], members=tmp_path / "members.parquet")
                      for name in ("claims.parquet", "chunked.parquet"))
    columns = [c for c in whole.claims.columns if c != "_file"]
    pd.testing.assert_frame_equal(whole.claims[columns], chunked.claims[columns])
    def rejections(inputs, name):  # the file's name appears in "exact copy of FILE row N"
        frame = inputs.rejected.drop(columns="file")
        return frame.assign(reason=frame["reason"].str.replace(str(tmp_path / name), "FILE"))

    pd.testing.assert_frame_equal(rejections(whole, "claims.parquet"),
                                  rejections(chunked, "chunked.parquet"))


@pytest.mark.parametrize("size", [10, 1_100])
def test_rows_with_a_repeated_key_are_found_by_counting_or_by_sorting(size):
    """Few key values are counted directly; many (here 1 100 x 1 100 combinations) are
    sorted. Either way the two rows sharing a key are found, and only they."""
    from fileio.validation import _rows_with_repeated_key

    first = [f"A{i}" for i in range(size)]
    second = [f"B{i}" for i in range(size)]
    second[-1], first[-1] = second[3], first[3]  # the last row repeats row 3's key
    frame = pd.DataFrame({"a": pd.array(first, dtype="string[pyarrow]"),
                          "b": pd.array(second, dtype="string[pyarrow]")})
    rows = _rows_with_repeated_key(frame, ["a", "b"], np.arange(size))
    assert rows.tolist() == [3, size - 1]


def _batches_as_one(path: Path, batch_rows: int):
    """csv_batches' batches put together: columns, row numbers, blank rows, malformed."""
    import pyarrow as pa

    from fileio.sources import csv_batches
    from fileio.tables import CLAIMS

    batches = list(csv_batches(path, CLAIMS, {}, batch_rows))
    columns = {name: pa.concat_arrays([b.columns[name] for b in batches]).to_pylist()
               for name in batches[0].columns}
    return (columns, np.concatenate([b.rows for b in batches]).tolist(),
            sum(b.blank_rows for b in batches), [m for b in batches for m in b.malformed])


@pytest.mark.parametrize("batch_rows", [1, 2, 3, 7, 1000])
def test_csv_read_in_batches_is_the_csv_read_at_once(tmp_path, batch_rows):
    """The out-of-core engine's CSV batches give the rows, row numbers, blank rows and
    malformed lines of one read: a title row, blank lines, malformed lines first, last,
    together and between batches, and a cp1252 letter beyond the first megabyte."""
    from fileio.sources import read_table
    from fileio.tables import CLAIMS

    lines = ["Export of 1 March", ",".join(HEADER), "too,few", ",".join(claim("C1")), "",
             ",".join(claim("C2")), "x,y", "a,b", ",".join(claim("C3")), ",,,,,",
             ",".join(claim("C4", member="Ma")), "one,too,many,,,,,,,,,"]
    lines += [",".join(claim(f"C{i}")) for i in range(5, 40)] + ["last,short"]
    path = tmp_path / "c.csv"
    text = "\n".join(lines) + "\n"
    path.write_bytes(text.encode("utf-8") + b" " * (1 << 20) + b"\n"
                     + ",".join(claim("C99", member="Caf\xe9")).encode("cp1252") + b"\n"
                     + "caf\xe9,x\n".encode("cp1252"))
    whole = read_table(path, CLAIMS, {})
    columns, rows, blank, malformed = _batches_as_one(path, batch_rows)
    assert columns == {name: array.to_pylist() for name, array in whole.columns.items()}
    assert rows == whole.rows.tolist()
    assert blank == whole.blank_rows and malformed == whole.malformed
    assert columns["member_id"][-1] == "Café"
    # Too few fields, x,y, a,b, too many, last,short, the line of spaces, and a cp1252
    # line of too few fields.
    assert [m[0] for m in malformed] == [3, 7, 8, 12, 48, 49, 51]
    assert malformed[-1][1] == "café,x"
    assert rows[:4] == [4, 6, 9, 11] and blank == 2  # the empty line and ,,,,,


def test_a_csv_not_utf8_throughout_is_read_as_cp1252_whatever_column_the_byte_is_in(
        tmp_path, capfd):
    """UTF-8 for its first megabyte, then a cp1252 letter in a column fundcalc does not
    read: the file is cp1252, so a UTF-8 é in a column it reads comes out as two
    letters, the same in memory and in batches, and nothing is printed."""
    from fileio.sources import read_table
    from fileio.tables import CLAIMS

    header = ",".join([*HEADER, "note"])
    first = ",".join([*claim("C1", member="Jos\u00e9"), "ok"])
    path = tmp_path / "c.csv"
    path.write_bytes((header + "\n" + first + "\n").encode("utf-8") + b" " * (1 << 20)
                     + b"\n" + ",".join([*claim("C2"), "caf\xe9"]).encode("latin-1") + b"\n")
    whole = read_table(path, CLAIMS, {})
    assert whole.columns["member_id"].to_pylist() == ["Jos\u00c3\u00a9", "M1"]
    assert _batches_as_one(path, 1)[0]["member_id"] == ["Jos\u00c3\u00a9", "M1"]
    assert capfd.readouterr().err == ""


def test_a_file_hash_is_worked_out_again_after_a_rewrite_that_keeps_size_and_time(tmp_path):
    import os

    from fileio.sources import file_sha256

    path = tmp_path / "c.csv"
    path.write_bytes(b"abc")
    first = file_sha256(path)
    times = os.stat(path)
    path.write_bytes(b"xyz")
    os.utime(path, ns=(times.st_atime_ns, times.st_mtime_ns))  # as cp -p leaves it
    assert file_sha256(path) != first


def test_ctrl_c_while_the_other_tables_are_read_stops_without_reading_every_claims_file(
        tmp_path, monkeypatch):
    import time

    from fileio import inputs

    files = [write_table(tmp_path / f"c{i}.csv", [HEADER, claim(f"C{i}")]) for i in range(30)]
    read = []

    def slow_read(path, *args, **kwargs):
        time.sleep(0.02)
        read.append(path)

    def interrupted(*args, **kwargs):
        time.sleep(0.05)
        raise KeyboardInterrupt

    monkeypatch.setattr(inputs, "read_table", slow_read)
    monkeypatch.setattr(inputs, "optional_tables", interrupted)
    with pytest.raises(KeyboardInterrupt):
        read_inputs(files)
    assert len(read) < 10
