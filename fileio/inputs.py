"""Read every input table of a run, accept or reject each row, and reconcile.

For every table and file: rows read = rows accepted + rows rejected, and amount read =
amount accepted + amount rejected, to the cent (:class:`InputFileReport`).
"""
from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import pandas as pd

from fileio import sheet_reader, validation
from fileio.errors import InputError
from fileio.sources import RawTable, file_kind, file_sha256, read_table, check_readable, \
    workbook_sheets
from fileio.tables import ATTRIBUTION, CLAIMS, ENROLLMENT, FEE_SCHEDULE, MEMBERS, TableSpec, \
    normalise_header
from funding_models.results import REJECTED_COLUMNS, InputFileReport

#: The optional tables, in the order they are read.
OPTIONAL_TABLES = (MEMBERS, FEE_SCHEDULE, ENROLLMENT, ATTRIBUTION)
TABLE_SPECS: dict[str, TableSpec] = {s.name: s for s in (CLAIMS, *OPTIONAL_TABLES)}


@dataclass(frozen=True)
class ReadOptions:
    """How cells are read: the user's header renames and number and date conventions."""

    columns: dict[str, str] = field(default_factory=dict)
    decimal_comma: bool = False
    date_format: str | None = None

    @property
    def rename(self) -> dict[str, str]:
        """The ``columns:`` map with both sides in canonical header form."""
        return {normalise_header(k): normalise_header(v) for k, v in self.columns.items()}


@dataclass
class Inputs:
    """The accepted rows of each table, the reconciliation per file and the rejects.

    Tables that were not given are ``None``. Amounts (``amount``, ``tariff``) are integer
    cents; dates are ``datetime64``.
    """

    claims: pd.DataFrame
    members: pd.DataFrame | None
    fee_schedule: pd.DataFrame | None
    enrollment: pd.DataFrame | None
    attribution: pd.DataFrame | None
    reports: list[InputFileReport]
    rejected: pd.DataFrame
    files: list[Path]

    @property
    def rows_rejected(self) -> int:
        """How many input rows were rejected, over all tables."""
        return len(self.rejected)


def read_inputs(claims: Sequence[Path], *, members: Path | None = None,
                fee_schedule: Path | None = None, enrollment: Path | None = None,
                attribution: Path | None = None, options: ReadOptions | None = None) -> Inputs:
    """Read the claims files and the optional tables; validate and reconcile every row.

    Tables not given as a path are read from the claims workbooks' sheets of that name
    (``members``, ``fee_schedule``, ``enrollment``, ``attribution``), when present.

    Raises
    ------
    InputError
        When a file cannot be read at all or lacks a required column.
    """
    options = options or ReadOptions()
    explicit = {"members": members, "fee_schedule": fee_schedule, "enrollment": enrollment,
                "attribution": attribution}
    # The workbooks' reader processes stop once every table is read, before the cells
    # are checked.
    with sheet_reader.session():
        raws, files = _read_tables(claims, explicit, options)
    parsed, reports, rejected = validate_tables(raws, options)
    return Inputs(
        claims=validation.accepted(parsed["claims"]),
        members=accepted_or_none(parsed, "members"),
        fee_schedule=accepted_or_none(parsed, "fee_schedule"),
        enrollment=accepted_or_none(parsed, "enrollment"),
        attribution=accepted_or_none(parsed, "attribution"),
        reports=reports,
        rejected=rejected,
        files=files,
    )


def _read_tables(claims: Sequence[Path], explicit: dict[str, Path | None],
                 options: ReadOptions) -> tuple[dict[str, list[RawTable]], list[Path]]:
    """Every table's cells as read, and the files read."""
    # A file named twice is read once: its reports would otherwise count every row twice.
    claim_paths = list(dict.fromkeys(Path(p) for p in claims))
    if not claim_paths:
        raise InputError("no claims file given; name at least one .xlsx, .csv or .parquet file.")
    files = list(dict.fromkeys([*claim_paths, *(Path(p) for p in explicit.values() if p)]))
    for path in files:
        check_readable(path)
        file_kind(path)
    sheets = {p: workbook_sheets(p) for p in claim_paths if file_kind(p) == "xlsx"}
    with ThreadPoolExecutor(max_workers=1) as pool:
        # The readers let go of the interpreter while they read, so the claims files are
        # read in a thread, one after the other, while the other tables are read and the
        # files hashed here. A claims file's error still comes first, as when the files
        # are read in turn; Ctrl-C stops after the file being read.
        reading = [pool.submit(read_table, p, CLAIMS, options.rename) for p in claim_paths]
        try:
            optional = optional_tables(explicit, sheets, options)
            for path in files:
                file_sha256(path)
        except Exception:
            _results(reading)
            raise
        except BaseException:
            _cancel(reading)
            raise
        claims = _results(reading)
    return {"claims": claims, **optional}, files


def _results(futures: list[Future]) -> list:
    """The futures' results in order; on Ctrl-C (or an error) those not started are
    cancelled."""
    try:
        return [future.result() for future in futures]
    except BaseException:
        _cancel(futures)
        raise


def _cancel(futures: list[Future]) -> None:
    for future in futures:
        future.cancel()


def nothing_accepted(reports: Sequence[InputFileReport]) -> InputError:
    """The error for a run in which not one claim line was accepted: nothing to settle."""
    claims = [r for r in reports if r.table == "claims"]
    return InputError(
        f"{', '.join(dict.fromkeys(r.file for r in claims))}: no claim line was accepted "
        f"({sum(r.rows_rejected for r in claims):,} rejected); nothing to settle. See why "
        "with `fundcalc validate --rejected rejected.csv`.")


def optional_tables(explicit: dict[str, Path | None], sheets: dict[Path, list[str]],
                    options: ReadOptions) -> dict[str, list[RawTable]]:
    """Read the members, fee schedule, enrollment and attribution tables: from the path
    given for each, else from the sheets of that name in the claims workbooks."""
    raws = {}
    for spec in OPTIONAL_TABLES:
        given = explicit.get(spec.name)
        if given is not None:
            raws[spec.name] = [read_table(Path(given), spec, options.rename,
                                          sheet=_named_or_only_sheet(Path(given), spec))]
        else:
            raws[spec.name] = [read_table(p, spec, options.rename) for p, names in sheets.items()
                               if spec.name in {normalise_header(n) for n in names}]
    return {name: parts for name, parts in raws.items() if parts}


def validate_tables(raws: dict[str, list[RawTable]], options: ReadOptions
                    ) -> tuple[dict[str, validation.ParsedTable], list[InputFileReport],
                               pd.DataFrame]:
    """Parse every table's cells, apply the rules across rows and tables, and reconcile.

    Returns
    -------
    parsed : dict of str to ParsedTable
        Per table, its rows (all files) with the reason for each rejected one.
    reports : list of InputFileReport
        One per table and file.
    rejected : pandas.DataFrame
        Every rejected row, as :data:`REJECTED_COLUMNS`.
    """
    parsed = {name: _parse_all(parts, TABLE_SPECS[name], options) for name, parts in raws.items()}
    _apply_cross_row_rules(parsed)
    reports, rejected = _reconcile(parsed, raws)
    return parsed, reports, rejected


def _named_or_only_sheet(path: Path, spec: TableSpec) -> str | None:
    if file_kind(path) != "xlsx":
        return None
    names = workbook_sheets(path)
    by_name = {normalise_header(n): n for n in names}
    if spec.name in by_name:
        return by_name[spec.name]
    if len(names) == 1:
        return names[0]
    raise InputError(f"{path}: no sheet named {spec.name!r} (sheets: {', '.join(names)}).")


def _parse_all(parts: list[RawTable], spec: TableSpec, options: ReadOptions
               ) -> validation.ParsedTable:
    return validation.combine([
        validation.parse_raw(raw, spec, decimal_comma=options.decimal_comma,
                             date_format=options.date_format)
        for raw in parts
    ])


def _apply_cross_row_rules(parsed: dict[str, validation.ParsedTable]) -> None:
    for table in parsed.values():
        validation.reject_repeated_keys(table)
    if "members" in parsed:
        validation.reject_reversed_spans(parsed["members"])
        known = validation.accepted(parsed["members"])["member_id"]
        for name in ("claims", "enrollment", "attribution"):
            if name in parsed:
                validation.reject_unknown_members(parsed[name], known)
    if "enrollment" in parsed:
        validation.reject_reversed_spans(parsed["enrollment"])


def accepted_or_none(parsed: dict[str, validation.ParsedTable], name: str) -> pd.DataFrame | None:
    """The accepted rows of table ``name``, or None when it was not given."""
    return validation.accepted(parsed[name]) if name in parsed else None


def malformed_rejects(raw: RawTable, table: str) -> pd.DataFrame:
    """The CSV lines of ``raw`` set aside as malformed, as rejected rows."""
    return pd.DataFrame({
        "file": raw.file, "sheet": raw.sheet, "table": table,
        "row": [m[0] for m in raw.malformed], "column": "",
        "value": [m[1] for m in raw.malformed], "reason": [m[2] for m in raw.malformed],
    }, columns=list(REJECTED_COLUMNS))


def _reconcile(parsed: dict[str, validation.ParsedTable], raws: dict[str, list[RawTable]]
               ) -> tuple[list[InputFileReport], pd.DataFrame]:
    """One report per table and file, and every rejected row (malformed lines included)."""
    reports, rejected_parts = [], []
    for name, table in parsed.items():
        rejected_parts.append(validation.rejected(table))
        frame = table.frame
        ok = table.ok
        for raw in raws[name]:
            in_file = ((frame["_file"] == raw.file) & (frame["_sheet"] == raw.sheet)).to_numpy()
            malformed = len(raw.malformed)
            if malformed:
                rejected_parts.append(malformed_rejects(raw, name))
            amounts = None if table.amount_cents is None else table.amount_cents[in_file]
            good = ok[in_file]
            reports.append(InputFileReport(
                file=raw.file, sheet=raw.sheet, table=name, sha256=file_sha256(Path(raw.file)),
                rows_read=int(in_file.sum()) + malformed,
                rows_accepted=int(good.sum()),
                rows_rejected=int((~good).sum()) + malformed,
                amount_read=None if amounts is None else int(amounts.sum()),
                amount_accepted=None if amounts is None else int(amounts[good].sum()),
                amount_rejected=None if amounts is None else int(amounts[~good].sum()),
                blank_rows=raw.blank_rows,
            ))
    rejected = pd.concat(rejected_parts, ignore_index=True) if rejected_parts else \
        pd.DataFrame(columns=list(REJECTED_COLUMNS))
    rejected["row"] = pd.array(rejected["row"], dtype="Int64")
    return reports, rejected.astype({c: object for c in REJECTED_COLUMNS if c != "row"})
