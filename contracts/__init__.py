"""Contract terms as a user writes them: the contracts file, its settings and presets.

What was agreed, never how it is settled; ``funding_models/`` settles these terms on a
ledger of claims.
"""
from contracts.loading import (
    ContractsError,
    contracts_json_schema,
    load_contracts,
    parse_contracts,
)
from contracts.presets import available_presets, load_preset
from contracts.terms import (
    Contract,
    ContractsFile,
    ContractTerms,
    DegressiveTier,
    FeeForServiceTerms,
    Scope,
    Settings,
)

__all__ = [
    "Contract",
    "ContractTerms",
    "ContractsError",
    "ContractsFile",
    "DegressiveTier",
    "FeeForServiceTerms",
    "Scope",
    "Settings",
    "available_presets",
    "contracts_json_schema",
    "load_contracts",
    "load_preset",
    "parse_contracts",
]
