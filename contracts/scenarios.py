"""What-if scenarios (SPEC §5): changes in care applied to the performance years' claims
before settlement, so that every contract can be compared under the same change."""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator

from contracts.terms import Rate, Terms, Text, one_or_list


class ClaimSelection(Terms):
    """Which claims a change applies to: a domain, optionally some care codes and
    providers."""

    domain: Text = Field(description="The care domain of the claims.")
    care_codes: Annotated[list[Text], Field(min_length=1)] | None = Field(
        None, description="Only claims with these care codes (default: all).")
    provider: Annotated[list[Text], Field(min_length=1)] | None = Field(
        None, description="Only claims of this provider or these providers (default: all).")

    @field_validator("domain")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()

    @field_validator("provider", "care_codes", mode="before")
    @classmethod
    def _as_list(cls, value: Any) -> Any:
        return one_or_list(value)


class Shift(Terms):
    """Move a fraction of matching claims' amounts to another domain (and provider) at a
    cost ratio: substitution, e.g. low-complex hospital care to primary care."""

    from_: ClaimSelection = Field(alias="from", description="The claims that shift.")
    to_domain: Text = Field(description="The domain the shifted care moves to.")
    to_provider: Text | None = Field(
        None, description="The provider that delivers the shifted care: an id, or "
        "'attributed' for the member's attributed provider in the year (default: the same "
        "provider).")
    to_care_code: Text | None = Field(
        None, description="The care code of the shifted care (default: the same code).")
    fraction: Rate = Field(description="The fraction of each matching claim that moves.")
    cost_ratio: float = Field(
        ge=0, le=10, description="What the moved care costs in its new place, per unit of "
        "its old cost (0.4: 40%).")

    @field_validator("to_domain")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


class Growth(ClaimSelection):
    """Scale the amounts (and quantities) of matching claims."""

    rate: float = Field(gt=-1, le=10, description="The growth, e.g. 0.05 for +5%.")


class Scenario(Terms):
    """A named set of changes in care; a full comparison is settled under it."""

    name: Text = Field(description="The scenario's name, shown in the Summary.")
    years: Annotated[list[Annotated[int, Field(ge=1900, le=2199)]],
                     Field(min_length=1)] | None = Field(
        None, description="The years the changes apply to, of each contract's performance "
        "years (default: all its performance years).")
    shift: Annotated[list[Shift], Field(min_length=1)] | None = Field(
        None, description="One shift or a list of them.")
    growth: Annotated[list[Growth], Field(min_length=1)] | None = Field(
        None, description="One growth or a list of them.")

    @field_validator("shift", "growth", mode="before")
    @classmethod
    def _as_list(cls, value: Any) -> Any:
        return one_or_list(value)

    @model_validator(mode="after")
    def _changes_something(self) -> Scenario:
        if not self.shift and not self.growth:
            raise ValueError("a scenario needs a shift or a growth (or both)")
        if self.name.casefold() == "base":
            raise ValueError("name: 'base' is the comparison without changes; give the "
                             "scenario another name")
        return self
