"""A contract's population per year and its in-scope spend (SPEC §2).

The population of a year is the members of the contract's segment with at least one member
month that year, attributed to the contract's provider(s) that year. Its in-scope spend is
the amount of its members' claims dated within enrollment, in the scope's domains, whoever
billed them, less the carve-out codes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from funding_models.ledger import Ledger


class PopulationError(ValueError):
    """A population that cannot be formed from the data given; the message says why."""


@dataclass(frozen=True)
class Population:
    """A contract's population in every year of the run.

    Attributes
    ----------
    members : pandas.DataFrame
        One row per member and year in the population: ``member``, ``year``,
        ``member_months``, ``spend`` (in-scope, cents), ``counted_spend`` (after
        truncation), ``provider_spend`` (the part billed by the contract's providers) and
        ``risk_score`` (NaN where the members table has none).
    spend : pandas.DataFrame
        The population's in-scope spend per ``year``, ``domain`` and ``provider``:
        ``amount`` (cents) and ``lines``.
    """

    members: pd.DataFrame
    spend: pd.DataFrame

    def in_year(self, year: int) -> pd.DataFrame:
        """The population's member rows of one year."""
        return self.members[self.members["year"].to_numpy() == year]


def population_of(ledger: Ledger, terms, truncate_at: float | None = None,
                  condition: str | None = None) -> Population:
    """Form a contract's population in every year of the run, with its spend.

    Parameters
    ----------
    ledger : Ledger
    terms : contracts.PopulationTerms
        ``provider``, ``scope``, ``attribution``, ``attribution_domains`` and
        ``carve_out_codes`` are read.
    truncate_at : float, optional
        Cents: each member's yearly in-scope spend counts at most this much.
    condition : str, optional
        Only members whose ``conditions`` list it (condition bundles).

    Returns
    -------
    Population

    Raises
    ------
    PopulationError
        Without a members table, or when ``attribution: column`` finds no attribution.
    """
    if ledger.members is None or ledger.member_months is None:
        raise PopulationError(
            "needs a members table to form the population (a 'members' sheet in the claims "
            "workbook, or --members)")
    months = ledger.member_months
    months = months[months["member_months"].to_numpy() > 0]
    months = months[_in_segment(ledger.members, terms.scope.segment, months["member"])]
    if condition is not None:
        months = months[_with_condition(ledger.members, condition, months["member"])]
    months = _attributed(ledger, terms, months)

    lines = _in_scope_spend(ledger, terms)
    per_member = (lines.assign(provider_amount=np.where(
        lines["provider"].astype(object).isin(terms.provider).to_numpy(), lines["amount"], 0))
        .groupby(["member", "year"], observed=True, sort=False)
        .agg(spend=("amount", "sum"), provider_spend=("provider_amount", "sum")))
    members = months.join(per_member, on=["member", "year"])
    members[["spend", "provider_spend"]] = (members[["spend", "provider_spend"]]
                                            .fillna(0).astype(np.int64))
    counted = members["spend"].to_numpy()
    if truncate_at is not None:
        counted = np.minimum(counted, truncate_at)
    members["counted_spend"] = counted.astype(np.float64)
    scores = ledger.members["risk_score"] if "risk_score" in ledger.members else None
    members["risk_score"] = (members["member"].map(scores).astype(np.float64)
                             if scores is not None else np.nan)
    members = members.sort_values(["year", "member"], kind="stable").reset_index(drop=True)

    in_population = lines.merge(members[["member", "year"]], on=["member", "year"])
    spend = (in_population.groupby(["year", "domain", "provider"], observed=True, sort=True)
             .agg(amount=("amount", "sum"), lines=("lines", "sum")).reset_index())
    return Population(members, spend)


def _in_segment(members: pd.DataFrame, segment: str | None, member: pd.Series) -> np.ndarray:
    if segment is None:
        return np.ones(len(member), dtype=bool)
    if "segment" not in members:
        raise PopulationError(
            f"scope.segment '{segment}' needs a segment column in the members table")
    segments = members["segment"].astype("string").str.strip().str.casefold()
    chosen = segments.index[(segments == segment.strip().casefold()).fillna(False).to_numpy()]
    return member.isin(chosen).to_numpy()


def _with_condition(members: pd.DataFrame, condition: str, member: pd.Series) -> np.ndarray:
    if "conditions" not in members:
        raise PopulationError(
            f"the condition bundle for '{condition}' needs a conditions column in the "
            "members table")
    pattern = rf"(?:^|;)\s*{re.escape(condition)}\s*(?:;|$)"
    has = members["conditions"].astype("string").str.lower().str.contains(pattern)
    return member.isin(has.index[has.fillna(False).to_numpy(dtype=bool)]).to_numpy()


def _attributed(ledger: Ledger, terms, months: pd.DataFrame) -> pd.DataFrame:
    """The member-years of ``months`` attributed to the contract's providers."""
    if terms.attribution == "none":
        return months.reset_index(drop=True)
    if terms.attribution == "plurality":
        attributed = _plurality(ledger, terms)
    else:
        attributed = attributed_by_column(ledger, months)
    chosen = attributed[attributed["provider"].isin(terms.provider).to_numpy()]
    return months.merge(chosen[["member", "year"]], on=["member", "year"])


def attributed_by_column(ledger: Ledger, member_years: pd.DataFrame) -> pd.DataFrame:
    """The provider each member-year is attributed to: the attribution table's, else the
    members' ``attributed_provider`` (None where neither gives one).

    Parameters
    ----------
    ledger : Ledger
    member_years : pandas.DataFrame
        ``member`` (the ledger's categorical) and ``year``.

    Returns
    -------
    pandas.DataFrame
        ``member``, ``year`` and ``provider``, in the rows of ``member_years``.

    Raises
    ------
    PopulationError
        Without a members table, or with neither an attribution table nor an
        ``attributed_provider`` column.
    """
    if ledger.members is None:
        raise PopulationError("attribution needs a members table")
    months = member_years
    column = (ledger.members["attributed_provider"].astype("string").str.strip()
              if "attributed_provider" in ledger.members else None)
    if ledger.attribution is None and column is None:
        raise PopulationError(
            "attribution: column needs an attribution table or an attributed_provider "
            "column in the members table (or use attribution: plurality or none)")
    attributed = months[["member", "year"]].assign(
        provider=(months["member"].map(column).astype(object).to_numpy()
                  if column is not None else None))
    if ledger.attribution is not None:
        yearly = ledger.attribution.set_index(["member", "year"])["provider"]
        keys = pd.MultiIndex.from_frame(attributed[["member", "year"]])
        from_table = yearly.reindex(keys).to_numpy()
        attributed["provider"] = np.where(pd.isna(from_table), attributed["provider"],
                                          from_table)
    return attributed


def _plurality(ledger: Ledger, terms) -> pd.DataFrame:
    """Per member-year, the provider with the largest amount in the attribution domains.

    Ties go to the lowest provider id; members without such claims are not attributed.
    """
    domains = terms.attribution_domains or terms.scope.domains
    spend = ledger.spend[ledger.spend["enrolled"].to_numpy()]
    if domains != "all":
        spend = spend[spend["domain"].astype(object).isin(domains).to_numpy()]
    totals = (spend.groupby(["member", "year", "provider"], observed=True)["amount"].sum()
              .reset_index())
    totals = totals[totals["amount"].to_numpy() > 0]
    totals = totals.assign(provider=totals["provider"].astype(str))
    best = (totals.sort_values(["member", "year", "amount", "provider"],
                               ascending=[True, True, False, True], kind="stable")
            .drop_duplicates(["member", "year"]))
    return best[["member", "year", "provider"]]


def _in_scope_spend(ledger: Ledger, terms) -> pd.DataFrame:
    """Claims dated within enrollment, in scope, less carve-outs, per member x year x
    domain x provider: ``amount`` (cents) and ``lines``."""
    keys = ["member", "year", "domain", "provider"]
    if terms.carve_out_codes:
        claims = ledger.claims
        kept = claims["enrolled"].to_numpy() & ~claims["care_code"].astype(object).isin(
            terms.carve_out_codes).to_numpy()
        spend = (claims[kept].groupby(keys, observed=True, sort=True)
                 .agg(amount=("amount", "sum"), lines=("amount", "size")).reset_index())
    else:
        spend = ledger.spend[ledger.spend["enrolled"].to_numpy()].drop(columns="enrolled")
    if terms.scope.domains != "all":
        spend = spend[spend["domain"].astype(object).isin(terms.scope.domains).to_numpy()]
    return spend
