"""The input tables fundcalc reads and the columns each must or may have (SPEC §1)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from fileio.errors import InputError

#: How a column's cells are parsed.
CellKind = Literal["text", "lower_text", "upper_text", "date", "money", "number", "integer"]


@dataclass(frozen=True)
class ColumnSpec:
    """One column of an input table.

    Attributes
    ----------
    name : str
        Canonical (lower-case) column name.
    kind : CellKind
        How cells are parsed.
    required : bool
        The column must be present in the file.
    blank_allowed : bool
        A row with this cell empty is still accepted.
    minimum : float or None
        Smallest accepted value for numbers.
    minimum_exclusive : bool
        Whether ``minimum`` itself is refused.
    allowed : tuple of str
        For text columns with a closed list of values (after normalising case).
    synonyms : tuple of (str, str)
        Other ways of writing an allowed value (after normalising case), and the value:
        ``("FEMALE", "F")``.
    """

    name: str
    kind: CellKind
    required: bool = False
    blank_allowed: bool = True
    minimum: float | None = None
    minimum_exclusive: bool = False
    allowed: tuple[str, ...] = ()
    synonyms: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class TableSpec:
    """An input table: its columns and the key that must be unique."""

    name: str
    columns: tuple[ColumnSpec, ...]
    unique_key: tuple[str, ...] = ()
    amount_column: str | None = None

    @property
    def required(self) -> tuple[str, ...]:
        """Names of the columns a file must have."""
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> ColumnSpec:
        """The spec of column ``name``."""
        return next(c for c in self.columns if c.name == name)


CLAIMS = TableSpec(
    "claims",
    (
        ColumnSpec("claim_id", "text", required=True, blank_allowed=False),
        ColumnSpec("line", "text"),
        ColumnSpec("member_id", "text", required=True, blank_allowed=False),
        ColumnSpec("provider_id", "text", required=True, blank_allowed=False),
        ColumnSpec("service_date", "date", required=True, blank_allowed=False),
        ColumnSpec("domain", "lower_text", required=True, blank_allowed=False),
        ColumnSpec("care_code", "text"),
        ColumnSpec("quantity", "number", minimum=0),
        ColumnSpec("amount", "money", required=True, blank_allowed=False),
        ColumnSpec("paid_date", "date"),
    ),
    unique_key=("claim_id", "line"),
    amount_column="amount",
)

MEMBERS = TableSpec(
    "members",
    (
        ColumnSpec("member_id", "text", required=True, blank_allowed=False),
        ColumnSpec("birth_date", "date"),
        ColumnSpec("sex", "upper_text", allowed=("F", "M", "X"), synonyms=(
            ("FEMALE", "F"), ("WOMAN", "F"), ("MALE", "M"), ("MAN", "M"),
            ("V", "F"), ("VROUW", "F"))),  # Dutch exports write M and V (vrouw)
        ColumnSpec("segment", "lower_text"),
        ColumnSpec("enrollment_start", "date"),
        ColumnSpec("enrollment_end", "date"),
        ColumnSpec("attributed_provider", "text"),
        ColumnSpec("risk_score", "number", minimum=0, minimum_exclusive=True),
        ColumnSpec("conditions", "lower_text"),
    ),
    unique_key=("member_id",),
)

FEE_SCHEDULE = TableSpec(
    "fee_schedule",
    (
        ColumnSpec("care_code", "text", required=True, blank_allowed=False),
        ColumnSpec("tariff", "money", required=True, blank_allowed=False),
    ),
    unique_key=("care_code",),
)

ENROLLMENT = TableSpec(
    "enrollment",
    (
        ColumnSpec("member_id", "text", required=True, blank_allowed=False),
        ColumnSpec("enrollment_start", "date", required=True),
        ColumnSpec("enrollment_end", "date", required=True),
    ),
)

ATTRIBUTION = TableSpec(
    "attribution",
    (
        ColumnSpec("member_id", "text", required=True, blank_allowed=False),
        ColumnSpec("year", "integer", required=True, blank_allowed=False),
        ColumnSpec("provider_id", "text", required=True, blank_allowed=False),
    ),
    unique_key=("member_id", "year"),
)

#: Every table, by the sheet name it is read from.
TABLES = {spec.name: spec for spec in (CLAIMS, MEMBERS, FEE_SCHEDULE, ENROLLMENT, ATTRIBUTION)}


#: Tables a one-sheet workbook holds whatever its sheet is called.
STANDALONE_TABLES = ("claims", "cases")


def normalise_header(name: object) -> str:
    """Canonical form of a header: trimmed, lower-case, spaces and hyphens as ``_``.

    >>> normalise_header(" Service-Date ")
    'service_date'
    """
    return re.sub(r"[\s\-]+", "_", str(name).strip().lower())


def pick_sheet(path: Path, spec: TableSpec, sheets: list[str], sheet: str | None) -> str:
    """The sheet ``spec``'s table is read from: ``sheet`` if given, else the one named like
    the table, else (claims and cases) the only sheet."""
    if sheet is not None:
        if sheet not in sheets:
            raise InputError(f"{path}: no sheet named {sheet!r} (sheets: {', '.join(sheets)}).")
        return sheet
    by_name = {normalise_header(s): s for s in sheets}
    if spec.name in by_name:
        return by_name[spec.name]
    if spec.name in STANDALONE_TABLES and len(sheets) == 1:
        return sheets[0]
    raise InputError(
        f"{path}: no sheet named {spec.name!r} (sheets: {', '.join(sheets)}); "
        f"name the {spec.name} sheet '{spec.name}'"
        + (" or keep one sheet only." if spec.name in STANDALONE_TABLES else ".")
    )
