"""Shared-savings terms (SPEC §4.2): the benchmark, the gate and how results are shared.

:class:`SharingTerms` are the terms that settle one benchmark against one expenditure;
``fundcalc settle`` reads them alone. :class:`SharedSavingsTerms` adds what a contract on
claims needs: the provider, the population and how the benchmark is set.
"""
from __future__ import annotations

from typing import Literal, Union

import numpy as np
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from contracts.terms import MAX_AMOUNT, PopulationTerms, Rate, Terms, YearAmounts, years_text


class ConfidenceLevel(Terms):
    """An MSR set from the spread of spend: ``z_p · CV / √N`` (SPEC §4.2)."""

    confidence: float = Field(
        gt=0.5, lt=1,
        description="The one-sided confidence level p, e.g. 0.90: savings that chance "
        "alone would give with probability 1 − p are not shared.",
    )


class QualityLossRate(Terms):
    """A loss sharing rate that falls with quality: ``clip(1 − a · quality, min, max)``."""

    quality_slope: float = Field(ge=0, description="a in clip(1 − a · quality, min, max).")
    min: Rate = Field(description="The lowest loss sharing rate.")
    max: Rate = Field(description="The highest loss sharing rate.")

    @model_validator(mode="after")
    def _min_below_max(self) -> QualityLossRate:
        if self.min > self.max:
            raise ValueError(f"min {self.min:g} is above max {self.max:g}")
        return self

    def at(self, quality_score):
        """The loss sharing rate at a quality score (a number or an array).

        Examples
        --------
        CMS ENHANCED: 1 − 0.75 · quality, between 40% and 75%.

        >>> float(QualityLossRate(quality_slope=0.75, min=0.4, max=0.75).at(0.2))
        0.75
        """
        return np.clip(1 - self.quality_slope * np.asarray(quality_score, dtype=float),
                       self.min, self.max)


#: The minimum savings rate: a fraction, ``cms`` (the 42 CFR 425.604(b) table by
#: population size) or a confidence level.
MinimumSavingsRate = Union[Literal["cms"], ConfidenceLevel, Rate]


def _one_of(value, words: tuple[str, ...], mapping: type[BaseModel] | None, shapes: str):
    """Read a term that is a fraction, one of ``words``, or a ``mapping``, so that a wrong
    value gets one sentence about the shape it has instead of one per alternative."""
    if isinstance(value, str):
        if value.strip().lower() in words:
            return value.strip().lower()
        raise ValueError(f"must be {shapes} (got {value!r})")
    if isinstance(value, dict) and mapping is not None:
        try:
            return mapping.model_validate(value)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            message = message[0].lower() + message[1:]
            message = message.replace("input should be", "must be")
            raise ValueError(f"{where + ': ' if where else ''}{message} (got {value!r})") from None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not 0 <= value <= 1:
            raise ValueError(f"must be a fraction from 0 to 1 (got {value!r})")
        return value
    raise ValueError(f"must be {shapes} (got {value!r})")


class SharingTerms(Terms):
    """How the difference between benchmark and expenditure is shared.

    Savings are shared when the savings rate reaches the minimum savings rate (MSR),
    losses (two-sided only) when the loss rate reaches the minimum loss rate (MLR).
    """

    minimum_savings_rate: MinimumSavingsRate = Field(
        0.0,
        description="The savings rate savings must reach before any is shared: a fraction, "
        "'cms' (the CMS table by number of members), or {confidence: p}. Default 0.",
    )
    minimum_loss_rate: Union[Literal["same"], Rate] = Field(
        "same",
        description="The loss rate losses must reach before any is owed: a fraction, or "
        "'same' as the minimum savings rate.",
    )
    sharing_rate: Rate = Field(description="The provider's share of the savings.")
    sharing_basis: Literal["first_dollar", "above_threshold"] = Field(
        "first_dollar",
        description="'first_dollar' shares all savings once the MSR is met; "
        "'above_threshold' shares only the savings above the MSR (and losses above the MLR).",
    )
    quality_score: Rate = Field(
        1.0, description="The provider's quality score, from 0 to 1; multiplies the share."
    )
    payment_multiplier: float = Field(
        1.0, gt=0, le=1,
        description="Multiplies shared savings after quality, e.g. 0.98 for Medicare's "
        "2% sequestration.",
    )
    savings_cap: Rate | None = Field(
        None, description="Shared savings are at most this fraction of the benchmark."
    )
    loss_sharing_rate: Union[QualityLossRate, Rate, None] = Field(
        None,
        description="Makes the contract two-sided: the provider's share of losses, a "
        "fraction or {quality_slope: a, min: l, max: h} = clip(1 − a · quality, l, h).",
    )
    loss_cap: Rate | None = Field(
        None, description="Shared losses are at most this fraction of the benchmark."
    )

    @field_validator("minimum_savings_rate", mode="before")
    @classmethod
    def _read_minimum_savings_rate(cls, value):
        return _one_of(value, ("cms",), ConfidenceLevel,
                       "a fraction such as 0.02, 'cms', or {confidence: p}")

    @field_validator("minimum_loss_rate", mode="before")
    @classmethod
    def _read_minimum_loss_rate(cls, value):
        return _one_of(value, ("same",), None, "a fraction such as 0.02, or 'same'")

    @field_validator("loss_sharing_rate", mode="before")
    @classmethod
    def _read_loss_sharing_rate(cls, value):
        if value is None:
            return value
        return _one_of(value, (), QualityLossRate,
                       "a fraction such as 0.3, or {quality_slope: a, min: l, max: h}")

    @model_validator(mode="after")
    def _loss_terms_need_two_sides(self) -> SharingTerms:
        if self.loss_sharing_rate is None:
            given = [k for k in ("loss_cap", "minimum_loss_rate")
                     if k in self.model_fields_set and getattr(self, k) not in (None, "same")]
            if given:
                raise ValueError(
                    f"{' and '.join(given)}: only used when losses are shared; "
                    f"set loss_sharing_rate to make the contract two-sided"
                )
        return self

    @property
    def two_sided(self) -> bool:
        """Whether losses are shared."""
        return self.loss_sharing_rate is not None

    @property
    def effective_loss_sharing_rate(self) -> float | None:
        """The loss sharing rate at this contract's quality score, or None (one-sided)."""
        if isinstance(self.loss_sharing_rate, QualityLossRate):
            return float(self.loss_sharing_rate.at(self.quality_score))
        return self.loss_sharing_rate


class SharedSavingsTerms(PopulationTerms, SharingTerms):
    """Shared savings on claims: a population's spend against its benchmark, per year.

    The benchmark PMPM is benchmark_pmpm (an amount or a map year -> amount) or, without
    it, the population's trended baseline PMPM over baseline_years; risk_adjustment
    scales it by the change in mean risk score, bounded by risk_cap.
    """

    model: Literal["shared_savings"] = Field(description="The funding model: shared_savings.")
    benchmark_pmpm: YearAmounts | None = Field(
        None,
        description="The benchmark per member per month: an amount, or a map year -> "
        "amount; without it the benchmark is the trended baseline PMPM.",
    )
    truncate_member_spend: float | None = Field(
        None, gt=0, le=MAX_AMOUNT,
        description="Each member's yearly in-scope spend counts at most this amount, in "
        "every year, baseline included.",
    )
    risk_adjustment: Literal["none", "risk_score"] = Field(
        "none",
        description="'risk_score' multiplies the benchmark by the population's mean "
        "risk score in the year over that of the baseline years.",
    )
    risk_cap: float | None = Field(
        None, ge=0, lt=1,
        description="Bounds the risk adjustment factor to 1 ± risk_cap.",
    )

    @model_validator(mode="after")
    def _benchmark_is_set(self) -> SharedSavingsTerms:
        if self.benchmark_pmpm is None and self.baseline_years is None:
            raise ValueError(
                "benchmark_pmpm: give benchmark_pmpm (an amount or a map year -> amount), "
                "or baseline_years for a benchmark from the population's own history"
            )
        if isinstance(self.benchmark_pmpm, dict):
            missing = [y for y in self.performance_years if y not in self.benchmark_pmpm]
            if missing:
                raise ValueError(
                    f"benchmark_pmpm: no amount for performance year {years_text(missing)} "
                    f"(the map gives {years_text(self.benchmark_pmpm)})"
                )
        needs_baseline = [
            key for key, used in (
                ("risk_adjustment: risk_score", self.risk_adjustment == "risk_score"),
                ("minimum_savings_rate: {confidence: ...}",
                 isinstance(self.minimum_savings_rate, ConfidenceLevel)))
            if used]
        if needs_baseline and self.baseline_years is None:
            raise ValueError(f"{' and '.join(needs_baseline)}: needs baseline_years")
        if self.risk_cap is not None and self.risk_adjustment == "none":
            raise ValueError("risk_cap: only used with risk_adjustment: risk_score")
        return self

    def benchmark_pmpm_for(self, year: int) -> float | None:
        """The agreed benchmark PMPM of a year, or None for a historical benchmark."""
        if isinstance(self.benchmark_pmpm, dict):
            return self.benchmark_pmpm[year]
        return self.benchmark_pmpm
