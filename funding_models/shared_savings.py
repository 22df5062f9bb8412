"""Shared savings on claims: a population's expenditure against its benchmark (SPEC §4.2).

The underlying claims stay paid fee-for-service; the settlement comes on top. Per
performance year t: expenditure E_t is the population's in-scope spend (each member's
truncated when ``truncate_member_spend`` is set); benchmark B_t = benchmark PMPM × member
months, the PMPM agreed or the trended baseline PMPM, optionally risk adjusted. The
arithmetic from B_t and E_t on is :func:`funding_models.sharing.share`, the same function
``fundcalc settle`` uses.
"""
from __future__ import annotations

import numpy as np

from funding_models.baseline import trended_baseline
from funding_models.ledger import Ledger
from funding_models.population_years import (
    NotSettled,
    YearFigures,
    baseline_pmpm,
    baseline_table,
    by_year,
    empty_population_warning,
    not_settled_at_all,
    per_year_table,
    population_tables,
    round_cents,
    settle_years,
    year_figures,
)
from funding_models.populations import Population, PopulationError, population_of
from funding_models.results import ContractResult, SummaryRow, Table
from funding_models.sharing import (
    OUTCOMES,
    cms_minimum_savings_rate,
    confidence_minimum_savings_rate,
    share,
)


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
    truncate_at = (terms.truncate_member_spend * 100
                   if terms.truncate_member_spend is not None else None)
    try:
        population = population_of(ledger, terms, truncate_at)
    except PopulationError as exc:
        return not_settled_at_all(terms, str(exc))
    figures = year_figures(population, ledger.years)

    def settle_year(year: int) -> tuple[SummaryRow, dict]:
        line = _settle_year(terms, ledger, population, figures, year)
        return SummaryRow(
            terms.name, terms.model, ", ".join(terms.provider), year,
            insurer_cost=line["expenditure_paid"] + line["net_settlement"],
            ffs_equivalent=line["expenditure_paid"],
            provider_revenue=line["provider_cost"] + line["net_settlement"],
            provider_cost=line["provider_cost"], status=_status(line),
            members=line["members"], member_months=line["member_months"],
            shared_savings=line["shared_savings"], shared_losses=line["shared_losses"],
            savings_rate=line["savings_rate"]), line

    rows, lines = settle_years(terms, ledger, figures, settle_year)
    warnings = empty_population_warning(terms, population) + _risk_warning(terms, population)
    return ContractResult(terms.name, terms.model, rows,
                          _tables(terms, lines, figures, population), warnings,
                          settled_years=by_year(lines))


def _settle_year(terms, ledger: Ledger, population: Population,
                 figures: dict[int, YearFigures], year: int) -> dict:
    """The settlement arithmetic of one performance year, as one table row (cents)."""
    now = figures[year]
    agreed = terms.benchmark_pmpm_for(year)
    baseline = (agreed * 100 if agreed is not None
                else baseline_pmpm(terms, ledger, figures, year))
    risk_factor = _risk_factor(terms, figures, year)
    benchmark_pmpm = baseline * risk_factor
    benchmark = float(np.rint(benchmark_pmpm * now.member_months))
    if benchmark <= 0:
        raise NotSettled(f"the benchmark of {year} is {benchmark / 100:,.2f}; savings can "
                         "only be measured against a benchmark above 0")
    minimum_savings_rate = _minimum_savings_rate(terms, population, now, year)
    minimum_loss_rate = _minimum_loss_rate(terms, minimum_savings_rate)
    result = share_under(terms, benchmark, now.counted_spend, minimum_savings_rate)
    shared = round_cents(result.shared_savings[0])
    owed = round_cents(result.shared_losses[0])
    return {
        "year": year, "members": now.members, "member_months": now.member_months,
        "baseline_pmpm": baseline, "risk_factor": risk_factor,
        "benchmark_pmpm": benchmark_pmpm, "benchmark": int(benchmark),
        "expenditure": round_cents(now.counted_spend), "expenditure_pmpm": now.pmpm,
        "savings": round_cents(result.savings[0]),
        "savings_rate": float(result.savings_rate[0]),
        "minimum_savings_rate": minimum_savings_rate,
        "minimum_loss_rate": minimum_loss_rate, "outcome": str(result.outcome[0]),
        "sharing_rate": terms.sharing_rate, "quality_score": terms.quality_score,
        "payment_multiplier": terms.payment_multiplier,
        "shared_before_cap": round_cents(result.shared_before_cap[0]),
        "savings_cap_amount": _cap(terms.savings_cap, benchmark),
        "loss_sharing_rate": terms.effective_loss_sharing_rate,
        "owed_before_cap": round_cents(result.owed_before_cap[0]),
        "loss_cap_amount": _cap(terms.loss_cap, benchmark),
        "cap_bound": str(result.cap_bound[0]),
        "shared_savings": shared, "shared_losses": owed, "net_settlement": shared - owed,
        "expenditure_paid": now.spend, "provider_cost": now.provider_spend,
    }


def _risk_factor(terms, figures: dict[int, YearFigures], year: int) -> float:
    """R_t / R_base bounded to 1 ± risk_cap; 1 without risk adjustment."""
    if terms.risk_adjustment == "none":
        return 1.0
    years = [*terms.baseline_years, year]
    missing = [str(y) for y in years if y not in figures or np.isnan(figures[y].risk_score)]
    if missing:
        raise NotSettled(f"risk_adjustment: no member of the population has a risk_score "
                         f"in {', '.join(missing)}")
    base = trended_baseline([figures[b].risk_score for b in terms.baseline_years],
                            terms.baseline_years, terms.baseline_weights, 0.0, year)
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


def share_under(terms, benchmark, expenditure, minimum_savings_rate):
    """:func:`funding_models.sharing.share` under a contract's sharing terms
    (:class:`contracts.SharedSavingsTerms`), the minimum savings rate as resolved (one, or
    one per case); the minimum loss rate is that rate where the terms say ``same``."""
    return share(
        benchmark, expenditure, minimum_savings_rate=minimum_savings_rate,
        minimum_loss_rate=_minimum_loss_rate(terms, minimum_savings_rate),
        sharing_rate=terms.sharing_rate, quality_score=terms.quality_score,
        payment_multiplier=terms.payment_multiplier,
        above_threshold=terms.sharing_basis == "above_threshold",
        savings_cap=_or_nan(terms.savings_cap),
        loss_sharing_rate=_or_nan(terms.effective_loss_sharing_rate),
        loss_cap=_or_nan(terms.loss_cap))


def _minimum_loss_rate(terms, minimum_savings_rate):
    return (minimum_savings_rate if terms.minimum_loss_rate == "same"
            else terms.minimum_loss_rate)


def _or_nan(value: float | None) -> float:
    """``value``, or NaN when a term is not given: how :func:`funding_models.sharing.share`
    is told that a cap or rate does not apply.

    Examples
    --------
    >>> _or_nan(None), _or_nan(0.1)
    (nan, 0.1)
    """
    return np.nan if value is None else value



def _cap(rate: float | None, benchmark: float) -> int | None:
    return None if rate is None else round_cents(rate * benchmark)




def _status(line: dict) -> str:
    notes = [OUTCOMES[line["outcome"]]]
    if line["cap_bound"]:
        notes.append(f"{line['cap_bound']} reached")
    return "ok; " + "; ".join(notes)


def _risk_warning(terms, population: Population) -> list[str]:
    unscored = int(population.members["risk_score"].isna().sum())
    if terms.risk_adjustment == "risk_score" and unscored:
        return [f"{unscored:,} member-years without a risk_score are left out of the mean "
                "risk scores"]
    return []


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


def _tables(terms, lines: list[dict], figures: dict[int, YearFigures],
            population: Population) -> list[Table]:
    lines = [{**line, "outcome": OUTCOMES[line["outcome"]]} for line in lines]
    tables = [per_year_table(
        "Settlement per performance year", lines, SETTLEMENT_KINDS, TOTALLED,
        "benchmark = benchmark PMPM x member months; savings = benchmark − expenditure; "
        "savings shared when savings rate ≥ MSR: base x sharing rate x quality score x "
        "payment multiplier, at most the savings cap; losses (two-sided) when savings rate "
        "≤ −MLR: base x loss sharing rate, at most the loss cap")]
    if terms.baseline_years:
        tables.append(baseline_table(terms, figures, (
            f"baseline PMPM(t) = Σ weight x spend PMPM x (1 + {terms.trend:g})^(t − year); "
            "each year's own population" if terms.benchmark_pmpm is None else
            "the benchmark PMPM is agreed; these years serve the risk adjustment and the "
            "confidence-based minimum savings rate")))
    return tables + population_tables(
        figures, population,
        "spend: in-scope claims of the population within enrollment; counted_spend: after "
        "truncation; provider_spend: the part billed by the contract's provider(s)")
