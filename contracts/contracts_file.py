"""A whole contracts file: the settings, the contracts of every model, the scenarios."""
from __future__ import annotations

from typing import Annotated, Union

from pydantic import Field, model_validator

from contracts.bundled import BundledTerms
from contracts.capitation import CapitationTerms
from contracts.fee_for_service import FeeForServiceTerms
from contracts.scenarios import Scenario
from contracts.shared_savings import SharedSavingsTerms
from contracts.terms import ContractTerms, Settings

#: A contract of any funding model, told apart by its ``model`` key. Each new model adds
#: its class here and to :data:`CONTRACT_MODELS`.
Contract = Annotated[Union[FeeForServiceTerms, SharedSavingsTerms, CapitationTerms,
                           BundledTerms],
                     Field(discriminator="model")]

#: The terms class of each model this version can settle, by its ``model`` value.
CONTRACT_MODELS: dict[str, type[ContractTerms]] = {
    "fee_for_service": FeeForServiceTerms,
    "shared_savings": SharedSavingsTerms,
    "capitation": CapitationTerms,
    "bundled": BundledTerms,
}


class ContractsFile(Settings):
    """A whole contracts file: the global settings at top level, the contracts, scenarios."""

    contracts: Annotated[list[Contract], Field(min_length=1)] = Field(
        description="The contracts to settle and compare."
    )
    scenarios: list[Scenario] = Field(
        default_factory=list,
        description="Changes in care to compare the contracts under; each is a full "
        "comparison of its own beside the base (the claims as they are).",
    )

    @model_validator(mode="after")
    def _names_unique(self) -> ContractsFile:
        names = [c.name for c in self.contracts]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(
                "each contract needs its own name; used more than once: "
                + ", ".join(repr(n) for n in repeated)
            )
        scenario_names = [s.name.casefold() for s in self.scenarios]
        repeated = sorted({s.name for s in self.scenarios
                           if scenario_names.count(s.name.casefold()) > 1})
        if repeated:
            raise ValueError("each scenario needs its own name; used more than once: "
                             + ", ".join(repr(n) for n in repeated))
        return self

    @property
    def settings(self) -> Settings:
        """The global settings, without the contracts and scenarios."""
        return Settings.model_validate(self.model_dump(include=set(Settings.model_fields)))
