"""Bundled payments (SPEC §4.4): condition bundles and episode bundles.

A condition bundle's target is a price per patient-year (member months / 12) of the members
with the condition; an episode bundle's, a price per episode. Either is settled
``prospective`` (the holder is paid the target and carries the cost) or ``retrospective``
(claims stay fee-for-service; the holder receives NPRA = target − winsorised cost, a gain
scaled by quality, bounded by the stop-gain and stop-loss rates).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from funding_models.baseline import normalised_weights, trended_baseline
from funding_models.episodes import build_episodes, episode_of_claims
from funding_models.ledger import Ledger
from funding_models.periods import contract_year
from funding_models.population_years import (
    NotSettled,
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
from funding_models.populations import PopulationError, population_of, segment_lines
from funding_models.results import ContractResult, SummaryRow, Table, cents_to_units


def reconcile(target: float, cost: float, *, quality_score: float = 1.0,
              stop_gain_rate: float | None = None, stop_loss_rate: float | None = None
              ) -> tuple[float, str]:
    """The net payment reconciliation amount (NPRA) and the bound that applied.

    NPRA = target − cost; a positive NPRA is multiplied by the quality score, then NPRA is
    at most ``stop_gain_rate · target`` and at least ``−stop_loss_rate · target``.

    Returns
    -------
    npra : float
    bound : str
        ``stop_gain``, ``stop_loss`` or ``""``.

    Examples
    --------
    SPEC §4.4: Σ target 2.5M, both rates 0.20.

    >>> [reconcile(2.5e6, 2.5e6 - gap, quality_score=q, stop_gain_rate=0.2,
    ...            stop_loss_rate=0.2)[0] for gap, q in ((600e3, 1), (-700e3, 1), (200e3, 0.9))]
    [500000.0, -500000.0, 180000.0]
    """
    npra = target - cost
    if npra > 0:
        npra *= quality_score
    if stop_gain_rate is not None and npra > stop_gain_rate * target:
        return stop_gain_rate * target, "stop_gain"
    if stop_loss_rate is not None and npra < -stop_loss_rate * target:
        return -stop_loss_rate * target, "stop_loss"
    return npra, ""


def settle_bundled(terms, ledger: Ledger) -> ContractResult:
    """Settle a bundled-payment contract for each of its performance years.

    Parameters
    ----------
    terms : contracts.BundledTerms
    ledger : Ledger

    Returns
    -------
    ContractResult
        A Summary row per performance year and the contract sheet's tables; for episode
        bundles also ``episodes``, one row per episode of the performance years.
    """
    if terms.bundle.kind == "condition":
        return _settle_condition(terms, ledger)
    return _settle_episodes(terms, ledger)


# -- condition bundles -------------------------------------------------------------------

def _settle_condition(terms, ledger: Ledger) -> ContractResult:
    try:
        population = population_of(ledger, terms, condition=terms.bundle.condition)
    except PopulationError as exc:
        return not_settled_at_all(terms, str(exc))
    figures = year_figures(population, ledger.years)

    def settle_year(year: int) -> tuple[SummaryRow, dict]:
        now = figures[year]
        price = (terms.price * 100 if terms.price != "historical" else
                 12 * baseline_pmpm(terms, ledger, figures, year) * (1 - terms.discount))
        patient_years = now.member_months / 12
        line = _settle(terms, year, round_cents(price * patient_years), now.spend, now.spend,
                       units=patient_years, price=price)
        line["members"] = now.members
        return _summary_row(terms, line, now.members, now.member_months), line

    rows, lines = settle_years(terms, ledger, figures, settle_year)
    tables = [_per_year_table(terms, lines, "patient_years")]
    if terms.price == "historical":
        tables.append(baseline_table(terms, figures, (
            f"price(t) = 12 x Σ weight x spend PMPM x (1 + {terms.trend:g})^(t − year) x "
            f"(1 − {terms.discount:g}): the trended cost per patient-year")))
    tables += population_tables(
        figures, population,
        f"members with {terms.bundle.condition}; spend: their in-scope claims within "
        "enrollment; provider_spend: the part billed by the contract's provider(s)")
    return ContractResult(terms.name, terms.model, rows, tables,
                          empty_population_warning(terms, population),
                          settled_years=by_year(lines))


# -- episode bundles ---------------------------------------------------------------------

def _settle_episodes(terms, ledger: Ledger) -> ContractResult:
    try:
        episodes = episodes_of(terms, ledger)
    except PopulationError as exc:
        return not_settled_at_all(terms, str(exc))
    episodes = _winsorised(episodes, terms.winsorize)
    counts = episodes.groupby("year").size().to_dict()

    def settle_year(year: int) -> tuple[SummaryRow, dict]:
        in_year = episodes[episodes["year"].to_numpy() == year]
        target = (terms.price * 100 if terms.price != "historical"
                  else _historical_episode_target(terms, episodes, counts, year))
        line = _settle(terms, year, round_cents(target * len(in_year)),
                       int(in_year["cost"].sum()),
                       round_cents(in_year["winsorised_cost"].sum()),
                       units=len(in_year), price=target)
        members = int(in_year["member"].nunique())
        line["members"] = members
        return _summary_row(terms, line, members, None), line

    # Episodes need no population: every year of the data can be settled.
    rows, lines = settle_years(terms, ledger, dict.fromkeys(ledger.years), settle_year)
    targets = {line["year"]: line["price"] for line in lines}
    listed = episodes[episodes["year"].isin(list(targets)).to_numpy()].copy()
    listed["target"] = listed["year"].map(targets)
    tables = [_per_year_table(terms, lines, "episodes")]
    if terms.price == "historical":
        tables.append(_episode_baseline_table(terms, episodes))
    warnings = [] if len(episodes) else [
        f"no episodes: {', '.join(terms.provider)} billed none of the trigger codes "
        f"{', '.join(terms.bundle.trigger_codes)} in the data"]
    last_claim = ledger.claims["service_date"].max()
    open_ended = listed["trigger_date"] + np.timedelta64(terms.bundle.window_days, "D")
    cut_short = int((open_ended > last_claim).sum())
    if cut_short:
        warnings.append(f"{cut_short:,} episode(s) have windows that end after the last "
                        f"claim in the data ({pd.Timestamp(last_claim):%Y-%m-%d}): their "
                        "cost may be incomplete")
    return ContractResult(terms.name, terms.model, rows, tables, warnings,
                          episodes=_episode_list(terms, listed), settled_years=by_year(lines))


def episodes_of(terms, ledger: Ledger) -> pd.DataFrame:
    """Every episode of the contract in the data, with its cost.

    Triggers are positive claims of the contract's provider(s) with a trigger code, dated
    within enrollment, in a performance year (or a baseline year of a historical price);
    the episode takes the member's in-scope claims (scope domains, less
    carve-outs, within enrollment; a segment when the scope names one) in its window.

    Returns
    -------
    pandas.DataFrame
        ``member``, ``year`` (of the first trigger), ``trigger_date``, ``trigger_code``,
        ``triggers``, ``claims`` and ``cost`` (cents).
    """
    claims = ledger.claims
    usable = claims["enrolled"].to_numpy().copy()
    if terms.scope.segment is not None:
        usable &= segment_lines(ledger, terms.scope.segment)
    codes = ledger.codes
    opening_years = [*terms.performance_years,
                     *(terms.baseline_years or [] if terms.price == "historical" else [])]
    trigger = np.flatnonzero(
        usable & ledger.among("care_code", terms.bundle.trigger_codes)
        & ledger.among("provider", terms.provider)
        & np.isin(ledger.years, opening_years)[codes.year_index]
        & (claims["amount"].to_numpy() > 0))
    member = codes.member
    # Only the claims of members with a trigger can fall in an episode.
    with_trigger = np.zeros(len(claims["member"].cat.categories), dtype=bool)
    with_trigger[member[trigger]] = True
    in_scope = usable & with_trigger[member] & ~ledger.among("care_code",
                                                             terms.carve_out_codes)
    if terms.scope.domains != "all":
        in_scope &= ledger.among("domain", terms.scope.domains)
    in_scope = np.flatnonzero(in_scope)

    dates = claims["service_date"].to_numpy()
    window = terms.bundle.window_days
    found, of_trigger = build_episodes(member[trigger], _days(dates[trigger]), window,
                                       codes.care_code[trigger])
    of_claim = episode_of_claims(found, window, member[in_scope], _days(dates[in_scope]))
    placed = in_scope[of_claim >= 0]
    of_claim = of_claim[of_claim >= 0]
    count = len(found)
    cost = np.bincount(of_claim, weights=codes.amount[placed], minlength=count)
    lines = np.rint(np.bincount(of_claim, weights=codes.lines[placed], minlength=count)
                    ).astype(np.int64)
    first = found["first_trigger"].to_numpy()
    start = found["start_day"].to_numpy().astype("datetime64[D]")
    return pd.DataFrame({
        "member": pd.Categorical.from_codes(found["member"].to_numpy(),
                                            dtype=claims["member"].dtype).astype(str),
        "year": contract_year(start, ledger.year_start_month).astype(np.int64),
        "trigger_date": start,
        "trigger_code": claims["care_code"].cat.categories.to_numpy(dtype=object)[
            codes.care_code[trigger][first]],
        "triggers": np.bincount(of_trigger, minlength=count),
        "claims": lines, "cost": np.rint(cost).astype(np.int64),
    })


def _days(dates: np.ndarray) -> np.ndarray:
    """Dates as whole days since 1970-01-01."""
    return dates.astype("datetime64[D]").astype(np.int64)


def _winsorised(episodes: pd.DataFrame, percentiles) -> pd.DataFrame:
    """Each episode's cost clipped to its year's percentiles (linear interpolation)."""
    cost = episodes["cost"].to_numpy(dtype=np.float64)
    if percentiles is None or not len(episodes):
        return episodes.assign(winsorised_cost=cost)
    low, high = (episodes.groupby("year")["cost"]
                 .quantile(q).rename(name) for q, name in zip(percentiles, ("low", "high")))
    bounds = episodes[["year"]].join(low, on="year").join(high, on="year")
    return episodes.assign(winsorised_cost=np.clip(cost, bounds["low"].to_numpy(),
                                                   bounds["high"].to_numpy()))


def _historical_episode_target(terms, episodes: pd.DataFrame, counts: dict[int, int],
                               year: int) -> float:
    """Trended baseline mean (winsorised) episode cost x (1 − discount), in cents."""
    missing = [str(b) for b in terms.baseline_years if not counts.get(b)]
    if missing:
        raise NotSettled(f"no episodes in baseline year {', '.join(missing)} for a "
                         "historical price")
    means = episodes.groupby("year")["winsorised_cost"].mean()
    baseline = trended_baseline(means.loc[terms.baseline_years].to_numpy(),
                                terms.baseline_years, terms.baseline_weights, terms.trend, year)
    return baseline * (1 - terms.discount)


# -- both kinds ----------------------------------------------------------------------

def _settle(terms, year: int, target: int, cost: int, winsorised: int, *, units: float,
            price: float) -> dict:
    """The settlement of one year (cents), either way the contract reconciles."""
    line = {"year": year, "units": units, "price": price, "target": target,
            "actual_cost": cost, "winsorised_cost": winsorised}
    if terms.reconciliation == "prospective":
        return {**line, "npra_before_bounds": None, "npra": None, "bound": "",
                "provider_revenue": target, "provider_result": target - cost}
    raw = target - winsorised
    npra, bound = reconcile(target, winsorised, quality_score=terms.quality_score,
                            stop_gain_rate=terms.stop_gain_rate,
                            stop_loss_rate=terms.stop_loss_rate)
    npra = round_cents(npra)
    return {**line, "npra_before_bounds": raw, "npra": npra, "bound": bound,
            "provider_revenue": cost + npra, "provider_result": npra}


def _summary_row(terms, line: dict, members: int, member_months: float | None) -> SummaryRow:
    notes = []
    if line["bound"]:
        notes.append(f"{line['bound']} bound the NPRA")
    if not line["units"]:
        notes.append("no episodes" if terms.bundle.kind == "episode" else "no patients")
    return SummaryRow(
        terms.name, terms.model, ", ".join(terms.provider), line["year"],
        insurer_cost=line["provider_revenue"], ffs_equivalent=line["actual_cost"],
        provider_revenue=line["provider_revenue"], provider_cost=line["actual_cost"],
        status="ok" + "".join(f"; {n}" for n in notes), members=members,
        member_months=member_months, reconciliation=line["npra"])


def _per_year_table(terms, lines: list[dict], units: str) -> Table:
    kinds = {"year": "year", "members": "count", units: "number" if units ==
             "patient_years" else "count", "price": "money", "target": "money",
             "actual_cost": "money", "winsorised_cost": "money",
             "npra_before_bounds": "money", "npra": "money", "bound": "text",
             "provider_revenue": "money", "provider_result": "money"}
    renamed = [{**{k: v for k, v in line.items() if k != "units"}, units: line["units"]}
               for line in lines]
    totalled = (units, "target", "actual_cost", "winsorised_cost", "npra_before_bounds",
                "npra", "provider_revenue", "provider_result")
    per = "patient-year" if units == "patient_years" else "episode"
    if terms.reconciliation == "prospective":
        note = (f"prospective: the holder is paid target = price (per {per}) x {units}, "
                "and carries the actual cost; provider_result is the margin")
    else:
        note = (f"retrospective: target = price (per {per}) x {units}; NPRA = target − "
                "winsorised cost, a gain x quality score, bounded by the stop-gain and "
                "stop-loss rates x target; claims stay paid fee-for-service")
    return per_year_table("Bundle per performance year", renamed, kinds, totalled, note)


def _episode_baseline_table(terms, episodes: pd.DataFrame) -> Table:
    weights = normalised_weights(terms.baseline_years, terms.baseline_weights)
    grouped = episodes.groupby("year")
    rows = [{"year": year, "weight": weight,
             "episodes": int(grouped.size().get(year, 0)),
             "mean_winsorised_cost": (grouped["winsorised_cost"].mean().get(year, np.nan)
                                      / 100)}
            for year, weight in zip(terms.baseline_years, weights)]
    return Table("Baseline years", pd.DataFrame(rows), {
        "year": "year", "weight": "rate", "episodes": "count",
        "mean_winsorised_cost": "money"},
        f"price(t) = Σ weight x mean winsorised episode cost x (1 + {terms.trend:g})^(t − "
        f"year) x (1 − {terms.discount:g})")


def _episode_list(terms, episodes: pd.DataFrame) -> pd.DataFrame:
    """The Episodes sheet's rows of this contract, money in currency units."""
    listed = episodes.sort_values(["year", "trigger_date", "member"], kind="stable")
    return pd.DataFrame({
        "contract": terms.name, "year": listed["year"].to_numpy(),
        "member": listed["member"].to_numpy(),
        "trigger_date": pd.to_datetime(listed["trigger_date"].to_numpy()),
        "trigger_code": listed["trigger_code"].to_numpy(),
        "triggers": listed["triggers"].to_numpy(), "claims": listed["claims"].to_numpy(),
        "cost": cents_to_units(listed["cost"].to_numpy()),
        "winsorised_cost": cents_to_units(np.rint(listed["winsorised_cost"].to_numpy())),
        "target": cents_to_units(np.rint(listed["target"].to_numpy(dtype=np.float64))),
    })
