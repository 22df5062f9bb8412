"""Contracts in a workbook: read the ``contracts``, ``settings`` and ``scenarios`` sheets,
and write them (the template ``fundcalc sample`` gives).

How a row becomes a contract's terms is :mod:`contracts.sheet_rows`' job; this module
reads and writes the cells. A workbook is checked for zip and XML bombs before it is read
(:func:`fileio.safety.check_xlsx`), and text is written as text, never as a formula.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable

import yaml
from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.packaging.core import DocumentProperties
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from contracts.contracts_file import ContractsFile
from contracts.loading import ContractsError
from contracts.sheet_rows import (
    CONTRACT_COLUMNS,
    CONTRACTS_SHEET,
    SCENARIO_COLUMNS,
    SCENARIOS_SHEET,
    SETTING_COLUMNS,
    SETTINGS_SHEET,
    SheetGrid,
    UnreadableCell,
    column_comment,
    contracts_from_sheets,
    scenario_rows,
    sheet_cells,
    write_cell,
)
from fileio.atomic import atomic_output
from fileio.errors import InputError
from fileio.safety import check_xlsx
from fileio.sources import HEADER_SEARCH_ROWS, check_readable
from fileio.tables import normalise_header
from fileio.workbook import DOCUMENT_TIME, save_deterministically
from fileio.xlsx_style import cell_value, make_cell

_BOLD = Font(bold=True)


def read_contracts_workbook(path: str | os.PathLike
                            ) -> tuple[ContractsFile, str, dict[str, Any]]:
    """Read the contracts of a workbook: its ``contracts`` sheet (one row per contract)
    and, if present, its ``settings`` and ``scenarios`` sheets.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.xlsx`` workbook. Presets and factor tables given as relative paths are read
        from its folder.

    Returns
    -------
    ContractsFile
        The checked contracts, as from a contracts file.
    str
        The terms as read, written as YAML, to show them in the comparison's Inputs sheet.
    dict
        The terms as read (the content a YAML contracts file would have).

    Raises
    ------
    contracts.ContractsError
        When the workbook cannot be read or a term is wrong; each problem names the sheet,
        row and column.

    Examples
    --------
    >>> contracts, text, _ = read_contracts_workbook("sample/contracts.xlsx")  # doctest: +SKIP
    """
    path = Path(path)
    try:
        check_readable(path)
        check_xlsx(path)
        books = _open_twice(path)
        names = books[0].sheetnames
        sheets = {normalise_header(name): name for name in names}
        for name in (CONTRACTS_SHEET, SETTINGS_SHEET, SCENARIOS_SHEET):
            alike = [n for n in names if normalise_header(n) == name]
            if len(alike) > 1:
                raise InputError(f"{path}: the sheets {' and '.join(repr(n) for n in alike)} "
                                 f"both read as '{name}'; keep one, or rename the other")
        if CONTRACTS_SHEET not in sheets:
            raise InputError(f"{path}: no sheet named '{CONTRACTS_SHEET}' (sheets: "
                             f"{', '.join(sheets.values())}); write one contract per row "
                             f"on a sheet named '{CONTRACTS_SHEET}'")
        grids = {name: _read_grid(path, books, sheets[name],
                                  "setting" if name == SETTINGS_SHEET else "name")
                 for name in (CONTRACTS_SHEET, SETTINGS_SHEET, SCENARIOS_SHEET)
                 if name in sheets}
    except InputError as error:
        raise ContractsError(str(error)) from None
    contracts, data = contracts_from_sheets(
        grids[CONTRACTS_SHEET], grids.get(SETTINGS_SHEET), grids.get(SCENARIOS_SHEET),
        source=str(path), base_dir=path.parent)
    text = (f"# {path}: the sheets {', '.join(grids)}, as read\n"
            + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100))
    return contracts, text, data


def _open_twice(path: Path) -> tuple:
    """The workbook as openpyxl opens it (after :func:`fileio.safety.check_xlsx`) with the
    values Excel saved, and with the formulas as written. openpyxl gives numbers to full
    precision and tells error values and formulas saved without a value from blank cells;
    a contracts workbook is small."""
    from openpyxl import load_workbook

    try:
        return (load_workbook(path, read_only=True, data_only=True),
                load_workbook(path, read_only=True, data_only=False))
    except Exception as error:  # openpyxl raises many kinds for a damaged workbook
        raise InputError(f"{path}: cannot read the workbook ({error}).") from None


def _read_grid(path: Path, books: tuple, sheet: str, key_header: str) -> SheetGrid:
    """A sheet's cells as text: the header is the first row with a cell ``key_header``;
    rows above it (titles) and blank rows are passed over."""
    saved, written = (book[sheet] for book in books)
    try:
        grid = [[_cell_text(value, formula) for value, formula in zip(values, formulas)]
                for values, formulas in zip(saved.iter_rows(min_row=1, min_col=1),
                                            written.iter_rows(min_row=1, min_col=1))]
    except Exception as error:  # openpyxl raises many kinds for a damaged sheet
        raise InputError(f"{path}, sheet {sheet}: cannot read the sheet ({error}).") from None
    for index, cells in enumerate(grid[:HEADER_SEARCH_ROWS]):
        if key_header in (normalise_header(c) for c in cells if c is not None):
            headers = [normalise_header(c) if c is not None and c.strip() else None
                       for c in cells]
            rows = [(number, cells) for number, cells in enumerate(grid[index + 1:], index + 2)
                    if any(c is not None and c.strip() for c in cells)]
            return SheetGrid(sheet, headers, rows)
    raise InputError(f"{path}, sheet {sheet}: no header row with a column "
                     f"'{key_header}' in the first {HEADER_SEARCH_ROWS} rows; the template "
                     "from `fundcalc sample` shows the layout")


def _cell_text(saved, written) -> str | None:
    """One cell as text: its saved value (numbers to full precision), or an
    :class:`UnreadableCell` for an error value or a formula saved without a value."""
    value = saved.value
    if saved.data_type == "e":
        return UnreadableCell(f"an error value ({value}); correct the formula or type the "
                              "term")
    if value is None:
        if written.data_type == "f":
            return UnreadableCell("a formula saved without its value; open and save the "
                                  "workbook in Excel or LibreOffice, or type the term")
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    return str(value)


def write_contracts_workbook(data: dict[str, Any], path: str | os.PathLike,
                             inputs: Iterable[str | os.PathLike] = ()) -> None:
    """Write a contracts file's content as a workbook that :func:`read_contracts_workbook`
    reads back to the same terms: every contract term as a column, each header with a
    comment on what it means and how to write it.

    Parameters
    ----------
    data : dict
        The contracts file's content as written (``yaml.safe_load`` of it): the global
        settings, ``contracts`` and ``scenarios``.
    path : str or os.PathLike
        The ``.xlsx`` to write, atomically; the same ``data`` gives the same bytes.
    inputs : iterable of str or os.PathLike
        Files ``path`` may not be.

    Raises
    ------
    ValueError
        When a key of a contract or scenario has no column.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "contracts.xlsx"
    >>> write_contracts_workbook({"contracts": [{"name": "A", "model": "fee_for_service",
    ...     "provider": "HOSP_A", "performance_years": [2024], "lump_sum": 9000}]}, out)
    >>> read_contracts_workbook(out)[0].contracts[0].lump_sum
    9000.0
    """
    contract_rows = [sheet_cells(c, CONTRACT_COLUMNS) for c in data.get("contracts", [])]
    scenarios = [row for s in data.get("scenarios", []) for row in scenario_rows(s)]
    workbook = Workbook(write_only=True)
    workbook.properties = DocumentProperties(
        creator="fundcalc", title="contracts", created=DOCUMENT_TIME, modified=DOCUMENT_TIME)
    _write_sheet(workbook.create_sheet(CONTRACTS_SHEET), CONTRACT_COLUMNS, contract_rows)
    _write_settings(workbook.create_sheet(SETTINGS_SHEET), data)
    _write_sheet(workbook.create_sheet(SCENARIOS_SHEET), SCENARIO_COLUMNS, scenarios)
    with atomic_output(path, inputs=inputs) as temporary:
        save_deterministically(workbook, temporary, {})


def _write_sheet(sheet, columns, rows: list[list[Any]]) -> None:
    widths = [max([len(c.name)] + [len(str(row[i])) for row in rows if row[i] is not None])
              for i, c in enumerate(columns)]
    for number, width in enumerate(widths, 1):
        sheet.column_dimensions[get_column_letter(number)].width = min(width + 2, 60)
    sheet.freeze_panes = "B2"
    header = []
    for column in columns:
        cell = make_cell(sheet, column.name, font=_BOLD)
        cell.comment = _comment(column_comment(column))
        header.append(cell)
    sheet.append(header)
    for row in rows:
        sheet.append([make_cell(sheet, cell_value(value)) for value in row])


def _write_settings(sheet, data: dict[str, Any]) -> None:
    sheet.column_dimensions["A"].width = 18
    sheet.column_dimensions["B"].width = 24
    sheet.column_dimensions["C"].width = 100
    sheet.append([make_cell(sheet, text, font=_BOLD) for text in ("setting", "value",
                                                                  "meaning")])
    for column in SETTING_COLUMNS:
        value = write_cell(column, data.get(column.name))
        sheet.append([column.name, make_cell(sheet, cell_value(value)),
                      make_cell(sheet, column.description)])


def _comment(text: str) -> Comment:
    comment = Comment(text, "fundcalc")
    comment.width, comment.height = 320, 40 + 16 * (len(text) // 45 + text.count("\n"))
    return comment
