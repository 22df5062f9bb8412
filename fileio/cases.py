"""``fundcalc settle``: read a file of cases, settle them, write them back with the results.

The cases file (``.csv``, ``.xlsx`` or ``.parquet``) has one row per case with
``benchmark`` and ``expenditure`` and, where needed, ``members``,
``coefficient_of_variation`` and any sharing term as a column. The output repeats every
input column as given and adds the results (:data:`funding_models.cases.RESULT_COLUMNS`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from contracts.loading import SettlementTerms
from fileio.atomic import atomic_output
from fileio.csv_text import formula_safe
from fileio.errors import InputError
from fileio.parsing import as_text, is_blank, parse_money, parse_number
from fileio.sources import check_readable, read_table
from fileio.tables import ColumnSpec, TableSpec, normalise_header
from fileio.workbook import write_table_workbook
from funding_models.cases import CASE_FIGURES, CASE_TERMS, RESULT_COLUMNS, settle_cases
from funding_models.results import ColumnKind, cents_to_units

#: The cases table: the figures of a case and the terms it may set.
CASES = TableSpec("cases", (
    ColumnSpec("benchmark", "money", required=True),
    ColumnSpec("expenditure", "money", required=True),
    ColumnSpec("members", "number", minimum=0),
    ColumnSpec("coefficient_of_variation", "number", minimum=0),
    *(ColumnSpec(term, "text") for term in CASE_TERMS),
))

#: Largest benchmark or expenditure of a case, in currency units: a population's year, far
#: beyond a claim line's limit, with cents still exact in a float.
MAX_CASE_AMOUNT = 1e12

#: How the result columns are shown in a workbook.
RESULT_KINDS: dict[str, ColumnKind] = {
    "savings": "money", "savings_rate": "rate", "minimum_savings_rate": "rate",
    "minimum_loss_rate": "rate", "shared_savings": "money", "shared_losses": "money",
    "net_settlement": "money", "status": "text",
}

_MONEY_RESULTS = [c for c, kind in RESULT_KINDS.items() if kind == "money"]


@dataclass(frozen=True)
class SettledCases:
    """What ``fundcalc settle`` did: counts to report, and the input columns replaced."""

    cases: int
    settled: int
    replaced_columns: list[str]

    @property
    def not_settled(self) -> int:
        """Cases left blank, each with a status saying why."""
        return self.cases - self.settled


def settle_case_file(path: Path, output: Path, terms: SettlementTerms) -> SettledCases:
    """Read the cases, settle each, and write the output (``.csv`` or ``.xlsx``).

    Raises
    ------
    InputError
        When the cases file cannot be read or lacks benchmark or expenditure, or the
        output is neither ``.csv`` nor ``.xlsx``.
    fileio.atomic.OutputPathError
        When the output cannot be written.
    """
    kind = output.suffix.lower()
    if kind not in (".csv", ".xlsx"):
        raise InputError(f"{output}: the output must be a .csv or .xlsx file")
    check_readable(path)
    rename = {normalise_header(k): normalise_header(v)
              for k, v in terms.settings.columns.items()}
    raw = read_table(path, CASES, rename, all_columns=True)
    names = [name for name, _ in raw.as_given]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InputError(f"{path}: column(s) {', '.join(map(repr, repeated))} appear twice "
                         "in the header; give each column its own name.")
    cases, problems = _parse_cases(raw.columns, terms.settings.decimal_comma)
    results = settle_cases(cases, terms.terms, problems)
    given = {name: array for name, array in raw.as_given}
    # A term column the results repeat (minimum_savings_rate) is replaced by its value
    # as resolved; any other input column named like a result is reported.
    replaced = [name for name in given if normalise_header(name) in RESULT_COLUMNS]
    table = pd.DataFrame({name: _as_given(array) for name, array in given.items()
                          if name not in replaced})
    replaced = [name for name in replaced if normalise_header(name) not in CASE_TERMS]
    for column in RESULT_COLUMNS:
        table[column] = (cents_to_units(results[column].to_numpy())
                         if column in _MONEY_RESULTS else results[column].to_numpy())
    table = _with_malformed_lines(table, raw.malformed)
    if kind == ".csv":
        _write_csv(table, output, path)
    else:
        write_table_workbook(_numbers_where_numeric(table), output, kinds=RESULT_KINDS,
                             sheet="settlement", currency=terms.settings.currency,
                             inputs=[path])
    settled = int(results["status"].str.startswith("ok").sum())
    return SettledCases(len(table), settled, replaced)


def _with_malformed_lines(table: pd.DataFrame, malformed) -> pd.DataFrame:
    """CSV lines that could not be split into the header's fields, as cases not settled
    (their cells blank), so that every line of the file has its row in the output."""
    if not malformed:
        return table
    lines = pd.DataFrame({"status": [
        f"not settled: line {number}: {reason} ({text[:80]!r})" if number else
        f"not settled: {reason} ({text[:80]!r})" for number, text, reason in malformed]})
    return pd.concat([table, lines.reindex(columns=table.columns)], ignore_index=True)


def _parse_cases(columns: dict[str, pa.Array], decimal_comma: bool
                 ) -> tuple[pd.DataFrame, pd.Series]:
    """Figures as numbers (money in cents, NaN when blank) and terms as written; per row,
    the first figure that could not be read."""
    count = len(next(iter(columns.values()))) if columns else 0
    frame = pd.DataFrame(index=pd.RangeIndex(count))
    problems = np.full(count, None, dtype=object)
    for name in CASE_FIGURES:
        if name not in columns:
            continue
        column = columns[name]
        if name in ("benchmark", "expenditure"):
            values, reasons = parse_money(column, decimal_comma, limit=MAX_CASE_AMOUNT)
            values = values.astype(np.float64)
        else:
            values, reasons = parse_number(column, decimal_comma)
            reasons.set(~np.isnan(values) & (values < 0), "below 0", only_new=True)
        problem = reasons.as_objects()
        blank = is_blank(column)
        values = np.where(blank | ~pd.isna(problem), np.nan, values)
        text = as_text(column).to_numpy(zero_copy_only=False)
        described = np.array([f"{name}: {p} (got {t!r})" if p is not None else None
                              for p, t in zip(problem, text)], dtype=object)
        problems = np.where(pd.isna(problems), described, problems)
        frame[name] = values
    for term in CASE_TERMS:
        if term in columns:
            frame[term] = _term_values(columns[term], decimal_comma)
    return frame, pd.Series(problems, dtype=object)


def _term_values(column: pa.Array, decimal_comma: bool) -> np.ndarray:
    """A term column's cells: numbers (``3.9%`` = 0.039; ``3,9%`` with ``decimal_comma``)
    as floats, other text lower-case, blanks None."""
    text = pd.Series(as_text(column).to_numpy(zero_copy_only=False), dtype=object)
    if decimal_comma:
        text = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    percent = text.str.endswith("%", na=False)
    digits = text.where(~percent, text.str[:-1].str.strip())
    numbers = pd.to_numeric(digits, errors="coerce") / np.where(percent, 100.0, 1.0)
    words = text.str.strip().str.lower()
    return np.where(numbers.notna(), numbers.astype(object), words.astype(object))


def _as_given(array: pa.Array) -> np.ndarray:
    return as_text(array).to_numpy(zero_copy_only=False)


#: Text a workbook may show as a number without changing it: no leading zeros (an id such
#: as 007 stays text), no exponent, at most 15 significant digits (what a cell keeps).
_PLAIN_NUMBER = r"-?(0|[1-9][0-9]{0,14})(\.[0-9]{1,15})?"


def _numbers_where_numeric(table: pd.DataFrame) -> pd.DataFrame:
    """Input columns whose every filled cell is a plain number become numbers (for a
    workbook); any other column keeps its text as given."""
    converted = table.copy()
    for name in table.columns:
        if name in RESULT_KINDS:
            continue
        values = table[name]
        filled = values.dropna()
        if len(filled) and filled.astype(str).str.strip().str.fullmatch(_PLAIN_NUMBER).all():
            converted[name] = pd.to_numeric(values, errors="coerce")
    return converted


def _write_csv(table: pd.DataFrame, output: Path, source: Path) -> None:
    safe = table.copy()
    for name in safe.columns:
        if not pd.api.types.is_numeric_dtype(safe[name]):
            safe[name] = formula_safe(safe[name])
    safe.columns = formula_safe(pd.Series(list(safe.columns), dtype=object)).tolist()
    with atomic_output(output, inputs=[source]) as temporary:
        safe.to_csv(temporary, index=False, lineterminator="\n")
