"""How much of each contract's result is chance: a bootstrap of its members (issue 9).

Each performance year of a contract is settled again on ``R`` resamples of what it
settles on: the members of its population (shared savings, capitation, condition
bundles), the patients of its provider (fee-for-service: members with a line in scope) or
its episodes (episode bundles), drawn with replacement within segments so that every
segment keeps its size. A replicate is a vector of counts, one per unit (a multinomial
draw); every total a settlement needs is a sum over units, so the totals of all replicates
are one matrix product of the counts (R x units) with the per-unit figures (units x
columns). The model's own arithmetic then settles each replicate's totals.

Where a figure settled comes from the baseline years (a historical benchmark, rate or
price, a risk adjustment, a minimum savings rate set by confidence), a member is drawn
with the whole of their history: the members of the population in the baseline years and
in the performance year, so that a replicate's baseline and performance year hold the
same people, as the data do. A year's population in a replicate is then the drawn
members that were in it, and its size may vary. A historical episode price is the one
figure that is not redrawn (the baseline years' episodes are other units); it is blank
with the reason. Episode costs are winsorised at each replicate's own percentiles
(:func:`winsorised_totals`). The insurer's book, over which capitation factors are
normalised, is held as settled.

With ``null`` each contract's care cost is first scaled so that it equals the contract's
benchmark (shared savings: the benchmark; capitation: the capitation revenue; bundles: the
target), and that benchmark is held fixed, as are the minimum savings and loss rates: what
is then paid is paid for luck alone. Only the performance year is drawn.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from funding_models.bundled import episodes_of, reconcile
from funding_models.capitation import corridor_settlement
from funding_models.fee_for_service import line_value, year_payment
from funding_models.ledger import Ledger, priced_quantity
from funding_models.member_factors import book_factors
from funding_models.baseline import trended_baseline
from funding_models.populations import (
    Population,
    PopulationError,
    population_of,
    segment_keys,
    segment_lines,
)
from funding_models.results import ContractResult
from funding_models.shared_savings import share_under
from funding_models.sharing import cms_minimum_savings_rate, confidence_minimum_savings_rate
from funding_models.spillover import SPILLOVER_NOTE

#: The percentiles reported of each distribution.
PERCENTILES = (5, 50, 95)

#: Bins of the provider-result histogram drawn per contract.
HISTOGRAM_BINS = 20

#: Replicate counts held in memory at once (replicates x units), about 64 MB of float64.
BLOCK_CELLS = 1 << 23

#: Columns of the Risk table, in order, and how each is shown.
RISK_KINDS = {
    "contract": "text", "model": "text", "year": "year", "resampled": "text",
    "units": "count", "replicates": "count",
    "insurer_cost_p5": "money", "insurer_cost_p50": "money", "insurer_cost_p95": "money",
    "provider_result_p5": "money", "provider_result_p50": "money",
    "provider_result_p95": "money",
    "savings_rate_p5": "rate", "savings_rate_p50": "rate", "savings_rate_p95": "rate",
    "shared_savings_probability": "rate", "provider_risk_share": "number",
    "status": "text",
}

#: Columns of the histogram table: replicates per bin of provider result.
HISTOGRAM_COLUMNS = ("contract", "year", "bin_from", "bin_to", "replicates")


class NotBootstrapped(Exception):
    """A contract-year the bootstrap cannot redraw exactly; the message says why."""


@dataclass(frozen=True)
class RiskOptions:
    """How to bootstrap: ``replicates`` resamples from ``seed``; ``null`` rescales each
    contract's care cost to its benchmark first."""

    replicates: int
    seed: int
    null: bool = False


@dataclass(frozen=True)
class Draws:
    """One contract-year settled on every replicate (cents, one value per replicate).

    ``savings_rate`` and ``shared_savings`` are None for models without them.
    """

    insurer_cost: np.ndarray
    ffs_equivalent: np.ndarray
    provider_result: np.ndarray
    savings_rate: np.ndarray | None = None
    shared_savings: np.ndarray | None = None


@dataclass(frozen=True)
class Resample:
    """What one contract-year redraws: ``unit`` (members, patients, episodes), each unit's
    ``ids`` (to seed the draws: contracts on the same units share them) and ``strata``
    (segment codes), and per-unit figures to total, ``columns`` (name -> array).

    ``per_replicate``, when given, works out figures that are not sums (such as
    percentiles) from a block of counts (replicates x units, units in their order here):
    name -> one value per replicate of the block.
    """

    unit: str
    ids: np.ndarray
    strata: np.ndarray
    columns: dict[str, np.ndarray]
    per_replicate: Callable[[np.ndarray], dict[str, np.ndarray]] | None = None


@dataclass(frozen=True)
class RiskReport:
    """The bootstrap of a comparison's base run.

    Attributes
    ----------
    options : RiskOptions
    years : pandas.DataFrame
        One row per contract and performance year, columns :data:`RISK_KINDS`, money in
        currency units; a year that could not be redrawn is blank with its status.
    histogram : pandas.DataFrame
        Per contract and year, replicates per bin of provider result (the bins are
        common to a contract's years), columns :data:`HISTOGRAM_COLUMNS`.
    """

    options: RiskOptions
    years: pd.DataFrame
    histogram: pd.DataFrame


def resampled_totals(resample: Resample, replicates: int,
                     seed: int | Sequence[int]) -> dict[str, np.ndarray]:
    """Each column's total on every replicate: counts (R x units) times figures.

    Every stratum's units are drawn with replacement as many times as it has units, so
    the counts of a replicate are a multinomial draw that keeps each stratum's size.
    Replicate ``r`` is drawn from a generator of its own, seeded by ``seed`` and ``r``: its
    draws do not depend on how many replicates there are or how they are held in memory.

    Parameters
    ----------
    resample : Resample
    replicates : int
    seed : int or sequence of int
        The entropy of :class:`numpy.random.SeedSequence`.

    Returns
    -------
    dict
        Column name -> array of ``replicates`` totals (and the figures of
        ``per_replicate``).

    Examples
    --------
    Two units worth 1 and 3, each in a stratum of its own, are always drawn once:

    >>> one_each = Resample("members", np.arange(2), np.array([0, 1]),
    ...                     {"spend": np.array([1.0, 3.0])})
    >>> resampled_totals(one_each, 3, 0)["spend"].tolist()
    [4.0, 4.0, 4.0]
    """
    order = np.argsort(resample.strata, kind="stable")
    figures = np.column_stack([resample.columns[name][order] for name in resample.columns])
    units = len(order)
    bounds = np.flatnonzero(np.diff(resample.strata[order])) + 1
    strata = list(zip(np.r_[0, bounds], np.r_[bounds, units])) if units else []
    totals = np.empty((replicates, figures.shape[1]))
    extras: dict[str, list[np.ndarray]] = {}
    in_unit_order = np.argsort(order)
    block = max(1, BLOCK_CELLS // max(units, 1))
    for start in range(0, replicates, block):
        rows = min(block, replicates - start)
        drawn = np.empty((rows, units), dtype=np.int64)
        for row in range(rows):
            generator = np.random.default_rng(
                np.random.SeedSequence(seed, spawn_key=(start + row,)))
            for first, end in strata:  # units sorted by stratum: places first to end
                drawn[row, first:end] = generator.integers(first, end, size=end - first)
        drawn += (np.arange(rows) * units)[:, None]
        counts = np.bincount(drawn.ravel(), minlength=rows * units).reshape(rows, units
                                                                            ).astype(float)
        totals[start:start + rows] = counts @ figures
        if resample.per_replicate is not None:
            for name, values in resample.per_replicate(counts[:, in_unit_order]).items():
                extras.setdefault(name, []).append(values)
    return {**{name: totals[:, position] for position, name in enumerate(resample.columns)},
            **{name: np.concatenate(values) for name, values in extras.items()}}


def bootstrap(contracts: Sequence, ledger: Ledger, results: Sequence[ContractResult],
              options: RiskOptions) -> RiskReport:
    """Settle every contract's performance years on ``options.replicates`` resamples.

    Parameters
    ----------
    contracts : sequence of contract terms
    ledger : Ledger
        The ledger the contracts were settled on.
    results : sequence of ContractResult
        Their settlement (the base run), one per contract: the years it could not settle
        stay blank, and the figures it settled (benchmark, minimum savings rate...) are
        held.
    options : RiskOptions

    Returns
    -------
    RiskReport
    """
    rows, histograms = [], []
    for terms, result in zip(contracts, results):
        draws = {}
        for row in result.rows:
            record = {"contract": terms.name, "model": terms.model, "year": row.year,
                      "replicates": options.replicates}
            if row.insurer_cost is None:
                rows.append({**record, "status": row.status.split(SPILLOVER_NOTE)[0]})
                continue
            try:
                resample, settle = _redraw(terms, ledger, result.settled_years[row.year],
                                           row.year, options.null)
                seed = [options.seed, row.year, _fingerprint(resample)]
                draws[row.year] = settle(resampled_totals(resample, options.replicates, seed))
            except (NotBootstrapped, PopulationError) as exc:
                rows.append({**record, "status": f"not bootstrapped: {exc}"})
                continue
            rows.append({**record, **_summary(draws[row.year]), "resampled": resample.unit,
                         "units": len(resample.ids)})
        histograms.append(_histogram(terms.name, draws))
    years = pd.DataFrame(rows, columns=list(RISK_KINDS)).astype({"year": "Int64",
                                                                "units": "Int64"})
    histogram = (pd.concat(histograms, ignore_index=True) if histograms
                 else pd.DataFrame(columns=list(HISTOGRAM_COLUMNS)))
    return RiskReport(options, years, histogram)


def _fingerprint(resample: Resample) -> int:
    """A number that names the units drawn, so that their draws do not depend on the
    contract's place in the file and contracts on the same units share them."""
    return zlib.crc32(np.ascontiguousarray(resample.ids, dtype=np.int64).tobytes())


def _summary(draws: Draws) -> dict:
    """The Risk table's figures of one contract-year."""
    record = {}
    for name, cents in (("insurer_cost", draws.insurer_cost),
                        ("provider_result", draws.provider_result)):
        for percentile, value in zip(PERCENTILES, np.percentile(cents, PERCENTILES)):
            record[f"{name}_p{percentile}"] = float(np.rint(value)) / 100  # whole cents
    if draws.savings_rate is not None:
        for percentile, value in zip(PERCENTILES,
                                     np.percentile(draws.savings_rate, PERCENTILES)):
            record[f"savings_rate_p{percentile}"] = float(value)
        record["shared_savings_probability"] = float(np.mean(draws.shared_savings > 0))
    ffs_spread = np.var(draws.ffs_equivalent, ddof=1) if len(draws.ffs_equivalent) > 1 else 0
    notes = []
    if ffs_spread > 0:
        record["provider_risk_share"] = float(np.var(draws.provider_result, ddof=1)
                                              / ffs_spread)
    else:
        notes.append("provider_risk_share blank: the FFS equivalent does not vary")
    record["status"] = "ok" + "".join(f"; {note}" for note in notes)
    return record


def _histogram(contract: str, draws: dict[int, Draws]) -> pd.DataFrame:
    """Replicates per bin of provider result, bins common to the contract's years."""
    if not draws:
        return pd.DataFrame(columns=list(HISTOGRAM_COLUMNS))
    every = np.concatenate([d.provider_result for d in draws.values()])
    low, high = float(every.min()), float(every.max())
    edges = np.rint(np.linspace(low, high if high > low else low + 1, HISTOGRAM_BINS + 1))
    frames = [pd.DataFrame({"contract": contract, "year": year, "bin_from": edges[:-1] / 100,
                            "bin_to": edges[1:] / 100,
                            "replicates": np.histogram(d.provider_result, edges)[0]})
              for year, d in draws.items()]
    return pd.concat(frames, ignore_index=True)


# -- what each model redraws -----------------------------------------------------------

Settle = Callable[[dict[str, np.ndarray]], Draws]


def _redraw(terms, ledger: Ledger, line: dict, year: int, null: bool
            ) -> tuple[Resample, Settle]:
    """The units one contract-year redraws, and how a replicate's totals settle.

    Parameters
    ----------
    terms : contract terms
    ledger : Ledger
    line : dict
        The year's settlement line, money in cents: the figures held (the benchmark, the
        capitation revenue or the target, and with ``null`` the cost scaled to them).
    year : int
    null : bool
        Scale the cost to the benchmark and hold the benchmark.

    Returns
    -------
    Resample
        The units and their figures.
    Settle
        A replicate's totals -> its :class:`Draws`.
    """
    if terms.model == "fee_for_service":
        return _fee_for_service(terms, ledger, year, null)
    if terms.model == "shared_savings":
        return _shared_savings(terms, ledger, line, year, null)
    if terms.model == "capitation":
        return _capitation(terms, ledger, line, year, null)
    if terms.bundle.kind == "condition":
        return _condition_bundle(terms, ledger, line, year, null)
    return _episode_bundle(terms, ledger, line, year, null)


def _null_scale(benchmark: float, cost: float, what: str) -> float:
    """The factor that brings the settled cost to the benchmark, for ``null``."""
    if cost <= 0:
        raise NotBootstrapped(f"--null: the {what} is {cost / 100:,.2f}; it cannot be "
                              "scaled to the benchmark")
    return benchmark / cost


def _segment_codes(ledger: Ledger, member_codes: np.ndarray) -> np.ndarray:
    """Each member's segment as an integer (one stratum without a segment column)."""
    if ledger.members is None or "segment" not in ledger.members:
        return np.zeros(len(member_codes), dtype=np.int64)
    segments = ledger.member_column("segment")[member_codes]
    text = segment_keys(segments).fillna("")
    return pd.factorize(text, sort=True)[0].astype(np.int64)


#: Per-member figures every population contract totals; others are asked for by name.
HISTORY_FIGURES = ("spend", "counted_spend", "member_months", "members")


def _member_histories(ledger: Ledger, population: Population, years: Sequence[int],
                      scale: float = 1.0, extra: Sequence[str] = ()) -> Resample:
    """The members of the population in any of ``years``, each with their figures of
    every one of those years (0 in a year they are not in the population), spend scaled
    by ``scale``: :data:`HISTORY_FIGURES` and the ``extra`` ones (``risk_months``,
    ``scored_months``, ``annual_spend``, ``annual_spend_squared``). A member is drawn with
    their whole history, so a year's population in a replicate is the drawn members that
    were in it."""
    rows = population.members[population.members["year"].isin(list(years)).to_numpy()]
    codes = rows["member"].cat.codes.to_numpy().astype(np.int64)
    ids, position = np.unique(codes, return_inverse=True)
    risk = rows["risk_score"].to_numpy(dtype=np.float64)
    months = rows["member_months"].to_numpy(dtype=np.float64)
    counted = rows["counted_spend"].to_numpy(dtype=np.float64) * scale
    figures = {
        "spend": rows["spend"].to_numpy(dtype=np.float64) * scale,
        "counted_spend": counted, "member_months": months, "members": np.ones(len(rows)),
        "risk_months": np.where(np.isnan(risk), 0.0, risk * months),
        "scored_months": np.where(np.isnan(risk), 0.0, months),
        "annual_spend": counted / months * 12,
        "annual_spend_squared": (counted / months * 12) ** 2,
    }
    columns = {}
    year_of_row = rows["year"].to_numpy()
    for year in years:
        here = year_of_row == year
        for name in (*HISTORY_FIGURES, *extra):
            values = figures[name]
            column = np.zeros(len(ids))
            column[position[here]] = values[here]
            columns[f"{name}@{year}"] = column
    unit = "members" if len(years) == 1 else "members, with their baseline years"
    return Resample(unit, ids, _segment_codes(ledger, ids), columns)


def _in_every_replicate(totals: dict[str, np.ndarray], years: Sequence[int]) -> None:
    """Raise :class:`NotBootstrapped` when a replicate drew no member of a year's
    population (its PMPM would be undefined)."""
    empty = [str(year) for year in years if not (totals[f"member_months@{year}"] > 0).all()]
    if empty:
        raise NotBootstrapped(f"some resamples hold no member of the population in "
                              f"{', '.join(empty)}: too few members there to bootstrap")


def _baseline_pmpm(terms, totals: dict[str, np.ndarray], year: int) -> np.ndarray:
    """Per replicate, the trended baseline PMPM (cents) of the drawn members, SPEC §2:
    Σ_b w_b · PMPM_b · (1 + trend)^(t − b), each baseline year's own population."""
    _in_every_replicate(totals, terms.baseline_years)
    pmpm = np.column_stack([totals[f"counted_spend@{b}"] / totals[f"member_months@{b}"]
                            for b in terms.baseline_years])
    return trended_baseline(pmpm, terms.baseline_years, terms.baseline_weights, terms.trend,
                            year)


def _risk_factors(terms, totals: dict[str, np.ndarray], year: int) -> np.ndarray | float:
    """Per replicate, R_t / R_base bounded to 1 ± risk_cap (1 without risk adjustment)."""
    if terms.risk_adjustment == "none":
        return 1.0
    years = [*terms.baseline_years, year]
    unscored = [str(y) for y in years if not (totals[f"scored_months@{y}"] > 0).all()]
    if unscored:
        raise NotBootstrapped(f"some resamples hold no member with a risk_score in "
                              f"{', '.join(unscored)}")
    mean = {y: totals[f"risk_months@{y}"] / totals[f"scored_months@{y}"] for y in years}
    factor = mean[year] / trended_baseline(
        np.column_stack([mean[b] for b in terms.baseline_years]), terms.baseline_years,
        terms.baseline_weights, 0.0, year)
    if terms.risk_cap is not None:
        factor = np.clip(factor, 1 - terms.risk_cap, 1 + terms.risk_cap)
    return factor


def _minimum_savings_rates(terms, totals: dict[str, np.ndarray], year: int) -> np.ndarray:
    """Per replicate, the MSR of the drawn population: a fraction, the CMS table by its
    size, or z_p · CV / √N with CV of the last baseline year's annualised spend."""
    rate, members = terms.minimum_savings_rate, totals[f"members@{year}"]
    if rate == "cms":
        rates = cms_minimum_savings_rate(members)
        if np.isnan(rates).any():
            raise NotBootstrapped("minimum_savings_rate 'cms': some resamples hold fewer "
                                  "than 5,000 members, below the CMS table")
        return rates
    if isinstance(rate, float):
        return np.full(len(members), rate)
    last = terms.baseline_years[-1]
    count = totals[f"members@{last}"]
    if (count < 2).any():
        raise NotBootstrapped(f"minimum_savings_rate {{confidence}}: some resamples hold "
                              f"fewer than 2 members in {last}")
    mean = totals[f"annual_spend@{last}"] / count
    variance = (totals[f"annual_spend_squared@{last}"] - count * mean ** 2) / (count - 1)
    return confidence_minimum_savings_rate(rate.confidence,
                                           np.sqrt(np.maximum(variance, 0)) / mean, members)


def _history_years(terms, year: int, null: bool, historical: bool) -> list[int]:
    """The years a population contract's members are drawn with: the performance year,
    and the baseline years when a figure settled comes from them (never with ``null``:
    the benchmark is held)."""
    return [year] if null or not historical else [*terms.baseline_years, year]


def _shared_savings(terms, ledger: Ledger, line: dict, year: int, null: bool
                    ) -> tuple[Resample, Settle]:
    """A shared-savings contract-year: its population's members (with their baseline
    years when the benchmark, risk factor or MSR comes from them), and per replicate the
    benchmark, MSR and shared savings or losses of the members drawn.

    Parameters and returns as :func:`_redraw`.
    """
    agreed = terms.benchmark_pmpm_for(year)
    uses_baseline = (agreed is None or terms.risk_adjustment != "none"
                     or not isinstance(terms.minimum_savings_rate, (float, str)))
    truncate_at = (terms.truncate_member_spend * 100
                   if terms.truncate_member_spend is not None else None)
    population = population_of(ledger, terms, truncate_at)
    benchmark = float(np.rint(line["benchmark"]))
    scale = _null_scale(benchmark, line["expenditure"], "expenditure") if null else 1.0
    extra = (("risk_months", "scored_months") if terms.risk_adjustment != "none" else ()) + (
        ("annual_spend", "annual_spend_squared")
        if not isinstance(terms.minimum_savings_rate, (float, str)) else ())
    resample = _member_histories(ledger, population,
                                 _history_years(terms, year, null, uses_baseline), scale,
                                 () if null else extra)

    def settle(totals: dict[str, np.ndarray]) -> Draws:
        now = {name: totals[f"{name}@{year}"] for name in ("spend", "counted_spend",
                                                           "member_months")}
        if null:
            benchmarks = np.full(len(now["spend"]), benchmark)
            msr = np.full(len(now["spend"]), line["minimum_savings_rate"])
        else:
            baseline = agreed * 100 if agreed is not None else _baseline_pmpm(terms, totals,
                                                                              year)
            benchmarks = np.rint(baseline * _risk_factors(terms, totals, year)
                                 * now["member_months"])
            msr = _minimum_savings_rates(terms, totals, year)
        result = share_under(terms, benchmarks, now["counted_spend"], msr)
        net = np.rint(result.shared_savings) - np.rint(result.shared_losses)
        spend = np.rint(now["spend"])
        return Draws(spend + net, spend, net, result.savings_rate,
                     np.rint(result.shared_savings))

    return resample, settle


def _capitation(terms, ledger: Ledger, line: dict, year: int, null: bool
                ) -> tuple[Resample, Settle]:
    """A capitation contract-year: its population's members (with their baseline years
    when the rate is historical), and per replicate the capitation revenue (factor-weighted
    member months x rate), stop-loss and corridor of the members drawn.

    Parameters and returns as :func:`_redraw`.
    """
    agreed = terms.rate_for(year)
    population = population_of(ledger, terms)
    revenue = float(np.rint(line["capitation_revenue"]))
    scale = _null_scale(revenue, line["cost_of_care"], "cost of care") if null else 1.0
    resample = _member_histories(ledger, population,
                                 _history_years(terms, year, null, agreed is None), scale)
    members = population.in_year(year)
    in_year = np.zeros(len(resample.ids))
    place = np.searchsorted(resample.ids, members["member"].cat.codes.to_numpy())
    factor = book_factors(ledger, terms, year).of(members["member"])
    in_year[place] = factor * members["member_months"].to_numpy(dtype=np.float64)
    resample.columns["factor_months"] = in_year
    attachment = terms.stop_loss.attachment * 100 if terms.stop_loss else np.inf
    resample.columns["above_attachment"] = np.maximum(resample.columns[f"spend@{year}"]
                                                      - attachment, 0.0)
    insurer_share = terms.stop_loss.insurer_share if terms.stop_loss else 0.0
    bands = [(b.from_, b.to, b.provider_share) for b in terms.risk_corridors or []]

    def settle(totals: dict[str, np.ndarray]) -> Draws:
        cost = np.rint(totals[f"spend@{year}"])
        if null:
            revenues = np.full(len(cost), revenue)
        else:
            rate = (agreed * 100 if agreed is not None
                    else _baseline_pmpm(terms, totals, year) * (1 - terms.discount))
            revenues = np.rint(rate * totals["factor_months"])
        stop_loss = np.rint(insurer_share * totals["above_attachment"])
        corridor = np.rint([corridor_settlement(k, d, bands)
                            for k, d in zip(revenues, cost - stop_loss)])
        paid = revenues + stop_loss + corridor
        return Draws(paid, cost, paid - cost)

    return resample, settle


def _bundle_settle(terms, targets: Callable[[dict[str, np.ndarray]], np.ndarray],
                   year: int) -> Settle:
    """A bundle's replicates: prospective (paid the target) or retrospective (NPRA on the
    winsorised cost, when the replicate has one)."""

    def settle(totals: dict[str, np.ndarray]) -> Draws:
        target, cost = targets(totals), np.rint(totals[f"spend@{year}"])
        if terms.reconciliation == "prospective":
            return Draws(target, cost, target - cost)
        winsorised = np.rint(totals.get("winsorised_spend", totals[f"spend@{year}"]))
        npra = np.rint([reconcile(t, c, quality_score=terms.quality_score,
                                  stop_gain_rate=terms.stop_gain_rate,
                                  stop_loss_rate=terms.stop_loss_rate)[0]
                        for t, c in zip(target, winsorised)])
        return Draws(cost + npra, cost, npra)

    return settle


def _condition_bundle(terms, ledger: Ledger, line: dict, year: int, null: bool
                      ) -> tuple[Resample, Settle]:
    """A condition bundle's contract-year: the members with the condition (with their
    baseline years when the price is historical), and per replicate the target of the
    members drawn and the reconciliation against it.

    Parameters and returns as :func:`_redraw`.
    """
    population = population_of(ledger, terms, condition=terms.bundle.condition)
    target = float(np.rint(line["target"]))
    scale = _null_scale(target, line["actual_cost"], "cost of care") if null else 1.0
    historical = terms.price == "historical"
    resample = _member_histories(ledger, population,
                                 _history_years(terms, year, null, historical), scale)

    def targets(totals: dict[str, np.ndarray]) -> np.ndarray:
        if null:
            return np.full(len(totals[f"spend@{year}"]), target)
        price = (12 * _baseline_pmpm(terms, totals, year) * (1 - terms.discount)
                 if historical else terms.price * 100)
        return np.rint(price * (totals[f"member_months@{year}"] / 12))

    return resample, _bundle_settle(terms, targets, year)


def _episode_bundle(terms, ledger: Ledger, line: dict, year: int, null: bool
                    ) -> tuple[Resample, Settle]:
    """An episode bundle's contract-year: its episodes, drawn within their members'
    segments, and per replicate their cost (winsorised at the replicate's own percentiles
    when the terms say so) against the target, which is held.

    Parameters and returns as :func:`_redraw`.

    Raises
    ------
    NotBootstrapped
        When the price is historical (the baseline years' episodes are not redrawn),
        unless ``null``.
    """
    if not null and terms.price == "historical":
        raise NotBootstrapped(
            "the price is the baseline years' mean episode cost, and those episodes are not "
            "redrawn with the year's (use --null, which holds the target as settled)")
    episodes = ledger.remember(("risk episodes", terms.model_dump_json()),
                               lambda: episodes_of(terms, ledger))
    in_year = episodes[episodes["year"].to_numpy() == year]
    target = float(np.rint(line["target"]))
    scale = _null_scale(target, line["actual_cost"], "episode cost") if null else 1.0
    members = pd.Categorical(in_year["member"], dtype=ledger.claims["member"].dtype).codes
    cost = in_year["cost"].to_numpy(dtype=np.float64) * scale
    winsorised = (None if terms.winsorize is None or not len(cost) else
                  lambda counts: {"winsorised_spend": winsorised_totals(cost, counts,
                                                                        terms.winsorize)})
    resample = Resample("episodes", np.flatnonzero(episodes["year"].to_numpy() == year),
                        _segment_codes(ledger, members.astype(np.int64)),
                        {f"spend@{year}": cost}, winsorised)
    return resample, _bundle_settle(
        terms, lambda totals: np.full(len(totals[f"spend@{year}"]), target), year)


def winsorised_totals(cost: np.ndarray, counts: np.ndarray,
                      percentiles: Sequence[float]) -> np.ndarray:
    """Per replicate, the total of the costs it draws, each clipped to the replicate's own
    percentiles (linear interpolation between its order statistics, as numpy's default).

    Parameters
    ----------
    cost : numpy.ndarray
        One cost per unit.
    counts : numpy.ndarray
        Replicates x units: how often each replicate draws each unit.
    percentiles : (low, high)
        Fractions, e.g. (0.01, 0.99).

    Examples
    --------
    Costs 1, 2 and 10 drawn once each, clipped to their 0th and 50th percentiles (1 and 2):
    1 + 2 + 2 = 5; drawn as 1, 1, 10: percentiles 1 and 1, total 3.

    >>> winsorised_totals(np.array([1.0, 2.0, 10.0]), np.array([[1, 1, 1], [2, 0, 1]]),
    ...                   (0.0, 0.5)).tolist()
    [5.0, 3.0]
    """
    order = np.argsort(cost, kind="stable")
    ranked, drawn = cost[order], counts[:, order]
    below = np.cumsum(drawn, axis=1)  # units drawn up to and including each rank
    size = below[:, -1]

    def order_statistic(position: np.ndarray) -> np.ndarray:
        # The value at 0-based position k of the replicate's sorted sample.
        return ranked[(below <= position[:, None]).sum(axis=1)]

    bounds = []
    for fraction in percentiles:
        exact = (size - 1) * fraction
        lower = np.floor(exact)
        upper = np.minimum(lower + 1, size - 1)
        low_value = order_statistic(lower)
        bounds.append(low_value + (exact - lower) * (order_statistic(upper) - low_value))
    return (drawn * np.clip(ranked, bounds[0][:, None], bounds[1][:, None])).sum(axis=1)


def _fee_for_service(terms, ledger: Ledger, year: int, null: bool
                     ) -> tuple[Resample, Settle]:
    """A fee-for-service contract-year: the provider's patients (members with an
    in-scope line in the year), and per replicate the payment of their lines' gross value
    (tiers, ceiling, floor) against the amount claimed.

    Parameters and returns as :func:`_redraw`, less ``line``: nothing is held.

    Raises
    ------
    NotBootstrapped
        With ``null``.
    """
    if null:
        raise NotBootstrapped("--null: fee-for-service has no benchmark to scale its spend to")
    claims, codes = ledger.claims, ledger.codes
    chosen = (ledger.among("provider", terms.provider)
              & (claims["year"].to_numpy() == year))
    if terms.scope.domains != "all":
        chosen &= ledger.among("domain", terms.scope.domains)
    if terms.scope.segment is not None:
        chosen &= segment_lines(ledger, terms.scope.segment)
    categories = claims["care_code"].cat.categories
    tariffs = (ledger.tariffs.reindex(categories).to_numpy(dtype=np.float64)
               if ledger.tariffs is not None else np.full(len(categories), np.nan))
    tariff = np.append(tariffs, np.nan)[codes.care_code[chosen]]  # code -1: no tariff
    amount = codes.amount[chosen]
    value = line_value(tariff, priced_quantity(amount, claims["quantity"].to_numpy()[chosen]),
                       amount, terms.price_factor)
    patients, member = np.unique(codes.member[chosen], return_inverse=True)
    resample = Resample("patients", patients, _segment_codes(ledger, patients), {
        "value": np.bincount(member, weights=value, minlength=len(patients)),
        "amount": np.bincount(member, weights=amount, minlength=len(patients)),
    })
    def settle(totals: dict[str, np.ndarray]) -> Draws:
        paid = np.rint([year_payment(terms, gross, year).paid for gross in totals["value"]])
        claimed = np.rint(totals["amount"])
        return Draws(paid, claimed, paid - claimed)

    return resample, settle
