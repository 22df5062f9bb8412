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
from funding_models.ledger import Ledger, id_categorical


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
    key = ("population", tuple(terms.provider), _domains_key(terms.scope.domains),
           terms.scope.segment, terms.attribution, _domains_key(terms.attribution_domains),
           tuple(terms.carve_out_codes), condition)
    population = ledger.remember(key, lambda: _population_of(ledger, terms, condition))
    if truncate_at is None:
        return population
    return ledger.remember((*key, truncate_at), lambda: _truncated(population, truncate_at))


def _domains_key(domains) -> object:
    return domains if domains is None or isinstance(domains, str) else tuple(domains)


def _population_of(ledger: Ledger, terms, condition: str | None) -> Population:
    members = _member_years(ledger, terms, condition).copy()
    spend, provider_spend, detail = _in_scope_spend(ledger, terms, members)
    members["spend"] = spend
    members["provider_spend"] = provider_spend
    members["counted_spend"] = spend.astype(np.float64)
    members["risk_score"] = (
        ledger.member_column("risk_score")[members["member"].cat.codes.to_numpy()]
        if "risk_score" in ledger.members else np.nan)
    members = members.sort_values(["year", "member"], kind="stable").reset_index(drop=True)
    return Population(members, detail)


def _truncated(population: Population, truncate_at: float) -> Population:
    """The population with each member's yearly spend counted up to ``truncate_at``
    (cents); shares its spend with the population it is made from."""
    spend = population.members["spend"].to_numpy()
    return Population(population.members.assign(
        counted_spend=np.minimum(spend, truncate_at).astype(np.float64)), population.spend)


def _member_years(ledger: Ledger, terms, condition: str | None) -> pd.DataFrame:
    """The population's members per year with their member months, before any spend.

    Shared (through the ledger's cache) by populations that differ only in the care they
    count, such as a contract's and its spillover's; and, unless attributed by plurality
    of spend, by a scenario's ledger (:meth:`Ledger.with_claims`).
    """
    if terms.attribution == "plurality":
        key = ("member_years by spend", tuple(terms.provider), terms.scope.segment,
               _domains_key(terms.attribution_domains or terms.scope.domains), condition)
    else:
        key = ("member_years", tuple(terms.provider), terms.scope.segment,
               terms.attribution, condition)
    return ledger.remember(key, lambda: _members_attributed(ledger, terms, condition),
                           members_only=terms.attribution != "plurality")


def _members_attributed(ledger: Ledger, terms, condition: str | None) -> pd.DataFrame:
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
    return months[["member", "year", "member_months"]].reset_index(drop=True)


def segment_lines(ledger: Ledger, segment: str) -> np.ndarray:
    """Per row of the claims, whether its member is in ``segment`` (SPEC's ``scope.segment``).

    Raises
    ------
    PopulationError
        Without a members table with a segment column.
    """
    if ledger.members is None:
        raise PopulationError(f"scope.segment '{segment}' needs a members table (a 'members' "
                              "sheet in the claims workbook, or --members)")
    member_type = ledger.claims["member"].dtype
    every_member = pd.Series(pd.Categorical.from_codes(
        np.arange(len(member_type.categories)), dtype=member_type))
    return _in_segment(ledger.members, segment, every_member)[ledger.codes.member]


def _in_segment(members: pd.DataFrame, segment: str | None, member: pd.Series) -> np.ndarray:
    if segment is None:
        return np.ones(len(member), dtype=bool)
    if "segment" not in members:
        raise PopulationError(
            f"scope.segment '{segment}' needs a segment column in the members table")
    segments = segment_keys(members["segment"])
    chosen = segments.index[(segments == segment_keys(segment)).fillna(False).to_numpy()]
    return member.isin(chosen).to_numpy()


def segment_keys(segments):
    """Segment names (a Series, or one name) as they are matched: trimmed, case folded.

    >>> segment_keys(" Elderly ")
    'elderly'
    """
    if isinstance(segments, str):
        return segments.strip().casefold()
    return pd.Series(segments, dtype="string").str.strip().str.casefold()


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
        chosen = attributed[attributed["provider"].isin(terms.provider).to_numpy()]
        return months[in_member_years(ledger, chosen, member_year_keys(ledger, months))
                      ].reset_index(drop=True)
    providers, grid = _attribution_grid_of(ledger)
    contract = np.append(providers.isin(terms.provider), False)  # grid's -1 reads False
    return months[contract[grid[member_year_keys(ledger, months)]]].reset_index(drop=True)


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
    providers, grid = _attribution_grid_of(ledger)
    codes = grid[member_year_keys(ledger, member_years)]
    names = np.append(providers.to_numpy(dtype=object), None)  # code -1: no provider
    return member_years[["member", "year"]].assign(provider=names[codes])


def _attribution_grid_of(ledger: Ledger) -> tuple[pd.Index, np.ndarray]:
    """The ledger's :func:`_attribution_grid`, worked out once."""
    if ledger.members is None:
        raise PopulationError("attribution needs a members table")
    return ledger.remember(("attribution_grid",), lambda: _attribution_grid(ledger),
                           members_only=True)


def _attribution_grid(ledger: Ledger) -> tuple[pd.Index, np.ndarray]:
    """Every provider attributed to, and per member x year of the run the position of the
    member's provider among them (-1: none). The attribution table's rows override the
    members' ``attributed_provider``."""
    column = (ledger.members["attributed_provider"].astype("string").str.strip()
              if "attributed_provider" in ledger.members else None)
    if ledger.attribution is None and column is None:
        raise PopulationError(
            "attribution: column needs an attribution table or an attributed_provider "
            "column in the members table (or use attribution: plurality or none)")
    table = ledger.attribution
    names = [column.dropna().unique()] if column is not None else []
    if table is not None:
        names.append(table["provider"].dropna().unique())
    providers = pd.Index(np.unique(np.concatenate([np.asarray(n, dtype=object)
                                                   for n in names])), dtype=object)
    years, first = len(ledger.years), ledger.years[0]
    members = len(ledger.members.index.categories)
    grid = np.full(members * years, -1, dtype=np.int64)
    if column is not None:
        member_codes = ledger.members.index.codes.astype(np.int64)
        provider_codes = id_categorical(column, providers).codes.astype(np.int64)
        each_year = np.repeat(provider_codes, years)
        slots = np.repeat(member_codes * years, years) + np.tile(np.arange(years),
                                                                 len(member_codes))
        grid[slots] = each_year
    if table is not None:
        in_run = ((table["year"].to_numpy() >= first) & (table["year"].to_numpy() < first + years)
                  & (table["member"].cat.codes.to_numpy() >= 0))  # a member the ledger knows
        rows = table[in_run]
        slots = (rows["member"].cat.codes.to_numpy().astype(np.int64) * years
                 + rows["year"].to_numpy() - first)
        listed = id_categorical(rows["provider"], providers).codes.astype(np.int64)
        grid[slots] = np.where(listed >= 0, listed, grid[slots])
    return providers, grid


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


def _in_scope_spend(ledger: Ledger, terms, members: pd.DataFrame
                    ) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """The in-scope spend of the population's member-years: per member-year (all of it,
    and the part the contract's providers billed), and per year, domain and provider.

    In-scope claims are dated within enrollment, in the scope's domains, less carve-out
    codes. The in-scope rows are taken out once and summed by integer keys (member x
    year) with bincount.
    """
    claims, codes = ledger.claims, ledger.codes
    size = len(claims["member"].cat.categories) * len(ledger.years)
    chosen = claims["enrolled"].to_numpy() & in_member_years(ledger, members)
    if terms.scope.domains != "all":
        chosen &= ledger.among("domain", terms.scope.domains)
    if terms.carve_out_codes:
        chosen &= ~ledger.among("care_code", terms.carve_out_codes)
    rows = np.flatnonzero(chosen)
    amount = codes.amount.take(rows)
    detail = _detail(ledger, rows, amount)
    key = codes.member_year.take(rows)
    ours = ledger.among("provider", terms.provider).take(rows)
    spend = np.bincount(key, weights=amount, minlength=size)
    provider_spend = np.bincount(key[ours], weights=amount[ours], minlength=size)
    population_keys = member_year_keys(ledger, members)
    return (np.rint(spend[population_keys]).astype(np.int64),
            np.rint(provider_spend[population_keys]).astype(np.int64), detail)


def member_year_keys(ledger: Ledger, member_years: pd.DataFrame) -> np.ndarray:
    """``member code x number of years + year index`` of each row (as
    :attr:`ClaimCodes.member_year <funding_models.ledger.ClaimCodes>`)."""
    return (member_years["member"].cat.codes.to_numpy().astype(np.int64) * len(ledger.years)
            + member_years["year"].to_numpy() - ledger.years[0])


def in_member_years(ledger: Ledger, member_years: pd.DataFrame,
                    keys: np.ndarray | None = None) -> np.ndarray:
    """Per claim line (or per key of ``keys``, member-year keys as
    :func:`member_year_keys` gives), whether its member and year are among
    ``member_years``."""
    chosen = np.zeros(len(ledger.claims["member"].cat.categories) * len(ledger.years),
                      dtype=bool)
    chosen[member_year_keys(ledger, member_years)] = True
    return chosen[ledger.codes.member_year if keys is None else keys]


def _detail(ledger: Ledger, rows: np.ndarray, amount: np.ndarray) -> pd.DataFrame:
    """Amount (cents) and lines per year, domain and provider of the claims at ``rows``
    (``amount``: theirs)."""
    domain_type = ledger.claims["domain"].dtype
    provider_type = ledger.claims["provider"].dtype
    domains, providers = len(domain_type.categories), len(provider_type.categories)
    codes = ledger.codes
    # (year x domains + domain) x providers + provider, built in place in one array
    group = codes.year_index.take(rows)
    group *= domains
    group += codes.domain.take(rows)
    group *= providers
    group += codes.provider.take(rows)
    size = len(ledger.years) * domains * providers
    slots = None  # a slot per possible group
    if size > 4 * len(rows) + (1 << 20):  # many ids over many years: a slot per group seen
        slots, group = np.unique(group, return_inverse=True)
        size = len(slots)
    totals = np.bincount(group, weights=amount, minlength=size)
    lines = np.rint(np.bincount(group, weights=codes.lines.take(rows), minlength=size)
                    ).astype(np.int64)
    present = np.flatnonzero(lines)
    year, rest = np.divmod(present if slots is None else slots[present], domains * providers)
    domain, provider = np.divmod(rest, providers)
    return pd.DataFrame({
        "year": year + ledger.years[0],
        "domain": pd.Categorical.from_codes(domain, dtype=domain_type),
        "provider": pd.Categorical.from_codes(provider, dtype=provider_type),
        "amount": np.rint(totals[present]).astype(np.int64),
        "lines": lines[present],
    })
