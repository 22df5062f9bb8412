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
from contracts.bundled import BundledTerms
from contracts.capitation import CapitationTerms
from contracts.contracts_file import Contract, ContractsFile
from contracts.fee_for_service import DegressiveTier, FeeForServiceTerms
from contracts.shared_savings import SharedSavingsTerms, SharingTerms
from contracts.terms import ContractTerms, PopulationTerms, Scope, Settings

__all__ = [
    "BundledTerms",
    "CapitationTerms",
    "Contract",
    "ContractTerms",
    "ContractsError",
    "ContractsFile",
    "DegressiveTier",
    "FeeForServiceTerms",
    "PopulationTerms",
    "Scope",
    "Settings",
    "SharedSavingsTerms",
    "SharingTerms",
    "available_presets",
    "contracts_json_schema",
    "load_contracts",
    "load_preset",
    "parse_contracts",
]
