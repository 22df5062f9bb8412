"""The shared-savings arithmetic (SPEC §4.2): the MSR table, the gate, sharing and caps.

Each expected figure is worked by hand in the test.
"""
from __future__ import annotations

import numpy as np
import pytest

from contracts.shared_savings import QualityLossRate
from funding_models.sharing import (
    cms_minimum_savings_rate,
    confidence_minimum_savings_rate,
    share,
)


def one(benchmark, expenditure, **terms):
    terms.setdefault("minimum_savings_rate", 0.0)
    terms.setdefault("minimum_loss_rate", terms["minimum_savings_rate"])
    terms.setdefault("sharing_rate", 0.5)
    result = share(benchmark, expenditure, **terms)
    return {name: value[0] for name, value in vars(result).items()}


# -- SPEC §4.2's published example ---------------------------------------------------------

def test_spec_example_nothing_with_msr_one_percent():
    """Benchmark 500.00 PMPM, actual 495.50, 125 000 member months, sharing 50%: savings
    4.50 x 125 000 = 562 500, a savings rate of 0.9%, below an MSR of 1%."""
    result = one(500.00 * 125_000, 495.50 * 125_000, minimum_savings_rate=0.01)
    assert result["savings"] == pytest.approx(562_500)
    assert result["savings_rate"] == pytest.approx(0.009)
    assert result["shared_savings"] == 0 and result["outcome"] == "inside_corridor"


def test_spec_example_281_250_without_msr():
    """The same with MSR 0: 562 500 x 50% = 281 250."""
    result = one(500.00 * 125_000, 495.50 * 125_000, minimum_savings_rate=0.0)
    assert result["shared_savings"] == pytest.approx(281_250)
    assert result["outcome"] == "savings_shared"


# -- the CMS minimum savings rate table -------------------------------------------------

@pytest.mark.parametrize("members, expected", [
    # SPEC's checks: 3.6 − 150/999 x 0.2 = 3.56997%, and 3.9 − 999/999 x 0.3 = 3.6%.
    (6_150, 0.0356997), (5_999, 0.036),
    (5_000, 0.039), (6_000, 0.036), (10_000, 0.030), (14_999, 0.027),
    # 20 000–49 999: 2.5 → 2.2%; N = 35 000 is 15 000/29 999 of the way: 2.5 − 0.15 = 2.35%.
    (35_000, 0.025 - 15_000 / 29_999 * 0.003),
    (59_999, 0.020), (60_000, 0.020), (1_000_000, 0.020),
])
def test_cms_msr_table(members, expected):
    assert float(cms_minimum_savings_rate(members)) == pytest.approx(expected, abs=5e-8)


def test_cms_msr_is_blank_below_5000_members():
    assert np.isnan(cms_minimum_savings_rate(4_999))
    assert np.isnan(cms_minimum_savings_rate([0, 4_999])).all()


def test_cms_msr_never_rises_with_members():
    rates = cms_minimum_savings_rate(np.arange(5_000, 70_000))
    assert (np.diff(rates) <= 1e-15).all()


def test_confidence_msr():
    """z(0.90) = 1.2815516; CV 2.0, N 10 000: 1.2815516 x 2.0 / 100 = 2.563103%."""
    assert float(confidence_minimum_savings_rate(0.90, 2.0, 10_000)) == pytest.approx(
        0.02563103, abs=1e-8)
    # z(0.95) = 1.6448536; CV 1.5, N 2 500: 1.6448536 x 1.5 / 50 = 4.934561%.
    assert float(confidence_minimum_savings_rate(0.95, 1.5, 2_500)) == pytest.approx(
        0.04934561, abs=1e-8)


# -- sharing ------------------------------------------------------------------------------

def test_gate_is_inclusive_at_the_msr():
    """A savings rate exactly at the MSR shares (s ≥ MSR): 1 000 000 − 980 000 = 2%."""
    assert one(1_000_000, 980_000, minimum_savings_rate=0.02)["shared_savings"] == 10_000


def test_above_threshold_shares_only_beyond_the_msr():
    """Benchmark 1 000 000, expenditure 950 000: savings 50 000 (5%); MSR 2% = 20 000;
    above threshold (50 000 − 20 000) x 50% = 15 000; first dollar 25 000."""
    above = one(1_000_000, 950_000, minimum_savings_rate=0.02, above_threshold=True)
    first = one(1_000_000, 950_000, minimum_savings_rate=0.02)
    assert above["shared_savings"] == pytest.approx(15_000)
    assert first["shared_savings"] == pytest.approx(25_000)


def test_quality_and_payment_multiplier_scale_the_share():
    """50 000 x 75% x quality 0.9 x 0.98 = 33 075."""
    result = one(1_000_000, 950_000, sharing_rate=0.75, quality_score=0.9,
                 payment_multiplier=0.98)
    assert result["shared_savings"] == pytest.approx(33_075)


def test_savings_cap_binds_after_the_multiplier():
    """Savings 300 000 x 50% x 0.98 = 147 000 > cap 10% x 1 000 000 = 100 000."""
    result = one(1_000_000, 700_000, payment_multiplier=0.98, savings_cap=0.10)
    assert result["shared_before_cap"] == pytest.approx(147_000)
    assert result["shared_savings"] == pytest.approx(100_000)
    assert result["cap_bound"] == "savings_cap"


def test_one_sided_shares_no_losses():
    result = one(1_000_000, 1_100_000, minimum_savings_rate=0.02)
    assert result["shared_losses"] == 0 and result["outcome"] == "losses_not_shared"


def test_two_sided_losses_first_dollar_and_above_threshold():
    """Expenditure 1 060 000 on 1 000 000: loss 60 000 (6%), MLR 2%, loss rate 30%:
    first dollar 18 000; above threshold (60 000 − 20 000) x 30% = 12 000."""
    first = one(1_000_000, 1_060_000, minimum_savings_rate=0.02, loss_sharing_rate=0.3)
    above = one(1_000_000, 1_060_000, minimum_savings_rate=0.02, loss_sharing_rate=0.3,
                above_threshold=True)
    assert first["shared_losses"] == pytest.approx(18_000)
    assert above["shared_losses"] == pytest.approx(12_000)
    assert first["outcome"] == "losses_shared" and first["shared_savings"] == 0


def test_loss_cap():
    """Loss 200 000 x 40% = 80 000 > cap 5% x 1 000 000 = 50 000."""
    result = one(1_000_000, 1_200_000, loss_sharing_rate=0.4, loss_cap=0.05)
    assert result["shared_losses"] == pytest.approx(50_000)
    assert result["cap_bound"] == "loss_cap"


def test_losses_inside_the_mlr_are_not_shared():
    result = one(1_000_000, 1_015_000, minimum_savings_rate=0.02, loss_sharing_rate=0.3)
    assert result["shared_losses"] == 0 and result["outcome"] == "inside_corridor"


def test_minimum_loss_rate_may_differ_from_the_msr():
    """Loss 1.5% passes an MLR of 1% but not the MSR of 2%: 15 000 x 30% = 4 500."""
    result = one(1_000_000, 1_015_000, minimum_savings_rate=0.02, minimum_loss_rate=0.01,
                 loss_sharing_rate=0.3)
    assert result["shared_losses"] == pytest.approx(4_500)


@pytest.mark.parametrize("quality, expected", [
    # CMS ENHANCED: clip(1 − 0.75 x quality, 40%, 75%).
    (1.0, 0.40), (0.9, 0.40), (0.6, 0.55), (0.2, 0.75), (0.0, 0.75)])
def test_quality_dependent_loss_sharing_rate(quality, expected):
    rate = QualityLossRate(quality_slope=0.75, min=0.40, max=0.75)
    assert float(rate.at(quality)) == pytest.approx(expected)


def test_a_benchmark_of_zero_shares_nothing():
    result = one(0, 100)
    assert np.isnan(result["savings_rate"]) and result["outcome"] == "no_benchmark"
    assert result["shared_savings"] == 0 == result["shared_losses"]


def test_cases_settle_together_as_they_would_apart():
    benchmark = np.array([1_000_000, 1_000_000, 1_000_000])
    expenditure = np.array([950_000, 1_060_000, 1_010_000])
    together = share(benchmark, expenditure, minimum_savings_rate=0.02,
                     minimum_loss_rate=0.02, sharing_rate=0.5, loss_sharing_rate=0.3)
    for i in range(3):
        alone = one(benchmark[i], expenditure[i], minimum_savings_rate=0.02,
                    loss_sharing_rate=0.3)
        assert together.shared_savings[i] == alone["shared_savings"]
        assert together.shared_losses[i] == alone["shared_losses"]
