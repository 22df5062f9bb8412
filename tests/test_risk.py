"""The bootstrap of contracts (issue 9): resampled totals, each model's replicates, the null
check against the normal approximation, the 1/√2 law, and reproducibility."""
from __future__ import annotations

from dataclasses import replace
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from funding_models.compare import settle_contracts
from funding_models.ledger import build_ledger
from funding_models.risk import (
    Resample,
    RiskOptions,
    bootstrap,
    resampled_totals,
    winsorised_totals,
)
from tests.conftest import claims_frame, contract, members_frame

SHARED_SAVINGS = dict(model="shared_savings", provider="GP", scope={"domains": "all"},
                      attribution="none", performance_years=[2024], sharing_rate=0.5)


def risk_of(terms, ledger, replicates=2_000, seed=1, null=False):
    """The Risk table of one contract, as a dict of its first row."""
    results = settle_contracts([terms], ledger)
    report = bootstrap([terms], ledger, results, RiskOptions(replicates, seed, null))
    return report.years.iloc[0].to_dict()


def population_ledger(spend_in_euros, segments=None):
    """Members enrolled all of 2024, one claim each of the given amount."""
    ids = [f"M{i:05d}" for i in range(len(spend_in_euros))]
    claims = claims_frame([(m, "GP", "2024-03-01", "gp", "G1", 1, float(a))
                           for m, a in zip(ids, spend_in_euros)])
    segments = segments or ["all"] * len(ids)
    members = members_frame([(m, s, "GP", 1.0) for m, s in zip(ids, segments)])
    return build_ledger(claims, members=members)


# -- resampled totals ------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=1, max_size=30), st.integers(1, 7),
       st.integers(0, 2**32 - 1))
def test_every_replicate_keeps_the_size_of_each_stratum(strata, replicates, seed):
    strata = np.array(strata)
    columns = {f"in_{s}": (strata == s).astype(float) for s in np.unique(strata)}
    resample = Resample("members", np.arange(len(strata)), strata, columns)
    totals = resampled_totals(resample, replicates, seed)
    for s in np.unique(strata):
        assert (totals[f"in_{s}"] == (strata == s).sum()).all()


@pytest.mark.parametrize("strata", [[0, 0, 0, 0, 0], [0, 0, 1, 1, 1], [2, 0, 1, 0, 2]])
def test_the_blocks_of_replicates_do_not_change_the_draws(monkeypatch, strata):
    resample = Resample("members", np.arange(5), np.array(strata), {"spend": 10.0 ** np.arange(5)})
    whole = resampled_totals(resample, 10, [3, 2024])["spend"]
    import funding_models.risk as risk

    for cells in (5, 10, 15):  # one, two and three replicates a block
        monkeypatch.setattr(risk, "BLOCK_CELLS", cells)
        assert resampled_totals(resample, 10, [3, 2024])["spend"].tolist() == whole.tolist()
    # Each replicate has its own draws: fewer replicates are the first of more.
    assert resampled_totals(resample, 4, [3, 2024])["spend"].tolist() == whole[:4].tolist()
    assert len(set(whole.tolist())) > 1  # and the draws do vary


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-50, 500), min_size=1, max_size=12),
       st.lists(st.lists(st.integers(0, 3), min_size=12, max_size=12), min_size=1,
                max_size=4),
       st.tuples(st.floats(0, 0.5), st.floats(0.5, 1)))
def test_winsorised_totals_clip_each_replicate_at_its_own_percentiles(cost, counts,
                                                                       percentiles):
    cost = np.array(cost, dtype=float)
    counts = np.array(counts)[:, :len(cost)]
    counts[:, 0] += 1  # every replicate draws something
    totals = winsorised_totals(cost, counts, percentiles)
    for replicate, total in zip(counts, totals):
        sample = np.repeat(cost, replicate)
        low, high = np.percentile(sample, [100 * p for p in percentiles])
        assert total == pytest.approx(np.clip(sample, low, high).sum(), abs=1e-6)


# -- hand-worked ------------------------------------------------------------------------

def test_two_members_shared_savings_by_hand():
    """Members spending 100 and 300, benchmark 25.00 PMPM x 24 member months = 600, MSR 50%,
    sharing 50%. A replicate draws {100, 100}, {100, 300} or {300, 300} with chances 1/4,
    1/2, 1/4: expenditure 200, 400, 600; savings rate 2/3, 1/3, 0. Only the first passes
    the MSR: shared 0.5 x 400 = 200. Insurer cost: 400, 400, 600 → P5 400, P50 400, P95
    600. Provider result: 200, 0, 0 → P5 0, P50 0, P95 200; chance of paying 1/4.
    Var(FFS) = (200² + 200²)/4 = 20 000; Var(result) = 200² x 1/4 x 3/4 = 7 500; share of
    risk 0.375."""
    ledger = population_ledger([100, 300])
    terms = contract(**SHARED_SAVINGS, benchmark_pmpm=25, minimum_savings_rate=0.5)
    replicates = 4_000
    row = risk_of(terms, ledger, replicates=replicates)
    assert (row["insurer_cost_p5"], row["insurer_cost_p50"], row["insurer_cost_p95"]) == (
        400, 400, 600)
    assert (row["provider_result_p5"], row["provider_result_p50"],
            row["provider_result_p95"]) == (0, 0, 200)
    assert row["savings_rate_p50"] == pytest.approx(1 / 3)
    tolerance = 4 * np.sqrt(0.25 * 0.75 / replicates)
    assert row["shared_savings_probability"] == pytest.approx(0.25, abs=tolerance)
    assert row["provider_risk_share"] == pytest.approx(0.375, rel=0.1)
    assert (row["resampled"], row["units"], row["status"]) == ("members", 2, "ok")


CONTRACTS_ON_FOUR_MEMBERS = {
    "fee_for_service": dict(model="fee_for_service", provider="GP", performance_years=[2024],
                            revenue_ceiling=500, clawback_rate=0.5),
    "shared_savings": dict(SHARED_SAVINGS, benchmark_pmpm=20, minimum_savings_rate=0.01,
                           loss_sharing_rate=0.4),
    "capitation": dict(model="capitation", provider="GP", attribution="none",
                       performance_years=[2024], rate_pmpm=15,
                       stop_loss={"attachment": 250, "insurer_share": 0.9},
                       risk_corridors=[{"from": 0.02, "provider_share": 0.5}]),
    "historical shared savings": dict(
        SHARED_SAVINGS, baseline_years=[2023], trend=0.02, risk_adjustment="risk_score",
        risk_cap=0.05, minimum_savings_rate={"confidence": 0.9}, loss_sharing_rate=0.3),
    "historical capitation": dict(model="capitation", provider="GP", attribution="none",
                                  performance_years=[2024], rate_pmpm="historical",
                                  baseline_years=[2023], trend=0.03, discount=0.02),
    "historical condition bundle": dict(model="bundled", provider="GP", attribution="none",
                                        bundle={"kind": "condition", "condition": "diabetes"},
                                        performance_years=[2024], price="historical",
                                        baseline_years=[2023], discount=0.05,
                                        reconciliation="prospective"),
    "condition bundle": dict(model="bundled", provider="GP", attribution="none",
                             bundle={"kind": "condition", "condition": "diabetes"},
                             performance_years=[2024], price=150,
                             reconciliation="retrospective", stop_gain_rate=0.1,
                             stop_loss_rate=0.1),
    "episode bundle": dict(model="bundled", provider="GP",
                           bundle={"kind": "episode", "trigger_codes": ["G1"],
                                   "window_days": 30},
                           performance_years=[2024], price=160,
                           reconciliation="prospective"),
    "winsorised episodes": dict(model="bundled", provider="GP",
                                bundle={"kind": "episode", "trigger_codes": ["G1"],
                                        "window_days": 30},
                                performance_years=[2024], price=110,
                                winsorize=[0.1, 0.8], reconciliation="retrospective",
                                stop_gain_rate=0.5, stop_loss_rate=0.5),
}


@pytest.mark.parametrize("kind", list(CONTRACTS_ON_FOUR_MEMBERS))
def test_a_resample_that_can_only_draw_the_data_settles_as_the_contract(kind):
    """Each member in a segment of their own is drawn exactly once in every replicate: every
    percentile is the contract's own settlement, whatever the model."""
    spend = [80, 120, 310, 45]
    members = members_frame([(f"M{i}", f"segment {i}", "GP", 0.8 + i / 10)
                             for i in range(4)])
    members["conditions"] = "diabetes"
    claims = claims_frame([(f"M{i}", "GP", f"{year}-03-01", "gp", "G1", 1, float(a) + shift)
                           for year, shift in ((2023, 7), (2024, 0))
                           for i, a in enumerate(spend)])
    ledger = build_ledger(claims, members=members)
    terms = contract(**CONTRACTS_ON_FOUR_MEMBERS[kind])
    settled = settle_contracts([terms], ledger)[0].rows[0]
    assert settled.status.startswith("ok"), settled.status
    row = risk_of(terms, ledger, replicates=50)
    assert row["status"] == "ok; provider_risk_share blank: the FFS equivalent does not vary"
    for percentile in ("p5", "p50", "p95"):
        assert row[f"insurer_cost_{percentile}"] == settled.insurer_cost / 100
        assert row[f"provider_result_{percentile}"] == settled.provider_result / 100


# -- blanks with reasons -----------------------------------------------------------------

def test_a_historical_benchmark_moves_with_the_members_drawn():
    """Members A and B spend 100 and 300 in 2023 and again in 2024; the benchmark is their
    own 2023 PMPM (trend 0). A replicate draws both years of a member together: {A, A}
    has benchmark 200 and expenditure 200, {A, B} 400 and 400, {B, B} 600 and 600. Savings
    are 0 in every replicate, so nothing is ever shared; insurer cost is the expenditure:
    P5 200, P50 400, P95 600. (Redrawing 2024 alone against the settled benchmark of 400
    would share savings in a quarter of the replicates.)"""
    ledger = build_ledger(
        claims_frame([(m, "GP", f"{y}-03-01", "gp", "G1", 1, a) for m, a in
                      (("A", 100), ("B", 300)) for y in (2023, 2024)]),
        members=members_frame([("A", "s", "GP", 1.0), ("B", "s", "GP", 1.0)]))
    terms = contract(**{**SHARED_SAVINGS, "baseline_years": [2023]},
                     minimum_savings_rate=0.02)
    row = risk_of(terms, ledger, replicates=400)
    assert (row["insurer_cost_p5"], row["insurer_cost_p50"], row["insurer_cost_p95"]) == (
        200, 400, 600)
    assert row["shared_savings_probability"] == 0
    assert row["savings_rate_p5"] == row["savings_rate_p95"] == 0
    assert (row["resampled"], row["units"]) == ("members, with their baseline years", 2)
    assert risk_of(terms, ledger, replicates=400, null=True)["shared_savings_probability"] > 0


def test_a_historical_episode_price_is_blank_with_the_reason():
    ledger = build_ledger(
        claims_frame([(m, "GP", f"{y}-03-01", "gp", "G1", 1, a) for m, a in
                      (("A", 100), ("B", 300)) for y in (2023, 2024)]),
        members=members_frame([("A", "s", "GP", 1.0), ("B", "s", "GP", 1.0)]))
    terms = contract(model="bundled", provider="GP", performance_years=[2024],
                     bundle={"kind": "episode", "trigger_codes": ["G1"], "window_days": 30},
                     baseline_years=[2023], price="historical")
    row = risk_of(terms, ledger, replicates=20)
    assert pd.isna(row["insurer_cost_p50"])
    assert row["status"].startswith("not bootstrapped: the price is the baseline years' "
                                    "mean episode cost")


def test_a_year_not_settled_keeps_its_reason():
    terms = contract(**{**SHARED_SAVINGS, "performance_years": [2024, 2030]},
                     benchmark_pmpm=20, minimum_savings_rate=0.02)
    report = bootstrap([terms], population_ledger([10, 20]),
                       settle_contracts([terms], population_ledger([10, 20])),
                       RiskOptions(10, 1))
    assert report.years["status"].iloc[1].startswith("not settled: 2030 is outside")


def test_the_risk_status_leaves_out_the_summarys_spillover_note():
    terms = contract(**{**SHARED_SAVINGS, "performance_years": [2030]}, benchmark_pmpm=20,
                     minimum_savings_rate=0.02)
    ledger = population_ledger([10, 20])
    (result,) = settle_contracts([terms], ledger)
    reason = result.rows[0].status
    noted = replace(result, rows=[replace(result.rows[0], status=f"{reason}; spillover "
                                          "blank: no spillover domains were given")])
    report = bootstrap([terms], ledger, [noted], RiskOptions(10, 1))
    assert report.years["status"].tolist() == [reason]


# -- the laws of issue 9 ----------------------------------------------------------------

def test_null_chance_of_paying_shared_savings_agrees_with_the_normal_approximation():
    """--null: expenditure scaled to the benchmark, held fixed. Savings are then shared
    when the replicate's mean spend falls MSR below the population's, which happens with
    chance 1 − Φ(MSR·√N / CV) (CV of members' annual spend), within 3·√(p(1−p)/R)."""
    rng = np.random.default_rng(2026)
    spend = np.round(rng.gamma(0.8, 2_500, size=2_000), 2)  # CV about 1.1
    ledger = population_ledger(spend.tolist())
    msr, replicates = 0.03, 3_000
    terms = contract(**SHARED_SAVINGS, benchmark_pmpm=123, minimum_savings_rate=msr)
    row = risk_of(terms, ledger, replicates=replicates, seed=11, null=True)
    cv = spend.std() / spend.mean()
    expected = 1 - NormalDist().cdf(msr * np.sqrt(len(spend)) / cv)
    assert 0.05 < expected < 0.5  # a probability the check can tell apart
    tolerance = 3 * np.sqrt(expected * (1 - expected) / replicates)
    assert abs(row["shared_savings_probability"] - expected) <= tolerance
    assert row["savings_rate_p50"] == pytest.approx(0, abs=0.01)


def test_duplicating_every_member_narrows_the_savings_rate_by_one_over_root_two():
    """Twice the members with the same spread of spend: the bootstrap variance of the mean
    halves, so the P5–P95 width of the savings rate shrinks by 1/√2 (Monte Carlo error of
    the ratio at 4 000 replicates is about 2%)."""
    rng = np.random.default_rng(9)
    spend = np.round(rng.gamma(0.8, 2_500, size=1_500), 2).tolist()
    terms = contract(**SHARED_SAVINGS, benchmark_pmpm=180, minimum_savings_rate=0.02)
    widths = []
    for amounts in (spend, spend + spend):
        row = risk_of(terms, population_ledger(amounts), replicates=4_000, seed=5)
        widths.append(row["savings_rate_p95"] - row["savings_rate_p5"])
    assert widths[1] / widths[0] == pytest.approx(1 / np.sqrt(2), abs=0.05)


def test_segments_are_resampled_apart():
    """Segment a's two members spend 0, segment b's 100 each. Every replicate draws two of
    each segment, so expenditure is always 200 (drawn across segments it would run from 0
    to 400): benchmark 10.00 x 48 member months = 480, savings 280, shared 140, insurer
    cost 340 in every replicate."""
    ledger = population_ledger([0, 0, 100, 100], segments=["a", "a", "b", "b"])
    terms = contract(**SHARED_SAVINGS, benchmark_pmpm=10, minimum_savings_rate=0)
    row = risk_of(terms, ledger, replicates=200)
    assert row["insurer_cost_p5"] == row["insurer_cost_p95"] == 340


def test_the_same_seed_gives_the_same_results_and_another_seed_others():
    ledger = population_ledger(np.arange(1, 300).tolist())
    terms = contract(**SHARED_SAVINGS, benchmark_pmpm=12, minimum_savings_rate=0.01)
    first, again = (bootstrap([terms], ledger, settle_contracts([terms], ledger),
                              RiskOptions(300, 42)) for _ in range(2))
    pd.testing.assert_frame_equal(first.years, again.years)
    pd.testing.assert_frame_equal(first.histogram, again.histogram)
    other = risk_of(terms, ledger, replicates=300, seed=43)
    assert other["insurer_cost_p95"] != first.years.iloc[0]["insurer_cost_p95"]


def test_a_contracts_draws_do_not_depend_on_its_place_in_the_file():
    ledger = population_ledger(np.arange(1, 200).tolist())
    savings = contract(**SHARED_SAVINGS, benchmark_pmpm=12, minimum_savings_rate=0.01)
    fees = contract(name="fees", model="fee_for_service", provider="GP",
                    performance_years=[2024], revenue_ceiling=15_000)
    in_order, reversed_order = (
        bootstrap(terms, ledger, settle_contracts(terms, ledger), RiskOptions(200, 8)).years
        for terms in ([savings, fees], [fees, savings]))
    pd.testing.assert_frame_equal(in_order, reversed_order.iloc[::-1].reset_index(drop=True))
