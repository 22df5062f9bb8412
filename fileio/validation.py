"""Turn raw cells into typed rows, each accepted or rejected with a reason.

A row is rejected for its first failing column (in the table's column order) with the
cell's value and the reason. Rules that look across rows — repeated keys, members missing
from the members table, enrollment that ends before it starts — run on the rows of all
files of a table together, so that splitting a file in two changes nothing.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fileio import parsing
from fileio.sources import RawTable
from fileio.tables import ColumnSpec, TableSpec
from funding_models.results import REJECTED_COLUMNS


#: The dtype of parsed text columns.
TEXT = pd.StringDtype("pyarrow")

#: Tables of this many rows are parsed two columns at a time: below it, starting the
#: threads costs more than they save.
PARALLEL_FROM = 100_000


@dataclass
class ParsedTable:
    """All rows of one table (every file), typed, with the reason for each rejected row.

    ``frame`` holds the spec's columns plus ``_file``, ``_sheet`` and ``_row``;
    ``problem_column``, ``problem_value`` and ``problem_reason`` are ``None`` for rows that
    are accepted so far.
    """

    spec: TableSpec
    frame: pd.DataFrame
    problem_column: np.ndarray
    problem_value: np.ndarray
    problem_reason: np.ndarray
    amount_cents: np.ndarray | None

    @property
    def ok(self) -> np.ndarray:
        """True for rows not (yet) rejected."""
        return pd.isna(self.problem_reason)

    def reject(self, mask: np.ndarray, column: str, values, reason) -> None:
        """Reject the rows of ``mask`` that are still accepted."""
        mask = mask & self.ok
        self.problem_column[mask] = column
        self.problem_value[mask] = np.asarray(values, dtype=object)[mask] if np.ndim(values) else values
        self.problem_reason[mask] = np.asarray(reason, dtype=object)[mask] if np.ndim(reason) else reason


def parse_raw(raw: RawTable, spec: TableSpec, *, decimal_comma: bool = False,
              date_format: str | None = None) -> ParsedTable:
    """Parse one file's cells column by column (vectorised; from
    :data:`PARALLEL_FROM` rows two columns at a time, as Arrow and numpy let go of the
    interpreter while they work)."""
    n = len(raw.rows)
    columns: dict[str, object] = {}
    # Per column only its failing rows (positions and reasons), not a reason per row.
    failures: list[tuple[str, np.ndarray, np.ndarray, pa.Array]] = []
    amount = None
    given = [c for c in spec.columns if c.name in raw.columns]

    def parse(spec_column: ColumnSpec):
        return _parse_distinct(spec_column, raw.columns[spec_column.name], decimal_comma,
                               date_format)

    if n >= PARALLEL_FROM:
        with ThreadPoolExecutor(max_workers=2) as pool:
            parsed = dict(zip([c.name for c in given], pool.map(parse, given)))
    else:
        parsed = {c.name: parse(c) for c in given}
    for spec_column in spec.columns:
        array = raw.columns.get(spec_column.name)
        if array is None:
            columns[spec_column.name] = _absent(spec_column, n)
            continue
        values, problems = parsed[spec_column.name]
        if spec_column.name in raw.error_cells:
            _excel_errors(problems, raw.rows, raw.error_cells[spec_column.name])
        columns[spec_column.name] = values
        if spec_column.name == spec.amount_column:
            amount = values
        bad = np.flatnonzero(problems.bad)
        if len(bad):
            failures.append((spec_column.name, bad, problems.as_objects(bad), array))
    # Where each row came from: one file and sheet per table read, so categoricals.
    columns["_file"] = pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), [raw.file])
    columns["_sheet"] = pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), [raw.sheet])
    columns["_row"] = raw.rows
    frame = pd.DataFrame(columns)
    problem_column = np.full(n, None, dtype=object)
    problem_value = np.full(n, None, dtype=object)
    problem_reason = np.full(n, None, dtype=object)
    for name, bad, reasons, array in reversed(failures):  # first failing column wins
        text = parsing.as_text(array.take(pa.array(bad))).to_numpy(zero_copy_only=False)
        problem_column[bad] = name
        problem_value[bad] = np.where(pd.isna(text), "", text)
        problem_reason[bad] = reasons
    return ParsedTable(spec, frame, problem_column, problem_value, problem_reason, amount)


def _excel_errors(problems: parsing.Problems, rows: np.ndarray, errors: dict[int, str]
                  ) -> None:
    """Give each cell that holds an Excel error (``errors``: sheet row -> ``#N/A``...)
    that error as its reason, before any other: a formula that failed has no value."""
    numbers = np.fromiter(errors, dtype=np.int64)
    texts = np.array(list(errors.values()), dtype=object)
    at = np.searchsorted(rows, numbers)
    for text in sorted(set(texts)):
        where = np.zeros(len(rows), dtype=bool)
        where[at[texts == text]] = True
        problems.set(where, f"an error value ({text}); correct the formula or type the value")


def _absent(spec_column: ColumnSpec, n: int):
    if spec_column.name == "quantity":
        return np.ones(n)
    if spec_column.kind == "date":
        return np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    if spec_column.kind in ("number", "integer"):
        return np.full(n, np.nan)
    return pd.array([""] * n if spec_column.name == "line" else [None] * n, dtype=TEXT)


def _parse_cells(spec_column: ColumnSpec, array: pa.Array, decimal_comma: bool,
                 date_format: str | None) -> tuple[object, parsing.Problems]:
    """Each cell's value and problems; a blank cell of a required column is a problem."""
    values, problems = _parse_column(spec_column, array, decimal_comma, date_format)
    if spec_column.blank_allowed:
        return values, problems
    if spec_column.kind in ("text", "lower_text", "upper_text"):
        blank = np.asarray(pd.isna(values))  # the parsed text is trimmed: missing if blank
    else:
        blank = parsing.is_blank(array)
    problems.set(blank, "required value is blank")
    return values, problems


def _parse_distinct(spec_column: ColumnSpec, array: pa.Array, decimal_comma: bool,
                    date_format: str | None) -> tuple[object, parsing.Problems]:
    """Parse a column (values, problems: :func:`_parse_cells`) once per distinct cell text.

    Every parser works cell by cell, so a text column with few distinct cells (dates,
    domains, care codes, quantities) is parsed on its distinct cells and spread back to
    the rows. A column of mostly distinct cells (claim ids) is parsed as it is.
    """
    if isinstance(array, pa.ChunkedArray) and array.num_chunks == 1:
        array = array.chunk(0)
    if (isinstance(array, pa.Array) and (pa.types.is_string(array.type)
                                         or pa.types.is_large_string(array.type))
            and _few_distinct(array.slice(0, 10_000))):
        encoded = array.dictionary_encode(null_encoding="encode")
        if _few_distinct(array, encoded.dictionary):
            distinct = encoded.dictionary
            values, problems = _parse_cells(spec_column, distinct, decimal_comma, date_format)
            row = encoded.indices.to_numpy(zero_copy_only=False)
            return values.take(row), problems.take(row)
    return _parse_cells(spec_column, array, decimal_comma, date_format)


def _few_distinct(array: pa.Array, distinct: pa.Array | None = None) -> bool:
    """Whether at most one cell in eight is distinct (worth parsing distinct cells)."""
    if distinct is None:
        distinct = array.dictionary_encode(null_encoding="encode").dictionary
    return 8 * len(distinct) <= len(array)


def _parse_column(spec_column: ColumnSpec, array: pa.Array, decimal_comma: bool,
                  date_format: str | None):
    kind = spec_column.kind
    if kind == "money":
        return parsing.parse_money(array, decimal_comma)
    if kind == "date":
        return parsing.parse_date(array, date_format)
    if kind in ("number", "integer"):
        parse = parsing.parse_number if kind == "number" else parsing.parse_integer
        values, problems = (parse(array, decimal_comma) if kind == "number" else parse(array))
        _check_minimum(spec_column, values, problems)
        if spec_column.name == "quantity":
            values = np.where(np.isnan(values), 1.0, values)
        return values, problems
    text = parsing.as_text(array)
    if kind == "lower_text":
        text = pc.utf8_lower(text)
    elif kind == "upper_text":
        text = pc.utf8_upper(text)
    values = pd.array(text.to_pandas(), dtype=TEXT)
    if spec_column.synonyms:
        values = pd.array(pd.Series(values).replace(dict(spec_column.synonyms)), dtype=TEXT)
    problems = parsing.Problems(len(values))
    if spec_column.allowed:
        wrong = ~pd.isna(values) & ~np.isin(np.asarray(values.fillna(""), dtype=object),
                                             spec_column.allowed)
        problems.set(np.asarray(wrong), f"not one of {', '.join(spec_column.allowed)}")
    if spec_column.name == "line":
        values = values.fillna("")
    return values, problems


def _check_minimum(spec_column: ColumnSpec, values: np.ndarray,
                   problems: parsing.Problems) -> None:
    """Refuse, in ``problems``, the numbers below the column's minimum."""
    if spec_column.minimum is None:
        return
    if spec_column.minimum_exclusive:
        low = values <= spec_column.minimum
        reason = f"must be greater than {spec_column.minimum:g}"
    else:
        low = values < spec_column.minimum
        reason = f"must not be below {spec_column.minimum:g}"
    problems.set(low, reason, only_new=True)


def combine(parts: list[ParsedTable]) -> ParsedTable:
    """Stack the parsed files of one table."""
    spec = parts[0].spec
    amount = None if parts[0].amount_cents is None else np.concatenate([p.amount_cents for p in parts])
    return ParsedTable(
        spec,
        pd.concat([p.frame for p in parts], ignore_index=True),
        np.concatenate([p.problem_column for p in parts]),
        np.concatenate([p.problem_value for p in parts]),
        np.concatenate([p.problem_reason for p in parts]),
        amount,
    )


def reject_repeated_keys(table: ParsedTable) -> None:
    """Apply the key rule: of exact copies one row is kept, differing repeats all go.

    The copies set aside are listed as rejected ("exact copy of …"), so that rows read
    still equal rows accepted plus rows rejected. Rows are compared in full only where
    their key repeats, which is rare, so that the common case costs one pass over the key.
    """
    key = list(table.spec.unique_key)
    if not key:
        return
    ok = table.ok
    candidates = _rows_with_repeated_key(table.frame, key, np.flatnonzero(ok))
    if not len(candidates):
        return
    content = [c.name for c in table.spec.columns]
    frame = table.frame.loc[candidates, content + ["_file", "_row"]]
    copies = frame.duplicated(subset=content, keep="first")
    if copies.any():
        first = frame.drop_duplicates(subset=content, keep="first")
        origin = frame[copies].merge(first, on=content, how="left", suffixes=("", "_first"))
        reason = ("exact copy of " + origin["_file_first"].astype(str) + " row "
                  + origin["_row_first"].astype(str) + " (kept once)").to_numpy(dtype=object)
        mask = np.zeros(len(ok), dtype=bool)
        mask[frame.index[copies.to_numpy()]] = True
        reasons = np.full(len(ok), None, dtype=object)
        reasons[mask] = reason
        table.reject(mask, ",".join(key), _key_text(table.frame, key), reasons)
        frame = frame[~copies]
    repeated = frame.duplicated(subset=key, keep=False)
    if repeated.any():
        mask = np.zeros(len(ok), dtype=bool)
        mask[frame.index[repeated.to_numpy()]] = True
        label = "+".join(key)
        table.reject(mask, ",".join(key), _key_text(table.frame, key),
                     f"{label} repeated with different content; all such rows are rejected")


def _rows_with_repeated_key(frame: pd.DataFrame, key: list[str], rows: np.ndarray
                            ) -> np.ndarray:
    """Of ``rows``, those whose key another of ``rows`` shares."""
    if len(rows) < 2:
        return rows[:0]
    combined = np.zeros(len(rows), dtype=np.int64)
    for column in key:
        codes, distinct = _numbered(frame[column])
        combined = combined * (distinct + 1) + (codes[rows] + 1)
    if combined.max() < 8 * len(rows) + 1_000_000:  # count keys directly: no sort
        repeated = np.bincount(combined)[combined] > 1
    else:
        order = np.argsort(combined, kind="stable")
        same = combined[order][1:] == combined[order][:-1]
        repeated = np.zeros(len(rows), dtype=bool)
        repeated[order[1:][same]] = True
        repeated[order[:-1][same]] = True
    return rows[repeated]


def _numbered(values: pd.Series) -> tuple[np.ndarray, int]:
    """Each value's number (-1 for a blank), and how many distinct values there are."""
    if isinstance(values.dtype, pd.StringDtype):
        # Arrow's dictionary encoding numbers text about twice as fast as pandas.
        encoded = arrow_text(values).dictionary_encode()
        return (pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False),
                len(encoded.dictionary))
    codes, distinct = pd.factorize(values)
    return codes, len(distinct)


def _key_text(frame: pd.DataFrame, key: list[str]) -> np.ndarray:
    parts = [frame[k].astype("string").fillna("").astype(str) for k in key]
    text = parts[0]
    for part in parts[1:]:
        text = text + "/" + part
    return text.to_numpy(dtype=object)


def reject_unknown_members(table: ParsedTable, known: pd.Series) -> None:
    """Reject rows whose member_id is not in the members table. An id the table lists
    with other leading zeros (``012345`` against ``12345``: a spreadsheet that stored ids
    as numbers drops them) is said to be so."""
    member = table.frame["member_id"]
    text, listed_ids = arrow_text(member), arrow_text(known)
    unknown = ~pc.fill_null(pc.is_in(text, value_set=listed_ids), True).to_numpy(
        zero_copy_only=False)
    if not unknown.any():
        return
    reason = np.full(len(unknown), "member not in the members table (or its members row "
                                   "was rejected)", dtype=object)
    rows = np.flatnonzero(unknown)
    padded = pc.is_in(pc.utf8_ltrim(text.take(pa.array(rows)), "0"),
                      value_set=pc.utf8_ltrim(listed_ids, "0"))
    reason[rows[pc.fill_null(padded, False).to_numpy(zero_copy_only=False)]] = (
        "member not in the members table, which has it with other leading zeros (ids "
        "stored as numbers lose them); store the ids as text in both")
    table.reject(unknown, "member_id", member.astype(object).to_numpy(), reason)


def arrow_text(values: pd.Series) -> pa.Array:
    """A text column as one Arrow array."""
    text = pa.array(values.astype("string[pyarrow]").array)
    return text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text


def reject_reversed_spans(table: ParsedTable) -> None:
    """Reject enrollment spans that end before they start."""
    frame = table.frame
    start = frame["enrollment_start"].to_numpy()
    end = frame["enrollment_end"].to_numpy()
    reversed_span = ~np.isnat(start) & ~np.isnat(end) & (end < start)
    shown = np.full(len(end), None, dtype=object)  # the text of the few rejected only
    shown[reversed_span] = np.datetime_as_string(end[reversed_span].astype("datetime64[D]"))
    table.reject(reversed_span, "enrollment_end", shown, "enrollment ends before it starts")


def accepted(table: ParsedTable) -> pd.DataFrame:
    """The accepted rows, with their spec columns and where they came from (the frame
    itself, not a copy, when every row is accepted)."""
    ok = table.ok
    if ok.all():
        return table.frame.reset_index(drop=True)
    return table.frame.loc[ok].reset_index(drop=True)


def rejected(table: ParsedTable) -> pd.DataFrame:
    """The rejected rows as :data:`REJECTED_COLUMNS`."""
    bad = ~table.ok
    frame = table.frame.loc[bad]
    return pd.DataFrame({
        "file": frame["_file"].to_numpy(dtype=object),
        "sheet": frame["_sheet"].to_numpy(dtype=object),
        "table": table.spec.name,
        "row": frame["_row"].to_numpy(),
        "column": table.problem_column[bad],
        "value": table.problem_value[bad],
        "reason": table.problem_reason[bad],
    }, columns=list(REJECTED_COLUMNS))
