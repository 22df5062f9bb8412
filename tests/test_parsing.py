"""Cell parsing (SPEC §1): money to integer cents half to even, dates, numbers.

Expected cents are written out by hand, with the decimal arithmetic in a comment where it
is not obvious; the property tests compare with Python's :mod:`decimal`, which is an
independent implementation of the same rounding.
"""
from __future__ import annotations

import datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fileio.parsing import (MAX_LINE_AMOUNT, as_text, is_blank, parse_date, parse_integer,
                            parse_money, parse_number)

DATE_HINT = "date_format"


def money(cells, decimal_comma=False):
    """Cents and problems of a list of cells (text unless they are floats or ints)."""
    cents, problems = parse_money(pa.array(cells), decimal_comma)
    return cents.tolist(), problems.as_objects().tolist()


def one_date(cell, date_format=None):
    values, problems = parse_date(pa.array([cell]), date_format)
    return values[0], problems.as_objects()[0]


def decimal_cents(text: str) -> int:
    """Reference: the cents of a decimal text, half to even, by :mod:`decimal`."""
    exact = Decimal(text).scaleb(2, Context(prec=200))  # no rounding before the last step
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_EVEN, context=Context(prec=200)))


# -- money from text ----------------------------------------------------------------------

@pytest.mark.parametrize("text, cents", [
    ("2.675", 268),                 # 267.5 cents -> even 268 (a float would give 267)
    ("0.125", 12),                  # 12.5 -> even 12
    ("0.135", 14),                  # 13.5 -> even 14
    ("-0.005", 0),                  # -0.5 -> even 0
    ("-0.015", -2),                 # -1.5 -> even -2
    ("274.65999999999997", 27466),  # SPEC §1's float-noise example, written as text
    ("12", 1200),
    ("+3.5", 350),
    (".5", 50),
    ("7.", 700),
    ("  7.10 ", 710),               # surrounding spaces are trimmed
    ("-1250.40", -125040),          # a correction line
    ("100000000", 10_000_000_000),  # exactly the per-line cap is still an amount
    ("-100000000.00", -10_000_000_000),
    # more decimals than decimal128(38, 18) holds: only the rounding-relevant part counts
    ("0.0050000000000000000001", 1),            # a hair above half a cent rounds up
    ("0.005000000000000000000000", 0),          # exactly half a cent -> even 0
    ("0.0250000000000000000000001", 3),         # 2.5000…01 cents -> 3
    ("0.000000000000000055511151231257827", 0),  # 0.1 + 0.2 - 0.3 written out in full
    # commas grouping thousands where they cannot be a decimal comma
    ("1,234.56", 123456),           # a formatted cell saved as CSV
    ("-12,345,678.905", -1234567890),  # ...90.5 cents -> even ...90
    ("1,234,567", 123456700),       # two groups: no decimal comma has two
    ("1,000.", 100000),
    ("12.50-", -1250),              # the minus after the number, as SAP writes it
    ("1,234.56-", -123456),
])
def test_text_amounts_are_decimal_cents_rounded_half_to_even(text, cents):
    assert money([text]) == ([cents], [None])


@pytest.mark.parametrize("text", ["abc", "1e5", "1E-2", "inf", "-Infinity", "NaN", "12,50",
                                  "1.234,56", "1 234", "€12", "12.5.1", "--1", "0x10", "true",
                                  "1,23.4", "1,2345.6", ",123.4", "1,234,56", "1,234.5,6",
                                  "0,125", "0,123,456", "01,234.5",
                                  "-12.50-", "+3.00-", "12-5", "-"])
def test_text_that_is_not_a_plain_decimal_is_rejected(text):
    cents, problem = money([text])
    assert cents == [0]
    assert problem[0].startswith("not an amount")


def test_decimal_comma_text_is_rejected_with_a_hint_to_set_decimal_comma():
    _, problem = money(["1.234,56"])
    assert "decimal_comma: true" in problem[0]


@pytest.mark.parametrize("text", ["1,234", "-12,500", "+1,000"])
def test_one_comma_before_three_digits_is_refused_as_ambiguous(text):
    """1,234 is 1234 with a thousands comma, or 1.234 with a decimal comma: not read."""
    cents, problem = money([text])
    assert cents == [0]
    assert "1,234 = 1234" in problem[0] and "decimal_comma: true" in problem[0]


@pytest.mark.parametrize("text", [
    "100000000.01",             # one cent above the cap of 100,000,000
    "-100000000.01",
    "123456789012",             # 12 integer digits: within decimal range, beyond the cap
    "12345678901234567890",     # 20 digits
    "18446744073709551716",     # 2**64 + 100: wrapping modulo 2**64 would give 1.00
    "123456789012345678901",    # 21 digits: beyond decimal128(38, 18)'s 20 integer digits
    "99999999999999999999.99",
    "1" * 40,
    "-" + "9" * 60 + ".5",
])
def test_amounts_beyond_the_line_cap_are_rejected_never_wrapped(text):
    cents, problem = money([text])
    assert cents == [0]
    assert "beyond" in problem[0] and f"{MAX_LINE_AMOUNT:,}" in problem[0]


@pytest.mark.parametrize("cell", ["", "   ", None])
def test_blank_text_is_zero_cents_without_a_problem(cell):
    assert money([cell]) == ([0], [None])
    assert is_blank(pa.array([cell])).tolist() == [True]


def test_rejected_cells_do_not_disturb_their_neighbours():
    cents, problem = money(["1.10", "abc", "2.20", "1" * 30, "3.30"])
    assert cents == [110, 0, 220, 0, 330]
    assert [p is None for p in problem] == [True, False, True, False, True]


# -- money with decimal_comma ---------------------------------------------------------------

@pytest.mark.parametrize("text, cents", [
    ("1.234,56", 123456),
    ("1234,56", 123456),
    ("1.234.567,89", 123456789),
    ("0,125", 12),        # 12.5 cents -> even 12
    ("-2,675", -268),     # -267.5 -> even -268
    ("1,5", 150),
    ("12", 1200),
    ("1.234", 123400),    # with decimal_comma the dot only groups thousands
    ("1.234,56-", -123456),  # the minus after the number, as SAP writes it
])
def test_decimal_comma_reads_dots_as_thousands_and_the_comma_as_decimal_mark(text, cents):
    assert money([text], decimal_comma=True) == ([cents], [None])


@pytest.mark.parametrize("text", ["1,234.56", "12.34", "1.23,4", "abc", "1,2,3"])
def test_decimal_comma_rejects_other_forms_with_a_hint(text):
    cents, problem = money([text], decimal_comma=True)
    assert cents == [0]
    assert "decimal_comma" in problem[0]


# -- money from numbers (Parquet, or numeric cells) -------------------------------------------

@pytest.mark.parametrize("value, cents", [
    (274.65999999999997, 27466),  # SPEC §1: float noise becomes 274.66
    (2.675, 268),                 # stored as 2.67499999999999982236431605997495353221893310546875
    (0.125, 12),                  # exactly 1/8: 12.5 cents -> even 12
    (-0.005, 0),
    (1.005, 100),                 # written 1.005: 100.5 cents -> even 100
    (12.345, 1234),
    (0.1 + 0.2, 30),              # 0.30000000000000004
    (-1250.4, -125040),
    (100_000_000.0, 10_000_000_000),
])
def test_float_amounts_are_read_as_the_decimal_they_were_written_as(value, cents):
    assert money([value]) == ([cents], [None])


def test_integer_amounts_are_whole_units():
    cents, problem = parse_money(pa.array([1, -3, 0], pa.int64()))
    assert cents.tolist() == [100, -300, 0]
    assert problem.as_objects().tolist() == [None, None, None]


@pytest.mark.parametrize("value, reason", [
    (float("inf"), "not a finite amount"),
    (float("-inf"), "not a finite amount"),
    (1e9, "beyond"),
    (-1e20, "beyond"),
    (1e300, "beyond"),
])
def test_non_finite_and_huge_float_amounts_are_rejected(value, reason):
    cents, problem = money([value])
    assert cents == [0]
    assert reason in problem[0]


def test_float_nan_is_a_blank_amount():
    column = pa.array([float("nan"), 1.5])
    cents, problem = parse_money(column)
    assert cents.tolist() == [0, 150]
    assert problem.as_objects().tolist() == [None, None]
    assert is_blank(column).tolist() == [True, False]


def test_huge_integer_amounts_are_rejected():
    cents, problem = parse_money(pa.array([10**15, 2**62], pa.int64()))
    assert cents.tolist() == [0, 0]
    assert all("beyond" in p for p in problem.as_objects())


@settings(max_examples=200, deadline=None)
@given(st.decimals(min_value=-MAX_LINE_AMOUNT, max_value=MAX_LINE_AMOUNT, places=4,
                   allow_nan=False, allow_infinity=False))
def test_text_amounts_match_decimal_rounding(amount):
    text = f"{amount:f}"
    assert money([text]) == ([decimal_cents(text)], [None])


@settings(max_examples=100, deadline=None)
@given(st.decimals(min_value=-1000, max_value=1000, places=26,
                   allow_nan=False, allow_infinity=False))
def test_text_amounts_with_many_decimals_match_decimal_rounding(amount):
    text = f"{amount:f}"
    assert money([text]) == ([decimal_cents(text)], [None])


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 10**8 - 1), st.integers(0, 99), st.integers(0, 30),
       st.sampled_from(["", "1", "9"]), st.sampled_from(["", "-"]))
def test_half_cents_with_long_tails_round_like_decimal(units, cents, zeros, tail, sign):
    text = f"{sign}{units}.{cents:02d}5{'0' * zeros}{tail}"
    assert money([text]) == ([decimal_cents(text)], [None])


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=-MAX_LINE_AMOUNT * 100, max_value=MAX_LINE_AMOUNT * 100))
def test_a_float_written_with_two_decimals_comes_back_to_the_cent(cents):
    assert money([cents / 100]) == ([cents], [None])


@settings(max_examples=100, deadline=None)
@given(st.decimals(min_value=-10**6, max_value=10**6, places=3,
                   allow_nan=False, allow_infinity=False))
def test_float_amounts_round_like_their_shortest_decimal(amount):
    value = float(amount)
    assert money([value])[0] == [decimal_cents(repr(value))]


# -- dates ----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, day", [
    ("2024-01-15", "2024-01-15"),
    ("2024-02-29", "2024-02-29"),               # leap day
    ("2000-02-29", "2000-02-29"),               # divisible by 400: a leap year
    ("2024-01-15 00:00:00", "2024-01-15"),      # how an Excel date cell reads as text
    ("2024-01-15 10:30:00", "2024-01-15"),      # the time of day is ignored
    ("2024-01-15T08:00", "2024-01-15"),
    ("2024-01-15T23:30:00Z", "2024-01-15"),     # a UTC offset too: the day written
    ("2024-01-15T23:30:00.5-05:00", "2024-01-15"),
    ("2024-01-15 00:30+0100", "2024-01-15"),
    (" 2024-12-31 ", "2024-12-31"),
    ("1900-01-01", "1900-01-01"),
    ("2199-12-31", "2199-12-31"),
])
def test_iso_text_dates(text, day):
    assert one_date(text) == (np.datetime64(day), None)


@pytest.mark.parametrize("text", ["2024-02-30", "2023-02-29", "1900-02-29", "2024-04-31",
                                  "2024-13-01", "2024-00-10", "2024-01-00", "2024-01-32"])
def test_impossible_calendar_dates_are_rejected(text):
    value, problem = one_date(text)
    assert np.isnat(value)
    assert problem == "not a real calendar date"


@pytest.mark.parametrize("text", ["45306", "15-01-2024", "15/01/2024", "2024/01/15",
                                  "2024-1-5", "Jan 15 2024", "20240115", "yesterday",
                                  "2024-01-15Z", "2024-01-15T08:00:00ZZ", "2024-01-15T08:00+1"])
def test_other_date_text_is_rejected_with_the_hint(text):
    value, problem = one_date(text)
    assert np.isnat(value)
    assert problem.startswith("not a date") and DATE_HINT in problem and "YYYY-MM-DD" in problem


@pytest.mark.parametrize("text", ["1899-12-31", "2200-01-01", "0001-01-01", "9999-12-31",
                                  "1899-12-31 10:00:00"])  # a time-only Excel cell
def test_years_outside_1900_2199_are_rejected(text):
    value, problem = one_date(text)
    assert np.isnat(value)
    assert problem == "date outside the years 1900-2199"


@pytest.mark.parametrize("text, day", [
    ("15-01-2024", "2024-01-15"),
    ("01-02-2024", "2024-02-01"),   # day first: 1 February, not 2 January
    ("2024-03-04", "2024-03-04"),   # ISO text stays accepted
])
def test_day_first_text_is_read_only_with_date_format(text, day):
    assert one_date(text, "%d-%m-%Y") == (np.datetime64(day), None)


@pytest.mark.parametrize("text, reason", [
    ("31-02-2024", "not a date in date_format '%d-%m-%Y'"),
    ("2024/03/04", "not a date in date_format '%d-%m-%Y'"),
    ("15-01-2300", "date outside the years 1900-2199"),
])
def test_date_format_still_rejects_what_does_not_fit(text, reason):
    value, problem = one_date(text, "%d-%m-%Y")
    assert np.isnat(value)
    assert problem == reason


@pytest.mark.parametrize("column, day", [
    (pa.array([datetime.date(2024, 1, 15)]), "2024-01-15"),
    (pa.array([datetime.date(2024, 1, 15)], pa.date64()), "2024-01-15"),
    (pa.array([datetime.datetime(2024, 1, 15, 10, 30, 0, 123000)], pa.timestamp("ms")),
     "2024-01-15"),
    (pa.array([datetime.datetime(1969, 12, 31, 23, 59, 59, 500000)], pa.timestamp("us")),
     "1969-12-31"),
    # 23:30 UTC on the 14th is 00:30 on the 15th in Amsterdam: the wall-clock day counts
    (pa.array([datetime.datetime(2024, 1, 14, 23, 30)], pa.timestamp("us", tz="UTC"))
     .cast(pa.timestamp("us", tz="Europe/Amsterdam")), "2024-01-15"),
])
def test_typed_date_columns(column, day):
    values, problem = parse_date(column)
    assert values.tolist() == [np.datetime64(day).astype(object)]
    assert problem.as_objects().tolist() == [None]


def test_typed_dates_outside_the_range_are_rejected_and_nulls_are_blank():
    values, problem = parse_date(pa.array([datetime.date(2300, 1, 1), datetime.date(1800, 1, 1),
                                           None]))
    assert np.isnat(values).all()
    assert problem.as_objects().tolist() == ["date outside the years 1900-2199"] * 2 + [None]


@pytest.mark.parametrize("cell", ["", "  ", None])
def test_blank_dates_are_not_a_problem(cell):
    value, problem = one_date(cell)
    assert np.isnat(value) and problem is None


# -- numbers and whole numbers --------------------------------------------------------------

@pytest.mark.parametrize("text, value", [("1", 1.0), ("1.5", 1.5), ("-2", -2.0), (".5", 0.5),
                                         ("5.", 5.0), ("0", 0.0), (" 3 ", 3.0)])
def test_numbers(text, value):
    values, problem = parse_number(pa.array([text]))
    assert values.tolist() == [value] and problem.as_objects().tolist() == [None]


@pytest.mark.parametrize("text, reason", [
    ("1e5", "not a number"), ("abc", "not a number"), ("inf", "not a number"),
    ("nan", "not a number"), ("1,5", "not a number"),
    pytest.param("1" * 400, "not a finite number", id="400 digits"),  # a float's infinity
])
def test_text_that_is_not_a_number_is_rejected(text, reason):
    values, problem = parse_number(pa.array([text]))
    assert np.isnan(values[0]) and problem.as_objects()[0] == reason


def test_numbers_with_decimal_comma():
    values, problem = parse_number(pa.array(["1.234,5", "1,5", "2"]), decimal_comma=True)
    assert values.tolist() == [1234.5, 1.5, 2.0] and problem.as_objects().tolist() == [None] * 3


def test_typed_numbers_reject_infinity_and_keep_blanks_blank():
    values, problem = parse_number(pa.array([1.0, float("inf"), float("nan"), None]))
    assert values[0] == 1.0 and np.isnan(values[1:]).all()
    assert problem.as_objects().tolist() == [None, "not a finite number", None, None]


@pytest.mark.parametrize("cell, value, reason", [
    ("2024", 2024.0, None), ("2024.0", 2024.0, None), ("-3", -3.0, None),
    ("2024.5", 2024.5, "not a whole number"), ("x", None, "not a number"),
])
def test_whole_numbers(cell, value, reason):
    values, problem = parse_integer(pa.array([cell]))
    assert problem.as_objects().tolist() == [reason]
    assert (np.isnan(values[0]) if value is None else values[0] == value)


# -- cells as text --------------------------------------------------------------------------

def test_floats_holding_whole_numbers_read_as_text_without_the_point():
    text = as_text(pa.array([123.0, 1.5, float("nan"), -7.0]))
    assert text.to_pylist() == ["123", "1.5", None, "-7"]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(st.sampled_from(
    [" ", "\t", "\n", "\r", "\u00a0", "\u2003", "\u3000", "\u200b", "\ufeff", "a", "0"]),
    max_size=4)), max_size=20))
def test_a_blank_text_cell_is_one_that_trims_to_nothing(cells):
    column = pa.array(cells, pa.string())
    assert is_blank(column).tolist() == as_text(column).is_null().to_numpy(
        zero_copy_only=False).tolist()


def test_text_is_trimmed_and_empty_text_is_null():
    assert as_text(pa.array([" a ", "", "  ", None, "b"])).to_pylist() == ["a", None, None,
                                                                         None, "b"]


#: Cells of every kind the claims table parses, good and bad, few enough to repeat.
_CELLS = st.sampled_from(["2024-02-29", "2023-02-29", " 2024-01-05 00:00:00", "05/01/2024",
                          "12.505", "-3", "1.234,5", "abc", "", "  ", None, "GP", " gp ",
                          "1e400", "0.004999", "7", "1800-01-01"])


@settings(max_examples=60, deadline=None)
@given(st.lists(_CELLS, min_size=1, max_size=12), st.integers(8, 40))
def test_parsing_distinct_cells_once_equals_parsing_every_cell(pool, repeats):
    """A text column of few distinct cells (here at most one in eight) is parsed once per
    distinct cell and spread back to the rows: each row must come out as when every
    cell is parsed, for every kind of column of the claims table."""
    from fileio.tables import CLAIMS
    from fileio.validation import _parse_cells, _parse_distinct

    column = pa.array(pool * repeats, pa.string())
    for spec in CLAIMS.columns:
        values, problem = _parse_distinct(spec, column, False, None)
        every_values, every_problem = _parse_cells(spec, column, False, None)
        assert pd.Series(values).equals(pd.Series(every_values)), spec.name
        assert list(problem.as_objects()) == list(every_problem.as_objects()), spec.name
