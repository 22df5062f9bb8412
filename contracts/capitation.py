"""Capitation terms (SPEC §4.3): the rate, member factors, stop-loss and risk corridors."""
from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Field, field_validator, model_validator

from contracts.terms import (
    MAX_AMOUNT,
    PopulationTerms,
    check_historical,
    historical_or,
    Rate,
    Terms,
    amount_in,
    amount_or_year_map,
    years_text,
)


class AgeSexFactor(Terms):
    """One row of an age/sex factor table: members of ``sex`` aged ``age_from`` to
    ``age_to`` (both included; open above without ``age_to``) get ``factor``."""

    sex: Literal["F", "M", "X"] = Field(description="F, M or X.")
    age_from: int = Field(ge=0, le=130, description="The lowest age of the band, in years.")
    age_to: int | None = Field(
        None, ge=0, le=130, description="The highest age of the band; none for open.")
    factor: float = Field(gt=0, description="The member factor of the band, e.g. 1.35.")

    @field_validator("sex", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _band_in_order(self) -> AgeSexFactor:
        if self.age_to is not None and self.age_to < self.age_from:
            raise ValueError(f"age_to {self.age_to} is below age_from {self.age_from}")
        return self


class StopLoss(Terms):
    """Per member and year, the insurer pays ``insurer_share`` of the cost above
    ``attachment``."""

    attachment: float = Field(gt=0, le=MAX_AMOUNT,
                              description="The attachment point per member and year.")
    insurer_share: Rate = Field(description="The insurer's share of the cost above it.")


class CorridorBand(Terms):
    """A band of the provider's gain or loss, as a fraction of capitation revenue, in which
    the provider bears ``provider_share`` and the insurer the rest."""

    from_: Rate = Field(alias="from", description="Where the band starts, e.g. 0.03.")
    to: Rate | None = Field(None, description="Where it ends; none on the last band.")
    provider_share: Rate = Field(
        description="The provider's share of the gain or loss inside the band.")


class CapitationTerms(PopulationTerms):
    """Capitation: a rate per member per month, scaled by member factors, for all in-scope
    care of the population; stop-loss per member and risk corridors on the result."""

    model: Literal["capitation"] = Field(description="The funding model: capitation.")
    rate_pmpm: Union[Literal["historical"], float, dict[int, float]] = Field(
        description="The rate per member per month: an amount, a map year -> amount, or "
        "'historical': the population's trended baseline PMPM x (1 − discount).")
    discount: Rate = Field(
        0.0, description="With rate_pmpm: historical, the discount on the baseline PMPM.")
    risk_adjustment: Literal["none", "risk_score", "age_sex"] = Field(
        "none", description="The member factor: 1, the member's risk_score, or the "
        "age_sex_factors table (age on the first day of the contract year).")
    age_sex_factors: Annotated[list[AgeSexFactor], Field(min_length=1)] | None = Field(
        None, description="With risk_adjustment: age_sex, the factor table: the path of a "
        "CSV file (sex, age_from, age_to, factor) relative to the contracts file, "
        "'example' for the shipped example table, or a list of rows.")
    normalize: bool = Field(
        True, description="Divide member factors by their member-month-weighted mean over "
        "the insurer's whole book in the year, so that only a population sicker than the "
        "book is paid more.")
    stop_loss: StopLoss | None = Field(None, description="Stop-loss per member and year.")
    risk_corridors: Annotated[list[CorridorBand], Field(min_length=1)] | None = Field(
        None, description="Bands of the provider's gain or loss relative to capitation "
        "revenue, applied symmetrically and marginally.")

    @field_validator("rate_pmpm", mode="before")
    @classmethod
    def _read_rate(cls, value: Any) -> Any:
        return historical_or(value, amount_or_year_map,
                             "an amount, a map year -> amount, or 'historical'")

    @field_validator("risk_corridors")
    @classmethod
    def _bands_in_order(cls, bands: list[CorridorBand] | None) -> list[CorridorBand] | None:
        if not bands:
            return bands
        for number, band in enumerate(bands, 1):
            last = number == len(bands)
            if band.to is None and not last:
                raise ValueError(f"band {number} needs 'to'; only the last band goes without")
            if band.to is not None and band.to <= band.from_:
                raise ValueError(f"band {number}: 'to' {band.to:g} must be above 'from' "
                                 f"{band.from_:g}")
        for number, (low, high) in enumerate(zip(bands, bands[1:]), 2):
            if high.from_ < low.to:
                raise ValueError(f"band {number} starts at {high.from_:g}, inside band "
                                 f"{number - 1} (which ends at {low.to:g})")
        return bands

    @model_validator(mode="after")
    def _terms_agree(self) -> CapitationTerms:
        check_historical(self, "rate_pmpm")
        if isinstance(self.rate_pmpm, dict):
            missing = [y for y in self.performance_years if y not in self.rate_pmpm]
            if missing:
                raise ValueError(f"rate_pmpm: no amount for performance year "
                                 f"{years_text(missing)} (the map gives "
                                 f"{years_text(self.rate_pmpm)})")
        if self.risk_adjustment == "age_sex" and self.age_sex_factors is None:
            raise ValueError("risk_adjustment: age_sex needs age_sex_factors (a CSV file, "
                             "'example', or a list of rows)")
        if self.age_sex_factors is not None and self.risk_adjustment != "age_sex":
            raise ValueError("age_sex_factors: only used with risk_adjustment: age_sex")
        if self.age_sex_factors:
            _no_overlaps(self.age_sex_factors)
        return self

    def rate_for(self, year: int) -> float | None:
        """The agreed rate PMPM of a year in currency units, or None when historical."""
        return None if self.rate_pmpm == "historical" else amount_in(self.rate_pmpm, year)


def _no_overlaps(rows: list[AgeSexFactor]) -> None:
    for sex in ("F", "M", "X"):
        bands = sorted((r.age_from, 200 if r.age_to is None else r.age_to)
                       for r in rows if r.sex == sex)
        for (low_from, low_to), (high_from, _) in zip(bands, bands[1:]):
            if high_from <= low_to:
                raise ValueError(f"age_sex_factors: the {sex} bands from {low_from} and "
                                 f"from {high_from} overlap")
