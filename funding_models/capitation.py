"""Capitation with member factors, stop-loss and risk corridors (SPEC §4.3).

Per performance year t: capitation revenue K_t = Σ_m rate · f_m · member months_m; cost of
care D_t = the population's in-scope spend (carve-out codes stay fee-for-service, outside
both); stop-loss pays ``insurer_share · max(0, D_m − attachment)`` per member; risk
corridors share the provider's gain or loss after stop-loss, (K + stop-loss − D) / K,
band by band, as fractions of K. Insurer cost = provider revenue = K + stop-loss +
corridor; FFS equivalent = provider cost = D.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from funding_models.ledger import Ledger
from funding_models.member_factors import BookFactors, book_factors
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
from funding_models.populations import (
    Population,
    PopulationError,
    in_member_years,
    population_of,
)
from funding_models.results import ContractResult, SummaryRow, Table, cents_to_units


def corridor_settlement(revenue: float, cost: float,
                        bands: Sequence[tuple[float, float | None, float]]) -> float:
    """What the insurer pays (+) or the provider returns (−) under risk corridors.

    The provider's result ratio r = (revenue − cost) / revenue; in each band
    ``[from, to)`` of |r| the insurer takes ``1 − provider_share`` of the gain or loss,
    symmetrically; below the first band the provider keeps all.

    Parameters
    ----------
    revenue : float
        Capitation revenue K.
    cost : float
        The cost the provider carries: cost of care D less stop-loss, so that
        r = (K + stop-loss − D) / K as SPEC §4.3 writes it.
    bands : sequence of (from, to, provider_share)
        Fractions of revenue; ``to`` None on the last band.

    Examples
    --------
    SPEC §4.3 (bands 3–8% at 0.5, above 8% at 0.2, on 100M): cost 105M → the insurer
    pays 1.0M; 110M → 4.1M; 95M → the provider returns 1.0M.

    >>> bands = [(0.03, 0.08, 0.5), (0.08, None, 0.2)]
    >>> [round(corridor_settlement(100e6, cost, bands)) for cost in (105e6, 110e6, 95e6)]
    [1000000, 4100000, -1000000]
    """
    if revenue <= 0:
        return 0.0
    ratio = (revenue - cost) / revenue
    size = abs(ratio)
    shared = 0.0
    for start, end, provider_share in bands:
        upper = size if end is None else min(size, end)
        if upper > start:
            shared += (upper - start) * (1 - provider_share)
    return -np.sign(ratio) * shared * revenue


def settle_capitation(terms, ledger: Ledger) -> ContractResult:
    """Settle a capitation contract for each of its performance years.

    Parameters
    ----------
    terms : contracts.CapitationTerms
    ledger : Ledger

    Returns
    -------
    ContractResult
        A Summary row per performance year; tables with the arithmetic per year (and the
        contract total), the members above the stop-loss attachment, the baseline years,
        and the population's spend per domain and provider.
    """
    try:
        population = population_of(ledger, terms)
    except PopulationError as exc:
        return not_settled_at_all(terms, str(exc))
    figures = year_figures(population, ledger.years)
    carved_out = _carved_out(ledger, terms, population)
    above_attachment: list[pd.DataFrame] = []
    warnings = empty_population_warning(terms, population)

    def settle_year(year: int) -> tuple[SummaryRow, dict]:
        factors = book_factors(ledger, terms, year)
        if factors.without_factor:
            warnings.append(f"{year}: {factors.without_factor:,} members of the book have no "
                            f"{_factor_name(terms)}; they count with factor 1")
        line, members = _settle_year(terms, ledger, population, figures, factors, year)
        line["carved_out"] = carved_out.get(year, 0)
        above_attachment.append(members)
        revenue = line["provider_revenue"]
        return SummaryRow(
            terms.name, terms.model, ", ".join(terms.provider), year,
            insurer_cost=revenue, ffs_equivalent=line["cost_of_care"],
            provider_revenue=revenue, provider_cost=line["cost_of_care"],
            status=_status(line), members=line["members"],
            member_months=line["member_months"],
            stop_loss=line["stop_loss"] if terms.stop_loss else None,
            corridor=line["corridor"] if terms.risk_corridors else None), line

    rows, lines = settle_years(terms, ledger, figures, settle_year)
    return ContractResult(terms.name, terms.model, rows,
                          _tables(terms, lines, figures, population, above_attachment),
                          warnings, settled_years=by_year(lines))


def _settle_year(terms, ledger: Ledger, population: Population,
                 figures: dict[int, YearFigures], factors: BookFactors, year: int
                 ) -> tuple[dict, pd.DataFrame]:
    """The arithmetic of one year (cents), and the members above the attachment."""
    now = figures[year]
    agreed = terms.rate_for(year)
    rate = (agreed * 100 if agreed is not None else
            baseline_pmpm(terms, ledger, figures, year) * (1 - terms.discount))
    members = population.in_year(year)
    factor = factors.of(members["member"])
    months = members["member_months"].to_numpy()
    revenue = round_cents(rate * (factor * months).sum())
    if revenue <= 0:
        raise NotSettled(f"the capitation revenue of {year} is {revenue / 100:,.2f}; the "
                         "rate must be above 0")
    cost = int(members["spend"].sum())
    above = _above_attachment(terms, members, year)
    stop_loss = round_cents(above["stop_loss"].sum()) if len(above) else 0
    bands = [(b.from_, b.to, b.provider_share) for b in terms.risk_corridors or []]
    corridor = round_cents(corridor_settlement(revenue, cost - stop_loss, bands))
    provider_revenue = revenue + stop_loss + corridor
    return {
        "year": year, "members": now.members, "member_months": now.member_months,
        "rate_pmpm": rate, "book_mean_factor": factors.book_mean,
        "mean_factor": float((factor * months).sum() / months.sum()),
        "capitation_revenue": revenue, "cost_of_care": cost,
        "stop_loss_members": len(above),
        "cost_above_attachment": round_cents(above["cost_above_attachment"].sum())
        if len(above) else 0,
        "stop_loss": stop_loss,
        "result_before_corridor": revenue + stop_loss - cost,
        "result_rate": (revenue + stop_loss - cost) / revenue,
        "corridor": corridor, "provider_revenue": provider_revenue,
        "provider_result": provider_revenue - cost,
    }, above


def _above_attachment(terms, members: pd.DataFrame, year: int) -> pd.DataFrame:
    columns = ["year", "member", "cost_of_care", "cost_above_attachment", "stop_loss"]
    if terms.stop_loss is None:
        return pd.DataFrame(columns=columns)
    attachment = terms.stop_loss.attachment * 100
    cost = members["spend"].to_numpy()
    hit = cost > attachment
    excess = cost[hit] - attachment
    return pd.DataFrame({
        "year": year, "member": members["member"].astype(str).to_numpy()[hit],
        "cost_of_care": cost[hit], "cost_above_attachment": excess,
        "stop_loss": terms.stop_loss.insurer_share * excess}, columns=columns)


def _carved_out(ledger: Ledger, terms, population: Population) -> dict[int, int]:
    """Per year, the amount of the population's in-scope claims with carve-out codes."""
    if not terms.carve_out_codes:
        return {}
    codes, years = ledger.codes, len(ledger.years)
    chosen = ledger.claims["enrolled"].to_numpy() & ledger.among("care_code",
                                                                 terms.carve_out_codes)
    if terms.scope.domains != "all":
        chosen &= ledger.among("domain", terms.scope.domains)
    chosen &= in_member_years(ledger, population.members)
    totals = np.bincount(codes.year_index[chosen], weights=codes.amount[chosen],
                         minlength=years)
    return {year: int(np.rint(total)) for year, total in zip(ledger.years, totals) if total}


def _factor_name(terms) -> str:
    return {"risk_score": "risk_score",
            "age_sex": "birth date, sex or age/sex band"}.get(terms.risk_adjustment, "factor")


def _status(line: dict) -> str:
    notes = []
    if line["stop_loss_members"]:
        notes.append(f"stop-loss: {line['stop_loss_members']:,} member(s) above the "
                     f"attachment")
    if line["corridor"] > 0:
        notes.append("corridor: the insurer pays part of the loss")
    elif line["corridor"] < 0:
        notes.append("corridor: the provider returns part of the gain")
    return "ok" + "".join(f"; {note}" for note in notes)


#: Columns of the per-year table, in the order of the arithmetic, and kinds.
CAPITATION_KINDS = {
    "year": "year", "members": "count", "member_months": "number", "rate_pmpm": "money",
    "book_mean_factor": "number", "mean_factor": "number", "capitation_revenue": "money",
    "cost_of_care": "money", "carved_out": "money", "stop_loss_members": "count",
    "cost_above_attachment": "money", "stop_loss": "money",
    "result_before_corridor": "money", "result_rate": "rate", "corridor": "money",
    "provider_revenue": "money", "provider_result": "money",
}

#: Columns summed in the contract total.
TOTALLED = ("member_months", "capitation_revenue", "cost_of_care", "carved_out",
            "stop_loss_members", "cost_above_attachment", "stop_loss",
            "result_before_corridor", "corridor", "provider_revenue", "provider_result")


def _tables(terms, lines: list[dict], figures: dict[int, YearFigures], population: Population,
            above_attachment: list[pd.DataFrame]) -> list[Table]:
    normalised = ("factors divided by the book's mean factor (book_mean_factor)"
                  if terms.normalize else "factors as given")
    tables = [per_year_table(
        "Capitation per performance year", lines, CAPITATION_KINDS, TOTALLED,
        f"capitation_revenue = rate PMPM x Σ factor x member months ({normalised}; "
        "mean_factor is the population's); cost_of_care = the population's in-scope claims "
        "(carved_out: paid fee-for-service outside the capitation); result_rate = "
        "(revenue + stop-loss − cost) / revenue; corridor: + the insurer "
        "pays, − the provider returns")]
    if terms.stop_loss is not None:
        members = (pd.concat(above_attachment, ignore_index=True) if above_attachment
                   else pd.DataFrame(columns=["year", "member", "cost_of_care",
                                              "cost_above_attachment", "stop_loss"]))
        for column in ("cost_of_care", "cost_above_attachment", "stop_loss"):
            members[column] = cents_to_units(pd.array(
                pd.to_numeric(members[column]).round(), dtype="Int64"))
        tables.append(Table(
            "Members above the stop-loss attachment", members,
            {"year": "year", "member": "text", "cost_of_care": "money",
             "cost_above_attachment": "money", "stop_loss": "money"},
            f"attachment {terms.stop_loss.attachment:,.2f} per member and year; the insurer "
            f"pays {terms.stop_loss.insurer_share:.0%} of the cost above it"))
    if terms.rate_pmpm == "historical":
        tables.append(baseline_table(terms, figures, (
            f"rate PMPM(t) = Σ weight x spend PMPM x (1 + {terms.trend:g})^(t − year) x "
            f"(1 − {terms.discount:g}); each year's own population")))
    return tables + population_tables(
        figures, population,
        "spend: the population's in-scope claims within enrollment, carve-outs left out; "
        "provider_spend: the part billed by the contract's provider(s)")
