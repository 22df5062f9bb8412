"""Settle every contract on one ledger, under the base and each scenario, with spillover."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable, Sequence

import pandas as pd

from funding_models.bundled import settle_bundled
from funding_models.capitation import settle_capitation
from funding_models.fee_for_service import settle_fee_for_service
from funding_models.ledger import Ledger
from funding_models.population_years import not_settled_at_all
from funding_models.populations import PopulationError, segment_keys
from funding_models.results import ContractResult, SummaryRow, Table, cents_to_units
from funding_models.scenarios import apply_scenario, claims_changed
from funding_models.shared_savings import settle_shared_savings
from funding_models.spillover import (
    DOMAIN_COLUMNS,
    YEAR_COLUMNS,
    Spillover,
    spillover_of,
    with_spillover,
)

#: The settlement function of each funding model, by the ``model`` key of the terms.
SETTLERS: dict[str, Callable[..., ContractResult]] = {
    "fee_for_service": settle_fee_for_service,
    "shared_savings": settle_shared_savings,
    "capitation": settle_capitation,
    "bundled": settle_bundled,
}

#: The name of the comparison on the claims as they are.
BASE = "base"


def settle_contracts(contracts: Sequence, ledger: Ledger) -> list[ContractResult]:
    """Settle each contract on the same ledger, in the order given.

    Parameters
    ----------
    contracts : sequence of contract terms
        Objects from :mod:`contracts` with a ``model`` attribute.
    ledger : Ledger

    Returns
    -------
    list of ContractResult
    """
    return [SETTLERS[terms.model](terms, ledger) for terms in contracts]


@dataclass(frozen=True)
class Run:
    """The contracts settled under one scenario (``base``: the claims as they are)."""

    scenario: str
    results: list[ContractResult]
    spillover: list[Spillover]

    @property
    def rows(self) -> list[SummaryRow]:
        """The Summary rows of every contract, in order."""
        return [row for result in self.results for row in result.rows]


def compare(contracts: Sequence, ledger: Ledger, scenarios: Sequence = (),
            progress: Callable[[str, float], None] | None = None) -> list[Run]:
    """Settle the contracts with their spillover on the claims as they are and under each
    scenario.

    A scenario changes the claims of each contract's performance years only (those of
    them the scenario's ``years`` name, when it names some): contracts whose years agree
    share one changed ledger.

    Parameters
    ----------
    progress : callable, optional
        Called with a short text and the share of the settlements done, as each contract
        is settled.

    Returns
    -------
    list of Run
        The base first, then the scenarios in order.
    """
    total = len(contracts) * (1 + len(scenarios))
    done = iter(range(total))

    def step(text: str) -> None:
        if progress is not None:
            progress(text, next(done) / total)

    runs = [_run(BASE, contracts, lambda terms: (ledger, ""), step)]
    for scenario in scenarios:
        changed: dict[tuple[int, ...], tuple[Ledger, str]] = {}

        def ledger_for(terms, scenario=scenario, changed=changed) -> tuple[Ledger, str]:
            """The ledger a contract settles on under the scenario, and a note when the
            scenario changes none of its claims (the base ledger then serves)."""
            years = tuple(y for y in terms.performance_years
                          if scenario.years is None or y in scenario.years)
            if years not in changed:
                if claims_changed(ledger, scenario, years):
                    changed[years] = (apply_scenario(ledger, scenario, years), "")
                else:
                    changed[years] = (ledger, f"scenario '{scenario.name}' selects no "
                                              f"claims in {', '.join(map(str, years)) or 'no year'}"
                                              ": settled as the base")
            return changed[years]

        runs.append(_run(scenario.name, contracts, ledger_for, step))
    return runs


def _run(name: str, contracts: Sequence, ledger_for: Callable,
         step: Callable[[str], None]) -> Run:
    results, spillovers = [], []
    for number, terms in enumerate(contracts, 1):
        step(f"{name}: settling contract {number} of {len(contracts)} ({terms.name})")
        try:
            ledger, note = ledger_for(terms)
        except PopulationError as exc:
            result = not_settled_at_all(terms, f"scenario '{name}': {exc}")
            spillover = Spillover(pd.DataFrame(), pd.DataFrame(), str(exc))
            note = ""
        else:
            result = SETTLERS[terms.model](terms, ledger)
            spillover = spillover_of(terms, ledger, result)
            if name == BASE:
                result = dataclasses.replace(
                    result, warnings=[*result.warnings, *scope_warnings(terms, ledger)])
        rows = [dataclasses.replace(row, scenario=name,
                                    status=row.status + (f"; {note}" if note else ""))
                for row in with_spillover(result.rows, spillover)]
        if note:
            result = dataclasses.replace(result, warnings=[*result.warnings, note])
        results.append(dataclasses.replace(result, rows=rows))
        spillovers.append(spillover)
    return Run(name, results, spillovers)


def scope_warnings(terms, ledger: Ledger) -> list[str]:
    """Warnings for a contract whose scope names what the data does not hold: care
    domains no claim has, or a segment no member of the members table is in (such a
    contract is still settled, usually on nothing)."""
    warnings = []
    if terms.scope.domains != "all":
        missing = sorted(set(terms.scope.domains) - set(ledger.domains))
        if missing:
            warnings.append(f"domain(s) {', '.join(missing)} do not occur in the claims")
    segment = terms.scope.segment
    members = ledger.members
    if segment is not None and members is not None and "segment" in members:
        if not (segment_keys(members["segment"]) == segment_keys(segment)).any():
            warnings.append(f"segment '{segment}' has no members in the members table")
    return warnings


def contract_details(runs: Sequence[Run]) -> list[ContractResult]:
    """Each contract's detail for its sheet: the base settlement, then the first table
    (the per-year settlement) and the warnings of each scenario; episodes of every
    scenario, each with its scenario."""
    base, others = runs[0], runs[1:]
    details = []
    for position, result in enumerate(base.results):
        tables, warnings = list(result.tables), list(result.warnings)
        episodes = _with_scenario(result.episodes, base.scenario)
        for run in others:
            scenario = run.results[position]
            tables += [Table(f"Scenario '{run.scenario}': {table.title}", table.frame,
                             table.kinds, table.note) for table in scenario.tables[:1]]
            warnings += [f"scenario '{run.scenario}': {w}" for w in scenario.warnings]
            if episodes is not None and scenario.episodes is not None:
                episodes = pd.concat([episodes, _with_scenario(scenario.episodes,
                                                               run.scenario)],
                                     ignore_index=True)
        details.append(dataclasses.replace(result, tables=tables, warnings=warnings,
                                           episodes=episodes))
    return details


def _with_scenario(episodes: pd.DataFrame | None, scenario: str) -> pd.DataFrame | None:
    """An episode list with the scenario it was settled under as its first column."""
    return None if episodes is None else episodes.assign(scenario=scenario)[
        ["scenario", *episodes.columns]]


def spillover_frames(runs: Sequence[Run]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The Spillover sheet's tables over all runs, money in currency units: per scenario,
    contract, year and domain; and per scenario, contract and year."""
    domains = [s.domains.assign(scenario=run.scenario) for run in runs
               for s in run.spillover if len(s.domains)]
    years = [s.years.assign(scenario=run.scenario) for run in runs
             for s in run.spillover if len(s.years)]
    domain_frame = (pd.concat(domains, ignore_index=True) if domains
                    else pd.DataFrame(columns=["scenario", *DOMAIN_COLUMNS]))
    year_frame = (pd.concat(years, ignore_index=True) if years
                  else pd.DataFrame(columns=["scenario", *YEAR_COLUMNS]))
    domain_frame = domain_frame[["scenario", *DOMAIN_COLUMNS]]
    year_frame = year_frame[["scenario", *YEAR_COLUMNS]]
    for column in ("baseline_pmpm", "expected_pmpm"):
        domain_frame[column] = pd.to_numeric(domain_frame[column]) / 100
    for column in ("expected", "actual", "delta"):
        domain_frame[column] = cents_to_units(
            pd.array(pd.to_numeric(domain_frame[column]).round(), dtype="Int64"))
    for column in ("targeted_savings", "spillover", "cost_beyond_ffs", "net_insurer_savings"):
        year_frame[column] = cents_to_units(
            pd.array(pd.to_numeric(year_frame[column]), dtype="Int64"))
    return domain_frame, year_frame
