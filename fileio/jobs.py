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
from contracts.loading import ContractsError, load_scenarios, read_contracts
from fileio.atomic import atomic_output
from fileio.csv_text import formula_safe
from fileio.inputs import Inputs, ReadOptions, nothing_accepted, read_inputs
from fileio.out_of_core import EngineOptions, LineByLine, Selection, read_large_claims
from funding_models.compare import compare, contract_details, spillover_frames
from funding_models.ledger import Ledger, build_ledger
from funding_models.results import MONEY_COLUMNS, Comparison, summary_frame
from funding_models.risk import RiskOptions, bootstrap
from funding_models.sweep import Vary, checked_grid, sweep


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
                  engine: EngineOptions | None = None,
                  risk: RiskOptions | None = None) -> Comparison:
    """Read the inputs and the contracts, settle every contract (under the base and each
    scenario of the contracts file and of ``scenario_paths``) and build the comparison.
    ``progress``, when given, is called with a short text at each step (and, while
    settling, the share of the settlements done). With ``engine``, the claims (Parquet
    files or folders of them) are read out of core (:mod:`fileio.out_of_core`). With
    ``risk``, the base run is also bootstrapped (:mod:`funding_models.risk`).

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
    risk_report = None
    if risk is not None:
        report(f"bootstrapping {risk.replicates:,} replicates")
        risk_report = bootstrap(contracts.contracts, ledger, runs[0].results, risk)
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
                      spillover=spillover, spillover_years=spillover_years, risk=risk_report)


@dataclass(frozen=True)
class SweepRun:
    """A contract settled over a grid of term values: what the Sweep workbook shows.

    ``varied`` are the terms varied (their columns of ``frame`` are named by
    :func:`funding_models.sweep.term_column`); ``points`` the sets of terms settled.
    """

    contract: str
    model: str
    varied: list[str]
    frame: pd.DataFrame
    currency: str
    points: int


def sweep_files(paths: InputPaths, contracts_path: Path, contract: str,
                varies: Sequence[Vary], progress: Callable[..., None] | None = None
                ) -> SweepRun:
    """Read the inputs once and settle the contract named ``contract`` at every point of
    the grid ``varies`` spans (see :mod:`funding_models.sweep`).

    Every point's terms are checked before the inputs are read.

    Raises
    ------
    contracts.ContractsError
        When the contracts file cannot be used, it has no contract of that name, or the
        terms at a point are not valid.
    fileio.errors.InputError
        When an input file cannot be read at all.
    """
    contracts, _, data = read_contracts(contracts_path)
    named = [(position, terms) for position, terms in enumerate(contracts.contracts)
             if terms.name == contract]
    if not named:
        names = "; ".join(terms.name for terms in contracts.contracts)
        raise ContractsError(f"--contract {contract!r}: {contracts_path} has no contract of "
                             f"that name (its contracts: {names})")
    position, terms = named[0]
    try:  # the contract as written: its preset not merged in, its factor table by name
        grid = checked_grid(terms, varies, Path(contracts_path).parent,
                            data["contracts"][position])
    except ValueError as exc:  # the grid itself: too large, or a term named twice
        raise ContractsError(str(exc)) from None
    report = progress or (lambda text: None)
    report("reading the input files")
    ledger, _, _ = _ledger_in_memory(paths, contracts, report)
    report(f"settling {len(grid):,} sets of terms")
    return SweepRun(contract, terms.model, [vary.key for vary in varies],
                    sweep(grid, ledger), contracts.currency, len(grid))


def _ledger_in_memory(paths: InputPaths, contracts: ContractsFile, report
                      ) -> tuple[Ledger, list, pd.DataFrame]:
    inputs = read_run_inputs(paths, contracts)
    if inputs.claims.empty:
        raise nothing_accepted(inputs.reports)
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
    """What the contracts and scenarios need of the claim lines.

    One line a row: the members with a trigger code (or, where a scenario shifts claims
    into one, with a claim any of its shifts moves), and every claim a scenario shifts or
    grows. Care codes: every line of a fee-for-service contract's providers (priced by
    code), the codes any contract or scenario names, and the claims a shift moves with
    their own code.
    """
    triggers = sorted({code for contract in contracts.contracts
                       if getattr(getattr(contract, "bundle", None), "kind", None) == "episode"
                       for code in contract.bundle.trigger_codes})
    named = {*triggers, *(code for contract in contracts.contracts
                          for code in getattr(contract, "carve_out_codes", None) or [])}
    coded = [Selection(provider=provider) for contract in contracts.contracts
             if contract.model == "fee_for_service" for provider in contract.provider]
    opening = [Selection(care_code=code) for code in triggers]
    changed = []
    for scenario in scenarios:
        shifts = scenario.shift or []
        shifted = [_selections(shift.from_) for shift in shifts]
        if any(shift.to_care_code in triggers for shift in shifts):
            # Shifts run one after the other: claims an earlier shift moves may be the
            # ones a later shift turns into triggers.
            opening += [s for selections in shifted for s in selections]
        for shift, selections in zip(shifts, shifted):
            changed += selections
            named.update(shift.from_.care_codes or [])
            if shift.to_care_code is None:
                coded += selections
            named.add(shift.to_care_code)
        for growth in scenario.growth or []:
            changed += _selections(growth)
            named.update(growth.care_codes or [])
    coded += [Selection(care_code=code) for code in sorted(named - {None})]
    return LineByLine(tuple(opening), tuple(changed), tuple(coded))


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
