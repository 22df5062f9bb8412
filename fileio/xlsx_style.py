"""Cells of the comparison workbook: safe values, number formats and column widths.

Every value goes through :func:`cell_value` and then :func:`make_cell`, which together
guarantee what SPEC §6 asks of the workbook: numbers stay numbers, blanks stay blank, and
text taken from inputs is stored as text, never as a formula or an error value, with
characters XML cannot hold replaced instead of crashing the write.
"""
from __future__ import annotations

import datetime as dt
import decimal
import math
import re

import numpy as np
import pandas as pd
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES
from openpyxl.styles import Alignment, Font

from funding_models.results import ColumnKind

#: The most characters an Excel cell holds.
MAX_CELL_CHARS = 32_767

#: Appended to text cut to :data:`MAX_CELL_CHARS`.
TRUNCATION_MARKER = " [truncated]"

#: Widest column, in characters; longer text overflows or is read in the cell.
MAX_COLUMN_WIDTH = 60

BOLD = Font(bold=True)
ITALIC = Font(italic=True)
WRAP = Alignment(wrap_text=True, vertical="top")

# XML 1.0 cannot hold these (openpyxl raises on the first group, the writer on the rest).
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def number_formats(currency: str) -> dict[ColumnKind, str | None]:
    """Number format of each column kind; ``None`` leaves the cell's format alone.

    Parameters
    ----------
    currency : str
        Code shown after money amounts, e.g. ``"EUR"``.

    Examples
    --------
    >>> number_formats("EUR")["money"]
    '#,##0.00 "EUR"'
    """
    code = re.sub(r'["\\]', "", currency).strip()
    return {
        "money": f'#,##0.00 "{code}"' if code else "#,##0.00",
        "rate": "0.00%",
        "count": "#,##0",
        "number": "#,##0.0##",
        "date": "yyyy-mm-dd",
        "year": "0",
        "text": None,
    }


def clean_text(text: str) -> str:
    """Text an XLSX cell can hold: XML-illegal characters become U+FFFD, long text is cut.

    Examples
    --------
    >>> clean_text("a\\x00b")
    'a\\ufffdb'
    """
    text = _XML_ILLEGAL.sub("\ufffd", text)
    if len(text) > MAX_CELL_CHARS:
        text = text[: MAX_CELL_CHARS - len(TRUNCATION_MARKER)] + TRUNCATION_MARKER
    return text


def cell_value(value):
    """Turn a value from a frame or a setting into what a cell stores.

    Missing values (``None``, ``NaN``, ``NA``, ``NaT``) and infinities become ``None`` (an
    empty cell); numpy scalars become Python numbers; timestamps lose their time zone
    (wall-clock time is kept, Excel has no zones); text is cleaned with
    :func:`clean_text`; anything else is written as its text.

    Examples
    --------
    >>> cell_value(np.int64(3)), cell_value(float("nan")), cell_value(pd.NA)
    (3, None, None)
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating, decimal.Decimal)):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, (dt.datetime, np.datetime64)):
        return _naive_datetime(pd.Timestamp(value))
    if isinstance(value, (dt.date, dt.time)):
        return value
    return clean_text(str(value))


def _naive_datetime(stamp: pd.Timestamp) -> dt.datetime | None:
    """A timestamp as a zone-free ``datetime`` (``None`` for NaT)."""
    if pd.isna(stamp):
        return None
    return stamp.tz_localize(None).to_pydatetime() if stamp.tzinfo else stamp.to_pydatetime()


def make_cell(sheet, value, number_format: str | None = None, font: Font | None = None,
              alignment: Alignment | None = None):
    """What to append to a write-only sheet for a value from :func:`cell_value`.

    Plain values are returned as they are (fast); a cell object is built only for styled
    values and for text openpyxl would otherwise store as a formula (``"=..."``) or an
    error value (``"#N/A"``): its type is forced to string. The number format applies to
    numbers and dates only.

    Parameters
    ----------
    sheet : openpyxl write-only worksheet
        Sheet the cell belongs to.
    value : None, bool, int, float, str, date or datetime
        The cell's value; ``None`` gives an empty cell.
    number_format, font, alignment : optional
        Style of the cell.
    """
    if value is None:
        return None
    is_text = isinstance(value, str)
    if is_text:
        number_format = None
    styled = number_format is not None or font is not None or alignment is not None
    if not styled and not (is_text and _not_kept_as_text(value)):
        return value
    cell = WriteOnlyCell(sheet, value)
    if is_text:
        cell.data_type = "s"
    if number_format is not None:
        cell.number_format = number_format
    if font is not None:
        cell.font = font
    if alignment is not None:
        cell.alignment = alignment
    return cell


def _not_kept_as_text(text: str) -> bool:
    """Whether openpyxl would store this text as a formula or an error value."""
    return text.startswith("=") or text in ERROR_CODES


def column_kind(series: pd.Series, kinds: dict[str, ColumnKind], name) -> ColumnKind:
    """The kind of a table column: as named in ``kinds``, else guessed from its values.

    Columns not named are ``text`` when they hold strings, ``date`` when they hold dates
    and ``number`` otherwise (see :class:`funding_models.results.Table`).
    """
    if name in kinds:
        return kinds[name]
    if pd.api.types.is_bool_dtype(series):
        return "text"
    if pd.api.types.is_numeric_dtype(series):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "date"
    inferred = pd.api.types.infer_dtype(series, skipna=True)
    if inferred in ("integer", "floating", "mixed-integer-float", "decimal"):
        return "number"
    if inferred in ("date", "datetime", "datetime64"):
        return "date"
    return "text"


def column_width(header: str, values, kind: ColumnKind, currency: str) -> float:
    """Width of a column from its header and its longest shown value, capped.

    Parameters
    ----------
    header : str
        Header text.
    values : iterable
        Cell values (after :func:`cell_value`).
    kind : ColumnKind
        How the values are shown.
    currency : str
        Currency code shown with money.

    Examples
    --------
    >>> column_width("insurer_cost", [10280000.0], "money", "EUR")
    19
    """
    longest = max((_shown_length(value, kind, currency) for value in values
                   if value is not None), default=0)
    return min(max(len(header), longest) + 2, MAX_COLUMN_WIDTH)


def _shown_length(value, kind: ColumnKind, currency: str) -> int:
    """About how many characters a value takes on screen in its number format."""
    if isinstance(value, str):
        return max(len(line) for line in value.split("\n"))
    if isinstance(value, (dt.date, dt.time)):
        return 10 if kind == "date" else 19
    if isinstance(value, bool) or kind == "year":
        return len(str(value))
    if kind == "money":
        return len(f"{value:,.2f}") + 1 + len(currency)
    if kind == "rate":
        return len(f"{value:.2%}")
    if kind == "count":
        return len(f"{value:,.0f}")
    return len(f"{value:,.3f}")


def row_xml(row_number: int, values, column_letters: list[str]) -> str:
    """One unstyled ``<row>`` of worksheet XML, for sheets too long for openpyxl's writer.

    openpyxl serialises about 150 000 cells a second without lxml; this writes the same
    cells several times faster. Text is an inline string (never a formula), numbers and
    booleans are values, and dates and times are written as ISO text (an unstyled sheet
    has no date format). Values must have passed through :func:`cell_value`.

    Examples
    --------
    >>> row_xml(2, ["=1+1", 3, None], ["A", "B", "C"])
    '<row r="2"><c r="A2" t="inlineStr"><is><t xml:space="preserve">=1+1</t></is></c><c r="B2" t="n"><v>3</v></c></row>'
    """
    cells = "".join(_cell_xml(f"{letter}{row_number}", value)
                    for letter, value in zip(column_letters, values)
                    if value is not None and value != "")
    return f'<row r="{row_number}">{cells}</row>'


def _cell_xml(reference: str, value) -> str:
    """One ``<c>`` element for :func:`row_xml`."""
    if isinstance(value, bool):
        return f'<c r="{reference}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, (int, float)):
        return f'<c r="{reference}" t="n"><v>{value!r}</v></c>'
    if isinstance(value, (dt.date, dt.time)):
        value = value.isoformat()
    return (f'<c r="{reference}" t="inlineStr"><is><t xml:space="preserve">'
            f"{escape_xml(value)}</t></is></c>")


def escape_xml(text: str) -> str:
    """Escape text for XML content; a carriage return is kept as a character reference
    because XML readers turn a literal one into a line feed."""
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\r", "&#13;"))
