"""What every population contract does per year: settle each performance year, or leave it
blank with the reason; take a trended baseline PMPM of the population; show the arithmetic.

Shared by shared savings (§4.2) and capitation (§4.3).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from funding_models.baseline import normalised_weights, trended_baseline
from funding_models.ledger import Ledger
from funding_models.populations import Population
from funding_models.results import (
    ColumnKind,
    ContractResult,
    SummaryRow,
    Table,
    cents_to_units,
)


class NotSettled(Exception):
    """A performance year that cannot be settled; the message is the reason."""


@dataclass(frozen=True)
class YearFigures:
    """A population's figures of one year (money in cents).

    ``counted_spend`` is the spend after truncation (= ``spend`` without it);
    ``risk_score`` the member-month-weighted mean of the members that have one (NaN when
    none has).
    """

    members: int
    member_months: float
    spend: int
    counted_spend: float
    provider_spend: int
    risk_score: float

    @property
    def pmpm(self) -> float:
        """Counted spend per member month."""
        return self.counted_spend / self.member_months


def year_figures(population: Population, years) -> dict[int, YearFigures]:
    """The population's :class:`YearFigures` for each year of ``years`` it has members in."""
    members = population.members
    scored = members["risk_score"].notna().to_numpy()
    months = members["member_months"].to_numpy()
    by_year = pd.DataFrame({
        "year": members["year"].to_numpy(), "member_months": months,
        **{column: members[column].to_numpy()
           for column in ("spend", "counted_spend", "provider_spend")},
        "risk_months": np.where(scored, members["risk_score"].to_numpy() * months, 0.0),
        "scored_months": np.where(scored, months, 0.0),
    }).groupby("year")
    grouped = by_year.sum().assign(members=by_year.size())
    figures = {}
    for year, row in grouped.iterrows():  # one row per year of the run
        risk = row["risk_months"] / row["scored_months"] if row["scored_months"] else np.nan
        figures[int(year)] = YearFigures(int(row["members"]), float(row["member_months"]),
                                         int(row["spend"]), float(row["counted_spend"]),
                                         int(row["provider_spend"]), float(risk))
    return {year: figures[year] for year in years if year in figures}


def settle_years(terms, ledger: Ledger, figures: dict[int, YearFigures | None],
                 settle_year: Callable[[int], tuple[SummaryRow, dict]]
                 ) -> tuple[list[SummaryRow], list[dict]]:
    """Settle each performance year with ``settle_year``; a year it cannot settle (it
    raises :class:`NotSettled`) gets a blank Summary row with the reason.

    ``figures`` holds the years with a population (a year not in it is not settled);
    its values may be None where a model needs no population figures.

    Returns
    -------
    rows : list of SummaryRow
        One per performance year.
    lines : list of dict
        The arithmetic of each settled year, for the contract sheet.
    """
    rows, lines = [], []
    for year in terms.performance_years:
        try:
            check_year(ledger, figures, year)
            row, line = settle_year(year)
        except NotSettled as exc:
            now = figures.get(year)
            rows.append(SummaryRow(
                terms.name, terms.model, ", ".join(terms.provider), year, None, None, None,
                None, status=f"not settled: {exc}",
                members=now.members if now else None,
                member_months=now.member_months if now else None))
            continue
        rows.append(row)
        lines.append(line)
    return rows, lines


def by_year(lines: list[dict]) -> dict[int, dict]:
    """Settled years' arithmetic (each with its ``year``) by year."""
    return {line["year"]: line for line in lines}


def not_settled_at_all(terms, reason: str) -> ContractResult:
    """A contract none of whose years can be settled: blank rows with the reason."""
    rows = [SummaryRow(terms.name, terms.model, ", ".join(terms.provider), year, None, None,
                       None, None, status=f"not settled: {reason}")
            for year in terms.performance_years]
    return ContractResult(terms.name, terms.model, rows, [], [f"not settled: {reason}"])


def check_year(ledger: Ledger, figures: dict[int, YearFigures | None], year: int) -> None:
    """Raise :class:`NotSettled` for a year outside the data or without members."""
    if year not in ledger.years:
        raise NotSettled(f"{year} is outside the claims data "
                         f"({ledger.years[0]}–{ledger.years[-1]})")
    if year not in figures:
        raise NotSettled(f"no members in the population in {year}")


def baseline_pmpm(terms, ledger: Ledger, figures: dict[int, YearFigures], year: int) -> float:
    """The population's trended baseline PMPM for ``year`` (cents), SPEC §2:
    Σ_b w_b · PMPM_b · (1 + trend)^(t − b), each baseline year with its own population."""
    for base in terms.baseline_years:
        if base not in ledger.years:
            raise NotSettled(f"baseline year {base} is outside the claims data "
                             f"({ledger.years[0]}–{ledger.years[-1]})")
        if base not in figures:
            raise NotSettled(f"no members in the population in baseline year {base}")
    return trended_baseline([figures[b].pmpm for b in terms.baseline_years],
                            terms.baseline_years, terms.baseline_weights, terms.trend, year)


def round_cents(value: float) -> int:
    """Round to whole cents, half to even (once per year, SPEC §2)."""
    return int(np.rint(value))


def per_year_table(title: str, lines: list[dict], kinds: dict[str, ColumnKind],
                   totalled: tuple[str, ...], note: str) -> Table:
    """The per-year arithmetic as a table, money from cents to units, with a ``total`` row
    summing ``totalled`` when there are several years. Money columns whose name ends in
    ``pmpm`` are rates per member month and stay unrounded."""
    frame = pd.DataFrame(lines, columns=list(kinds)).astype(object)
    if len(frame) > 1:
        frame.loc[len(frame)] = {"year": "total", **{c: frame[c].sum() for c in totalled}}
    for column, kind in kinds.items():
        if kind == "money":
            cents = pd.to_numeric(frame[column], errors="coerce")
            frame[column] = (cents / 100 if column.endswith("pmpm") else
                             cents_to_units(pd.array(cents.round(), dtype="Int64")))
    return Table(title, frame, kinds, note)


def baseline_table(terms, figures: dict[int, YearFigures], note: str) -> Table:
    """The baseline years: weight, member months, spend, PMPM and mean risk score."""
    weights = normalised_weights(terms.baseline_years, terms.baseline_weights)
    rows = []
    for year, weight in zip(terms.baseline_years, weights):
        now = figures.get(year)
        rows.append({
            "year": year, "weight": weight,
            "member_months": now.member_months if now else None,
            "spend": cents_to_units(round_cents(now.counted_spend)) if now else None,
            "spend_pmpm": now.pmpm / 100 if now else None,
            "mean_risk_score": now.risk_score if now else None})
    return Table("Baseline years", pd.DataFrame(rows), {
        "year": "year", "weight": "rate", "member_months": "number", "spend": "money",
        "spend_pmpm": "money", "mean_risk_score": "number"}, note)


def population_tables(figures: dict[int, YearFigures], population: Population,
                      note: str) -> list[Table]:
    """The population per year, and its in-scope spend per year and domain and provider."""
    rows = [{"year": year, "members": f.members, "member_months": f.member_months,
             "spend": cents_to_units(f.spend),
             "counted_spend": cents_to_units(round_cents(f.counted_spend)),
             "provider_spend": cents_to_units(f.provider_spend),
             "mean_risk_score": f.risk_score}
            for year, f in figures.items()]
    tables = [Table("Population per year", pd.DataFrame(rows), {
        "year": "year", "members": "count", "member_months": "number", "spend": "money",
        "counted_spend": "money", "provider_spend": "money", "mean_risk_score": "number"},
        note)]
    for level in ("domain", "provider"):
        detail = (population.spend.groupby(["year", level], observed=True, sort=True)
                  [["amount", "lines"]].sum().reset_index())
        detail[level] = detail[level].astype(str)
        detail["amount"] = cents_to_units(detail["amount"].to_numpy())
        tables.append(Table(f"Population in-scope spend per year and {level}", detail,
                            {"year": "year", level: "text", "amount": "money",
                             "lines": "count"}))
    return tables


def empty_population_warning(terms, population: Population) -> list[str]:
    """A warning when no member is in the population in any year."""
    if not population.members.empty:
        return []
    segment = f" in segment '{terms.scope.segment}'" if terms.scope.segment else ""
    return [f"the population is empty in every year: no member is attributed to "
            f"{', '.join(terms.provider)}{segment}"]
