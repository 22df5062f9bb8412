"""Shared fixtures: small ledgers built from hand-written claim lines, and contract terms."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from contracts import parse_contracts
from funding_models.ledger import build_ledger

CLAIM_COLUMNS = ["claim_id", "line", "member_id", "provider_id", "service_date", "domain",
                 "care_code", "quantity", "amount"]


def claims_frame(rows: list[tuple]) -> pd.DataFrame:
    """Accepted claim lines from tuples (member, provider, date, domain, care_code,
    quantity, amount in euros); claim ids are numbered."""
    frame = pd.DataFrame(rows, columns=["member_id", "provider_id", "service_date", "domain",
                                        "care_code", "quantity", "amount"])
    frame.insert(0, "claim_id", [f"C{i}" for i in range(len(frame))])
    frame.insert(1, "line", "1")
    frame["service_date"] = pd.to_datetime(frame["service_date"]).to_numpy().astype("datetime64[D]")
    frame["amount"] = np.rint(frame["amount"].astype(float) * 100).astype(np.int64)
    frame["quantity"] = frame["quantity"].astype(float)
    return frame


def fee_schedule_frame(tariffs: dict[str, float]) -> pd.DataFrame:
    """A fee schedule from code -> tariff in euros."""
    return pd.DataFrame({"care_code": list(tariffs),
                         "tariff": [round(t * 100) for t in tariffs.values()]})


def ledger_of(rows, tariffs=None, **kwargs):
    """A ledger from claim tuples (see :func:`claims_frame`) and optional tariffs."""
    fee_schedule = fee_schedule_frame(tariffs) if tariffs else None
    return build_ledger(claims_frame(rows), fee_schedule=fee_schedule, **kwargs)


def contract(**terms):
    """One checked contract from its terms (name and model filled in when absent)."""
    terms.setdefault("name", "test contract")
    terms.setdefault("model", "fee_for_service")
    return parse_contracts({"contracts": [terms]}).contracts[0]


@pytest.fixture
def make_contract():
    return contract


@pytest.fixture
def make_ledger():
    return ledger_of


MEMBER_COLUMNS = ["member_id", "segment", "attributed_provider", "risk_score",
                  "enrollment_start", "enrollment_end"]


def members_frame(rows: list[tuple]) -> pd.DataFrame:
    """Accepted member rows from tuples (member, segment, attributed_provider, risk_score
    [, enrollment_start, enrollment_end]); missing dates are blank (enrolled throughout)."""
    full = [tuple(row) + (None,) * (len(MEMBER_COLUMNS) - len(row)) for row in rows]
    frame = pd.DataFrame(full, columns=MEMBER_COLUMNS)
    for column in ("enrollment_start", "enrollment_end"):
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[s]")
    frame["risk_score"] = frame["risk_score"].astype(float)
    return frame


def attribution_frame(rows: list[tuple]) -> pd.DataFrame:
    """Accepted attribution rows from tuples (member, year, provider)."""
    return pd.DataFrame(rows, columns=["member_id", "year", "provider_id"])


def contract_problems(**terms) -> str:
    """The message of the ContractsError that one contract with these terms raises."""
    from contracts import ContractsError

    with pytest.raises(ContractsError) as caught:
        contract(**terms)
    return str(caught.value)
