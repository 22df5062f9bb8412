"""The jobs the command line runs: read the files, settle, and write the results.

Each job is one function so that the command line stays thin and notebooks can call the
same code.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Callable, Sequence

import pandas as pd

from contracts import ContractsFile, load_contracts
from contracts.loading import load_scenarios
from fileio.atomic import atomic_output
from fileio.csv_text import formula_safe
from fileio.inputs import Inputs, ReadOptions, read_inputs
from fileio.out_of_core import EngineOptions, LineByLine, Selection, read_large_claims
from funding_models.compare import compare, contract_details, spillover_frames
from funding_models.ledger import Ledger, build_ledger
from funding_models.results import MONEY_COLUMNS, Comparison, summary_frame


def program_version() -> str:
    """The installed fundcalc version."""
    try:
        return version("fundcalc")
    except PackageNotFoundError:
        return "unknown (not installed)"


@dataclass(frozen=True)
class InputPaths:
    """The files of a run: claims files and the optional separate tables."""

    claims: Sequence[Path]
    members: Path | None = None
    fee_schedule: Path | None = None
    enrollment: Path | None = None
    attribution: Path | None = None

    def all(self) -> list[Path]:
        """Every input path, claims first."""
        return [Path(p) for p in self.claims] + [Path(p) for p in self.tables().values()
                                                 if p is not None]

    def tables(self) -> dict[str, Path | None]:
        """The optional tables' paths (None where not given), by table name."""
        return {"members": self.members, "fee_schedule": self.fee_schedule,
                "enrollment": self.enrollment, "attribution": self.attribution}


def read_options(contracts: ContractsFile | None) -> ReadOptions:
    """The contracts file's reading settings (the defaults without one)."""
    settings = contracts.settings if contracts is not None else None
    return ReadOptions() if settings is None else ReadOptions(
        columns=settings.columns, decimal_comma=settings.decimal_comma,
        date_format=settings.date_format)


def read_run_inputs(paths: InputPaths, contracts: ContractsFile | None = None) -> Inputs:
    """Read and validate every input table with the contracts file's reading settings."""
    return read_inputs(paths.claims, **paths.tables(), options=read_options(contracts))


def ledger_of(inputs: Inputs, contracts: ContractsFile) -> Ledger:
    """Aggregate the accepted rows once, with the run's year and member-month settings."""
    return build_ledger(inputs.claims, members=inputs.members, enrollment=inputs.enrollment,
                        attribution=inputs.attribution, fee_schedule=inputs.fee_schedule,
                        year_start_month=contracts.year_start_month,
                        member_months_convention=contracts.member_months)


def compare_files(paths: InputPaths, contracts_path: Path,
                  scenario_paths: Sequence[Path] = (),
                  progress: Callable[..., None] | None = None,
                  engine: EngineOptions | None = None) -> Comparison:
    """Read the inputs and the contracts, settle every contract (under the base and each
    scenario of the contracts file and of ``scenario_paths``) and build the comparison.
    ``progress``, when given, is called with a short text at each step (and, while
    settling, the share of the settlements done). With ``engine``, the claims (Parquet
    files or folders of them) are read out of core (:mod:`fileio.out_of_core`).

    Raises
    ------
    contracts.ContractsError
        When the contracts file cannot be used.
    fileio.errors.InputError
        When an input file cannot be read at all.
    """
    contracts, terms_text = load_contracts(contracts_path)
    scenarios = list(contracts.scenarios)
    for path in scenario_paths:
        more, text = load_scenarios(path, taken=[s.name for s in scenarios])
        scenarios += more
        terms_text += f"\n# --scenario {path}\n" + text
    report = progress or (lambda text: None)
    report("reading the input files")
    if engine is None:
        ledger, reports, rejected = _ledger_in_memory(paths, contracts, report)
    else:
        ledger, reports, rejected = _ledger_out_of_core(paths, contracts, scenarios, engine,
                                                        report)
    runs = compare(contracts.contracts, ledger, scenarios, progress)
    rows = [row for run in runs for row in run.rows]
    spillover, spillover_years = spillover_frames(runs)
    settings = {
        "program": "fundcalc",
        "version": program_version(),
        "contracts file": str(contracts_path),
        "currency": contracts.currency,
        "member_months": contracts.member_months,
        "year_start_month": contracts.year_start_month,
        "decimal_comma": str(contracts.decimal_comma),
        "date_format": contracts.date_format or "",
        "columns renamed": ", ".join(f"{k} -> {v}" for k, v in contracts.columns.items()),
        "years in the claims": f"{ledger.years[0]}-{ledger.years[-1]}",
        "scenarios": ", ".join(s.name for s in scenarios) or "none",
        "engine": ("in memory" if engine is None else
                   f"out of core (DuckDB, memory limit {engine.memory_limit})"),
    }
    return Comparison(summary=summary_frame(rows), contracts=contract_details(runs),
                      input_files=reports, rejected=rejected,
                      terms_text=terms_text, settings=settings, currency=contracts.currency,
                      spillover=spillover, spillover_years=spillover_years)


def _ledger_in_memory(paths: InputPaths, contracts: ContractsFile, report
                      ) -> tuple[Ledger, list, pd.DataFrame]:
    inputs = read_run_inputs(paths, contracts)
    report("building the ledger")
    # The parsed tables go when this returns: the accepted rows live on in the ledger.
    return ledger_of(inputs, contracts), inputs.reports, inputs.rejected


def _ledger_out_of_core(paths: InputPaths, contracts: ContractsFile, scenarios, engine,
                        report) -> tuple[Ledger, list, pd.DataFrame]:
    large = read_large_claims(
        paths.claims, paths.tables(), read_options(contracts),
        year_start_month=contracts.year_start_month,
        member_months_convention=contracts.member_months,
        line_by_line=line_by_line(contracts, scenarios), engine=engine, progress=report)
    return large.ledger, large.reports, large.rejected


def line_by_line(contracts: ContractsFile, scenarios) -> LineByLine:
    """The claim lines that the contracts' episodes and the scenarios' changes need one
    a row: trigger codes (and the claims a scenario shifts into one) and every claim a
    scenario shifts or grows."""
    triggers = sorted({code for contract in contracts.contracts
                       if getattr(getattr(contract, "bundle", None), "kind", None) == "episode"
                       for code in contract.bundle.trigger_codes})
    opening = [Selection(care_code=code) for code in triggers]
    changed = []
    for scenario in scenarios:
        for shift in scenario.shift or []:
            selections = _selections(shift.from_)
            changed += selections
            if shift.to_care_code in triggers:
                opening += selections
        for growth in scenario.growth or []:
            changed += _selections(growth)
    return LineByLine(tuple(opening), tuple(changed))


def _selections(claims) -> list[Selection]:
    """A scenario's claim selection as one Selection per care code and provider."""
    return [Selection(claims.domain, code, provider)
            for code in claims.care_codes or [None] for provider in claims.provider or [None]]


def write_summary_json(comparison: Comparison, path: Path, inputs: Sequence[Path] = ()) -> None:
    """Write the Summary rows as a JSON list of objects (money in currency units, 2 decimals).

    Figures that do not apply are ``null``.
    """
    records = [
        {key: _json_value(value, key in MONEY_COLUMNS) for key, value in record.items()}
        for record in comparison.summary.to_dict(orient="records")
    ]
    text = json.dumps(records, indent=2, ensure_ascii=False) + "\n"
    with atomic_output(path, inputs=inputs) as temporary:
        Path(temporary).write_text(text, encoding="utf-8")


def _json_value(value, money: bool):
    if value is None or pd.isna(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    return round(value, 2) if money else value


def write_rejected_csv(rejected: pd.DataFrame, path: Path, inputs: Sequence[Path] = ()) -> None:
    """Write rejected rows to CSV; text that a spreadsheet would run as a formula gets a
    leading apostrophe so that it opens as text."""
    safe = rejected.copy()
    for column in ("file", "sheet", "value", "reason", "column"):
        safe[column] = formula_safe(safe[column])
    with atomic_output(path, inputs=inputs) as temporary:
        safe.to_csv(temporary, index=False)
