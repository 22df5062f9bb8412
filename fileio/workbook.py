"""Write the comparison workbook (SPEC §6) from a :class:`~funding_models.results.Comparison`.

Sheets, in order: ``Read me``, ``Summary`` (with native bar charts), one sheet per
contract, ``Inputs`` and ``Rejected``. The workbook is streamed with openpyxl's write-only
mode (fast for a long Rejected sheet), written atomically (a failed run leaves no file) and
made byte-identical for the same comparison: fixed document dates and a zip rewritten with
fixed entry times and attributes.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import io
import itertools
import os
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import Cell, WriteOnlyCell
from openpyxl.chart import BarChart, Reference
from openpyxl.chart.data_source import AxDataSource, StrRef
from openpyxl.compat import safe_string
from openpyxl.packaging.core import DocumentProperties
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel
from openpyxl.writer.excel import ExcelWriter

from fileio.atomic import atomic_output
from fileio.csv_text import formula_safe
from fileio.xlsx_style import (
    BOLD, ITALIC, WRAP, cell_value, clean_text, column_kind, column_width, escape_xml,
    make_cell, number_formats, row_xml,
)
from funding_models.results import (
    REJECTED_COLUMNS, SUMMARY_COLUMNS, SUMMARY_KINDS, ColumnKind, Comparison, ContractResult,
    InputFileReport, Table, cents_to_units,
)
from funding_models.risk import RISK_KINDS, RiskOptions, RiskReport
from funding_models.sweep import term_column

if TYPE_CHECKING:
    from fileio.jobs import SweepRun

READ_ME = "Read me"
SUMMARY = "Summary"
SPILLOVER = "Spillover"
EPISODES = "Episodes"
INPUTS = "Inputs"
REJECTED = "Rejected"
RISK = "Risk"
SWEEP = "Sweep"

#: Names a contract sheet may not take (Excel reserves "History").
RESERVED_SHEET_NAMES = (READ_ME, SUMMARY, SPILLOVER, EPISODES, RISK, INPUTS, REJECTED,
                        "History")

#: Longest sheet name Excel accepts.
MAX_SHEET_NAME = 31

#: Data rows a sheet holds below its header row (Excel's 1,048,576 rows less one).
MAX_DATA_ROWS = 1_048_575

#: Columns of the Rejected sheet.

#: Columns of the Spillover sheet's tables.
SPILLOVER_YEAR_KINDS: dict[str, ColumnKind] = {
    "scenario": "text", "contract": "text", "year": "year", "targeted_savings": "money",
    "spillover": "money", "cost_beyond_ffs": "money", "net_insurer_savings": "money",
    "offset_ratio": "rate", "note": "text",
}
SPILLOVER_DOMAIN_KINDS: dict[str, ColumnKind] = {
    "scenario": "text", "contract": "text", "year": "year", "domain": "text",
    "in_scope": "text", "baseline_pmpm": "money", "expected_pmpm": "money",
    "member_months": "number", "expected": "money", "actual": "money", "delta": "money",
}

#: Most series (contract-years) in the Spillover chart; the tables list them all.
MAX_CHART_SERIES = 12

#: Columns of the Episodes sheet.
EPISODE_KINDS: dict[str, ColumnKind] = {
    "scenario": "text", "contract": "text", "year": "year", "member": "text", "trigger_date": "date",
    "trigger_code": "text", "triggers": "count", "claims": "count", "cost": "money",
    "winsorised_cost": "money", "target": "money",
}

#: Columns of the input-file table on the Inputs sheet.
INPUT_FILE_KINDS: dict[str, ColumnKind] = {
    "file": "text", "sheet": "text", "table": "text", "sha256": "text",
    "rows_read": "count", "rows_accepted": "count", "rows_rejected": "count",
    "blank_rows": "count", "amount_read": "money", "amount_accepted": "money",
    "amount_rejected": "money",
}

#: One sentence per Summary column, shown on the Read me sheet.
COLUMN_MEANINGS = {
    "scenario": "The scenario the row was settled under; base is the claims as they are.",
    "contract": "The contract's name as given in the contracts file.",
    "model": "The funding model the contract settles under.",
    "provider": "The provider or providers that hold the contract.",
    "year": "The performance year.",
    "members": "Members in the contract's population in the year.",
    "member_months": "Months of membership of those members in the year.",
    "insurer_cost": "What the insurer pays for what the contract covers.",
    "ffs_equivalent": "The claimed amounts of the same care: what plain fee-for-service "
                      "would have cost.",
    "provider_revenue": "What the contract's provider side receives under the contract.",
    "provider_cost": "The claimed amounts of the care the contract's provider side "
                     "carries.",
    "provider_result": "Provider revenue less provider cost.",
    "shared_savings": "Savings paid to the provider in the model's settlement.",
    "shared_losses": "Losses the provider pays back in the model's settlement.",
    "stop_loss": "What the insurer pays above the stop-loss attachment in the model's "
                 "settlement.",
    "corridor": "What the risk corridors move between insurer and provider in the "
                "model's settlement (positive: paid by the insurer).",
    "reconciliation": "The year-end reconciliation payment of a bundle in the model's "
                      "settlement (positive: paid to the provider).",
    "savings_rate": "Savings as a share of the benchmark.",
    "spillover": "Rise in spend on care outside the contract's scope against its trended "
                 "baseline (the waterbed).",
    "net_insurer_savings": "Targeted savings less spillover less what the contract costs "
                           "the insurer beyond fee-for-service.",
    "status": "ok, or why a figure in the row is blank.",
}

COMPARE_LINE = ("Compare contracts by insurer cost − FFS equivalent: what the contract "
                "costs the insurer beyond fee-for-service.")

#: Column widths are measured on this many rows of a table.
WIDTH_SAMPLE_ROWS = 1_000

#: Rows of spliced sheet XML compressed at a time.
SPLICE_BATCH_ROWS = 2_000

CHART_LABEL = "chart label"
CHART_HEIGHT_CM = 9.0
CHART_ROWS = 20  # rows a chart takes, with a margin, at the default row height

# Document dates and zip entry times are fixed so that the same comparison gives the
# same bytes.
DOCUMENT_TIME = dt.datetime(2000, 1, 1)
ZIP_ENTRY_TIME = (1980, 1, 1, 0, 0, 0)
ZIP_ENTRY_ATTRIBUTES = 0o100644 << 16

_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\\x00-\x1f\x7f]")


def write_comparison_workbook(comparison: Comparison, path: str | os.PathLike,
                              inputs: Iterable[str | os.PathLike] = ()) -> None:
    """Write the comparison workbook to ``path``, all at once or not at all.

    Parameters
    ----------
    comparison : Comparison
        What to write.
    path : str or os.PathLike
        The ``.xlsx`` file to create or replace.
    inputs : iterable of str or os.PathLike
        The run's input files; ``path`` may not be one of them.

    Raises
    ------
    fileio.atomic.OutputPathError
        When ``path`` cannot be written (see :func:`fileio.atomic.atomic_output`).

    Examples
    --------
    >>> write_comparison_workbook(comparison, "out/comparison.xlsx",
    ...                           inputs=["claims.csv"])  # doctest: +SKIP

    When the episodes of episode bundles pass a sheet's row limit, they are written to
    ``<workbook>_episodes.csv`` beside it (atomically too) and the Episodes sheet says so.
    """
    episodes = episodes_of(comparison)
    overflow = episodes is not None and len(episodes) > MAX_DATA_ROWS
    episodes_csv = episodes_csv_path(path) if overflow else None
    with contextlib.ExitStack() as outputs:
        temporary = outputs.enter_context(atomic_output(path, inputs=inputs))
        if episodes_csv is not None:
            _write_episodes_csv(episodes, outputs.enter_context(
                atomic_output(episodes_csv, inputs=[*inputs, path])))
        workbook, extra_rows = _build_workbook(
            comparison, episodes, episodes_csv.name if episodes_csv else None)
        save_deterministically(workbook, temporary, extra_rows)


def episodes_of(comparison: Comparison) -> pd.DataFrame | None:
    """Every episode of the comparison's episode bundles, or None without any."""
    frames = [result.episodes for result in comparison.contracts
              if result.episodes is not None]
    return pd.concat(frames, ignore_index=True) if frames else None


def episodes_csv_path(path: str | os.PathLike) -> Path:
    """Where episodes that do not fit on a sheet are written: ``<workbook>_episodes.csv``."""
    path = Path(path)
    return path.with_name(f"{path.stem}_episodes.csv")


def write_table_workbook(frame: pd.DataFrame, path: str | os.PathLike, *,
                         kinds: dict[str, ColumnKind], sheet: str, currency: str = "EUR",
                         inputs: Iterable[str | os.PathLike] = ()) -> None:
    """Write one table to a one-sheet workbook, atomically and reproducibly.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table; money columns in currency units.
    path : str or os.PathLike
        The ``.xlsx`` file to create or replace.
    kinds : dict
        Column name -> :data:`~funding_models.results.ColumnKind`.
    sheet : str
        The sheet's name.
    currency : str
        Shown in the money format.
    inputs : iterable of str or os.PathLike
        Files ``path`` may not be.
    """
    with atomic_output(path, inputs=inputs) as temporary:
        workbook = Workbook(write_only=True)
        workbook.properties = DocumentProperties(
            creator="fundcalc", title=sheet, created=DOCUMENT_TIME, modified=DOCUMENT_TIME)
        grid = _grid(frame, kinds)
        target = workbook.create_sheet(_valid_sheet_name(sheet))
        _set_widths(target, _grid_widths(grid, currency))
        target.freeze_panes = "A2"
        target.append(_header_row(target, grid.headers))
        for row in _data_rows(target, grid, number_formats(currency)):
            target.append(row)
        target.auto_filter.ref = (f"A1:{get_column_letter(max(len(grid.headers), 1))}"
                                  f"{grid.row_count + 1}")
        save_deterministically(workbook, temporary, {})


def contract_sheet_names(names: Sequence[str]) -> list[str]:
    """Valid, unique sheet names for contracts, in order.

    Characters Excel forbids (``[]:*?/\\`` and control characters) become ``_``, names
    are cut to 31 characters without leading or trailing apostrophes, and a name already
    taken (case-insensitively, the fixed sheets included) gets `` (2)``, `` (3)``...

    Examples
    --------
    >>> contract_sheet_names(["ACO: north", "aco_ north", "Summary"])
    ['ACO_ north', 'aco_ north (2)', 'Summary (2)']
    """
    taken = {name.casefold() for name in RESERVED_SHEET_NAMES}
    unique = []
    for name in names:
        base = _valid_sheet_name(name)
        candidate, number = base, 2
        while candidate.casefold() in taken:
            suffix = f" ({number})"
            candidate = base[: MAX_SHEET_NAME - len(suffix)].rstrip("'") + suffix
            number += 1
        taken.add(candidate.casefold())
        unique.append(candidate)
    return unique


def _valid_sheet_name(name: str) -> str:
    """A contract name as Excel accepts it for a sheet (not yet made unique)."""
    text = _SHEET_NAME_FORBIDDEN.sub("_", clean_text(str(name)))
    return text.strip("'")[:MAX_SHEET_NAME].rstrip("'") or "Contract"


# -- building the workbook --------------------------------------------------------------

def _build_workbook(comparison: Comparison, episodes: pd.DataFrame | None,
                    episodes_csv: str | None) -> tuple[Workbook, dict[object, Iterator[str]]]:
    """All sheets of the workbook, in order, streamed into a write-only workbook.

    Returns the workbook and, for the Episodes and Rejected sheets, their data rows as
    XML to splice in on saving (see :func:`_write_episodes`, :func:`_write_rejected`).
    """
    workbook = Workbook(write_only=True)
    workbook.properties = DocumentProperties(
        creator="fundcalc", title="fundcalc comparison", created=DOCUMENT_TIME,
        modified=DOCUMENT_TIME)
    formats = number_formats(comparison.currency)
    sheet_names = contract_sheet_names([result.name for result in comparison.contracts])
    _write_read_me(workbook.create_sheet(READ_ME), comparison, sheet_names)
    _write_summary(workbook.create_sheet(SUMMARY), comparison.summary, formats,
                   comparison.currency)
    for result, name in zip(comparison.contracts, sheet_names):
        _write_contract(workbook.create_sheet(name), result, formats, comparison.currency)
    _write_spillover(workbook.create_sheet(SPILLOVER), comparison, formats)
    extra_rows = {}
    if episodes is not None:
        sheet = workbook.create_sheet(EPISODES)
        extra_rows[sheet] = _write_episodes(sheet, episodes, formats, comparison.currency,
                                            episodes_csv)
    if comparison.risk is not None:
        write_risk_sheet(workbook.create_sheet(RISK), comparison.risk, formats,
                         comparison.currency)
    _write_inputs(workbook.create_sheet(INPUTS), comparison, formats)
    rejected = workbook.create_sheet(REJECTED)
    extra_rows[rejected] = _write_rejected(rejected, comparison.rejected)
    return workbook, extra_rows


@dataclass(frozen=True)
class _Grid:
    """A frame turned into cell values, column by column, with each column's kind."""

    headers: list[str]
    kinds: list[ColumnKind]
    columns: list[list]

    @property
    def row_count(self) -> int:
        """Number of data rows."""
        return len(self.columns[0]) if self.columns else 0


def _grid(frame: pd.DataFrame, kinds: dict[str, ColumnKind]) -> _Grid:
    """Convert a frame to a :class:`_Grid` (positionally, so duplicate names are fine)."""
    series = [column for _, column in frame.items()]
    return _Grid(
        headers=[clean_text(str(name)) for name in frame.columns],
        kinds=[column_kind(column, kinds, name)
               for column, name in zip(series, frame.columns)],
        columns=[[cell_value(value) for value in column.tolist()] for column in series],
    )


def _grid_widths(grid: _Grid, currency: str) -> list[float]:
    """Column widths that fit a grid's headers and its first rows' values."""
    return [column_width(header, values[:WIDTH_SAMPLE_ROWS], kind, currency)
            for header, values, kind in zip(grid.headers, grid.columns, grid.kinds)]


def _widest(*widths: list[float]) -> list[float]:
    """Column by column, the widest of several width lists."""
    longest = max((len(w) for w in widths), default=0)
    return [max(w[i] for w in widths if i < len(w)) for i in range(longest)]


def _set_widths(sheet, widths: list[float | None]) -> None:
    """Set column widths; ``None`` keeps the default (write-only: before the first row)."""
    for position, width in enumerate(widths, 1):
        if width is not None:
            sheet.column_dimensions[get_column_letter(position)].width = width


def _header_row(sheet, headers: Iterable[str]) -> list:
    """A bold header row."""
    return [make_cell(sheet, header, font=BOLD) for header in headers]


def _data_rows(sheet, grid: _Grid, formats: dict[ColumnKind, str | None]) -> Iterator[list]:
    """The grid's rows as cells, each column in its kind's number format."""
    column_formats = [formats[kind] for kind in grid.kinds]
    for values in zip(*grid.columns):
        yield [make_cell(sheet, value, number_format)
               for value, number_format in zip(values, column_formats)]


def _append_text(sheet, *texts, font=None, alignment=None) -> None:
    """Append one row of text cells."""
    sheet.append([make_cell(sheet, cell_value(text), font=font, alignment=alignment)
                  for text in texts])


# -- Read me ----------------------------------------------------------------------------

def _write_read_me(sheet, comparison: Comparison, contract_sheets: list[str]) -> None:
    """What the workbook is, where everything is, and what each Summary column means."""
    sheets = _sheet_descriptions(comparison, contract_sheets)
    _set_widths(sheet, [column_width("", [name for name, _ in sheets] + list(SUMMARY_COLUMNS),
                                     "text", comparison.currency), 110])
    _append_text(sheet, "fundcalc comparison workbook", font=BOLD)
    sheet.append([])
    _append_text(sheet, "About", _about(comparison.currency), alignment=WRAP)
    _append_text(sheet, "Comparing", COMPARE_LINE, alignment=WRAP)
    sheet.append([])
    sheet.append(_header_row(sheet, ["Sheet", "What it holds"]))
    for name, description in sheets:
        _append_text(sheet, name, description)
    sheet.append([])
    sheet.append(_header_row(sheet, ["Summary column", "Meaning"]))
    for column in SUMMARY_COLUMNS:
        _append_text(sheet, column, COLUMN_MEANINGS[column])


def _about(currency: str) -> str:
    """The paragraph that says what the workbook is."""
    return (
        "This workbook compares how health-insurer contracts settle under four funding "
        "models (fee-for-service, shared savings, capitation and bundled payments) on the "
        "same claims data. fundcalc wrote it from the input files and contract terms "
        f"listed on the Inputs sheet. Money is in {currency}. A blank figure does not "
        "apply to the contract's model or could not be computed; the status column says "
        "why. The same inputs always give the same workbook.")


def _sheet_descriptions(comparison: Comparison,
                        contract_sheets: list[str]) -> list[tuple[str, str]]:
    """(sheet name, what it holds) for every sheet, in workbook order."""
    contracts = [(name, f"Detail of contract {result.name}: its settlement tables by "
                        "year, provider and domain, and any warnings.")
                 for name, result in zip(contract_sheets, comparison.contracts)]
    return [
        (READ_ME, "This page."),
        (SUMMARY, "One row per scenario, contract and performance year, with charts of "
                  "insurer cost and provider result to the right of the table."),
        *contracts,
        (SPILLOVER, "Spend per domain against its expected level for each contract and "
                    "year (and scenario), with a chart of the deltas: targeted savings, "
                    "spillover to other domains, net insurer savings and offset ratio."),
        *([(EPISODES, "Every episode of the episode bundles, per scenario: contract, year, "
                      "member, trigger date and code, triggers, claims, cost, winsorised "
                      "cost and target.")] if any(r.episodes is not None for r in comparison.contracts)
          else []),
        *([(RISK, "The bootstrap: per contract and year, P5, P50 and P95 of insurer cost "
                  "and provider result over resamples of the members, the chance that "
                  "shared savings are paid and the provider's share of risk; a histogram "
                  "and chart of provider result per contract.")] if comparison.risk
          is not None else []),
        (INPUTS, "Each input file with its SHA-256 and the rows and amounts read, "
                 "accepted and rejected; the run's settings; the contract terms as "
                 "given."),
        (REJECTED, "Every rejected input row and why it was rejected."),
    ]


# -- Summary ----------------------------------------------------------------------------

def _write_summary(sheet, summary: pd.DataFrame, formats: dict[ColumnKind, str | None],
                   currency: str) -> None:
    """The Summary table, frozen and filtered, with its charts to the right.

    A ``chart label`` column (contract and year) beside the table, after one empty
    column, names the bars; the charts read their values from the table itself, so
    filtering the table filters the charts.
    """
    grid = _grid(summary.reindex(columns=list(SUMMARY_COLUMNS)), SUMMARY_KINDS)
    labels = _chart_labels(grid)
    label_column = len(SUMMARY_COLUMNS) + 2
    _set_widths(sheet, _grid_widths(grid, currency)
                + [None, column_width(CHART_LABEL, labels, "text", currency)])
    sheet.freeze_panes = "C2"
    _append_labelled(sheet, grid, labels, formats)
    last_column = get_column_letter(len(SUMMARY_COLUMNS))
    sheet.auto_filter.ref = f"A1:{last_column}{grid.row_count + 1}"
    if grid.row_count:
        _add_bar_charts(sheet, grid, 1, label_column, (
            ("insurer_cost", f"Insurer cost by contract and year ({currency})"),
            ("provider_result", f"Provider result by contract and year ({currency})")))


def _append_labelled(sheet, grid: _Grid, labels: list[str],
                     formats: dict[ColumnKind, str | None]) -> None:
    """The table's header and rows, each with its chart label after one empty column."""
    sheet.append(_header_row(sheet, grid.headers) + [None, make_cell(sheet, CHART_LABEL,
                                                                     font=BOLD)])
    for row, label in zip(_data_rows(sheet, grid, formats), labels):
        sheet.append(row + [None, make_cell(sheet, label)])


def _chart_labels(grid: _Grid) -> list[str]:
    """A bar label per Summary row: contract and year, and the scenario when several."""
    column = dict(zip(grid.headers, grid.columns))
    several_scenarios = len(set(column["scenario"])) > 1
    labels = []
    for scenario, contract, year in zip(column["scenario"], column["contract"],
                                        column["year"]):
        parts = [f"{scenario}:" if several_scenarios else None, contract, year]
        labels.append(clean_text(" ".join(str(part) for part in parts if part is not None)))
    return labels


def _add_bar_charts(sheet, grid: _Grid, header_row: int, label_column: int,
                    charts: Sequence[tuple[str, str]]) -> None:
    """A bar chart per (column, title) of ``charts``, stacked right of the table whose
    header is on ``header_row``; the bars are named by the chart labels."""
    rows = grid.row_count
    categories = Reference(sheet, min_col=label_column, min_row=header_row + 1,
                           max_row=header_row + rows)
    anchor_column = get_column_letter(label_column + 2)
    for position, (column, title) in enumerate(charts):
        values = Reference(sheet, min_col=grid.headers.index(column) + 1, min_row=header_row,
                           max_row=header_row + rows)
        sheet.add_chart(_bar_chart(values, categories, title, rows),
                        f"{anchor_column}{header_row + position * CHART_ROWS}")


def _bar_chart(values: Reference, categories: Reference, title: str, bars: int) -> BarChart:
    """A column chart of one series; wider with more bars so labels stay readable."""
    chart = BarChart()
    chart.type = "col"
    chart.title = title
    chart.add_data(values, titles_from_data=True)
    # Labels are text: a string reference (set_categories would declare numbers).
    chart.series[0].cat = AxDataSource(strRef=StrRef(f=str(categories)))
    chart.legend = None
    chart.y_axis.number_format = "#,##0"
    chart.x_axis.delete = False  # openpyxl 3.1 hides axes unless told otherwise
    chart.y_axis.delete = False
    chart.height = CHART_HEIGHT_CM
    chart.width = min(max(16.0, 4.0 + 1.2 * bars), 150.0)
    return chart


# -- contract sheets --------------------------------------------------------------------

def _write_contract(sheet, result: ContractResult, formats: dict[ColumnKind, str | None],
                    currency: str) -> None:
    """Contract name, model and provider, warnings, then each detail table."""
    head = [("Contract", result.name), ("Model", result.model),
            ("Provider", _providers(result))]
    grids = [_grid(table.frame, table.kinds) for table in result.tables]
    head_widths = [column_width("", [cell_value(v) for v in column], "text", currency)
                   for column in zip(*head)]
    _set_widths(sheet, _widest(head_widths,
                               *(_grid_widths(grid, currency) for grid in grids)))
    sheet.freeze_panes = f"A{len(head) + 1}"
    for label, value in head:
        sheet.append([make_cell(sheet, label, font=BOLD),
                      make_cell(sheet, cell_value(value))])
    if result.warnings:
        sheet.append([])
        _append_text(sheet, "Warnings", font=BOLD)
        for warning in result.warnings:
            _append_text(sheet, warning)
    for table, grid in zip(result.tables, grids):
        sheet.append([])
        _append_table(sheet, table, grid, formats)


def _providers(result: ContractResult) -> str:
    """The contract's providers, as they appear in its summary rows."""
    providers = dict.fromkeys(str(row.provider) for row in result.rows
                              if row.provider is not None)
    return ", ".join(providers)


def _append_table(sheet, table: Table, grid: _Grid,
                  formats: dict[ColumnKind, str | None]) -> None:
    """A titled table: bold title, italic note, bold header, formatted rows."""
    _append_text(sheet, table.title, font=BOLD)
    if table.note:
        _append_text(sheet, table.note, font=ITALIC)
    sheet.append(_header_row(sheet, grid.headers))
    for row in _data_rows(sheet, grid, formats):
        sheet.append(row)


# -- Spillover --------------------------------------------------------------------------

def _write_spillover(sheet, comparison: Comparison,
                     formats: dict[ColumnKind, str | None]) -> None:
    """The change in spend per domain against its expected level: a chart of the deltas,
    then the figures per contract and year, and per contract, year and domain."""
    currency = comparison.currency
    domains = comparison.spillover
    years = comparison.spillover_years
    pivot = _delta_pivot(domains)
    grids = [_grid(pivot, {c: ("text" if c == "domain" else "money") for c in pivot}),
             _grid(years, SPILLOVER_YEAR_KINDS), _grid(domains, SPILLOVER_DOMAIN_KINDS)]
    _set_widths(sheet, _widest(*(_grid_widths(grid, currency) for grid in grids)))
    _append_text(sheet, "Spillover: spend per domain against its expected level", font=BOLD)
    _append_text(sheet, "expected = trended baseline PMPM x member months of the contract's "
                        "population; delta = actual − expected. Negative deltas in the "
                        "contract's domains are targeted savings; positive deltas elsewhere "
                        "are spillover (the waterbed). net insurer savings = targeted "
                        "savings − spillover − what the contract costs beyond "
                        "fee-for-service.", font=ITALIC)
    if domains.empty:
        _append_text(sheet, "No contract's spillover could be measured: it needs baseline "
                            "years (the Summary's status says why for each contract).")
        return
    tables = [
        (Table(f"Delta by domain ({currency}), the chart's data", pivot), grids[0]),
        (Table("Per contract and year", years), grids[1]),
        (Table("Per contract, year and domain", domains), grids[2]),
    ]
    if pivot.shape[1] < 2:
        tables = tables[1:]  # every contract covers all domains: nothing to chart
    row = 2
    for position, (table, grid) in enumerate(tables):
        sheet.append([])
        _append_table(sheet, table, grid, formats)
        if table.frame is pivot:
            header_row = row + 3  # blank row, title, header
            _add_spillover_chart(sheet, header_row, grid, currency)
            _append_text(sheet, f"Charted: contract-years with domains outside their scope "
                                f"(at most {MAX_CHART_SERIES}); the tables below list all.",
                         font=ITALIC)
            row += 1
        row += 2 + grid.row_count + 1


def _delta_pivot(domains: pd.DataFrame) -> pd.DataFrame:
    """Delta per domain (rows) and scenario-contract-year (columns), for the chart.

    Only contract-years with a domain outside their scope are charted: a contract that
    covers every domain has no spillover to show.
    """
    if domains.empty:
        return pd.DataFrame(columns=["domain"])
    several = domains["scenario"].nunique() > 1
    label = (domains["contract"].astype(str) + " " + domains["year"].astype(str))
    if several:
        label = domains["scenario"].astype(str) + ": " + label
    frame = domains.assign(series=label.to_numpy())
    partial = frame.groupby("series")["in_scope"].transform(lambda s: not s.all())
    labels = list(dict.fromkeys(frame.loc[partial.astype(bool), "series"]))[:MAX_CHART_SERIES]
    if not labels:
        return pd.DataFrame(columns=["domain"])
    frame = frame[frame["series"].isin(labels)]
    pivot = frame.pivot_table(index="domain", columns="series", values="delta",
                              aggfunc="sum", sort=True).reindex(columns=labels)
    pivot.columns = [clean_text(str(c)) for c in pivot.columns]
    return pivot.reset_index()


def _add_spillover_chart(sheet, header_row: int, grid: _Grid, currency: str) -> None:
    """A clustered column chart of the deltas: one cluster per domain, one bar per
    contract-year."""
    chart = BarChart()
    chart.type = "col"
    chart.grouping = "clustered"
    chart.title = f"Spend against expected by domain ({currency}): below 0 saved, above 0 spilled over"
    last_row = header_row + grid.row_count
    values = Reference(sheet, min_col=2, max_col=len(grid.headers), min_row=header_row,
                       max_row=last_row)
    chart.add_data(values, titles_from_data=True)
    categories = Reference(sheet, min_col=1, min_row=header_row + 1, max_row=last_row)
    for series in chart.series:
        series.cat = AxDataSource(strRef=StrRef(f=str(categories)))
    chart.y_axis.number_format = "#,##0"
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    chart.height = CHART_HEIGHT_CM
    chart.width = min(max(18.0, 3.0 * grid.row_count * max(len(grid.headers) - 1, 1) / 3),
                      40.0)
    sheet.add_chart(chart, f"{get_column_letter(len(grid.headers) + 2)}{header_row}")


# -- Episodes ---------------------------------------------------------------------------

def _write_episodes(sheet, episodes: pd.DataFrame, formats: dict[ColumnKind, str | None],
                    currency: str, episodes_csv: str | None) -> Iterator[str]:
    """Every episode, one per row; or, when they pass the row limit, where they are.

    Returns the data rows as XML to splice in on saving (see :func:`_styled_rows_xml`).
    """
    if episodes_csv is not None:
        _append_text(sheet, f"{len(episodes):,} episodes are more than a sheet holds; they "
                            f"are listed in {episodes_csv}, beside this workbook.", font=BOLD)
        return iter(())
    grid = _grid(episodes, EPISODE_KINDS)
    _set_widths(sheet, _grid_widths(grid, currency))
    sheet.freeze_panes = "A2"
    sheet.append(_header_row(sheet, grid.headers))
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(grid.headers))}{grid.row_count + 1}"
    return _styled_rows_xml(sheet, grid, formats, first_row=2)


def _styled_rows_xml(sheet, grid: _Grid, formats: dict[ColumnKind, str | None],
                     first_row: int) -> Iterator[str]:
    """The grid's rows as worksheet XML, the same bytes as openpyxl writes for the cells
    of :func:`_data_rows`, several times faster.

    The styles are registered now (see :func:`_register_styles`); the rows are made when
    the sheet is saved.
    """
    styles = _register_styles(sheet, grid, formats)
    letters = [get_column_letter(position) for position in range(1, len(grid.columns) + 1)]
    epoch = sheet.parent.epoch

    def rows() -> Iterator[str]:
        for row_number, values in enumerate(zip(*grid.columns), first_row):
            cells = "".join(
                _styled_cell_xml(f"{letter}{row_number}", value,
                                 styles.get((position, type(value))), epoch)
                for position, (letter, value) in enumerate(zip(letters, values))
                if value is not None)
            yield f'<row r="{row_number}">{cells}</row>'

    return rows()


def _register_styles(sheet, grid: _Grid, formats: dict[ColumnKind, str | None]
                     ) -> dict[tuple[int, type], str]:
    """The style id of the values of each type in each column (not there: unstyled).

    A cell's style depends on its column's number format and its value's type. Number
    formats and styles are registered in the workbook in the order openpyxl meets them,
    and that order is in the saved file: so the rows up to the last first appearance of
    a type in a column are made into cells, as :func:`_data_rows` and openpyxl's
    ``append`` make them, and their styles looked up in order, as its writer does.
    """
    types = [list(map(type, column)) for column in grid.columns]
    last = max((kinds.index(kind) for kinds in types for kind in set(kinds) - {type(None)}),
               default=-1)
    styles = {}
    for values in itertools.islice(_data_rows(sheet, grid, formats), last + 1):
        for position, value in enumerate(values):
            if value is None:
                continue
            cell = value if isinstance(value, Cell) else WriteOnlyCell(sheet, value)
            if cell.has_style:
                styles[position, type(cell.value)] = str(cell.style_id)
    return styles


def _styled_cell_xml(reference: str, value, style: str | None, epoch) -> str:
    """One ``<c>`` element as openpyxl writes a value from :func:`cell_value`."""
    if isinstance(value, str):  # cut to a cell's length by cell_value already
        if not value:
            return f'<c r="{reference}" t="inlineStr" />'
        stripped = value.strip()
        space = ' xml:space="preserve"' if stripped and stripped != value else ""
        return (f'<c r="{reference}" t="inlineStr"><is><t{space}>{escape_xml(value)}'
                "</t></is></c>")
    kind = "b" if isinstance(value, bool) else "n"
    if isinstance(value, (dt.date, dt.time)):
        value = to_excel(value, epoch)
    shown = f' s="{style}"' if style is not None else ""
    return f'<c r="{reference}"{shown} t="{kind}"><v>{safe_string(value)}</v></c>'


def _write_episodes_csv(episodes: pd.DataFrame, path) -> None:
    safe = episodes.copy()
    for column in ("scenario", "contract", "member", "trigger_code"):
        if column in safe:
            safe[column] = formula_safe(safe[column])
    safe.to_csv(path, index=False, lineterminator="\n", date_format="%Y-%m-%d")


# -- Risk -------------------------------------------------------------------------------

def write_risk_sheet(sheet, report: RiskReport, formats: dict[ColumnKind, str | None],
                     currency: str) -> None:
    """The bootstrap: the distributions per contract and year, then per contract a
    histogram of provider result with its chart to the right.

    Parameters
    ----------
    sheet : openpyxl write-only worksheet
    report : funding_models.risk.RiskReport
    formats : dict
        Number format per column kind.
    currency : str
    """
    options = report.options
    histograms = [(contract, _histogram_table(frame)) for contract, frame
                  in report.histogram.groupby("contract", sort=False)]
    years_grid = _grid(report.years, RISK_KINDS)
    grids = [_grid(table, {"bin": "text", "bin_from": "money", "bin_to": "money"})
             for _, table in histograms]
    _set_widths(sheet, _widest(_grid_widths(years_grid, currency),
                               *(_grid_widths(grid, currency) for grid in grids)))
    _append_text(sheet, "Risk: how much of each contract's result is chance", font=BOLD)
    _append_text(sheet, _risk_note(options), font=ITALIC)
    sheet.append([])
    _append_table(sheet, Table("Per contract and year", report.years, RISK_KINDS,
                               RISK_COLUMNS_NOTE), years_grid, formats)
    row = 6 + years_grid.row_count  # title, note, blank, table title, its note, header
    for (contract, table), grid in zip(histograms, grids):
        sheet.append([])
        _append_table(sheet, Table(f"Provider result over the replicates: {contract}",
                                   table), grid, formats)
        header_row = row + 3  # blank row, title, header
        chart = _histogram_chart(sheet, header_row, grid, f"{contract}: provider result "
                                 f"({currency}), replicates per bin")
        sheet.add_chart(chart, f"{get_column_letter(len(grid.headers) + 2)}{header_row}")
        row = header_row + grid.row_count


#: What the Risk table's columns mean, under its title.
RISK_COLUMNS_NOTE = (
    "P5/P50/P95: percentiles over the replicates (money in currency units); "
    "shared_savings_probability: share of replicates in which shared savings are paid; "
    "provider_risk_share: Var(provider result) / Var(FFS equivalent) over the replicates; "
    "resampled: what is redrawn (members of the population, patients of a fee-for-service "
    "provider, episodes), units: how many.")


def _risk_note(options: RiskOptions) -> str:
    null = (" --null: each contract's care cost was first scaled to its benchmark "
            "(shared savings: the benchmark; capitation: the revenue; bundles: the target), "
            "held fixed, so what is paid is paid for luck alone." if options.null else "")
    return (f"{options.replicates:,} replicates, seed {options.seed}, of the base run (not "
            "the scenarios). Each replicate draws each contract-year's units with "
            "replacement, within segments, as many as there are, and settles the contract "
            "on them; where a figure settled comes from the baseline years, members are "
            "drawn with their baseline years. The insurer's book is held as settled."
            + null)


def _histogram_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One contract's histogram: a row per bin, a column of replicates per year."""
    counts = frame.pivot_table(index=["bin_from", "bin_to"], columns="year",
                               values="replicates", aggfunc="sum", sort=True)
    counts.columns = [f"{year} replicates" for year in counts.columns]
    bins = counts.index.to_frame(index=False)
    labels = [f"{low:,.0f} to {high:,.0f}" for low, high in zip(bins["bin_from"],
                                                                 bins["bin_to"])]
    return pd.concat([pd.DataFrame({"bin": labels}), bins,
                      counts.reset_index(drop=True).astype("Int64")], axis=1)


def _histogram_chart(sheet, header_row: int, grid: _Grid, title: str) -> BarChart:
    """A column chart of replicates per bin, one series per year."""
    chart = BarChart()
    chart.type = "col"
    chart.grouping = "clustered"
    chart.gapWidth = 10
    chart.title = title
    last_row = header_row + grid.row_count
    chart.add_data(Reference(sheet, min_col=4, max_col=len(grid.headers), min_row=header_row,
                             max_row=last_row), titles_from_data=True)
    categories = Reference(sheet, min_col=1, min_row=header_row + 1, max_row=last_row)
    for series in chart.series:
        series.cat = AxDataSource(strRef=StrRef(f=str(categories)))
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    chart.height = CHART_HEIGHT_CM
    chart.width = 20.0
    return chart


# -- Sweep ------------------------------------------------------------------------------

def write_sweep_workbook(run: SweepRun, path: str | os.PathLike,
                         inputs: Iterable[str | os.PathLike] = ()) -> None:
    """Write a sweep's workbook (one Sweep sheet), atomically and reproducibly.

    Parameters
    ----------
    run : fileio.jobs.SweepRun
    path : str or os.PathLike
        The ``.xlsx`` file to create or replace.
    inputs : iterable of str or os.PathLike
        The run's input files; ``path`` may not be one of them.
    """
    with atomic_output(path, inputs=inputs) as temporary:
        workbook = Workbook(write_only=True)
        workbook.properties = DocumentProperties(
            creator="fundcalc", title="fundcalc sweep", created=DOCUMENT_TIME,
            modified=DOCUMENT_TIME)
        write_sweep_sheet(workbook.create_sheet(SWEEP), run, number_formats(run.currency))
        save_deterministically(workbook, temporary, {})


def write_sweep_sheet(sheet, run: SweepRun, formats: dict[ColumnKind, str | None]) -> None:
    """The sweep's table, one row per point of the grid and year, with charts of insurer
    cost and provider result to the right (labelled by the terms at each point).

    Parameters
    ----------
    sheet : openpyxl write-only worksheet
    run : fileio.jobs.SweepRun
    formats : dict
        Number format per column kind.
    """
    columns = [term_column(key) for key in run.varied]
    kinds = {**{column: "text" for column in columns}, **SUMMARY_KINDS}
    frame = run.frame
    grid = _grid(frame, kinds)
    labels = [clean_text(", ".join(f"{key}={value}" for key, value in zip(run.varied, point))
                         + f" ({year})")
              for point, year in zip(frame[columns].itertuples(index=False), frame["year"])]
    top = 3  # title, note, then the header
    label_column = len(grid.headers) + 2
    _set_widths(sheet, _grid_widths(grid, run.currency)
                + [None, column_width(CHART_LABEL, labels, "text", run.currency)])
    _append_text(sheet, f"Sweep: {run.contract} ({run.model}) settled at every combination "
                        f"of {', '.join(run.varied)}", font=BOLD)
    _append_text(sheet, "Each row settles the contract on the same claims with the terms "
                        "shown changed; money in " f"{run.currency}.", font=ITALIC)
    _append_labelled(sheet, grid, labels, formats)
    if not grid.row_count or frame["insurer_cost"].isna().all():
        return  # nothing settled: the reasons are in the status column
    _add_bar_charts(sheet, grid, top, label_column, [
        (column, f"{column.replace('_', ' ').capitalize()} over the grid ({run.currency})")
        for column in ("insurer_cost", "provider_result")])


# -- Inputs -----------------------------------------------------------------------------

def _write_inputs(sheet, comparison: Comparison,
                  formats: dict[ColumnKind, str | None]) -> None:
    """Input files with their reconciliation, the settings, and the terms as given."""
    tables = [
        Table("Input files", _input_files_frame(comparison.input_files), INPUT_FILE_KINDS,
              note=f"Amounts in {comparison.currency}."),
        # Settings are shown as given (General format): they mix text and numbers.
        Table("Settings", pd.DataFrame({"setting": list(comparison.settings),
                                        "value": list(comparison.settings.values())},
                                       dtype=object),
              {"setting": "text", "value": "text"}),
    ]
    grids = [_grid(table.frame, table.kinds) for table in tables]
    _set_widths(sheet, _widest(*(_grid_widths(grid, comparison.currency)
                                 for grid in grids)))
    for position, (table, grid) in enumerate(zip(tables, grids)):
        if position:
            sheet.append([])
        _append_table(sheet, table, grid, formats)
    sheet.append([])
    _append_text(sheet, "Contract terms as given", font=BOLD)
    for line in comparison.terms_text.splitlines():
        _append_text(sheet, line)


def _input_files_frame(reports: list[InputFileReport]) -> pd.DataFrame:
    """One row per input table, amounts converted from cents to currency units."""
    records = [{
        "file": report.file, "sheet": report.sheet, "table": report.table,
        "sha256": report.sha256, "rows_read": report.rows_read,
        "rows_accepted": report.rows_accepted, "rows_rejected": report.rows_rejected,
        "blank_rows": report.blank_rows,
        "amount_read": cents_to_units(report.amount_read),
        "amount_accepted": cents_to_units(report.amount_accepted),
        "amount_rejected": cents_to_units(report.amount_rejected),
    } for report in reports]
    return pd.DataFrame(records, columns=list(INPUT_FILE_KINDS), dtype=object)


# -- Rejected ----------------------------------------------------------------------------

def _write_rejected(sheet, rejected: pd.DataFrame) -> Iterator[str]:
    """The Rejected header, frozen and filtered; returns the data rows as XML.

    The rows (up to what a sheet holds) are spliced into the sheet's XML on saving, see
    :func:`fileio.xlsx_style.row_xml`. Values are shown as given (General format). When
    there are more rows than a sheet holds, a note beside the header gives the total.
    """
    extra = [column for column in rejected.columns if column not in REJECTED_COLUMNS]
    frame = rejected.reindex(columns=[*REJECTED_COLUMNS, *extra]).iloc[:MAX_DATA_ROWS]
    sample = _grid(frame.iloc[:WIDTH_SAMPLE_ROWS], dict.fromkeys(frame.columns, "text"))
    _set_widths(sheet, _grid_widths(sample, currency=""))
    sheet.freeze_panes = "A2"
    header = _header_row(sheet, sample.headers)
    if len(rejected) > len(frame):
        header += [None, make_cell(
            sheet, f"{len(rejected):,} rows were rejected; only the first {len(frame):,} "
                   "fit on this sheet.", font=BOLD)]
    sheet.append(header)
    sheet.auto_filter.ref = f"A1:{get_column_letter(frame.shape[1])}{len(frame) + 1}"
    return _rows_xml(frame, first_row=2)


def _rows_xml(frame: pd.DataFrame, first_row: int) -> Iterator[str]:
    """The frame's rows as worksheet XML, numbered from ``first_row``."""
    letters = [get_column_letter(position) for position in range(1, frame.shape[1] + 1)]
    for row_number, values in enumerate(frame.itertuples(index=False, name=None),
                                        first_row):
        yield row_xml(row_number, [cell_value(value) for value in values], letters)


# -- deterministic save -----------------------------------------------------------------

def save_deterministically(workbook: Workbook, target: str | os.PathLike,
                           extra_rows: dict[object, Iterator[str]]) -> None:
    """Save so that the same workbook content always gives the same bytes.

    ``extra_rows`` maps a sheet to rows of XML appended after the rows openpyxl wrote.
    """
    buffer = io.BytesIO()
    # ExcelWriter rather than Workbook.save: save() stamps the current time into the
    # document properties.
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        ExcelWriter(workbook, archive).write_data()
    # A sheet's part name is known once the writer has numbered the sheets.
    rows_by_part = {sheet.path.lstrip("/"): rows for sheet, rows in extra_rows.items()}
    _copy_zip_deterministically(buffer, target, rows_by_part)


def _copy_zip_deterministically(source, target: str | os.PathLike,
                                rows_by_part: dict[str, Iterator[str]]) -> None:
    """Copy a zip entry by entry, in order, with fixed times, attributes and compression,
    splicing extra rows into the named sheet parts."""
    with zipfile.ZipFile(source) as original, \
            zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as copy:
        for entry in original.infolist():
            stable = zipfile.ZipInfo(entry.filename, date_time=ZIP_ENTRY_TIME)
            stable.compress_type = zipfile.ZIP_DEFLATED
            stable.create_system = 3
            stable.external_attr = ZIP_ENTRY_ATTRIBUTES
            content = original.read(entry)
            if entry.filename.endswith(".xml"):
                # openpyxl writes a carriage return as it is, which XML readers turn into a
                # line feed; a character reference keeps it (text such as "\r=1+1").
                content = content.replace(b"\r", b"&#13;")
            if entry.filename in rows_by_part:
                _write_with_rows(copy, stable, content, rows_by_part[entry.filename])
            else:
                copy.writestr(stable, content)


def _write_with_rows(archive: zipfile.ZipFile, info: zipfile.ZipInfo, sheet_xml: bytes,
                     rows: Iterator[str]) -> None:
    """Stream a sheet into the archive with ``rows`` added at the end of its data."""
    head, tail = sheet_xml.split(b"</sheetData>")
    with archive.open(info, "w") as stream:
        stream.write(head)
        for batch in _batches(rows, SPLICE_BATCH_ROWS):
            stream.write("".join(batch).encode("utf-8"))
        stream.write(b"</sheetData>" + tail)


def _batches(items: Iterator[str], size: int) -> Iterator[list[str]]:
    """Consecutive lists of at most ``size`` items."""
    batch = list(itertools.islice(items, size))
    while batch:
        yield batch
        batch = list(itertools.islice(items, size))
