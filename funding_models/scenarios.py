"""Scenarios (SPEC §5): the ledger's claims changed as a scenario says, in given years.

A ``shift`` moves ``fraction`` of each matching claim to another domain (and provider,
care code) at ``cost_ratio``: the claim keeps the rest, and a new line carries the moved
part. A ``growth`` scales matching claims. Amounts stay whole cents: the moved part is
rounded half to even and the claim keeps exactly the remainder, so that at cost ratio 1
the total is unchanged. Shifts are applied first, then growths, each in the order given.
"""
from __future__ import annotations

from typing import Collection

import numpy as np
import pandas as pd

from funding_models.ledger import Ledger, among
from funding_models.populations import PopulationError, attributed_by_column

#: ``to_provider`` value that sends shifted care to the member's attributed provider.
ATTRIBUTED = "attributed"


def apply_scenario(ledger: Ledger, scenario, years: Collection[int]) -> Ledger:
    """A ledger whose claims in ``years`` are changed by ``scenario``.

    Parameters
    ----------
    ledger : Ledger
        The claims as they are; not changed.
    scenario : contracts.scenarios.Scenario
    years : collection of int
        The contract years changed (the performance years of the contracts settled on the
        result); claims of other years stay as they are.

    Returns
    -------
    Ledger
        A new ledger; its aggregates are computed afresh from the changed claims (what
        the ledger's cache holds from the members alone is kept).

    Raises
    ------
    funding_models.populations.PopulationError
        When a shift sends care to the attributed provider and no shifted claim's member
        has one (members without one keep the claim's own provider).
    """
    claims = ledger.claims
    in_years = _in_years(ledger, claims, years)
    for shift in scenario.shift or []:
        claims = _shifted(ledger, claims, shift, in_years)
        in_years = _in_years(ledger, claims, years)
    for growth in scenario.growth or []:
        claims = _grown(claims, growth, in_years)
    return ledger.with_claims(claims)


def _in_years(ledger: Ledger, claims: pd.DataFrame, years: Collection[int]) -> np.ndarray:
    """Per row of ``claims`` (the ledger's, or changed from them), whether its year is
    one of ``years``."""
    listed = np.isin(ledger.years, list(years))
    return listed[claims["year"].to_numpy() - ledger.years[0]]


def _matching(claims: pd.DataFrame, domain: str, care_codes, providers) -> np.ndarray:
    chosen = among(claims["domain"], [domain])
    if care_codes:
        chosen &= among(claims["care_code"], care_codes)
    if providers:
        chosen &= among(claims["provider"], providers)
    return chosen


def _shifted(ledger: Ledger, claims: pd.DataFrame, shift, in_years: np.ndarray
             ) -> pd.DataFrame:
    chosen = in_years & _matching(claims, shift.from_.domain, shift.from_.care_codes,
                                  shift.from_.provider)
    amount = claims["amount"].to_numpy()
    quantity = claims["quantity"].to_numpy()
    moved = np.rint(amount[chosen] * shift.fraction).astype(np.int64)
    new = claims[chosen].copy()
    new["amount"] = np.rint(moved * shift.cost_ratio).astype(np.int64)
    new["quantity"] = quantity[chosen] * shift.fraction
    kept_amount, kept_quantity = amount.copy(), quantity.copy()
    kept_amount[chosen] -= moved
    kept_quantity[chosen] *= 1 - shift.fraction
    kept = claims.assign(amount=kept_amount, quantity=kept_quantity)
    new_values = {"domain": np.full(len(new), shift.to_domain, dtype=object)}
    if shift.to_provider == ATTRIBUTED:
        attributed = attributed_by_column(ledger, new[["member", "year"]])["provider"]
        if len(new) and not attributed.notna().any():
            raise PopulationError(
                f"to_provider: attributed, but none of the {len(new):,} shifted claims' "
                "members is attributed to a provider in its year")
        new_values["provider"] = np.where(attributed.notna().to_numpy(),
                                          attributed.to_numpy(dtype=object),
                                          new["provider"].astype(object).to_numpy())
    elif shift.to_provider is not None:
        new_values["provider"] = np.full(len(new), shift.to_provider, dtype=object)
    if shift.to_care_code is not None:
        new_values["care_code"] = np.full(len(new), shift.to_care_code, dtype=object)
    for column, values in new_values.items():
        # Both parts get the same sorted categories, so that they stack cheaply.
        categories = kept[column].cat.categories.union(pd.Index(pd.unique(values)))
        kept[column] = kept[column].cat.set_categories(categories)
        new[column] = pd.Categorical(values, categories=categories)
    return pd.concat([kept, new], ignore_index=True)


def _grown(claims: pd.DataFrame, growth, in_years: np.ndarray) -> pd.DataFrame:
    chosen = in_years & _matching(claims, growth.domain, growth.care_codes, growth.provider)
    grown = claims.copy()
    factor = 1 + growth.rate
    grown.loc[chosen, "amount"] = np.rint(claims["amount"].to_numpy()[chosen] * factor
                                          ).astype(np.int64)
    grown.loc[chosen, "quantity"] = claims["quantity"].to_numpy()[chosen] * factor
    return grown


def claims_changed(ledger: Ledger, scenario, years: Collection[int]) -> int:
    """How many claim lines of ``years`` the scenario's shifts and growths select."""
    claims = ledger.claims
    in_years = _in_years(ledger, claims, years)
    selected = np.zeros(len(claims), dtype=bool)
    for change in [*(s.from_ for s in scenario.shift or []), *(scenario.growth or [])]:
        selected |= _matching(claims, change.domain, change.care_codes, change.provider)
    return int(claims["lines"].to_numpy()[selected & in_years].sum())
