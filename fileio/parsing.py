"""Vectorised parsing of one input column into typed values, with a reason for each failure.

Every parser takes a pyarrow array (text as read from a spreadsheet or CSV, or a typed
Parquet column) and returns ``(values, problems)``: a numpy array of parsed values and
:class:`Problems`, which says for each cell whether it parsed (or was blank) and, where
not, a short reason. Blank cells are reported separately by :func:`is_blank`; whether a
blank is allowed is the caller's decision.
"""
from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: Largest amount one claim line may carry, in currency units; a larger one is taken as
#: an export error (and keeps sums of many lines far from int64's limit).
MAX_LINE_AMOUNT = 100_000_000

#: A number with a decimal point.
_PLAIN_NUMBER = r"^[+-]?(\d+(\.\d*)?|\.\d+)$"
#: The same, or with commas grouping thousands where they cannot be a decimal comma:
#: before a decimal point (``1,234.56``) or more than once (``1,234,567``); ``1,234``
#: alone might be either, and is not read.
_GROUPED_NUMBER = (_PLAIN_NUMBER + r"|^[+-]?[1-9]\d{0,2}(,\d{3})+\.\d*$"
                   r"|^[+-]?[1-9]\d{0,2}(,\d{3}){2,}$")
#: The form that may be either: one comma before three digits (``0,125`` is no thousand).
_ONE_GROUP = r"^[+-]?[1-9]\d{0,2},\d{3}$"
_COMMA_NUMBER = r"^[+-]?\d{1,3}(\.\d{3})*(,\d*)?$|^[+-]?\d+(,\d*)?$"
_FITS_DECIMAL = r"^[+-]?(\d{1,13}(\.\d{0,18})?|\.\d{1,18})$"
_ISO_DATE = r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?$"
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
    # Empty, or only white space: what as_text trims to nothing, without trimming.
    blank = pc.or_(pc.equal(column, ""), pc.utf8_is_space(column))
    return pc.fill_null(blank, True).to_numpy(zero_copy_only=False)


class Problems:
    """Why cells of a column did not parse, a small code per cell: 0 where the cell parsed
    (or was blank), else one more than its reason's place in :attr:`reasons`. Codes rather
    than a Python object per cell, so that a million cells are judged by numpy alone.

    Parameters
    ----------
    count : int
        How many cells, none of them with a problem yet.

    Examples
    --------
    >>> problems = Problems(3)
    >>> problems.set(np.array([False, True, True]), "not a number")
    >>> problems.set(np.array([True, True, False]), "too small", only_new=True)
    >>> problems.as_objects().tolist()
    ['too small', 'not a number', 'not a number']
    """

    def __init__(self, count: int):
        self.codes = np.zeros(count, dtype=np.uint8)
        self.reasons: list[str] = []

    def set(self, where: np.ndarray, reason: str, *, only_new: bool = False) -> None:
        """Give the cells of the boolean mask ``where`` this reason (with ``only_new``, only
        those without one yet)."""
        if only_new:
            where = where & (self.codes == 0)
        if not where.any():
            return
        if reason not in self.reasons:
            self.reasons.append(reason)
        self.codes[where] = self.reasons.index(reason) + 1

    def clear(self, where: np.ndarray) -> None:
        """The cells of the boolean mask ``where`` parsed after all."""
        self.codes[where] = 0

    @property
    def bad(self) -> np.ndarray:
        """True for the cells with a problem."""
        return self.codes != 0

    def take(self, positions: np.ndarray) -> "Problems":
        """The problems of the cells at ``positions``, in their order (reasons copied:
        setting more on the one does not touch the other)."""
        taken = Problems(0)
        taken.codes, taken.reasons = self.codes.take(positions), list(self.reasons)
        return taken

    def as_objects(self, positions: np.ndarray | None = None) -> np.ndarray:
        """Each cell's reason, or ``None`` (of the cells at ``positions`` only, if given)."""
        codes = self.codes if positions is None else self.codes[positions]
        return np.array([None, *self.reasons], dtype=object)[codes]


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
    problems : Problems
        Why cells are not an amount.

    Examples
    --------
    >>> import pyarrow as pa
    >>> parse_money(pa.array(["2.675", "1.234,56", "abc"]))[0].tolist()
    [268, 0, 0]
    """
    if pa.types.is_floating(column.type) or pa.types.is_integer(column.type):
        cents, problems = _float_cents(column.to_numpy(zero_copy_only=False).astype(np.float64))
    else:
        cents, problems = _text_cents(as_text(column), decimal_comma)
    huge = ~(np.abs(cents) <= 2**62)  # beyond int64 (or infinite): no amount at all
    cents = np.where(huge, 0, cents).astype(np.int64)
    problems.set(huge | (np.abs(cents) > limit * 100),
                 f"amount beyond ±{limit:,.0f} (an export error?)", only_new=True)
    cents[problems.bad] = 0
    return cents, problems


def _text_cents(text: pa.Array, decimal_comma: bool) -> tuple[np.ndarray, Problems]:
    """Cents (as floats: infinite where the number is absurdly long) and problems."""
    present = text.is_valid().to_numpy(zero_copy_only=False)
    text, ok, ambiguous = _plain_number(text, decimal_comma)
    hint = ("not an amount (with decimal_comma: true write 1.234,56)" if decimal_comma else
            "not an amount (write 1234.56; for 1.234,56 set decimal_comma: true)")
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
    problems = Problems(len(cents))
    if ambiguous is not None:
        problems.set(ambiguous,
                     "not an amount: a comma before three digits may group thousands "
                     "(1,234 = 1234) or be a decimal comma (1,234 = 1.234); write 1234, "
                     "or set decimal_comma: true")
    problems.set(present & ~ok, hint, only_new=True)
    return cents, problems


def _plain_number(text: pa.Array, decimal_comma: bool
                  ) -> tuple[pa.Array, np.ndarray, np.ndarray | None]:
    """Text numbers written as plain ``1234.56``, whether each is a number, and (in a
    column with commas, without ``decimal_comma``) which are ``1,234``, which might be
    either (:data:`_ONE_GROUP`). With ``decimal_comma`` a number is written like
    ``1.234,56`` (:data:`_COMMA_NUMBER`), else like ``1234.56`` or ``1,234.56``
    (:data:`_GROUPED_NUMBER`, looked for only in a column with a comma); either may end
    in its minus sign, as SAP writes it (``1.234,56-``)."""
    ambiguous = None
    if pc.any(pc.ends_with(text, "-")).as_py():  # SAP writes 12.50- for -12.50
        text = pc.replace_substring_regex(text, r"^([0-9.,]+)-$", r"-\1")
    if decimal_comma:
        ok = pc.match_substring_regex(text, _COMMA_NUMBER)
        text = pc.replace_substring(pc.replace_substring(text, ".", ""), ",", ".")
    elif pc.any(pc.match_substring(text, ",")).as_py():
        ok = pc.match_substring_regex(text, _GROUPED_NUMBER)
        ambiguous = pc.fill_null(pc.match_substring_regex(text, _ONE_GROUP), False).to_numpy(
            zero_copy_only=False)
        text = pc.replace_substring(text, ",", "")
    else:
        ok = pc.match_substring_regex(text, _PLAIN_NUMBER)
    return text, pc.fill_null(ok, False).to_numpy(zero_copy_only=False), ambiguous


def _float_cents(values: np.ndarray) -> tuple[np.ndarray, Problems]:
    """Cents (as floats) and problems."""
    problems = Problems(len(values))
    problems.set(~np.isfinite(values) & ~np.isnan(values), "not a finite amount")
    scaled = np.where(np.isfinite(values), values, 0.0) * 100
    cents = np.rint(scaled)
    # Where x * 100 lies within float noise of a half cent, binary rounding may fall on
    # the wrong side: settle those few by the decimal the float was written as.
    near_half = np.abs(np.abs(scaled - np.floor(scaled)) - 0.5) < 1e-6
    for i in np.flatnonzero(near_half):
        cents[i] = float(Decimal(repr(float(values[i]))).scaleb(2).to_integral_value(ROUND_HALF_EVEN))
    return cents, problems


def parse_number(column: pa.Array, decimal_comma: bool = False) -> tuple[np.ndarray, Problems]:
    """Parse plain numbers (quantities, risk scores) into float64.

    Returns
    -------
    values : numpy.ndarray of float64
        NaN where blank or not parsed.
    problems : Problems
        Why cells are not a number.
    """
    if pa.types.is_floating(column.type) or pa.types.is_integer(column.type):
        values = column.to_numpy(zero_copy_only=False).astype(np.float64)
        problems = Problems(len(values))
        problems.set(np.isinf(values), "not a finite number")
        return np.where(np.isinf(values), np.nan, values), problems
    text = as_text(column)
    present = text.is_valid().to_numpy(zero_copy_only=False)
    text, ok, _ = _plain_number(text, decimal_comma)
    safe = pc.if_else(pa.array(ok), text, pa.scalar(None, pa.string()))
    values = pc.cast(safe, pa.float64()).to_numpy(zero_copy_only=False)
    problems = Problems(len(values))
    problems.set(present & ~ok, "not a number")
    # Hundreds of digits overflow to infinity, which no quantity or score can be.
    problems.set(np.isinf(values), "not a finite number")
    return np.where(np.isinf(values), np.nan, values), problems


def parse_date(column: pa.Array, date_format: str | None = None) -> tuple[np.ndarray, Problems]:
    """Parse dates: Excel dates, ISO ``YYYY-MM-DD`` text, or text in ``date_format``.

    A time of day after the date is ignored, and so is a UTC offset after it
    (``2024-01-05T23:30:00-05:00`` is 5 January, the day written). Impossible dates such
    as 30 February and years outside 1900–2199 are rejected.

    Returns
    -------
    values : numpy.ndarray of datetime64[D]
        NaT where blank or not parsed.
    problems : Problems
        Why cells are not a date.
    """
    if pa.types.is_timestamp(column.type) or pa.types.is_date(column.type):
        if pa.types.is_timestamp(column.type) and column.type.tz is not None:
            column = pc.local_timestamp(column)  # the day on the wall clock, not in UTC
        # Flooring in numpy keeps times of day (a cast to seconds refuses milliseconds).
        values = column.to_numpy(zero_copy_only=False).astype("datetime64[D]")
        return _check_date_range(values, Problems(len(values)))
    text = as_text(column)
    present = text.is_valid().to_numpy(zero_copy_only=False)
    iso = pc.fill_null(pc.match_substring_regex(text, _ISO_DATE), False)
    iso_text = pc.if_else(iso, text, pa.scalar("1900-01-01"))
    year = pc.cast(pc.utf8_slice_codeunits(iso_text, 0, 4), pa.int32()).to_numpy(zero_copy_only=False)
    month = pc.cast(pc.utf8_slice_codeunits(iso_text, 5, 7), pa.int32()).to_numpy(zero_copy_only=False)
    day = pc.cast(pc.utf8_slice_codeunits(iso_text, 8, 10), pa.int32()).to_numpy(zero_copy_only=False)
    values, valid_day = _compose_dates(year, month, day)
    iso = iso.to_numpy(zero_copy_only=False)
    problems = Problems(len(values))
    problems.set(present & ~iso, f"not a date ({_DATE_HINT})")
    problems.set(iso & ~valid_day, "not a real calendar date")
    values[~(iso & valid_day)] = np.datetime64("NaT")
    if date_format:
        _parse_with_format(text, date_format, values, problems, present & ~iso)
    return _check_date_range(values, problems)


def _compose_dates(year, month, day) -> tuple[np.ndarray, np.ndarray]:
    good_month = (month >= 1) & (month <= 12)
    month_start = (np.clip(year, 1, 9999) - 1970) * 12 + np.where(good_month, month - 1, 0)
    first = month_start.astype("datetime64[M]").astype("datetime64[D]")
    next_first = (month_start + 1).astype("datetime64[M]").astype("datetime64[D]")
    days_in_month = (next_first - first).astype(np.int64)
    valid = good_month & (day >= 1) & (day <= days_in_month)
    return first + np.where(valid, day - 1, 0).astype("timedelta64[D]"), valid


def _parse_with_format(text, date_format, values, problems, candidates) -> None:
    """Parse the ``candidates`` cells (not ISO dates) in ``date_format``, in place."""
    import pandas as pd

    rows = np.flatnonzero(candidates)
    if len(rows) == 0:
        return
    subset = pd.Series(pc.take(text, pa.array(rows)).to_pylist(), dtype=object)
    parsed = pd.to_datetime(subset, format=date_format, errors="coerce").to_numpy()
    good = ~np.isnat(parsed)
    values[rows[good]] = parsed[good].astype("datetime64[D]")
    parsed_now = np.zeros(len(values), dtype=bool)
    parsed_now[rows[good]] = True
    problems.clear(parsed_now)
    problems.set(candidates & ~parsed_now, f"not a date in date_format {date_format!r}")


#: The first and last day accepted.
_FIRST_DAY, _LAST_DAY = np.datetime64("1900-01-01", "D"), np.datetime64("2199-12-31", "D")


def _check_date_range(values: np.ndarray, problems: Problems) -> tuple[np.ndarray, Problems]:
    out_of_range = ~np.isnat(values) & ((values < _FIRST_DAY) | (values > _LAST_DAY))
    problems.set(out_of_range, "date outside the years 1900-2199")
    values = values.copy()
    values[out_of_range] = np.datetime64("NaT")
    return values, problems


def parse_integer(column: pa.Array) -> tuple[np.ndarray, Problems]:
    """Parse whole numbers (such as a year); ``2024.0`` is accepted as 2024."""
    values, problems = parse_number(column)
    not_whole = ~np.isnan(values) & (values != np.round(values))
    problems.set(not_whole, "not a whole number", only_new=True)
    return values, problems
