"""Vectorised parsing of one input column into typed values, with a reason for each failure.

Every parser takes a pyarrow array (text as read from a spreadsheet or CSV, or a typed
Parquet column) and returns ``(values, problem)``: a numpy array of parsed values and a
numpy object array holding, for each row, ``None`` when the value parsed (or was blank) or
a short reason when it did not. Blank cells are reported separately by :func:`is_blank`;
whether a blank is allowed is the caller's decision.
"""
from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: Largest amount one claim line may carry, in currency units; a larger one is taken as
#: an export error (and keeps sums of many lines far from int64's limit).
MAX_LINE_AMOUNT = 100_000_000

#: Marks an amount too large for int64 cents until :func:`parse_money` words it.
_TOO_LARGE = "amount too large"

_PLAIN_NUMBER = r"^[+-]?(\d+(\.\d*)?|\.\d+)$"
_COMMA_NUMBER = r"^[+-]?\d{1,3}(\.\d{3})*(,\d*)?$|^[+-]?\d+(,\d*)?$"
_FITS_DECIMAL = r"^[+-]?(\d{1,13}(\.\d{0,18})?|\.\d{1,18})$"
_ISO_DATE = r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$"
_DATE_HINT = "use an Excel date or YYYY-MM-DD text, or set date_format in the contracts file"


def as_text(column: pa.Array) -> pa.Array:
    """The column as trimmed text, with empty strings as nulls.

    Typed columns (from Parquet) are cast to text first; floats that hold whole numbers
    lose their ``.0`` so that an id stored as 123.0 reads as ``123``.
    """
    if pa.types.is_floating(column.type):
        values = column.to_numpy(zero_copy_only=False)
        whole = np.isfinite(values) & (values == np.round(values)) & (np.abs(values) < 2**53)
        column = pa.array(
            np.where(whole, np.where(whole, values, 0).astype(np.int64).astype(str),
                     values.astype(str)),
            mask=np.isnan(values) if not whole.all() else None,
        )
    elif pa.types.is_integer(column.type):
        return pc.cast(column, pa.string())  # digits only: nothing to trim, never empty
    elif not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        column = pc.cast(column, pa.string())
    text = pc.utf8_trim_whitespace(column)
    return pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)


def is_blank(column: pa.Array) -> np.ndarray:
    """True where the cell is empty (null or only white space; NaN in a float column)."""
    if pa.types.is_dictionary(column.type):  # judged by its values (Parquet categoricals)
        column = pc.cast(column, column.type.value_type)
    if pa.types.is_floating(column.type):
        return pc.fill_null(pc.is_nan(column), True).to_numpy(zero_copy_only=False)
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return column.is_null().to_numpy(zero_copy_only=False)
    return as_text(column).is_null().to_numpy(zero_copy_only=False)


def _reasons(bad: np.ndarray, reason: str) -> np.ndarray:
    problem = np.full(len(bad), None, dtype=object)
    problem[bad] = reason
    return problem


def parse_money(column: pa.Array, decimal_comma: bool = False,
                limit: float = MAX_LINE_AMOUNT) -> tuple[np.ndarray, np.ndarray]:
    """Parse amounts into integer cents, rounding half to even.

    Text is parsed as a decimal, never through a binary float, so ``"2.675"`` becomes 268
    cents. Floats (Parquet) are read as the shortest decimal that gives them back, so float
    noise such as ``274.65999999999997`` becomes 27466.

    Parameters
    ----------
    column : pyarrow.Array
        Text or numbers.
    decimal_comma : bool
        Read text such as ``1.234,56`` (dots group thousands, the comma is the decimal
        mark).
    limit : float
        Largest amount accepted, in currency units (default one claim line's,
        :data:`MAX_LINE_AMOUNT`); at most 10¹³ so that cents stay exact.

    Returns
    -------
    cents : numpy.ndarray of int64
        Amounts in cents (0 where blank or not parsed).
    problem : numpy.ndarray of object
        ``None`` or the reason the cell is not an amount.

    Examples
    --------
    >>> import pyarrow as pa
    >>> parse_money(pa.array(["2.675", "1.234,56", "abc"]))[0].tolist()
    [268, 0, 0]
    """
    if pa.types.is_floating(column.type) or pa.types.is_integer(column.type):
        cents, problem = _float_cents(column.to_numpy(zero_copy_only=False).astype(np.float64))
    else:
        cents, problem = _text_cents(as_text(column), decimal_comma)
    beyond = f"amount beyond ±{limit:,.0f} (an export error?)"
    problem[problem == _TOO_LARGE] = beyond
    too_large = (problem == None) & (np.abs(cents) > limit * 100)  # noqa: E711
    problem[too_large] = beyond
    cents[problem != None] = 0  # noqa: E711
    return cents, problem


def _text_cents(text: pa.Array, decimal_comma: bool) -> tuple[np.ndarray, np.ndarray]:
    present = text.is_valid().to_numpy(zero_copy_only=False)
    if decimal_comma:
        ok = pc.match_substring_regex(text, _COMMA_NUMBER)
        text = pc.replace_substring(pc.replace_substring(text, ".", ""), ",", ".")
        hint = "not an amount (with decimal_comma: true write 1.234,56)"
    else:
        ok = pc.match_substring_regex(text, _PLAIN_NUMBER)
        hint = "not an amount (write 1234.56; for 1.234,56 set decimal_comma: true)"
    ok = pc.fill_null(ok, False).to_numpy(zero_copy_only=False)
    # Past the 17th decimal only whether a non-zero digit follows matters for rounding to
    # cents, so such tails shrink to one sticky 1 (0.005000…0001 still rounds up).
    if pc.any(pc.greater(pc.utf8_length(text), 18)).as_py():
        text = pc.replace_substring_regex(text, r"^([+-]?\d*\.\d{17})0*$", r"\1")
        text = pc.replace_substring_regex(text, r"^([+-]?\d*\.\d{17})\d*[1-9]\d*$",
                                          r"\11")  # RE2: group 1, then a 1
    # decimal128(38, 18) holds 20 integer digits and overflows silently beyond them, so
    # only short enough numbers go through the cast; longer ones are absurd amounts.
    fits = pc.fill_null(pc.match_substring_regex(text, _FITS_DECIMAL), False)
    fits = fits.to_numpy(zero_copy_only=False)
    digits = pc.if_else(pa.array(ok & fits), text, pa.scalar("0"))
    rounded = pc.round(pc.cast(digits, pa.decimal128(38, 18)), ndigits=2,
                       round_mode="half_to_even")
    units = pc.cast(rounded, pa.float64()).to_numpy(zero_copy_only=False)
    cents = np.where(ok & ~fits, np.inf, np.rint(units * 100))
    problem = _reasons(present & ~ok, hint)
    return _clip_to_int(cents, problem)


def _float_cents(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    problem = _reasons(~np.isfinite(values) & ~np.isnan(values), "not a finite amount")
    scaled = np.where(np.isfinite(values), values, 0.0) * 100
    cents = np.rint(scaled)
    # Where x * 100 lies within float noise of a half cent, binary rounding may fall on
    # the wrong side: settle those few by the decimal the float was written as.
    near_half = np.abs(np.abs(scaled - np.floor(scaled)) - 0.5) < 1e-6
    for i in np.flatnonzero(near_half):
        cents[i] = float(Decimal(repr(float(values[i]))).scaleb(2).to_integral_value(ROUND_HALF_EVEN))
    return _clip_to_int(cents, problem)


def _clip_to_int(cents: np.ndarray, problem: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    huge = ~(np.abs(cents) <= 2**62)
    problem[huge & (problem == None)] = _TOO_LARGE  # noqa: E711
    return np.where(huge, 0, cents).astype(np.int64), problem


def parse_number(column: pa.Array, decimal_comma: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Parse plain numbers (quantities, risk scores) into float64.

    Returns
    -------
    values : numpy.ndarray of float64
        NaN where blank or not parsed.
    problem : numpy.ndarray of object
        ``None`` or why the cell is not a number.
    """
    if pa.types.is_floating(column.type) or pa.types.is_integer(column.type):
        values = column.to_numpy(zero_copy_only=False).astype(np.float64)
        problem = _reasons(np.isinf(values), "not a finite number")
        return np.where(np.isinf(values), np.nan, values), problem
    text = as_text(column)
    present = text.is_valid().to_numpy(zero_copy_only=False)
    if decimal_comma:
        ok = pc.match_substring_regex(text, _COMMA_NUMBER)
        text = pc.replace_substring(pc.replace_substring(text, ".", ""), ",", ".")
    else:
        ok = pc.match_substring_regex(text, _PLAIN_NUMBER)
    ok = pc.fill_null(ok, False).to_numpy(zero_copy_only=False)
    safe = pc.if_else(pa.array(ok), text, pa.scalar(None, pa.string()))
    values = pc.cast(safe, pa.float64()).to_numpy(zero_copy_only=False)
    problem = _reasons(present & ~ok, "not a number")
    # Hundreds of digits overflow to infinity, which no quantity or score can be.
    problem[np.isinf(values)] = "not a finite number"
    return np.where(np.isinf(values), np.nan, values), problem


def parse_date(column: pa.Array, date_format: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Parse dates: Excel dates, ISO ``YYYY-MM-DD`` text, or text in ``date_format``.

    A time of day after the date is ignored. Impossible dates such as 30 February and
    years outside 1900–2199 are rejected.

    Returns
    -------
    values : numpy.ndarray of datetime64[D]
        NaT where blank or not parsed.
    problem : numpy.ndarray of object
        ``None`` or why the cell is not a date.
    """
    if pa.types.is_timestamp(column.type) or pa.types.is_date(column.type):
        if pa.types.is_timestamp(column.type) and column.type.tz is not None:
            column = pc.local_timestamp(column)  # the day on the wall clock, not in UTC
        # Flooring in numpy keeps times of day (a cast to seconds refuses milliseconds).
        values = column.to_numpy(zero_copy_only=False).astype("datetime64[D]")
        return _check_date_range(values, np.full(len(values), None, dtype=object))
    text = as_text(column)
    present = text.is_valid().to_numpy(zero_copy_only=False)
    iso = pc.fill_null(pc.match_substring_regex(text, _ISO_DATE), False)
    iso_text = pc.if_else(iso, text, pa.scalar("1900-01-01"))
    year = pc.cast(pc.utf8_slice_codeunits(iso_text, 0, 4), pa.int32()).to_numpy(zero_copy_only=False)
    month = pc.cast(pc.utf8_slice_codeunits(iso_text, 5, 7), pa.int32()).to_numpy(zero_copy_only=False)
    day = pc.cast(pc.utf8_slice_codeunits(iso_text, 8, 10), pa.int32()).to_numpy(zero_copy_only=False)
    values, valid_day = _compose_dates(year, month, day)
    iso = iso.to_numpy(zero_copy_only=False)
    problem = _reasons(present & ~iso, f"not a date ({_DATE_HINT})")
    problem[iso & ~valid_day] = "not a real calendar date"
    values[~(iso & valid_day)] = np.datetime64("NaT")
    if date_format:
        values, problem = _parse_with_format(text, date_format, values, problem, present & ~iso)
    return _check_date_range(values, problem)


def _compose_dates(year, month, day) -> tuple[np.ndarray, np.ndarray]:
    good_month = (month >= 1) & (month <= 12)
    month_start = (np.clip(year, 1, 9999) - 1970) * 12 + np.where(good_month, month - 1, 0)
    first = month_start.astype("datetime64[M]").astype("datetime64[D]")
    next_first = (month_start + 1).astype("datetime64[M]").astype("datetime64[D]")
    days_in_month = (next_first - first).astype(np.int64)
    valid = good_month & (day >= 1) & (day <= days_in_month)
    return first + np.where(valid, day - 1, 0).astype("timedelta64[D]"), valid


def _parse_with_format(text, date_format, values, problem, candidates):
    import pandas as pd

    rows = np.flatnonzero(candidates)
    if len(rows) == 0:
        return values, problem
    subset = pd.Series(pc.take(text, pa.array(rows)).to_pylist(), dtype=object)
    parsed = pd.to_datetime(subset, format=date_format, errors="coerce").to_numpy()
    good = ~np.isnat(parsed)
    values[rows[good]] = parsed[good].astype("datetime64[D]")
    problem[rows[good]] = None
    problem[rows[~good]] = f"not a date in date_format {date_format!r}"
    return values, problem


#: The first and last day accepted.
_FIRST_DAY, _LAST_DAY = np.datetime64("1900-01-01", "D"), np.datetime64("2199-12-31", "D")


def _check_date_range(values: np.ndarray, problem: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    out_of_range = ~np.isnat(values) & ((values < _FIRST_DAY) | (values > _LAST_DAY))
    problem[out_of_range] = "date outside the years 1900-2199"
    values = values.copy()
    values[out_of_range] = np.datetime64("NaT")
    return values, problem


def parse_integer(column: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Parse whole numbers (such as a year); ``2024.0`` is accepted as 2024."""
    values, problem = parse_number(column)
    not_whole = ~np.isnan(values) & (values != np.round(values))
    problem[not_whole & (problem == None)] = "not a whole number"  # noqa: E711
    return values, problem
