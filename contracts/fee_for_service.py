"""Fee-for-service terms (SPEC §4.1): price factor, degressive tiers, ceiling and floor."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from contracts.terms import (
    MAX_AMOUNT,
    ContractTerms,
    Rate,
    Terms,
    YearAmounts,
    amount_in,
    years_text,
)


class DegressiveTier(Terms):
    """One slice of gross revenue and the rate it is paid at."""

    up_to: float | None = Field(
        None, gt=0, le=MAX_AMOUNT,
        description="The gross revenue where the slice ends; none on the last tier."
    )
    rate: float = Field(ge=0, description="The fraction of the slice that is paid.")


class FeeForServiceTerms(ContractTerms):
    """Fee-for-service terms: price factor, degressive tiers, revenue ceiling and floor.

    Gross revenue is the sum of the line values; degressive_tiers pay each slice of it at the
    tier's rate; a revenue_ceiling claws back clawback_rate of the revenue above it and a
    revenue_floor tops up topup_rate of the shortfall below it. A lump_sum is a ceiling and
    floor of the same amount with both rates 1.
    """

    model: Literal["fee_for_service"] = Field(description="The funding model: fee_for_service.")
    price_factor: float = Field(
        1.0, gt=0, le=1000,
        description="Multiplies the claimed amount of lines without a tariff."
    )
    degressive_tiers: Annotated[list[DegressiveTier], Field(min_length=1)] | None = Field(
        None,
        description="Slices of gross revenue, each paid at its rate; every tier but the "
        "last has an increasing up_to.",
    )
    revenue_ceiling: YearAmounts | None = Field(
        None, description="The revenue ceiling: an amount, or a map year -> amount."
    )
    revenue_floor: YearAmounts | None = Field(
        None, description="The revenue floor: an amount, or a map year -> amount."
    )
    clawback_rate: Rate = Field(
        1.0, description="The fraction of revenue above the ceiling that is clawed back."
    )
    topup_rate: Rate = Field(
        1.0, description="The fraction of the shortfall below the floor that is topped up."
    )
    lump_sum: YearAmounts | None = Field(
        None,
        description="A fixed yearly payment (aanneemsom): an amount, or a map year -> "
        "amount; the same as ceiling = floor = lump sum with both rates 1.",
    )

    @field_validator("degressive_tiers")
    @classmethod
    def _tiers_in_order(
        cls, tiers: list[DegressiveTier] | None
    ) -> list[DegressiveTier] | None:
        if not tiers:
            return tiers
        if tiers[-1].up_to is not None:
            raise ValueError(
                f"the last tier must have no up_to, so that it pays all revenue above "
                f"the tier before it (got up_to {tiers[-1].up_to:g})"
            )
        bounds = [t.up_to for t in tiers[:-1]]
        for number, up_to in enumerate(bounds, 1):
            if up_to is None:
                raise ValueError(f"tier {number} needs up_to; only the last tier goes without")
        for number, (low, high) in enumerate(zip(bounds, bounds[1:]), 2):
            if high <= low:
                raise ValueError(
                    f"up_to must increase from tier to tier (tier {number}: {high:g} "
                    f"is not above {low:g})"
                )
        return tiers

    @model_validator(mode="after")
    def _amounts_agree(self) -> FeeForServiceTerms:
        if self.lump_sum is not None:
            given = [k for k in ("revenue_ceiling", "revenue_floor")
                     if getattr(self, k) is not None]
            given += [k for k in ("clawback_rate", "topup_rate")
                      if k in self.model_fields_set and getattr(self, k) != 1]
            if given:
                raise ValueError(
                    f"lump_sum: cannot be combined with {' or '.join(given)}; a lump sum is "
                    f"a ceiling and floor of that amount with both rates 1"
                )
        for key in ("revenue_ceiling", "revenue_floor", "lump_sum"):
            amounts = getattr(self, key)
            if isinstance(amounts, dict):
                missing = [y for y in self.performance_years if y not in amounts]
                if missing:
                    raise ValueError(
                        f"{key}: no amount for performance year {years_text(missing)} "
                        f"(the map gives {years_text(amounts)})"
                    )
        for year in self.performance_years:
            ceiling, floor = self.ceiling_for(year), self.floor_for(year)
            if ceiling is not None and floor is not None and floor > ceiling:
                raise ValueError(
                    f"revenue_floor: {floor:g} in {year} is above revenue_ceiling {ceiling:g}"
                )
        return self

    def ceiling_for(self, year: int) -> float | None:
        """The revenue ceiling of a performance year in currency units, or None.

        Examples
        --------
        >>> terms = FeeForServiceTerms(model="fee_for_service", name="A", provider="HOSP_A",
        ...                            performance_years=[2024], lump_sum=9_000_000)
        >>> terms.ceiling_for(2024), terms.floor_for(2024), terms.effective_clawback_rate
        (9000000.0, 9000000.0, 1.0)
        """
        return amount_in(self.revenue_ceiling if self.lump_sum is None else self.lump_sum, year)

    def floor_for(self, year: int) -> float | None:
        """The revenue floor of a performance year in currency units, or None."""
        return amount_in(self.revenue_floor if self.lump_sum is None else self.lump_sum, year)

    @property
    def effective_clawback_rate(self) -> float:
        """The clawback rate that applies: 1 under a lump sum."""
        return 1.0 if self.lump_sum is not None else self.clawback_rate

    @property
    def effective_topup_rate(self) -> float:
        """The top-up rate that applies: 1 under a lump sum."""
        return 1.0 if self.lump_sum is not None else self.topup_rate
