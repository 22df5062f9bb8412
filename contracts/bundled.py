"""Bundled-payment terms (SPEC §4.4): condition bundles and episode bundles."""
from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Field, field_validator, model_validator

from contracts.terms import (
    MAX_AMOUNT,
    PopulationTerms,
    Rate,
    Terms,
    Text,
    check_historical,
    historical_or,
)


class ConditionBundle(Terms):
    """One price per patient-year for the members with a condition (chain care)."""

    kind: Literal["condition"] = Field(description="condition")
    condition: Text = Field(description="The condition, as in the members' conditions "
                            "column, e.g. diabetes.")

    @field_validator("condition")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


class EpisodeBundle(Terms):
    """One price per episode: a trigger claim and the care in a window after it."""

    kind: Literal["episode"] = Field(description="episode")
    trigger_codes: Annotated[list[Text], Field(min_length=1)] = Field(
        description="The care codes that open an episode when the contract's provider "
        "bills them.")
    window_days: int = Field(ge=0, le=3660, description="Days after the trigger day that "
                             "the episode takes in (the trigger day is day 0).")


#: A bundle of either kind, told apart by ``kind``.
Bundle = Annotated[Union[ConditionBundle, EpisodeBundle], Field(discriminator="kind")]


def _positive_amount(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"must be an amount above 0 or 'historical' (got {value!r})")
    if value > MAX_AMOUNT:
        raise ValueError(f"must be an amount of at most {MAX_AMOUNT:,.0f} (got {value!r})")
    return value


class BundledTerms(PopulationTerms):
    """A bundled payment: a target per patient-year or per episode, paid up front
    (prospective) or reconciled against fee-for-service claims (retrospective)."""

    model: Literal["bundled"] = Field(description="The funding model: bundled.")
    bundle: Bundle = Field(description="{kind: condition, condition: ...} or {kind: episode, "
                           "trigger_codes: [...], window_days: ...}.")
    attribution: Literal["column", "plurality", "none"] = Field(
        "none", description="For condition bundles: which members count (default 'none': "
        "every member with the condition in the segment).")
    price: Union[Literal["historical"], float] = Field(
        description="The target: an amount per patient-year (condition) or per episode, "
        "or 'historical': the trended baseline cost per patient-year or mean episode cost "
        "x (1 − discount).")
    discount: Rate = Field(0.0, description="With price: historical, the discount.")
    winsorize: tuple[Rate, Rate] | None = Field(
        None, description="Episode bundles: percentiles [low, high] of the year's episode "
        "costs to which each episode's cost is clipped, e.g. [0.01, 0.99].")
    reconciliation: Literal["prospective", "retrospective"] = Field(
        "retrospective", description="'prospective': the holder is paid the target and "
        "carries the cost; 'retrospective': claims stay fee-for-service and the holder "
        "receives target − cost (NPRA).")
    stop_gain_rate: Rate | None = Field(
        None, description="Retrospective: NPRA is at most this fraction of the target.")
    stop_loss_rate: Rate | None = Field(
        None, description="Retrospective: NPRA is at least minus this fraction of the target.")

    @field_validator("price", mode="before")
    @classmethod
    def _read_price(cls, value: Any) -> Any:
        return historical_or(value, _positive_amount, "an amount or 'historical'")

    @model_validator(mode="after")
    def _terms_agree(self) -> BundledTerms:
        check_historical(self, "price")
        if self.winsorize is not None:
            if self.bundle.kind != "episode":
                raise ValueError("winsorize: only used with episode bundles")
            low, high = self.winsorize
            if low >= high:
                raise ValueError(f"winsorize: the low percentile {low:g} must be below the "
                                 f"high one {high:g}")
        if self.reconciliation == "prospective":
            given = [k for k in ("stop_gain_rate", "stop_loss_rate")
                     if getattr(self, k) is not None]
            if given:
                raise ValueError(f"{' and '.join(given)}: only used with reconciliation: "
                                 "retrospective")
        if self.bundle.kind == "episode" and "attribution" in self.model_fields_set:
            raise ValueError("attribution: episode bundles take the episodes the contract's "
                             "provider triggers; attribution is for condition bundles")
        return self
