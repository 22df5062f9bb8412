"""The trended baseline shared by every model that says "historical" (SPEC §2).

For performance year t and baseline years b with weights w_b (default equal, normalised to
sum 1): ``baseline(t) = Σ_b w_b · x_b · (1 + trend)^(t − b)``, x_b the per-unit figure of
year b (PMPM, cost per patient-year, mean episode cost).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def normalised_weights(years: Sequence[int], weights: Sequence[float] | None) -> np.ndarray:
    """The baseline weights, equal when not given, scaled to sum 1.

    Examples
    --------
    >>> normalised_weights([2021, 2022, 2023], [1, 1, 2]).tolist()
    [0.25, 0.25, 0.5]
    """
    raw = np.ones(len(years)) if weights is None else np.asarray(weights, dtype=np.float64)
    return raw / raw.sum()


def trend_factors(years: Sequence[int], year: int, trend: float) -> np.ndarray:
    """``(1 + trend)^(t − b)`` for each baseline year b."""
    return (1.0 + trend) ** (year - np.asarray(years, dtype=np.float64))


def trended_baseline(values, years: Sequence[int], weights: Sequence[float] | None,
                     trend: float, year: int):
    """The weighted, trended baseline figure for performance year ``year``.

    Parameters
    ----------
    values : sequence of float, or array of shape (..., baseline years)
        x_b, one per baseline year (in the last axis: one baseline per row, such as a
        bootstrap replicate's).
    years : sequence of int
        The baseline years.
    weights : sequence of float, optional
        w_b, default equal; normalised to sum 1.
    trend : float
        Yearly trend, e.g. 0.03.
    year : int
        The performance year t.

    Examples
    --------
    PMPM 100 in 2022 and 110 in 2023, weights 1:3, trend 5%, for 2024:
    0.25 · 100 · 1.05² + 0.75 · 110 · 1.05 = 27.5625 + 86.625 = 114.1875.

    >>> round(trended_baseline([100, 110], [2022, 2023], [1, 3], 0.05, 2024), 4)
    114.1875
    """
    weighted = (normalised_weights(years, weights) * np.asarray(values, dtype=np.float64)
                * trend_factors(years, year, trend))
    total = weighted.sum(axis=-1)
    return float(total) if total.ndim == 0 else total
