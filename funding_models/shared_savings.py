"""Shared savings on claims: a population's expenditure against its benchmark (SPEC §4.2).

The underlying claims stay paid fee-for-service; the settlement comes on top. Per
performance year t: expenditure E_t is the population's in-scope spend (each member's
truncated when ``truncate_member_spend`` is set); benchmark B_t = benchmark PMPM × member
months, the PMPM agreed or the trended baseline PMPM, optionally risk adjusted. The
arithmetic from B_t and E_t on is :func:`funding_models.sharing.share`, the same function
``fundcalc settle`` uses.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from funding_models.baseline import normalised_weights, trend_factors
from funding_models.ledger import Ledger
from funding_models.populations import Population, PopulationError, population_of
from funding_models.results import ContractResult, SummaryRow, Table, cents_to_units
from funding_models.sharing import (
    OUTCOMES,
    cms_minimum_savings_rate,
    confidence_minimum_savings_rate,
    share,
)


class NotSettled(Exception):
    """A performance year that cannot be settled; the message is the reason."""


@dataclass(frozen=True)
class YearFigures:
    """The population's figures of one year (money in cents)."""

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


def settle_shared_savings(terms, ledger: Ledger) -> ContractResult:
    """Settle a shared-savings contract for each of its performance years.

    Parameters
    ----------
    terms : contracts.SharedSavingsTerms
    ledger : Ledger

    Returns
    -------
    ContractResult
        A Summary row per performance year; tables with the settlement arithmetic per
        year (and the contract total), the baseline years, and the population's spend
        per domain and provider.
    """
    provider = ", ".join(terms.provider)
    truncate_at = (terms.truncate_member_spend * 100
                   if terms.truncate_member_spend is not None else None)
    try:
        population = population_of(ledger, terms, truncate_at)
    except PopulationError as exc:
        rows = [SummaryRow(terms.name, terms.model, provider, year, None, None, None, None,
                           status=f"not settled: {exc}") for year in terms.performance_years]
        return ContractResult(terms.name, terms.model, rows, [], [f"not settled: {exc}"])

    figures = _year_figures(population, ledger.years)
    rows, settlement = [], []
    for year in terms.performance_years:
        try:
            line = _settle_year(terms, ledger, population, figures, year)
        except NotSettled as exc:
            rows.append(SummaryRow(terms.name, terms.model, provider, year, None, None, None,
                                   None, status=f"not settled: {exc}",
                                   members=_members(figures, year),
                                   member_months=_member_months(figures, year)))
            continue
        settlement.append(line)
        rows.append(SummaryRow(
            terms.name, terms.model, provider, year,
            insurer_cost=line["expenditure_paid"] + line["net_settlement"],
            ffs_equivalent=line["expenditure_paid"],
            provider_revenue=line["provider_cost"] + line["net_settlement"],
            provider_cost=line["provider_cost"], status=_status(line),
            members=line["members"], member_months=line["member_months"],
            shared_savings=line["shared_savings"], shared_losses=line["shared_losses"],
            savings_rate=line["savings_rate"]))
    warnings = _warnings(terms, population, figures)
    return ContractResult(terms.name, terms.model, rows,
                          _tables(terms, settlement, figures, population), warnings)


def _year_figures(population: Population, years) -> dict[int, YearFigures]:
    members = population.members
    scored = members["risk_score"].notna().to_numpy()
    grouped = members.assign(
        risk_months=np.where(scored, members["risk_score"] * members["member_months"], 0.0),
        scored_months=np.where(scored, members["member_months"], 0.0),
    ).groupby("year").agg(
        members=("member", "size"), member_months=("member_months", "sum"),
        spend=("spend", "sum"), counted_spend=("counted_spend", "sum"),
        provider_spend=("provider_spend", "sum"), risk_months=("risk_months", "sum"),
        scored_months=("scored_months", "sum"))
    figures = {}
    for year, row in grouped.iterrows():  # one row per year of the run
        risk = row["risk_months"] / row["scored_months"] if row["scored_months"] else np.nan
        figures[int(year)] = YearFigures(int(row["members"]), float(row["member_months"]),
                                         int(row["spend"]), float(row["counted_spend"]),
                                         int(row["provider_spend"]), float(risk))
    return {year: figures[year] for year in years if year in figures}


def _settle_year(terms, ledger: Ledger, population: Population,
                 figures: dict[int, YearFigures], year: int) -> dict:
    """The settlement arithmetic of one performance year, as one table row (cents)."""
    if year not in ledger.years:
        raise NotSettled(f"{year} is outside the claims data "
                         f"({ledger.years[0]}–{ledger.years[-1]})")
    if year not in figures:
        raise NotSettled(f"no members in the population in {year}")
    now = figures[year]
    baseline_pmpm = _baseline_pmpm(terms, ledger, figures, year)
    risk_factor = _risk_factor(terms, figures, year)
    benchmark_pmpm = baseline_pmpm * risk_factor
    benchmark = float(np.rint(benchmark_pmpm * now.member_months))
    if benchmark <= 0:
        raise NotSettled(f"the benchmark of {year} is {benchmark / 100:,.2f}; savings can "
                         "only be measured against a benchmark above 0")
    minimum_savings_rate = _minimum_savings_rate(terms, population, now, year)
    minimum_loss_rate = (minimum_savings_rate if terms.minimum_loss_rate == "same"
                         else terms.minimum_loss_rate)
    loss_sharing_rate = terms.effective_loss_sharing_rate
    result = share(
        benchmark, now.counted_spend, minimum_savings_rate=minimum_savings_rate,
        minimum_loss_rate=minimum_loss_rate, sharing_rate=terms.sharing_rate,
        quality_score=terms.quality_score, payment_multiplier=terms.payment_multiplier,
        above_threshold=terms.sharing_basis == "above_threshold",
        savings_cap=_or_nan(terms.savings_cap),
        loss_sharing_rate=_or_nan(loss_sharing_rate), loss_cap=_or_nan(terms.loss_cap))
    shared, owed = _cents(result.shared_savings[0]), _cents(result.shared_losses[0])
    return {
        "year": year, "members": now.members, "member_months": now.member_months,
        "baseline_pmpm": baseline_pmpm, "risk_factor": risk_factor,
        "benchmark_pmpm": benchmark_pmpm, "benchmark": int(benchmark),
        "expenditure": _cents(now.counted_spend), "expenditure_pmpm": now.pmpm,
        "savings": _cents(result.savings[0]), "savings_rate": float(result.savings_rate[0]),
        "minimum_savings_rate": minimum_savings_rate,
        "minimum_loss_rate": minimum_loss_rate, "outcome": str(result.outcome[0]),
        "sharing_rate": terms.sharing_rate, "quality_score": terms.quality_score,
        "payment_multiplier": terms.payment_multiplier,
        "shared_before_cap": _cents(result.shared_before_cap[0]),
        "savings_cap_amount": _cap(terms.savings_cap, benchmark),
        "loss_sharing_rate": loss_sharing_rate,
        "owed_before_cap": _cents(result.owed_before_cap[0]),
        "loss_cap_amount": _cap(terms.loss_cap, benchmark),
        "cap_bound": str(result.cap_bound[0]),
        "shared_savings": shared, "shared_losses": owed, "net_settlement": shared - owed,
        "expenditure_paid": now.spend, "provider_cost": now.provider_spend,
    }


def _baseline_pmpm(terms, ledger: Ledger, figures: dict[int, YearFigures], year: int) -> float:
    """The agreed benchmark PMPM (cents), or the trended baseline PMPM of the population."""
    agreed = terms.benchmark_pmpm_for(year)
    if agreed is not None:
        return agreed * 100
    _check_baseline(terms, ledger, figures)
    pmpm = [figures[b].pmpm for b in terms.baseline_years]
    weights = normalised_weights(terms.baseline_years, terms.baseline_weights)
    return float((weights * pmpm * trend_factors(terms.baseline_years, year, terms.trend)).sum())


def _check_baseline(terms, ledger: Ledger, figures: dict[int, YearFigures]) -> None:
    for year in terms.baseline_years:
        if year not in ledger.years:
            raise NotSettled(f"baseline year {year} is outside the claims data "
                             f"({ledger.years[0]}–{ledger.years[-1]})")
        if year not in figures:
            raise NotSettled(f"no members in the population in baseline year {year}")


def _risk_factor(terms, figures: dict[int, YearFigures], year: int) -> float:
    """R_t / R_base bounded to 1 ± risk_cap; 1 without risk adjustment."""
    if terms.risk_adjustment == "none":
        return 1.0
    years = [*terms.baseline_years, year]
    missing = [str(y) for y in years if y not in figures or np.isnan(figures[y].risk_score)]
    if missing:
        raise NotSettled(f"risk_adjustment: no member of the population has a risk_score "
                         f"in {', '.join(missing)}")
    weights = normalised_weights(terms.baseline_years, terms.baseline_weights)
    base = float((weights * [figures[b].risk_score for b in terms.baseline_years]).sum())
    factor = figures[year].risk_score / base
    if terms.risk_cap is not None:
        factor = float(np.clip(factor, 1 - terms.risk_cap, 1 + terms.risk_cap))
    return factor


def _minimum_savings_rate(terms, population: Population, now: YearFigures,
                          year: int) -> float:
    rate = terms.minimum_savings_rate
    if rate == "cms":
        value = float(cms_minimum_savings_rate(now.members))
        if np.isnan(value):
            raise NotSettled(
                f"minimum_savings_rate 'cms': the CMS table starts at 5,000 members and "
                f"the population has {now.members:,} in {year}; use {{confidence: p}} or "
                f"a fraction")
        return value
    if isinstance(rate, float):
        return rate
    last = terms.baseline_years[-1]
    members = population.in_year(last)
    if len(members) < 2:
        raise NotSettled(f"minimum_savings_rate {{confidence: {rate.confidence:g}}}: needs "
                         f"at least 2 members in baseline year {last}")
    annual = members["counted_spend"].to_numpy() / members["member_months"].to_numpy() * 12
    mean = annual.mean()
    if mean <= 0:
        raise NotSettled(f"minimum_savings_rate {{confidence: {rate.confidence:g}}}: the "
                         f"mean spend in baseline year {last} is not above 0")
    return float(confidence_minimum_savings_rate(rate.confidence, annual.std(ddof=1) / mean,
                                                 now.members))


def _or_nan(value: float | None) -> float:
    return np.nan if value is None else value


def _cents(value: float) -> int:
    """Round to whole cents, half to even (once per year, SPEC §2)."""
    return int(np.rint(value))


def _cap(rate: float | None, benchmark: float) -> int | None:
    return None if rate is None else _cents(rate * benchmark)


def _members(figures: dict[int, YearFigures], year: int) -> int | None:
    return figures[year].members if year in figures else None


def _member_months(figures: dict[int, YearFigures], year: int) -> float | None:
    return figures[year].member_months if year in figures else None


def _status(line: dict) -> str:
    notes = [OUTCOMES[line["outcome"]]]
    if line["cap_bound"]:
        notes.append(f"{line['cap_bound']} reached")
    return "ok; " + "; ".join(notes)


def _warnings(terms, population: Population, figures: dict[int, YearFigures]) -> list[str]:
    warnings = []
    if population.members.empty:
        warnings.append("the population is empty in every year: no member is attributed to "
                        f"{', '.join(terms.provider)}" + (
                            f" in segment '{terms.scope.segment}'" if terms.scope.segment
                            else ""))
    unscored = int(population.members["risk_score"].isna().sum())
    if terms.risk_adjustment == "risk_score" and unscored:
        warnings.append(f"{unscored:,} member-years without a risk_score are left out of the "
                        f"mean risk scores")
    return warnings


#: Columns of the per-year settlement table, in the order of the arithmetic, and kinds.
SETTLEMENT_KINDS = {
    "year": "year", "members": "count", "member_months": "number",
    "baseline_pmpm": "money", "risk_factor": "number", "benchmark_pmpm": "money",
    "benchmark": "money", "expenditure": "money", "expenditure_pmpm": "money",
    "savings": "money", "savings_rate": "rate", "minimum_savings_rate": "rate",
    "minimum_loss_rate": "rate", "outcome": "text", "sharing_rate": "rate",
    "quality_score": "rate", "payment_multiplier": "rate", "shared_before_cap": "money",
    "savings_cap_amount": "money", "loss_sharing_rate": "rate", "owed_before_cap": "money",
    "loss_cap_amount": "money", "cap_bound": "text", "shared_savings": "money",
    "shared_losses": "money", "net_settlement": "money",
}

#: Settlement columns summed in the contract total.
TOTALLED = ("member_months", "benchmark", "expenditure", "savings", "shared_before_cap",
            "owed_before_cap", "shared_savings", "shared_losses", "net_settlement")


def _tables(terms, settlement: list[dict], figures: dict[int, YearFigures],
            population: Population) -> list[Table]:
    per_year = pd.DataFrame(settlement, columns=list(SETTLEMENT_KINDS)).astype(object)
    if len(per_year) > 1:
        total = {c: per_year[c].sum() for c in TOTALLED}
        per_year.loc[len(per_year)] = {"year": "total", **total}
    per_year["outcome"] = per_year["outcome"].map(OUTCOMES)
    for column, kind in SETTLEMENT_KINDS.items():
        if kind == "money":
            cents = pd.to_numeric(per_year[column], errors="coerce")
            if column.endswith("pmpm"):
                per_year[column] = cents / 100  # a rate per member month, not rounded
            else:
                per_year[column] = cents_to_units(pd.array(cents.round(), dtype="Int64"))
    tables = [Table(
        "Settlement per performance year", per_year, SETTLEMENT_KINDS,
        "benchmark = benchmark PMPM x member months; savings = benchmark − expenditure; "
        "savings shared when savings rate ≥ MSR: base x sharing rate x quality score x "
        "payment multiplier, at most the savings cap; losses (two-sided) when savings rate "
        "≤ −MLR: base x loss sharing rate, at most the loss cap")]
    if terms.baseline_years:
        tables.append(_baseline_table(terms, figures))
    tables.append(_population_table(figures))
    for level in ("domain", "provider"):
        detail = population.spend.groupby(["year", level], observed=True, sort=True).agg(
            amount=("amount", "sum"), lines=("lines", "sum")).reset_index()
        detail[level] = detail[level].astype(str)
        detail["amount"] = cents_to_units(detail["amount"].to_numpy())
        tables.append(Table(f"Population in-scope spend per year and {level}", detail,
                            {"year": "year", level: "text", "amount": "money",
                             "lines": "count"}))
    return tables


def _baseline_table(terms, figures: dict[int, YearFigures]) -> Table:
    weights = normalised_weights(terms.baseline_years, terms.baseline_weights)
    rows = [{"year": year, "weight": weight,
             "member_months": figures[year].member_months if year in figures else None,
             "expenditure": (cents_to_units(_cents(figures[year].counted_spend))
                             if year in figures else None),
             "expenditure_pmpm": figures[year].pmpm / 100 if year in figures else None,
             "risk_score": figures[year].risk_score if year in figures else None}
            for year, weight in zip(terms.baseline_years, weights)]
    return Table(
        "Baseline years", pd.DataFrame(rows), {
            "year": "year", "weight": "rate", "member_months": "number",
            "expenditure": "money", "expenditure_pmpm": "money", "risk_score": "number"},
        (f"baseline PMPM(t) = Σ weight x expenditure PMPM x (1 + {terms.trend:g})^(t − year); "
         "each year's own population" if terms.benchmark_pmpm is None else
         "the benchmark PMPM is agreed; these years serve the risk adjustment and the "
         "confidence-based minimum savings rate"))


def _population_table(figures: dict[int, YearFigures]) -> Table:
    rows = [{"year": year, "members": f.members, "member_months": f.member_months,
             "spend": cents_to_units(f.spend),
             "counted_spend": cents_to_units(_cents(f.counted_spend)),
             "provider_spend": cents_to_units(f.provider_spend),
             "mean_risk_score": f.risk_score}
            for year, f in figures.items()]
    return Table(
        "Population per year", pd.DataFrame(rows), {
            "year": "year", "members": "count", "member_months": "number",
            "spend": "money", "counted_spend": "money", "provider_spend": "money",
            "mean_risk_score": "number"},
        "spend: in-scope claims of the population within enrollment; counted_spend: after "
        "truncation; provider_spend: the part billed by the contract's provider(s)")
