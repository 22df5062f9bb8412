"""What a settlement produces: summary rows, detail tables and the whole comparison.

Money is held in integer cents inside the calculators; the tables here are what a reader
sees, so their money columns are in currency units (``cents / 100``), converted once by
:func:`cents_to_units`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from funding_models.risk import RiskReport

#: Columns of the table of rejected input rows (the Rejected sheet).
REJECTED_COLUMNS = ("file", "sheet", "table", "row", "column", "value", "reason")

#: Columns of the Summary sheet and keys of ``--json`` output, in order.
SUMMARY_COLUMNS = (
    "scenario", "contract", "model", "provider", "year", "members", "member_months",
    "insurer_cost", "ffs_equivalent", "provider_revenue", "provider_cost",
    "provider_result", "shared_savings", "shared_losses", "stop_loss", "corridor",
    "reconciliation", "savings_rate", "spillover", "net_insurer_savings", "status",
)

#: Summary columns that hold money.
MONEY_COLUMNS = (
    "insurer_cost", "ffs_equivalent", "provider_revenue", "provider_cost",
    "provider_result", "shared_savings", "shared_losses", "stop_loss", "corridor",
    "reconciliation", "spillover", "net_insurer_savings",
)

#: How a column of a :class:`Table` is shown.
ColumnKind = Literal["text", "money", "rate", "count", "number", "date", "year"]

#: Default kinds of the Summary columns.
SUMMARY_KINDS: dict[str, ColumnKind] = {
    **{c: "money" for c in MONEY_COLUMNS},
    "scenario": "text", "contract": "text", "model": "text", "provider": "text",
    "year": "year", "members": "count", "member_months": "number",
    "savings_rate": "rate", "status": "text",
}


def cents_to_units(cents):
    """Convert integer cents to currency units, keeping blanks blank.

    Parameters
    ----------
    cents : int, None, or an array or Series of them
        Amounts in cents; ``None``/``NA`` stays missing.

    Returns
    -------
    float, None or Series of float
        The same amounts divided by 100.

    Examples
    --------
    >>> cents_to_units(1028000000)
    10280000.0
    """
    if cents is None:
        return None
    if np.ndim(cents):
        return pd.Series(cents, dtype="Float64") / 100
    return int(cents) / 100


@dataclass(frozen=True)
class SummaryRow:
    """One contract in one performance year (one row of the Summary sheet).

    Money fields are integer cents; ``None`` means the figure does not apply to the
    model or could not be computed (the ``status`` then says why).
    """

    contract: str
    model: str
    provider: str
    year: int
    insurer_cost: int | None
    ffs_equivalent: int | None
    provider_revenue: int | None
    provider_cost: int | None
    status: str = "ok"
    scenario: str = "base"
    members: int | None = None
    member_months: float | None = None
    shared_savings: int | None = None
    shared_losses: int | None = None
    stop_loss: int | None = None
    corridor: int | None = None
    reconciliation: int | None = None
    savings_rate: float | None = None
    spillover: int | None = None
    net_insurer_savings: int | None = None

    @property
    def provider_result(self) -> int | None:
        """Provider revenue less provider cost, in cents."""
        if self.provider_revenue is None or self.provider_cost is None:
            return None
        return self.provider_revenue - self.provider_cost

    def as_record(self) -> dict:
        """The row as a dict keyed by :data:`SUMMARY_COLUMNS`, money in currency units."""
        record = {}
        for column in SUMMARY_COLUMNS:
            value = getattr(self, column)
            record[column] = cents_to_units(value) if column in MONEY_COLUMNS else value
        return record


@dataclass(frozen=True)
class Table:
    """A titled table for a contract sheet or the Inputs sheet.

    Parameters
    ----------
    title : str
        Heading written above the table.
    frame : pandas.DataFrame
        The rows; money columns already in currency units.
    kinds : dict
        Column name -> :data:`ColumnKind`; columns not named are shown as ``text``
        when they hold strings and ``number`` otherwise.
    note : str
        One sentence under the title (optional).
    """

    title: str
    frame: pd.DataFrame
    kinds: dict[str, ColumnKind] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class ContractResult:
    """Everything one contract's settlement produced.

    ``episodes`` lists an episode bundle's episodes (the Episodes sheet), money in
    currency units; None for other models. ``settled_years`` holds the arithmetic of each
    settled performance year by year, money in cents: the rows of the per-year table
    before they are shown (the bootstrap redraws from them).
    """

    name: str
    model: str
    rows: list[SummaryRow]
    tables: list[Table]
    warnings: list[str] = field(default_factory=list)
    episodes: pd.DataFrame | None = None
    settled_years: dict[int, dict] = field(default_factory=dict)


@dataclass(frozen=True)
class InputFileReport:
    """Row and amount reconciliation of one input table from one file."""

    file: str
    sheet: str
    table: str
    sha256: str
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    amount_read: int | None
    amount_accepted: int | None
    amount_rejected: int | None
    blank_rows: int = 0


@dataclass(frozen=True)
class Comparison:
    """A whole run: what the workbook and the JSON summary are written from.

    Attributes
    ----------
    summary : pandas.DataFrame
        One row per scenario x contract x performance year, columns
        :data:`SUMMARY_COLUMNS`, money in currency units.
    contracts : list of ContractResult
        Detail per contract, in the order of the contracts file.
    input_files : list of InputFileReport
        One entry per input table read.
    rejected : pandas.DataFrame
        Every rejected row: file, sheet, table, row, column, value, reason.
    spillover : pandas.DataFrame
        Per scenario, contract, year and domain: expected, actual and delta spend (the
        Spillover sheet), money in currency units.
    spillover_years : pandas.DataFrame
        Per scenario, contract and year: targeted savings, spillover, cost beyond FFS,
        net insurer savings and offset ratio, or why they are blank.
    terms_text : str
        The contracts file as given (its text).
    settings : dict
        Program version and run settings, name -> value (text or number).
    currency : str
        Currency code shown in number formats and headers.
    risk : funding_models.risk.RiskReport or None
        The bootstrap of the base run (the Risk sheet), when one was asked for.
    """

    summary: pd.DataFrame
    contracts: list[ContractResult]
    input_files: list[InputFileReport]
    rejected: pd.DataFrame
    terms_text: str
    settings: dict[str, object]
    currency: str = "EUR"
    spillover: pd.DataFrame = field(default_factory=pd.DataFrame)
    spillover_years: pd.DataFrame = field(default_factory=pd.DataFrame)
    risk: RiskReport | None = None


def summary_frame(rows: list[SummaryRow]) -> pd.DataFrame:
    """Summary rows as a DataFrame in :data:`SUMMARY_COLUMNS` order."""
    frame = pd.DataFrame([row.as_record() for row in rows], columns=list(SUMMARY_COLUMNS))
    return frame.astype({"year": "Int64", "members": "Int64"})
