"""The shared-savings settlement of benchmark against expenditure (SPEC §4.2).

One pure, vectorised function, :func:`share`, settles any number of cases at once; the
claims path settles one case per performance year with it and ``fundcalc settle`` one case
per row. The minimum savings rate comes from :func:`cms_minimum_savings_rate` or
:func:`confidence_minimum_savings_rate` when it is not a plain fraction.
"""
from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

#: The minimum savings rate by number of assigned members, 42 CFR 425.604(b): for N in
#: ``lo``–``hi`` it runs linearly from ``m1`` to ``m2`` (fractions); 2.0% from 60 000.
CMS_MSR_BANDS: tuple[tuple[int, int, float, float], ...] = (
    (5_000, 5_999, 0.039, 0.036),
    (6_000, 6_999, 0.036, 0.034),
    (7_000, 7_999, 0.034, 0.032),
    (8_000, 8_999, 0.032, 0.031),
    (9_000, 9_999, 0.031, 0.030),
    (10_000, 14_999, 0.030, 0.027),
    (15_000, 19_999, 0.027, 0.025),
    (20_000, 49_999, 0.025, 0.022),
    (50_000, 59_999, 0.022, 0.020),
)

#: The CMS minimum savings rate from 60 000 members.
CMS_MSR_FLOOR = 0.020

#: What each settlement outcome means, as shown in the workbook.
OUTCOMES = {
    "savings_shared": "savings rate reached the MSR: savings shared",
    "losses_shared": "loss rate reached the MLR: losses shared",
    "inside_corridor": "inside the MSR/MLR corridor: nothing shared",
    "losses_not_shared": "losses beyond the MLR, one-sided contract: nothing shared",
    "no_benchmark": "benchmark not above 0: no savings rate, nothing shared",
}


def cms_minimum_savings_rate(members, bands=CMS_MSR_BANDS, floor: float = CMS_MSR_FLOOR):
    """The CMS minimum savings rate by population size, NaN below the first band.

    Within a band lo–hi the rate is ``m1 − (N − lo)/(hi − lo) · (m1 − m2)``.

    Parameters
    ----------
    members : int or array of int
        N, the number of members in the population.
    bands : sequence of (lo, hi, m1, m2)
        The table; default :data:`CMS_MSR_BANDS`.
    floor : float
        The rate above the last band.

    Returns
    -------
    float or numpy.ndarray
        Fractions; NaN where N is below the first band (the table does not apply).

    Examples
    --------
    SPEC §4.2's checks:

    >>> round(float(cms_minimum_savings_rate(6_150)), 9), float(cms_minimum_savings_rate(5_999))
    (0.0356997, 0.036)
    """
    n = np.asarray(members, dtype=np.float64)
    rate = np.where(n >= bands[-1][1] + 1, floor, np.nan)
    for lo, hi, m1, m2 in bands:
        inside = (n >= lo) & (n <= hi)
        rate = np.where(inside, m1 - (n - lo) / (hi - lo) * (m1 - m2), rate)
    return rate[()] if rate.ndim == 0 else rate


def confidence_minimum_savings_rate(confidence: float, coefficient_of_variation, members):
    """A minimum savings rate that chance alone passes with probability ``1 − confidence``.

    ``z_p · CV / √N``, with ``z_p`` the one-sided normal quantile.

    Examples
    --------
    >>> round(float(confidence_minimum_savings_rate(0.90, 2.0, 10_000)), 6)
    0.025631
    """
    z = np.vectorize(NormalDist().inv_cdf, otypes=[np.float64])(confidence)
    return z * np.asarray(coefficient_of_variation, dtype=np.float64) / np.sqrt(
        np.asarray(members, dtype=np.float64))


@dataclass(frozen=True)
class Sharing:
    """The settlement of one or more cases, array by array (money in the inputs' unit).

    Attributes
    ----------
    savings : numpy.ndarray
        Benchmark − expenditure.
    savings_rate : numpy.ndarray
        Savings / benchmark (NaN for a benchmark of 0 or less).
    outcome : numpy.ndarray of str
        A key of :data:`OUTCOMES`.
    shared_before_cap, owed_before_cap : numpy.ndarray
        What the sharing rates give before the caps (0 when the gate is not passed).
    shared_savings, shared_losses : numpy.ndarray
        After the caps, both ≥ 0.
    cap_bound : numpy.ndarray of str
        ``savings_cap``, ``loss_cap`` or ``""``.
    """

    savings: np.ndarray
    savings_rate: np.ndarray
    outcome: np.ndarray
    shared_before_cap: np.ndarray
    owed_before_cap: np.ndarray
    shared_savings: np.ndarray
    shared_losses: np.ndarray
    cap_bound: np.ndarray

    @property
    def net_settlement(self) -> np.ndarray:
        """Shared savings − shared losses: what the insurer pays (+) or receives (−)."""
        return self.shared_savings - self.shared_losses


def share(benchmark, expenditure, *, minimum_savings_rate, minimum_loss_rate,
          sharing_rate, quality_score=1.0, payment_multiplier=1.0, above_threshold=False,
          savings_cap=np.nan, loss_sharing_rate=np.nan, loss_cap=np.nan) -> Sharing:
    """Settle cases of benchmark against expenditure (SPEC §4.2).

    Every argument is a number or an array of one value per case; NaN in ``savings_cap``,
    ``loss_cap`` means no cap, in ``loss_sharing_rate`` a one-sided case.

    If ``s ≥ MSR``: shared = base · sharing_rate · quality_score · payment_multiplier, base =
    S (first dollar) or S − MSR·B (above threshold), then at most ``savings_cap · B``.
    Two-sided, if ``s ≤ −MLR``: owed = base · loss_sharing_rate, base = −S or −S − MLR·B,
    then at most ``loss_cap · B``. Otherwise nothing is shared.

    Parameters
    ----------
    benchmark, expenditure : float or numpy.ndarray
        B and E, in any one money unit.
    minimum_savings_rate, minimum_loss_rate : float or numpy.ndarray
        Fractions.
    sharing_rate, quality_score, payment_multiplier : float or numpy.ndarray
    above_threshold : bool or numpy.ndarray
        Share only what lies beyond the MSR/MLR.
    savings_cap, loss_sharing_rate, loss_cap : float or numpy.ndarray

    Returns
    -------
    Sharing

    Examples
    --------
    SPEC §4.2 (a published example): benchmark 500.00 PMPM, actual 495.50, 125 000 member
    months, sharing 50%:

    >>> b, e = 500.00 * 125_000, 495.50 * 125_000
    >>> float(share(b, e, minimum_savings_rate=0.01, minimum_loss_rate=0.01,
    ...             sharing_rate=0.5).shared_savings[0])
    0.0
    >>> float(share(b, e, minimum_savings_rate=0, minimum_loss_rate=0,
    ...             sharing_rate=0.5).shared_savings[0])
    281250.0
    """
    b, e, msr, mlr, rate, quality, multiplier, above, s_cap, loss_rate, l_cap = (
        np.atleast_1d(np.asarray(x, dtype=np.float64)) for x in (
            benchmark, expenditure, minimum_savings_rate, minimum_loss_rate, sharing_rate,
            quality_score, payment_multiplier, above_threshold, savings_cap,
            loss_sharing_rate, loss_cap))
    b, e, msr, mlr, rate, quality, multiplier, above, s_cap, loss_rate, l_cap = (
        np.broadcast_arrays(b, e, msr, mlr, rate, quality, multiplier, above, s_cap,
                            loss_rate, l_cap))
    above = above.astype(bool)
    savings = b - e
    with np.errstate(divide="ignore", invalid="ignore"):
        savings_rate = np.where(b > 0, savings / b, np.nan)
    gained = savings_rate >= msr
    lost = ~np.isnan(loss_rate) & (savings_rate <= -mlr)

    shared_before_cap = np.where(
        gained, np.where(above, savings - msr * b, savings) * rate * quality * multiplier, 0.0)
    savings_cap_binds = gained & (shared_before_cap > s_cap * b)  # False where s_cap is NaN
    shared = np.where(savings_cap_binds, s_cap * b, shared_before_cap)

    owed_before_cap = np.where(
        lost, np.where(above, -savings - mlr * b, -savings) * np.nan_to_num(loss_rate), 0.0)
    loss_cap_binds = lost & (owed_before_cap > l_cap * b)
    owed = np.where(loss_cap_binds, l_cap * b, owed_before_cap)

    outcome = np.select(
        [np.isnan(savings_rate), gained, lost, savings_rate <= -mlr],
        ["no_benchmark", "savings_shared", "losses_shared", "losses_not_shared"],
        "inside_corridor")
    cap_bound = np.select([savings_cap_binds, loss_cap_binds], ["savings_cap", "loss_cap"], "")
    # + 0.0 turns the -0.0 of a zero share into 0.0.
    return Sharing(savings, savings_rate, outcome, shared_before_cap, owed_before_cap,
                   shared + 0.0, owed + 0.0, cap_bound)
