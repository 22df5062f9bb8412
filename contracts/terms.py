"""The terms of a contract, as a user writes them in the contracts file.

These models say *what* was agreed, never how it is settled: the calculators in
``funding_models/`` read them. Money terms are plain floats in currency units; the
calculators convert them to integer cents.

Each funding model is a subclass of :class:`ContractTerms` in a module of its own, with a
literal ``model`` value; :mod:`contracts.contracts_file` joins them in one union.
"""
from __future__ import annotations

import difflib
import math
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

class WrittenInt(int):
    """A whole number as the contracts file wrote it (``text``): a term that is text, such
    as an id or a code, keeps what was written. YAML reads ``012345`` as the octal number
    5349, ``1_000`` as 1000."""

    text: str

    def __repr__(self) -> str:
        return self.text


class WrittenFloat(float):
    """A number with a fraction as the contracts file wrote it (``text``; ``1.10``)."""

    text: str

    def __repr__(self) -> str:
        return self.text


def as_written(value: Any) -> Any:
    """A number from the contracts file as the text it was written as (an id written as
    ``12345``); anything else as it is."""
    if isinstance(value, (WrittenInt, WrittenFloat)):
        return value.text
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1),
                 BeforeValidator(as_written)]
Year = Annotated[int, Field(ge=1900, le=2199)]
Rate = Annotated[float, Field(ge=0, le=1)]
Weight = Annotated[float, Field(ge=0)]

#: The largest amount a term may name, in currency units (10¹³: cents stay exact in the
#: arithmetic; anything larger is a typing error, not a contract).
MAX_AMOUNT = 1e13


class Terms(BaseModel):
    """Base of every model here: unknown keys are errors, and so are NaN and infinity."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


def _year(key: Any) -> int:
    # JSON object keys are always text, so a year may come as "2024".
    if isinstance(key, str) and key.strip().isdigit():
        key = int(key)
    if isinstance(key, bool) or not isinstance(key, int) or not 1900 <= key <= 2199:
        raise ValueError(f"map keys must be years (got {key!r})")
    return key


def _amount(value: Any, year: int | None = None) -> float:
    where = "" if year is None else f" for {year}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"must be an amount{where} (got {value!r})")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"must be an amount of at least 0{where} (got {value!r})")
    if value > MAX_AMOUNT:
        raise ValueError(f"must be an amount of at most {MAX_AMOUNT:,.0f}{where} "
                         f"(got {value!r})")
    return float(value)


def amount_or_year_map(value: Any) -> float | dict[int, float]:
    """Check an amount or a map year -> amount here, so an error speaks of one shape."""
    if isinstance(value, dict):
        if not value:
            raise ValueError("must be an amount or a map of year to amount (got an empty map)")
        amounts = {}
        for key, amount in value.items():
            year = _year(key)
            amounts[year] = _amount(amount, year)
        return amounts
    return _amount(value)


#: An amount in currency units, the same every year, or a map year -> amount.
YearAmounts = Annotated[Union[float, dict[int, float]], BeforeValidator(amount_or_year_map)]


def amount_in(amounts: float | dict[int, float] | None, year: int) -> float | None:
    """The amount of ``year`` from an amount, a map year -> amount, or None."""
    if isinstance(amounts, dict):
        return amounts[year]
    return amounts


def historical_or(value: Any, read, shapes: str) -> Any:
    """``'historical'`` (in any case) for a term that may be taken from the baseline years,
    else ``read(value)``; other text is an error that names the ``shapes`` allowed."""
    if isinstance(value, str):
        if value.strip().lower() == "historical":
            return "historical"
        raise ValueError(f"must be {shapes} (got {value!r})")
    return read(value)


def check_historical(terms: BaseModel, key: str) -> None:
    """Raise the problem with ``key: historical`` (a figure from the baseline years, less
    ``discount``) in ``terms``, if there is one."""
    historical = getattr(terms, key) == "historical"
    if historical and terms.baseline_years is None:
        raise ValueError(f"{key}: historical needs baseline_years")
    if not historical and "discount" in terms.model_fields_set:
        raise ValueError(f"discount: only used with {key}: historical")


def years_text(years) -> str:
    """Years as text for a message: ``2023, 2024``."""
    return ", ".join(map(str, years))


def one_or_list(value: Any) -> Any:
    """Read one value (an id, a change) or a list of them as a list; None stays None."""
    return value if value is None or isinstance(value, list) else [value]


class Scope(Terms):
    """Which care a contract covers: care domains and a population segment."""

    domains: Annotated[
        Union[Literal["all"], list[str]],
        Field(description="'all', or the list of care domains the contract covers."),
    ] = "all"
    segment: Text | None = Field(
        None, description="The population segment the contract covers; all members if unset."
    )

    @field_validator("domains", mode="before")
    @classmethod
    def _read_domains(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() == "all":
            return "all"
        # Claims store domains lower-case; a repeated domain means nothing more.
        items = value if isinstance(value, list) else []
        names = [v.strip().lower() for v in items if isinstance(v, str)]
        if not names or len(names) != len(items) or not all(names):
            raise ValueError(
                f"must be 'all' or a non-empty list of domain names (got {value!r})"
            )
        return list(dict.fromkeys(names))

    def covers(self, domain: str) -> bool:
        """Whether care in ``domain`` is in scope.

        Examples
        --------
        >>> Scope(domains=["Hospital"]).covers("hospital")
        True
        >>> Scope().covers("pharmacy")
        True
        """
        return self.domains == "all" or domain.strip().lower() in self.domains


class Settings(Terms):
    """The global keys of the contracts file: how to read the data and count time."""

    columns: dict[str, str] = Field(
        default_factory=dict,
        description="Renames a user's column headers to the calculator's column names, "
        "e.g. {Bedrag: amount}.",
    )
    year_start_month: int = Field(
        1, ge=1, le=12, description="The month (1-12) in which a contract year starts."
    )
    member_months: Literal["any_day", "fractional"] = Field(
        "any_day",
        description="'any_day' counts a month with one enrolled day as a whole month; "
        "'fractional' counts enrolled days / days in the month.",
    )
    date_format: str | None = Field(
        None,
        description="A strptime format such as '%d-%m-%Y' for dates written as text "
        "other than ISO YYYY-MM-DD.",
    )
    decimal_comma: bool = Field(
        False, description="Whether text amounts are written as 1.234,56."
    )
    currency: Text = Field("EUR", description="The currency of all amounts, e.g. EUR.")

    @field_validator("date_format")
    @classmethod
    def _is_strptime_format(cls, value: str | None) -> str | None:
        if value is not None and "%" not in value:
            raise ValueError(
                f"must be a strptime format such as '%d-%m-%Y' (got {value!r})"
            )
        return value


class SpilloverTerms(Terms):
    """How a contract's spillover is measured (SPEC §5)."""

    baseline_years: Annotated[list[Annotated[int, Field(ge=1900, le=2199)]],
                              Field(min_length=1)] | None = Field(
        None, description="The baseline years of the expected spend (default the "
        "contract's baseline_years).")
    baseline_weights: Annotated[list[Annotated[float, Field(ge=0)]],
                                Field(min_length=1)] | None = Field(
        None, description="Weights of those years (default the contract's, else equal).")
    trends: dict[str, float] = Field(
        default_factory=dict, description="Yearly trend per domain, e.g. {gp: 0.025}; "
        "domains not named take the contract's trend.")
    comparison_segment: Text | None = Field(
        None, description="A segment of members whose change in PMPM per domain is the "
        "expected trend (difference in differences).")

    @field_validator("trends", mode="before")
    @classmethod
    def _lower_domains(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k).strip().lower(): v for k, v in value.items()}
        return value

    @field_validator("trends")
    @classmethod
    def _trends_above_minus_one(cls, trends: dict[str, float]) -> dict[str, float]:
        for domain, trend in trends.items():
            if not trend > -1:
                raise ValueError(f"the trend of {domain} must be above -1 (got {trend})")
        return trends

    @model_validator(mode="after")
    def _weights_fit(self) -> SpilloverTerms:
        if self.baseline_weights is not None:
            if self.baseline_years is None:
                raise ValueError("baseline_weights: needs baseline_years")
            if len(self.baseline_weights) != len(self.baseline_years):
                raise ValueError("baseline_weights: one weight per baseline year")
            if sum(self.baseline_weights) <= 0:
                raise ValueError("baseline_weights: must have a positive sum")
        return self


class ContractTerms(Terms):
    """The terms every contract has, whatever its funding model."""

    name: Text = Field(description="The contract's name, unique in the file.")
    model: str = Field(
        description="The funding model: fee_for_service, shared_savings, capitation or "
        "bundled; may come from the preset."
    )
    preset: Text | None = Field(
        None,
        description="The preset the contract starts from, by name or as the path of a "
        ".yaml file; the contract's own keys override it.",
    )
    provider: Annotated[
        tuple[Text, ...],
        BeforeValidator(one_or_list),
        Field(min_length=1),
        WithJsonSchema(
            {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
        ),
    ] = Field(description="The provider id, or a list of ids, that the contract is with.")
    scope: Scope = Field(
        default_factory=Scope, description="The care domains and segment covered."
    )
    performance_years: Annotated[list[Year], Field(min_length=1)] = Field(
        description="The contract years settled under the contract, in increasing order."
    )
    baseline_years: Annotated[list[Year], Field(min_length=1)] | None = Field(
        None,
        description="The historical years a baseline is taken from, all before the "
        "first performance year.",
    )
    baseline_weights: Annotated[list[Weight], Field(min_length=1)] | None = Field(
        None,
        description="The weight of each baseline year (default equal); normalised to sum 1.",
    )
    trend: float = Field(
        0.0, gt=-1, description="The yearly trend applied to baseline figures, e.g. 0.03."
    )
    quality_score: Rate = Field(
        1.0, description="The provider's quality score, from 0 to 1."
    )
    spillover: SpilloverTerms | None = Field(
        None, description="How the contract's spillover to other domains is measured "
        "(baseline years, trends per domain, a comparison segment).")
    notes: str | None = Field(None, description="Free text, shown with the terms.")

    @field_validator("performance_years", "baseline_years")
    @classmethod
    def _increasing(cls, years: list[int] | None) -> list[int] | None:
        # Not sorted for the user: baseline_weights follow the order of baseline_years.
        if years is not None and any(b <= a for a, b in zip(years, years[1:])):
            raise ValueError(
                f"must list years in increasing order without repeats (got {years})"
            )
        return years

    @field_validator("baseline_years")
    @classmethod
    def _before_performance(
        cls, years: list[int] | None, info: ValidationInfo
    ) -> list[int] | None:
        performance = info.data.get("performance_years")
        if years and performance and years[-1] >= performance[0]:
            raise ValueError(
                f"every baseline year must be before the first performance year "
                f"{performance[0]} (got {years[-1]})"
            )
        return years

    @field_validator("baseline_weights")
    @classmethod
    def _one_weight_per_year(
        cls, weights: list[float] | None, info: ValidationInfo
    ) -> list[float] | None:
        if weights is None or "baseline_years" not in info.data:
            return weights  # baseline_years failed and is reported; nothing to check against
        years = info.data["baseline_years"]
        if years is None:
            raise ValueError("needs baseline_years, one weight per baseline year")
        if len(weights) != len(years):
            raise ValueError(f"needs one weight per baseline year {years} (got {weights})")
        if sum(weights) <= 0:
            raise ValueError(f"must have a positive sum (got {weights})")
        return weights


class PopulationTerms(ContractTerms):
    """Terms of a contract for a population (SPEC §2): who is in it and what spend counts.

    Each year's population is the members of ``scope.segment`` with at least one member
    month, attributed to the contract's provider(s) that year.
    """

    attribution: Literal["column", "plurality", "none"] = Field(
        "column",
        description="How members are attributed to the provider: 'column' by the "
        "attribution table or the members' attributed_provider, 'plurality' to the "
        "provider with the largest amount in attribution_domains, 'none' every member "
        "of the segment.",
    )
    attribution_domains: Annotated[list[Text], Field(min_length=1)] | None = Field(
        None,
        description="The domains whose amounts decide plurality attribution; default "
        "the scope's domains.",
    )
    carve_out_codes: list[Text] = Field(
        default_factory=list,
        description="Care codes whose claims do not count in the population's spend.",
    )

    @field_validator("attribution_domains")
    @classmethod
    def _lower_case(cls, domains: list[str] | None) -> list[str] | None:
        return None if domains is None else list(dict.fromkeys(d.lower() for d in domains))

    @model_validator(mode="after")
    def _plurality_domains(self) -> PopulationTerms:
        if self.attribution_domains is not None and self.attribution != "plurality":
            raise ValueError(
                f"attribution_domains: only used with attribution: plurality "
                f"(attribution is {self.attribution})"
            )
        return self


def did_you_mean(word: object, choices) -> str:
    """A hint naming the choice closest to a misspelt ``word``, or "" when none is close.

    >>> did_you_mean("fee_for_servce", ["fee_for_service", "capitation"])
    " (did you mean 'fee_for_service'?)"
    """
    close = difflib.get_close_matches(str(word), list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""
