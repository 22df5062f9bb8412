"""Settle every contract on one ledger and collect the comparison rows."""
from __future__ import annotations

from typing import Callable, Sequence

from funding_models.bundled import settle_bundled
from funding_models.capitation import settle_capitation
from funding_models.fee_for_service import settle_fee_for_service
from funding_models.ledger import Ledger
from funding_models.results import ContractResult
from funding_models.shared_savings import settle_shared_savings

#: The settlement function of each funding model, by the ``model`` key of the terms.
SETTLERS: dict[str, Callable[..., ContractResult]] = {
    "fee_for_service": settle_fee_for_service,
    "shared_savings": settle_shared_savings,
    "capitation": settle_capitation,
    "bundled": settle_bundled,
}


def settle_contracts(contracts: Sequence, ledger: Ledger) -> list[ContractResult]:
    """Settle each contract on the same ledger, in the order given.

    Parameters
    ----------
    contracts : sequence of contract terms
        Objects from :mod:`contracts` with a ``model`` attribute.
    ledger : Ledger

    Returns
    -------
    list of ContractResult
    """
    return [SETTLERS[terms.model](terms, ledger) for terms in contracts]
