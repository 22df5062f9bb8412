"""Laws shared savings must keep, for any figures (hypothesis).

Nothing is shared inside the MSR/MLR corridor; shares never pass their caps; shared
savings never fall and shared losses never rise as expenditure falls; the order and
grouping of cases or claim lines change nothing; the settlement lines reconcile.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from funding_models.cases import settle_cases
from funding_models.compare import settle_contracts
from funding_models.ledger import build_ledger
from funding_models.sharing import share
from tests.conftest import claims_frame, contract, members_frame

rates = st.floats(0, 1)
small_rates = st.floats(0, 0.1)
benchmarks = st.floats(1_000, 1e9)
terms = st.fixed_dictionaries({
    "minimum_savings_rate": small_rates,
    "minimum_loss_rate": small_rates,
    "sharing_rate": rates,
    "quality_score": rates,
    "payment_multiplier": st.floats(0.5, 1),
    "above_threshold": st.booleans(),
    "savings_cap": st.one_of(st.just(np.nan), small_rates),
    "loss_sharing_rate": st.one_of(st.just(np.nan), rates),
    "loss_cap": st.one_of(st.just(np.nan), small_rates),
})


@given(benchmarks, st.floats(-0.999, 0.999), terms)
def test_nothing_is_shared_inside_the_corridor(benchmark, position, terms):
    msr, mlr = terms["minimum_savings_rate"], terms["minimum_loss_rate"]
    # A savings rate strictly between −MLR and MSR, as the figures give it.
    expenditure = benchmark * (1 - position * (msr if position > 0 else mlr))
    assume(-mlr < (benchmark - expenditure) / benchmark < msr)
    result = share(benchmark, expenditure, **terms)
    assert result.shared_savings[0] == 0 and result.shared_losses[0] == 0


@given(benchmarks, st.floats(0, 3), terms)
def test_shares_never_pass_their_caps(benchmark, spend_ratio, terms):
    result = share(benchmark, benchmark * spend_ratio, **terms)
    for amount, cap in ((result.shared_savings[0], terms["savings_cap"]),
                        (result.shared_losses[0], terms["loss_cap"])):
        assert amount >= 0
        if not np.isnan(cap):
            assert amount <= cap * benchmark * (1 + 1e-12)


@given(benchmarks, st.floats(0, 3), st.floats(0, 3), terms)
def test_less_expenditure_never_pays_less(benchmark, ratio_a, ratio_b, terms):
    lower, higher = sorted((ratio_a, ratio_b))
    cheap = share(benchmark, benchmark * lower, **terms)
    dear = share(benchmark, benchmark * higher, **terms)
    tolerance = 1e-9 * benchmark
    assert cheap.shared_savings[0] >= dear.shared_savings[0] - tolerance
    assert cheap.shared_losses[0] <= dear.shared_losses[0] + tolerance
    assert cheap.net_settlement[0] >= dear.net_settlement[0] - tolerance


case_rows = st.lists(st.tuples(st.integers(1, 10**11), st.integers(0, 2 * 10**11),
                               st.sampled_from([None, 0.0, 0.02, "cms"]),
                               st.integers(1_000, 80_000)), min_size=1, max_size=30)


@settings(max_examples=50)
@given(case_rows, st.randoms(use_true_random=False))
def test_order_and_split_of_cases_change_nothing(rows, random):
    cases = pd.DataFrame(rows, columns=["benchmark", "expenditure", "minimum_savings_rate",
                                        "members"]).astype({"benchmark": float,
                                                            "expenditure": float})
    cases["minimum_savings_rate"] = cases["minimum_savings_rate"].astype(object)
    contract_terms = {"sharing_rate": 0.5, "loss_sharing_rate": 0.3, "savings_cap": 0.1}
    whole = settle_cases(cases, contract_terms)
    order = list(cases.index)
    random.shuffle(order)
    shuffled = settle_cases(cases.loc[order], contract_terms).loc[cases.index]
    cut = len(order) // 2
    split = pd.concat([settle_cases(cases.loc[order[:cut]], contract_terms),
                       settle_cases(cases.loc[order[cut:]], contract_terms)]).loc[cases.index]
    pd.testing.assert_frame_equal(whole, shuffled)
    pd.testing.assert_frame_equal(whole, split)


claim_lines = st.lists(st.tuples(
    st.sampled_from(["M1", "M2", "M3", "M4"]),
    st.sampled_from(["GP_A", "GP_B", "HOSP"]),
    st.sampled_from(["2023-02-01", "2023-09-15", "2024-03-01", "2024-11-30"]),
    st.sampled_from(["gp", "hospital"]),
    st.just("X"), st.just(1),
    st.integers(-50_000, 500_000).map(lambda cents: cents / 100),
), min_size=1, max_size=40)

MEMBERS = [("M1", "adults", "GP_A", 1.1), ("M2", "adults", "GP_A", 0.9),
           ("M3", "elderly", "GP_B", 1.4), ("M4", "adults", "GP_A", 1.0)]


@settings(max_examples=40, deadline=None)
@given(claim_lines, st.randoms(use_true_random=False))
def test_claim_order_changes_nothing_and_settlement_lines_reconcile(lines, random):
    terms = contract(model="shared_savings", name="laws", provider="GP_A",
                     baseline_years=[2023], trend=0.03, performance_years=[2024],
                     minimum_savings_rate=0.01, sharing_rate=0.6, loss_sharing_rate=0.4,
                     savings_cap=0.1, loss_cap=0.05, risk_adjustment="risk_score")
    shuffled = list(lines)
    random.shuffle(shuffled)
    results = [settle_contracts([terms], build_ledger(claims_frame(rows),
                                                      members=members_frame(MEMBERS)))[0]
               for rows in (lines, shuffled)]
    assert results[0].rows == results[1].rows
    for row in results[0].rows:
        if row.shared_savings is None:
            continue
        assert row.insurer_cost == row.ffs_equivalent + row.shared_savings - row.shared_losses
        assert row.provider_result == row.shared_savings - row.shared_losses
