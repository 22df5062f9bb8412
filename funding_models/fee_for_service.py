"""Fee-for-service with tariffs, degressive tiers, a revenue ceiling and a revenue floor.

SPEC §4.1. The lines are the claims billed by the contract's provider(s), in scope (its
domains, and the members of ``scope.segment`` when it names one), in a performance year.
A line is worth ``tariff x quantity`` when the fee schedule has its care code, else
``amount x price_factor``; a correction line (negative amount) is priced with its sign.
With several providers the ceiling and floor apply to their joint revenue.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from funding_models.ledger import Ledger, care_code_totals, providers_without_claims
from funding_models.population_years import by_year, not_settled_at_all
from funding_models.populations import PopulationError, segment_lines
from funding_models.results import ContractResult, SummaryRow, Table, cents_to_units


@dataclass(frozen=True)
class FeeForServicePayment:
    """The payment arithmetic of one year, in (unrounded) cents.

    Attributes
    ----------
    gross : float
        Σ line values before tiers.
    tiered : float
        The gross after degressive tiers (= gross without tiers).
    clawback : float
        Amount taken back above the ceiling: ``r · max(tiered − C, 0)``.
    topup : float
        Amount added below the floor: ``u · max(F − tiered, 0)``.
    paid : float
        ``tiered − clawback + topup``.
    """

    gross: float
    tiered: float
    clawback: float
    topup: float

    @property
    def paid(self) -> float:
        """What the insurer pays."""
        return self.tiered - self.clawback + self.topup

    @property
    def bound(self) -> str:
        """Which bound applied: ``ceiling``, ``floor`` or ``none``."""
        if self.clawback > 0:
            return "ceiling"
        if self.topup > 0:
            return "floor"
        return "none"


def apply_tiers(gross: float, tiers: Sequence[tuple[float | None, float]]) -> float:
    """Pay each slice of ``gross`` at its tier's rate.

    Parameters
    ----------
    gross : float
        The amount to slice.
    tiers : sequence of (up_to, rate)
        Increasing upper bounds, the last ``None`` (no bound).

    Examples
    --------
    First 1 000 at 100%, the next 1 000 at 80%, the rest at 50%:

    >>> apply_tiers(2500, [(1000, 1.0), (2000, 0.8), (None, 0.5)])
    2050.0
    """
    if gross <= 0:
        return gross * tiers[0][1]  # a net correction is priced at the first rate
    paid, lower = 0.0, 0.0
    for up_to, rate in tiers:
        upper = gross if up_to is None else min(gross, up_to)
        if upper > lower:
            paid += (upper - lower) * rate
        if up_to is None or gross <= up_to:
            break
        lower = up_to
    return paid


def payment(gross: float, *, tiers: Sequence[tuple[float | None, float]] | None = None,
            ceiling: float | None = None, clawback_rate: float = 1.0,
            floor: float | None = None, topup_rate: float = 1.0) -> FeeForServicePayment:
    """Settle one year: tiers, then ceiling with claw-back, then floor with top-up.

    ``paid = min(G, C) + (1 − r)·max(G − C, 0) + u·max(F − G, 0)``, G after tiers.

    Examples
    --------
    SPEC §4.1: ceiling 10.0M, gross 10.8M, claw-back 65% → 10.28M.

    >>> payment(10_800_000, ceiling=10_000_000, clawback_rate=0.65).paid
    10280000.0
    """
    tiered = apply_tiers(gross, tiers) if tiers else float(gross)
    clawback = clawback_rate * max(tiered - ceiling, 0.0) if ceiling is not None else 0.0
    topup = topup_rate * max(floor - tiered, 0.0) if floor is not None else 0.0
    return FeeForServicePayment(float(gross), float(tiered), float(clawback), float(topup))


def price_lines(totals: pd.DataFrame, tariffs: pd.Series | None, price_factor: float
                ) -> pd.DataFrame:
    """Value each (provider, year, domain, care code) group of lines.

    Adds ``tariff`` (cents or NaN), ``value`` (cents, unrounded) and ``unpriced_lines``.
    """
    codes = totals["care_code"].astype(object)
    tariff = (codes.map(tariffs) if tariffs is not None else pd.Series(np.nan, index=totals.index))
    tariff = tariff.astype(np.float64)
    value = line_value(tariff.to_numpy(), totals["priced_quantity"].to_numpy(),
                       totals["amount"].to_numpy(), price_factor)
    return totals.assign(tariff=tariff, value=value,
                         unpriced_lines=np.where(tariff.notna().to_numpy(), 0,
                                                 totals["lines"].to_numpy()))


def line_value(tariff: np.ndarray, priced_quantity: np.ndarray, amount: np.ndarray,
               price_factor: float) -> np.ndarray:
    """The value of lines (cents): the tariff times the priced quantity, or where a code
    has no tariff (NaN) the amount claimed times ``price_factor``."""
    return np.where(np.isnan(tariff), amount * price_factor, tariff * priced_quantity)


def year_payment(terms, gross: float, year: int) -> FeeForServicePayment:
    """:func:`payment` of a year's gross value under the contract's degressive tiers,
    revenue ceiling with claw-back, and floor with top-up."""
    tiers = ([(_cents(t.up_to), t.rate) for t in terms.degressive_tiers]
             if terms.degressive_tiers else None)
    return payment(gross, tiers=tiers, ceiling=_cents(terms.ceiling_for(year)),
                   clawback_rate=terms.effective_clawback_rate,
                   floor=_cents(terms.floor_for(year)), topup_rate=terms.effective_topup_rate)


def settle_fee_for_service(terms, ledger: Ledger) -> ContractResult:
    """Settle a fee-for-service contract for each of its performance years.

    Parameters
    ----------
    terms : contracts.FeeForServiceTerms
    ledger : Ledger

    Returns
    -------
    ContractResult
        One Summary row per performance year and the contract sheet's tables: the
        settlement per year, per provider and per domain.
    """
    try:
        totals = _totals_in_segment(ledger, terms.scope.segment)
    except PopulationError as exc:
        return not_settled_at_all(terms, str(exc))
    lines = totals[totals["provider"].astype(object).isin(terms.provider).to_numpy()
                   & _in_scope(totals["domain"], terms.scope)
                   & totals["year"].isin(terms.performance_years).to_numpy()]
    lines = price_lines(lines, ledger.tariffs, terms.price_factor)
    provider = ", ".join(terms.provider)
    rows, settlement, warnings = [], [], []
    unknown = providers_without_claims(ledger, terms.provider)
    if unknown:
        warnings.append(unknown)
    for year in terms.performance_years:
        if year not in ledger.years:
            rows.append(SummaryRow(terms.name, terms.model, provider, year, None, None, None,
                                   None, status=_outside(year, ledger)))
            continue
        in_year = lines[lines["year"].to_numpy() == year]
        pay = year_payment(terms, float(in_year["value"].sum()), year)
        claimed = int(in_year["amount"].sum())
        paid = _round(pay.paid)
        status = _status(pay, in_year)
        rows.append(SummaryRow(terms.name, terms.model, provider, year, insurer_cost=paid,
                               ffs_equivalent=claimed, provider_revenue=paid,
                               provider_cost=claimed, status=status))
        settlement.append({
            "year": year, "lines": int(in_year["lines"].sum()),
            "unpriced_lines": int(in_year["unpriced_lines"].sum()),
            "claimed": claimed, "gross": _round(pay.gross),
            "tier_adjustment": _round(pay.tiered) - _round(pay.gross),
            "ceiling": _cents_or_none(terms.ceiling_for(year)), "clawback": _round(pay.clawback),
            "floor": _cents_or_none(terms.floor_for(year)), "topup": _round(pay.topup),
            "paid": paid, "provider_result": paid - claimed, "bound": pay.bound,
        })
    return ContractResult(terms.name, terms.model, rows,
                          _tables(settlement, lines, terms), warnings,
                          settled_years=by_year(settlement))


def _totals_in_segment(ledger: Ledger, segment: str | None) -> pd.DataFrame:
    """The ledger's care code totals, of the members of ``segment`` when one is named."""
    if segment is None:
        return ledger.care_code_totals
    return ledger.remember(("care_code_totals", segment), lambda: care_code_totals(
        ledger.claims[segment_lines(ledger, segment)]))


def _in_scope(domains: pd.Series, scope) -> np.ndarray:
    if scope.domains == "all":
        return np.ones(len(domains), dtype=bool)
    return domains.astype(object).isin(scope.domains).to_numpy()


def _cents(units: float | None) -> float | None:
    return None if units is None else units * 100


def _cents_or_none(units: float | None) -> int | None:
    return None if units is None else _round(units * 100)


def _round(cents: float) -> int:
    """Round to whole cents, half to even (once per year, SPEC §2)."""
    return int(np.rint(cents))


def _outside(year: int, ledger: Ledger) -> str:
    return (f"not settled: {year} is outside the claims data "
            f"({ledger.years[0]}–{ledger.years[-1]})")


def _status(pay: FeeForServicePayment, in_year: pd.DataFrame) -> str:
    notes = []
    if in_year.empty:
        notes.append("no claims in scope")
    if pay.bound == "ceiling":
        notes.append("ceiling reached: claw-back applied")
    elif pay.bound == "floor":
        notes.append("below floor: top-up paid")
    unpriced = int(in_year["unpriced_lines"].sum()) if not in_year.empty else 0
    if unpriced:
        notes.append(f"{unpriced:,} lines without tariff priced at amount x price factor")
    return "ok" if not notes else "ok; " + "; ".join(notes)


def _tables(settlement: list[dict], lines: pd.DataFrame, terms) -> list[Table]:
    money = ["claimed", "gross", "tier_adjustment", "ceiling", "clawback", "floor", "topup",
             "paid", "provider_result"]
    per_year = pd.DataFrame(settlement, columns=["year", "lines", "unpriced_lines", *money, "bound"])
    for column in money:
        per_year[column] = cents_to_units(pd.array(per_year[column], dtype="Int64"))
    kinds = {"year": "year", "lines": "count", "unpriced_lines": "count", "bound": "text",
             **{c: "money" for c in money}}
    tables = [Table("Settlement per performance year", per_year, kinds,
                    "paid = min(G, C) + (1 − claw-back rate)·max(G − C, 0) + top-up rate·"
                    "max(F − G, 0), G = gross line value after tiers")]
    for level in ("provider", "domain"):
        detail = (lines.groupby(["year", level], observed=True, sort=True)
                  [["lines", "unpriced_lines", "amount", "value"]].sum()
                  .rename(columns={"amount": "claimed", "value": "gross"}).reset_index())
        detail[level] = detail[level].astype(str)
        detail["claimed"] = cents_to_units(detail["claimed"].to_numpy())
        detail["gross"] = cents_to_units(np.rint(detail["gross"].to_numpy()))
        tables.append(Table(f"Lines per year and {level}", detail,
                            {"year": "year", level: "text", "lines": "count",
                             "unpriced_lines": "count", "claimed": "money", "gross": "money"}))
    return tables
