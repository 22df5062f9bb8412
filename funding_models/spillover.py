"""Cross-domain spillover, the waterbed effect (SPEC §5).

For a contract's population (all members of its segment when the contract has none) and
each performance year t, for every domain d in the data: expected_d = trended baseline
PMPM_d × member months_t; delta_d = actual_d − expected_d. Targeted savings TS =
−Σ delta over the contract's domains; spillover SP = Σ delta over the others; net insurer
savings = TS − SP − (insurer cost − FFS equivalent); offset ratio = SP / TS.
With a comparison segment (difference in differences) the trend factor of a domain is the
comparison members' PMPM in t over their weighted baseline PMPM.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from types import SimpleNamespace

import numpy as np
import pandas as pd

from contracts.terms import Scope
from funding_models.baseline import trended_baseline
from funding_models.ledger import Ledger
from funding_models.populations import PopulationError, population_of
from funding_models.results import ContractResult, SummaryRow

#: Columns of the per-domain spillover table (the Spillover sheet), money in cents here.
DOMAIN_COLUMNS = ("contract", "year", "domain", "in_scope", "baseline_pmpm", "expected_pmpm",
                  "member_months", "expected", "actual", "delta")

#: What joins a Summary row's status and the reason its spillover is blank.
SPILLOVER_NOTE = "; spillover blank: "

#: Columns of the per-year spillover table.
YEAR_COLUMNS = ("contract", "year", "targeted_savings", "spillover", "cost_beyond_ffs",
                "net_insurer_savings", "offset_ratio", "note")


@dataclass(frozen=True)
class Spillover:
    """A contract's spillover: per year and domain, and per year.

    ``domains`` and ``years`` hold :data:`DOMAIN_COLUMNS` and :data:`YEAR_COLUMNS`
    (money in cents); ``reason`` says why there is none when both are empty.
    """

    domains: pd.DataFrame
    years: pd.DataFrame
    reason: str = ""


def spillover_of(terms, ledger: Ledger, result: ContractResult) -> Spillover:
    """Measure a contract's spillover in each of its performance years.

    Parameters
    ----------
    terms : contract terms of any model
        ``scope``, ``baseline_years``, ``baseline_weights``, ``trend``, ``spillover`` and,
        for population models, how the population is formed.
    ledger : Ledger
    result : ContractResult
        The contract's settlement: its insurer cost − FFS equivalent enters net savings.
    """
    settings = terms.spillover
    years = (settings.baseline_years if settings and settings.baseline_years
             else terms.baseline_years)
    if not years:
        return _none("no baseline years: set baseline_years or spillover.baseline_years")
    weights = (settings.baseline_weights if settings and settings.baseline_years
               else terms.baseline_weights)
    missing = [str(y) for y in years if y not in ledger.years]
    if missing:
        return _none(f"baseline year {', '.join(missing)} is outside the claims data")
    try:
        spend, months = _per_domain(ledger, _population_terms(terms))
        comparison = (_per_domain(ledger, _segment_terms(terms, settings.comparison_segment))
                      if settings and settings.comparison_segment else None)
    except PopulationError as exc:
        return _none(str(exc))
    domains = sorted(ledger.domains)
    rows, totals = [], []
    for row in result.rows:
        year = row.year
        if year not in ledger.years or months.get(year, 0) <= 0:
            totals.append(_blank_year(terms, year, "no population members in the year"))
            continue
        lacking = [str(b) for b in years if months.get(b, 0) <= 0]
        if lacking:
            totals.append(_blank_year(terms, year, f"no population members in baseline "
                                                   f"year {', '.join(lacking)}"))
            continue
        year_rows = [_domain_row(terms, spend, months, comparison, years, weights, year, d)
                     for d in domains]
        if any(r["expected_pmpm"] is None for r in year_rows):
            totals.append(_blank_year(terms, year, "the comparison segment has no spend in "
                                                   "a baseline year of a domain"))
            continue
        rows += year_rows
        totals.append(_year_total(terms, year_rows, row))
    return Spillover(pd.DataFrame(rows, columns=list(DOMAIN_COLUMNS)),
                     pd.DataFrame(totals, columns=list(YEAR_COLUMNS)))


def with_spillover(rows: list[SummaryRow], spillover: Spillover) -> list[SummaryRow]:
    """The Summary rows with spillover and net insurer savings filled in, or the reason
    they are blank added to the status."""
    by_year = spillover.years.set_index("year") if len(spillover.years) else None
    filled = []
    for row in rows:
        if by_year is None or row.year not in by_year.index:
            note = spillover.reason
        else:
            year = by_year.loc[row.year]
            if pd.notna(year["spillover"]):
                net = year["net_insurer_savings"]
                filled.append(replace(row, spillover=int(year["spillover"]),
                                      net_insurer_savings=None if pd.isna(net) else int(net)))
                continue
            note = year["note"]
        filled.append(replace(row, status=f"{row.status}{SPILLOVER_NOTE}{note}"))
    return filled


def _none(reason: str) -> Spillover:
    return Spillover(pd.DataFrame(columns=list(DOMAIN_COLUMNS)),
                     pd.DataFrame(columns=list(YEAR_COLUMNS)), reason)


def _population_terms(terms) -> SimpleNamespace:
    """How the spillover population is formed: the contract's own population (all
    domains), or the members of its segment for contracts without one."""
    has_population = terms.model in ("shared_savings", "capitation") or (
        terms.model == "bundled" and terms.bundle.kind == "condition")
    if not has_population:
        return _segment_terms(terms, terms.scope.segment)
    return SimpleNamespace(
        provider=terms.provider, scope=Scope(domains="all", segment=terms.scope.segment),
        attribution=terms.attribution, attribution_domains=(
            terms.attribution_domains or (terms.scope.domains if terms.attribution ==
                                          "plurality" else None)),
        carve_out_codes=[],
        condition=terms.bundle.condition if terms.model == "bundled" else None)


def _segment_terms(terms, segment: str | None) -> SimpleNamespace:
    return SimpleNamespace(provider=terms.provider, scope=Scope(domains="all", segment=segment),
                           attribution="none", attribution_domains=None, carve_out_codes=[],
                           condition=None)


def _per_domain(ledger: Ledger, terms: SimpleNamespace) -> tuple[pd.Series, dict[int, float]]:
    """Spend (cents) per year and domain, and member months per year, of a population."""
    population = population_of(ledger, terms, condition=terms.condition)
    spend = population.spend.groupby(["year", "domain"], observed=True)["amount"].sum()
    spend.index = spend.index.set_levels(spend.index.levels[1].astype(str), level=1)
    months = population.members.groupby("year")["member_months"].sum().to_dict()
    return spend, {int(y): float(m) for y, m in months.items()}


def _pmpm(spend: pd.Series, months: dict[int, float], year: int, domain: str) -> float:
    return float(spend.get((year, domain), 0)) / months[year]


def _domain_row(terms, spend, months, comparison, years, weights, year: int,
                domain: str) -> dict:
    """Expected and actual spend of one domain in one year.

    expected PMPM = Σ_b w_b · PMPM_b · (1 + trend_d)^(t − b); with a comparison segment,
    Σ_b w_b · PMPM_b times the comparison's PMPM in t over its Σ_b w_b · PMPM_b.
    ``expected_pmpm`` is None where the comparison has no spend to compare with.
    """
    pmpm = [_pmpm(spend, months, b, domain) for b in years]
    baseline = trended_baseline(pmpm, years, weights, 0.0, year)
    if comparison is None:
        trend = (terms.spillover.trends.get(domain, terms.trend) if terms.spillover
                 else terms.trend)
        expected_pmpm = trended_baseline(pmpm, years, weights, trend, year)
    else:
        expected_pmpm = _compared(baseline, comparison, years, weights, year, domain)
    expected = None if expected_pmpm is None else expected_pmpm * months[year]
    actual = int(spend.get((year, domain), 0))
    return {"contract": terms.name, "year": year, "domain": domain,
            "in_scope": terms.scope.covers(domain), "baseline_pmpm": baseline,
            "expected_pmpm": expected_pmpm, "member_months": months[year],
            "expected": expected, "actual": actual,
            "delta": None if expected is None else actual - expected}


def _compared(baseline: float, comparison, years, weights, year: int,
              domain: str) -> float | None:
    """The population's baseline PMPM moved as the comparison segment's PMPM moved."""
    comparison_spend, comparison_months = comparison
    if any(comparison_months.get(y, 0) <= 0 for y in (*years, year)):
        return None
    before = trended_baseline([_pmpm(comparison_spend, comparison_months, b, domain)
                               for b in years], years, weights, 0.0, year)
    now = _pmpm(comparison_spend, comparison_months, year, domain)
    if before <= 0:
        return baseline if now == 0 and baseline == 0 else None
    return baseline * now / before


def _year_total(terms, rows: list[dict], summary: SummaryRow) -> dict:
    deltas = np.array([r["delta"] for r in rows], dtype=np.float64)
    in_scope = np.array([r["in_scope"] for r in rows], dtype=bool)
    targeted = int(np.rint(-deltas[in_scope].sum()))
    spillover = int(np.rint(deltas[~in_scope].sum()))
    beyond = (None if summary.insurer_cost is None or summary.ffs_equivalent is None
              else summary.insurer_cost - summary.ffs_equivalent)
    notes = []
    if beyond is None:
        notes.append("net insurer savings blank: the contract's year is not settled")
    if targeted <= 0:
        notes.append("offset ratio blank: no targeted savings")
    return {"contract": terms.name, "year": summary.year, "targeted_savings": targeted,
            "spillover": spillover, "cost_beyond_ffs": beyond,
            "net_insurer_savings": None if beyond is None else targeted - spillover - beyond,
            "offset_ratio": spillover / targeted if targeted > 0 else None,
            "note": "; ".join(notes)}


def _blank_year(terms, year: int, reason: str) -> dict:
    return {"contract": terms.name, "year": year, "targeted_savings": None,
            "spillover": None, "cost_beyond_ffs": None, "net_insurer_savings": None,
            "offset_ratio": None, "note": reason}
