"""Contracts as rows of a spreadsheet: one row per contract, one column per term.

For analysts who do not write YAML, the contracts can come from a workbook: a
``contracts`` sheet (one row per contract), an optional ``settings`` sheet (one row per
global key: ``setting``, ``value``) and an optional ``scenarios`` sheet (one row per
scenario). This module turns such rows into the same terms as the contracts file, and
terms back into rows for the template; reading the workbook is :mod:`fileio`'s job.

A cell holds what the contracts file holds after the key, in YAML's compact (flow) form
without the outer brackets:

================================================  ==========================================
term                                              cell
================================================  ==========================================
a number or a word                                ``0.65``, ``historical``, ``cms``
a list (years, providers, codes)                  ``2022, 2023``; one item: ``2024``
an amount or a map year -> amount                 ``1650000`` or ``2024: 1650000, 2025: 1700000``
a rate or a mapping (MSR, loss sharing rate)      ``0.02`` or ``confidence: 0.9``
a map domain -> trend (``spillover.trends``)      ``gp: 0.01, pharmacy: 0.04``
a list of mappings (tiers, corridor bands,        ``{up_to: 900000, rate: 1}, {rate: 0.8}``
age/sex factor rows)
================================================  ==========================================

Mappings with fixed keys get a column per key: ``scope.domains``, ``scope.segment``,
``stop_loss.attachment``, ``bundle.kind``, ``spillover.trends``...; in the scenarios sheet
``shift.from.domain``, ``shift.fraction``, ``growth.rate``... A scenario with several
shifts or growths takes one row per change, the rows after its first with the name left
blank. Text terms (``name``, ``notes``, ``scope.segment``...) are taken as written, and so
are the items of lists of ids and codes (``provider``, ``carve_out_codes``...: ``00123`` stays
``00123``). A blank cell leaves the term out, so that its default (or the preset's value)
applies. A number cell counts as the number Excel keeps (to its full precision, not as
formatted). A formula counts by the value Excel saved with it; an error value (``#N/A``)
or a formula saved without a value is refused, not taken as blank.
"""
from __future__ import annotations

import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Literal, Sequence, Union, get_args, get_origin

import yaml
from openpyxl.utils import get_column_letter
from pydantic import BaseModel, ValidationError

from contracts.contracts_file import CONTRACT_MODELS
from contracts.loading import (
    ContractsError,
    StrictSafeLoader,
    TermsProblems,
    check_contract,
    contracts_file_of,
    key_path_message,
    locate_error,
)
from contracts.scenarios import Scenario
from contracts.terms import ContractTerms, Settings, did_you_mean

#: The sheets of a contracts workbook.
CONTRACTS_SHEET, SETTINGS_SHEET, SCENARIOS_SHEET = "contracts", "settings", "scenarios"

#: How a cell's text is read: as written (``text``), as a YAML value (``value``), as a
#: list of values (``list``) or of texts (``texts``: ids and codes, split at commas and
#: kept as written, so that ``00123`` stays ``00123``), as a value or a mapping (``map``),
#: or as a list of mappings (``rows``).
Shape = Literal["text", "value", "list", "texts", "map", "rows"]


@dataclass(frozen=True)
class Column:
    """One column of a sheet: the term it sets and how its cells are read.

    Attributes
    ----------
    path : tuple of str
        The key, and the keys inside it for a mapping's column (``("scope", "domains")``).
    shape : Shape
        How a cell's text is read.
    description : str
        What the term means (the model's field description).
    models : tuple of str
        The contract models that have the term (empty for settings and scenarios).
    words : tuple of str
        Words a list term also takes alone (``all`` for ``scope.domains``).
    """

    path: tuple[str, ...]
    shape: Shape
    description: str
    models: tuple[str, ...] = ()
    words: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The column header: the path joined with dots."""
        return ".".join(self.path)


class UnreadableCell(str):
    """A cell whose value cannot be used — an error value such as ``#N/A``, or a formula
    saved without its value; the text says which and what to do."""


@dataclass(frozen=True)
class SheetGrid:
    """A sheet's cells as text, as a reader found them.

    Attributes
    ----------
    name : str
        The sheet's name.
    headers : list of str or None
        The header row's cells, normalised (trimmed, lower case, spaces as ``_``).
    rows : list of (int, list of str or None)
        The data rows below the header, each with its row number in the sheet; blank
        cells are None, cells without a usable value :class:`UnreadableCell`.
    """

    name: str
    headers: list[str | None]
    rows: list[tuple[int, list[str | None]]]


# -- the columns, from the terms' models --------------------------------------------------

def _alternatives(annotation: Any) -> list[Any]:
    """The types a field may hold: Annotated and Optional unwrapped, unions split."""
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return _alternatives(get_args(annotation)[0])
    if origin is Union or (origin is not None and origin.__name__ == "UnionType"):
        return [t for arg in get_args(annotation) for t in _alternatives(arg)]
    return [] if annotation is type(None) else [annotation]


def _is_model(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, BaseModel)


def _shape(annotation: Any) -> Shape:
    kinds = _alternatives(annotation)
    if kinds and all(kind is str for kind in kinds):
        return "text"
    containers = [get_origin(kind) for kind in kinds]
    if any(c in (list, tuple) for c in containers):
        items = [arg for kind in kinds if get_origin(kind) in (list, tuple)
                 for arg in _alternatives(get_args(kind)[0])]
        if any(_is_model(item) for item in items):
            return "rows"
        return "texts" if items and all(item is str for item in items) else "list"
    if any(c is dict or _is_model(kind) for c, kind in zip(containers, kinds)):
        return "map"
    return "value"


def _fields(models: Sequence[type[BaseModel]]) -> dict[str, tuple[Any, str, list[type]]]:
    """Each key of ``models`` (by alias) with its annotation, description and models."""
    found: dict[str, tuple[Any, str, list[type]]] = {}
    for model in models:
        for name, field in model.model_fields.items():
            key = field.alias or name
            if key in found:
                found[key][2].append(model)
            else:
                found[key] = (field.annotation, field.description or "", [model])
    return found


def columns_of(models: Sequence[type[BaseModel]], spread: Iterable[str] = (),
               prefix: tuple[str, ...] = (), used_by: tuple[str, ...] | None = None
               ) -> list[Column]:
    """The columns for the keys of ``models``, in order of their first appearance.

    Parameters
    ----------
    models : sequence of pydantic model classes
        The models whose keys become columns.
    spread : iterable of str
        Dotted keys whose mapping (or list of mappings) gets a column per inner key
        instead of one column.
    prefix : tuple of str
        The path of the mapping these keys sit in.
    used_by : tuple of str, optional
        The contract models that have that mapping.

    Returns
    -------
    list of Column
    """
    spread = set(spread)
    columns = []
    for key, (annotation, description, owners) in _fields(models).items():
        path = (*prefix, key)
        model_names = used_by if used_by is not None else tuple(
            name for name, model in CONTRACT_MODELS.items()
            if any(issubclass(model, owner) for owner in owners if
                   issubclass(owner, ContractTerms)))
        if ".".join(path) in spread:
            inner = [kind for kind in _alternatives(annotation) if _is_model(kind)]
            inner += [arg for kind in _alternatives(annotation)
                      if get_origin(kind) is list for arg in get_args(kind)
                      if _is_model(arg)]
            columns += columns_of(inner, spread, path, model_names)
            continue
        words = tuple(word for kind in _alternatives(annotation)
                      if get_origin(kind) is Literal for word in get_args(kind))
        columns.append(Column(path, _shape(annotation), description, model_names, words))
    return columns


def _contract_columns() -> list[Column]:
    # ContractTerms first: the keys every model has, described for all of them.
    columns = columns_of([ContractTerms, *CONTRACT_MODELS.values()],
                         spread=("scope", "stop_loss", "bundle", "spillover"))
    # The notes and the spillover keys last: they are seldom filled.
    last = [c for c in columns if c.path[0] in ("spillover", "notes")]
    return [c for c in columns if c not in last] + last


#: The columns of the contracts sheet, one per term of every model.
CONTRACT_COLUMNS: list[Column] = _contract_columns()
#: The settings sheet's keys (one row each).
SETTING_COLUMNS: list[Column] = columns_of([Settings])
#: The columns of the scenarios sheet.
SCENARIO_COLUMNS: list[Column] = columns_of([Scenario], spread=("shift", "shift.from", "growth"))


# -- cells to terms -----------------------------------------------------------------------

_KEY_COLON = re.compile(r"\s*:\s*")


def read_cell(column: Column, text: str) -> Any:
    """The value of one cell, as the contracts file would hold it.

    Parameters
    ----------
    column : Column
        The cell's column.
    text : str
        The cell's text (a number cell as its digits).

    Returns
    -------
    object
        The text itself for text terms; else the YAML value of the cell, the outer brackets
        of a list or mapping added.

    Raises
    ------
    ValueError
        When the cell is not a valid value, saying how lists and mappings are written.

    Examples
    --------
    >>> years = next(c for c in CONTRACT_COLUMNS if c.name == "performance_years")
    >>> read_cell(years, "2023, 2024"), read_cell(years, "2024")
    ([2023, 2024], [2024])
    >>> ceiling = next(c for c in CONTRACT_COLUMNS if c.name == "revenue_ceiling")
    >>> read_cell(ceiling, "2024: 1650000, 2025:1700000")
    {2024: 1650000, 2025: 1700000}
    """
    text = text.strip()
    if column.shape == "text":
        return text
    if column.shape == "texts" and not text.startswith("["):
        if text.lower() in column.words:
            return text
        return [item.strip() for item in text.split(",") if item.strip()]
    if ((column.shape == "map" or column.shape == "rows" and text.startswith("{"))
            and not any(q in text for q in "'\"")):
        # "2025:1700000" is one word to YAML; the user meant a key and a value. (Not in a
        # file name such as C:\factors.csv, which a "rows" column also takes.)
        text = _KEY_COLON.sub(": ", text)
    if column.shape == "list" and not text.startswith("[") and text.lower() not in column.words:
        text = f"[{text}]"
    elif column.shape == "rows" and text.startswith("{"):
        text = f"[{text}]"
    elif column.shape == "map" and not text.startswith("{") and ": " in text:
        text = f"{{{text}}}"
    try:
        return yaml.load(text, Loader=StrictSafeLoader)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or "not a valid value"
        raise ValueError(f"cannot be read ({problem}); write a list as 'a, b', a map as "
                         "'key: value, key: value', a list of mappings as "
                         "'{key: value}, {key: value}'") from None


def row_terms(columns: dict[int, Column], cells: Sequence[str | None]
              ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The terms of one row: each filled cell read and put at its column's key path.

    Returns
    -------
    dict
        The terms, nested as in the contracts file.
    list of (str, str)
        The cells that could not be read: column name and what is wrong.
    """
    terms: dict[str, Any] = {}
    problems = []
    for position, column in columns.items():
        text = cells[position] if position < len(cells) else None
        if isinstance(text, UnreadableCell):
            problems.append((column.name, str(text)))
            continue
        if text is None or not text.strip():
            continue
        try:
            value = read_cell(column, text)
        except ValueError as exc:
            problems.append((column.name, str(exc)))
            continue
        inner = terms
        for key in column.path[:-1]:
            inner = inner.setdefault(key, {})
        inner[column.path[-1]] = value
    return terms, problems


def _header_columns(grid: SheetGrid, columns: list[Column], source: str, kind: str
                    ) -> tuple[dict[int, Column], list[str]]:
    """The known column at each position of the header; a problem per unknown header."""
    by_name = {c.name: c for c in columns}
    found, problems, seen = {}, [], set()
    for position, header in enumerate(grid.headers):
        letter = get_column_letter(position + 1)
        if not header:
            filled = [row for row, cells in grid.rows
                      if position < len(cells) and cells[position] is not None
                      and cells[position].strip()]
            if filled:
                problems.append(f"{_where(source, grid.name, filled[0], letter)}: a value "
                                "under a blank header; give the column its term's name, or "
                                "clear the cell")
            continue
        where = _where(source, grid.name, None, letter)
        if header in seen:
            problems.append(f"{where}: '{header}' appears twice in the header; keep one")
        elif header in by_name:
            found[position] = by_name[header]
        else:
            problems.append(f"{where}: '{header}' is not {kind}{did_you_mean(header, by_name)}")
        seen.add(header)
    return found, problems


def _located(loc: tuple, message: str, columns: Iterable[Column], model: Any = None
             ) -> tuple[str | None, str]:
    """The column a problem at key path ``loc`` belongs to, and the problem within it.

    A problem whose message names its own key (``lump_sum: cannot be combined...``) is
    placed in that key's column; a key the contract's ``model`` does not have, in its own.
    """
    if message.startswith("unknown key '"):
        key = message.split("'")[1]
        kind = f"a {model} contract" if isinstance(model, str) else "this contract"
        return ".".join((*(p for p in loc if isinstance(p, str)), key)), (
            f"not a term of {kind}; leave the cell blank")
    if not loc:
        named = re.match(r"([a-z_][a-z0-9_.]*): (.+)", message, re.DOTALL)
        if named is None:
            return None, message
        loc, message = tuple(named.group(1).split(".")), named.group(2)
    paths = {c.path: c.name for c in columns}
    keys: list[str] = []
    best = None
    for used, part in enumerate(loc, 1):
        if isinstance(part, str):
            keys.append(part)
            if tuple(keys) in paths:
                best = (paths[tuple(keys)], used)
    if best is None:
        return (loc[0] if isinstance(loc[0], str) else None), key_path_message(loc[1:], message)
    return best[0], key_path_message(loc[best[1]:], message)


def _where(source: str, sheet: str, row: int | None, column: str | None) -> str:
    return (f"{source}, sheet {sheet}" + (f", row {row}" if row is not None else "")
            + (f", column {column}" if column else ""))


def contracts_from_sheets(contracts: SheetGrid, settings: SheetGrid | None = None,
                          scenarios: SheetGrid | None = None, source: str = "contracts.xlsx",
                          base_dir: Path | None = None) -> tuple[Any, dict[str, Any]]:
    """Read the contracts, settings and scenarios sheets as a contracts file.

    Each contract is checked as the contracts file's are (the same models, presets and
    factor tables); every problem names the sheet, the row and the column.

    Parameters
    ----------
    contracts : SheetGrid
        The contracts sheet: one row per contract.
    settings : SheetGrid, optional
        The settings sheet: ``setting`` and ``value`` columns, one row per global key.
    scenarios : SheetGrid, optional
        The scenarios sheet: one row per scenario (and per further change of one).
    source : str
        How to name the workbook in messages.
    base_dir : Path, optional
        Where presets and factor tables given as relative paths are read from.

    Returns
    -------
    ContractsFile
        The checked contracts, settings and scenarios.
    dict
        The terms as read, as the contracts file would hold them.

    Raises
    ------
    ContractsError
        Listing every problem, e.g. ``contracts.xlsx, sheet contracts, row 4, column
        clawback_rate: must be at most 1 (got 1.5)``.
    """
    problems: list[str] = []
    data: dict[str, Any] = {}
    if settings is not None:
        data.update(_settings(settings, source, problems))
    data["contracts"], checked = _contracts(contracts, source, base_dir, problems)
    if scenarios is not None:
        data["scenarios"] = _scenarios(scenarios, source, problems)
    if problems:
        raise ContractsError(problems)
    return contracts_file_of({**data, "contracts": checked}, source), data


def _contracts(grid: SheetGrid, source: str, base_dir: Path | None, problems: list[str]
               ) -> tuple[list[dict[str, Any]], list[ContractTerms]]:
    """Each row's terms as written, and as checked (:func:`check_contract`)."""
    columns, header_problems = _header_columns(grid, CONTRACT_COLUMNS, source,
                                               "a contract term")
    problems += header_problems
    entries, checked = [], []
    for row, cells in grid.rows:
        terms, cell_problems = row_terms(columns, cells)
        problems += [f"{_where(source, grid.name, row, c)}: {m}" for c, m in cell_problems]
        if cell_problems or header_problems:
            continue
        try:
            checked.append(check_contract(terms, base_dir))
        except TermsProblems as exc:
            for loc, message in exc.problems:
                column, message = _located(loc, message, CONTRACT_COLUMNS,
                                           terms.get("model"))
                problems.append(f"{_where(source, grid.name, row, column)}: {message}")
        entries.append(terms)
    if not grid.rows and not header_problems:
        problems.append(f"{_where(source, grid.name, None, None)}: holds no contracts; "
                        "write one contract per row below the header")
    return entries, checked


def _settings(grid: SheetGrid, source: str, problems: list[str]) -> dict[str, Any]:
    by_key = {c.name: c for c in SETTING_COLUMNS}
    if "setting" not in grid.headers or "value" not in grid.headers:
        problems.append(f"{_where(source, grid.name, None, None)}: needs the columns "
                        "'setting' and 'value'")
        return {}
    key_at, value_at = grid.headers.index("setting"), grid.headers.index("value")
    values, rows = {}, {}
    for row, cells in grid.rows:
        key = (cells[key_at] or "").strip()
        text = cells[value_at] if value_at < len(cells) else None
        where = _where(source, grid.name, row, None)
        if key not in by_key:
            problems.append(f"{where}: '{key}' is not a setting{did_you_mean(key, by_key)}")
        elif key in values:
            problems.append(f"{where}: '{key}' is set twice; keep one row")
        elif text is not None and text.strip():
            try:
                values[key], rows[key] = read_cell(by_key[key], text), row
            except ValueError as exc:
                problems.append(f"{_where(source, grid.name, row, 'value')}: {key}: {exc}")
    try:
        Settings.model_validate(values)
    except ValidationError as exc:
        for error in exc.errors():
            loc, message = locate_error(error, Settings)
            row = rows.get(loc[0]) if loc else None
            problems.append(f"{_where(source, grid.name, row, 'value' if row else None)}: "
                            f"{key_path_message(loc, message)}")
    return values


def _scenarios(grid: SheetGrid, source: str, problems: list[str]) -> list[dict[str, Any]]:
    columns, header_problems = _header_columns(grid, SCENARIO_COLUMNS, source,
                                               "a scenario term")
    problems += header_problems
    if header_problems:
        return []
    scenarios: list[dict[str, Any]] = []
    change_rows: list[dict[str, list[int]]] = []  # per scenario: the row of each change
    for row, cells in grid.rows:
        terms, cell_problems = row_terms(columns, cells)
        problems += [f"{_where(source, grid.name, row, c)}: {m}" for c, m in cell_problems]
        if "name" not in terms and scenarios and not (terms.keys() - {"shift", "growth"}):
            target, rows = scenarios[-1], change_rows[-1]
        elif "name" not in terms:
            problems.append(f"{_where(source, grid.name, row, 'name')}: is required "
                            "(leave it blank only to add a change to the scenario above)")
            continue
        else:
            target, rows = {key: terms[key] for key in terms if key not in ("shift", "growth")}, {}
            scenarios.append(target)
            change_rows.append(rows)
        for change in ("shift", "growth"):
            if change in terms:
                target.setdefault(change, []).append(terms[change])
                rows.setdefault(change, []).append(row)
    for scenario, rows in zip(scenarios, change_rows):
        try:
            Scenario.model_validate(scenario)
        except ValidationError as exc:
            for error in exc.errors():
                loc, message = locate_error(error, Scenario)
                item_rows = rows.get(loc[0], []) if loc else []
                row = (item_rows[loc[1]] if len(loc) > 1 and isinstance(loc[1], int)
                       and loc[1] < len(item_rows) else
                       (item_rows or [None])[0] if not loc or loc[0] != "name" else None)
                column, message = _located(loc, message, SCENARIO_COLUMNS)
                label = f" (scenario '{scenario['name']}')" if row is None else ""
                problems.append(f"{_where(source, grid.name, row, column)}{label}: {message}")
    return scenarios


# -- terms to cells (the template) ---------------------------------------------------------

def write_cell(column: Column, value: Any) -> Any:
    """The cell that holds ``value`` in ``column``: numbers as numbers, words as text,
    lists and mappings in the compact form :func:`read_cell` reads.

    Examples
    --------
    >>> years = next(c for c in CONTRACT_COLUMNS if c.name == "performance_years")
    >>> write_cell(years, [2023, 2024]), write_cell(years, [2024])
    ('2023, 2024', 2024)
    """
    if isinstance(value, (list, tuple)) and len(value) == 1 and column.shape == "list":
        value = value[0]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if column.shape == "texts" and all(isinstance(v, str) and "," not in v
                                       and not v.startswith("[") for v in value):
        return ", ".join(value)
    text = yaml.safe_dump(value if not isinstance(value, tuple) else list(value),
                          default_flow_style=True, sort_keys=False, width=float("inf"),
                          allow_unicode=True).strip()
    return text if column.shape == "texts" or text[:1] not in "[{" else text[1:-1]


def sheet_cells(terms: dict[str, Any], columns: list[Column]) -> list[Any]:
    """One row of cells for ``terms`` (as the contracts file holds them).

    Raises
    ------
    ValueError
        When a key of ``terms`` has no column.
    """
    by_path = {c.path: c for c in columns}
    cells: dict[tuple[str, ...], Any] = {}

    def place(value: Any, path: tuple[str, ...]) -> None:
        if path in by_path:
            cells[path] = write_cell(by_path[path], value)
        elif isinstance(value, dict) and any(p[:len(path)] == path for p in by_path):
            for key, inner in value.items():
                place(inner, (*path, str(key)))
        else:
            raise ValueError(f"'{'.'.join(path)}' has no column in the sheet")

    for key, value in terms.items():
        place(value, (key,))
    return [cells.get(c.path) for c in columns]


def scenario_rows(scenario: dict[str, Any]) -> list[list[Any]]:
    """The rows of one scenario in the scenarios sheet: the first with its name and
    first changes, one more per further shift or growth, its name left blank."""
    def as_list(value: Any) -> list:
        return value if isinstance(value, list) else [value] if value is not None else []

    shifts, growths = as_list(scenario.get("shift")), as_list(scenario.get("growth"))
    head = {k: v for k, v in scenario.items() if k not in ("shift", "growth")}
    rows = []
    for number in range(max(len(shifts), len(growths), 1)):
        terms = dict(head) if number == 0 else {}
        if number < len(shifts):
            terms["shift"] = shifts[number]
        if number < len(growths):
            terms["growth"] = growths[number]
        rows.append(sheet_cells(terms, SCENARIO_COLUMNS))
    return rows


_SHAPE_HELP = {
    "text": "Text, as written.",
    "value": "A number or a word.",
    "list": "A list: items separated by commas, e.g. 2022, 2023 (one item alone).",
    "texts": "A list of ids or codes separated by commas, e.g. GP_N1, GP_N2 (one alone), "
             "kept as written.",
    "map": "A number or a word, or a mapping written key: value, key: value.",
    "rows": "A list of mappings: {key: value, key: value}, {key: value}.",
}

#: How to write the terms that take a mapping or a list of mappings, by column.
EXAMPLES = {
    "revenue_ceiling": "1650000, or per year: 2024: 1650000, 2025: 1700000",
    "revenue_floor": "225000, or per year: 2024: 225000, 2025: 230000",
    "lump_sum": "420000, or per year: 2023: 410000, 2024: 420000",
    "benchmark_pmpm": "176.43, or per year: 2024: 176.43, 2025: 181.00",
    "rate_pmpm": "20.00, historical, or per year: 2024: 20.00, 2025: 20.60",
    "minimum_savings_rate": "0.02, cms, or confidence: 0.9",
    "loss_sharing_rate": "0.3, or quality_slope: 0.75, min: 0.4, max: 0.75",
    "degressive_tiers": "{up_to: 900000, rate: 1.0}, {rate: 0.8}",
    "risk_corridors": "{from: 0.03, to: 0.08, provider_share: 0.5}, "
                      "{from: 0.08, provider_share: 0.2}",
    "age_sex_factors": "age_sex_factors.csv (a file beside the workbook), example, or "
                       "rows: {sex: F, age_from: 0, age_to: 17, factor: 0.8}, "
                       "{sex: F, age_from: 18, factor: 1.1}",
    "spillover.trends": "gp: 0.01, pharmacy: 0.04",
    "columns": "Bedrag: amount, Datum: service_date",
}


def column_comment(column: Column) -> str:
    """The comment on a column's header: what the term means, how to write it, and the
    models that have it."""
    used = f"\nUsed by: {', '.join(column.models)}." if column.models else ""
    example = f" For example: {EXAMPLES[column.name]}" if column.name in EXAMPLES else ""
    return f"{column.name}: {column.description}\n{_SHAPE_HELP[column.shape]}{example}{used}"
