"""Shared savings settled from aggregate figures, one case per row (``fundcalc settle``).

A case is a benchmark, an expenditure and, where the minimum savings rate depends on it,
a number of members; any sharing term may be given per case, overriding the contract's.
Every case is settled by :func:`funding_models.sharing.share`, the function the claims path
uses, all cases at once.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd
from pydantic import ValidationError

from contracts.loading import describe_error
from contracts.shared_savings import ConfidenceLevel, SharingTerms
from funding_models.sharing import (
    OUTCOMES,
    cms_minimum_savings_rate,
    confidence_minimum_savings_rate,
    share,
)

#: The terms a case may set in a column of its own.
CASE_TERMS = tuple(SharingTerms.model_fields)

#: The figures of a case: money in cents, members and the coefficient of variation of
#: members' yearly spend (for ``minimum_savings_rate: {confidence: p}``) as numbers.
CASE_FIGURES = ("benchmark", "expenditure", "members", "coefficient_of_variation")

#: The columns :func:`settle_cases` returns, in order.
RESULT_COLUMNS = ("savings", "savings_rate", "minimum_savings_rate", "minimum_loss_rate",
                  "shared_savings", "shared_losses", "net_settlement", "status")


def settle_cases(cases: pd.DataFrame, terms: Mapping[str, Any] | None = None,
                 problems: pd.Series | None = None) -> pd.DataFrame:
    """Settle each case (row) of benchmark against expenditure.

    Parameters
    ----------
    cases : pandas.DataFrame
        ``benchmark`` and ``expenditure`` in cents (NaN when blank); optionally
        ``members``, ``coefficient_of_variation`` and any of :data:`CASE_TERMS` (values as
        written, None when blank: the contract's term applies).
    terms : mapping, optional
        The contract's sharing terms, as written; a case's own terms override them.
    problems : pandas.Series, optional
        Per row, why its figures could not be read (None when they could); such rows are
        not settled.

    Returns
    -------
    pandas.DataFrame
        :data:`RESULT_COLUMNS`, on the index of ``cases``: money in cents (``Int64``,
        blank where not settled), rates as fractions, and a status per case.

    Examples
    --------
    SPEC §4.2: benchmark 500.00 PMPM and expenditure 495.50 over 125 000 member months.

    >>> cases = pd.DataFrame({"benchmark": [6_250_000_000.0] * 2,
    ...                       "expenditure": [6_193_750_000.0] * 2,
    ...                       "minimum_savings_rate": [0.01, 0.0]})
    >>> settle_cases(cases, {"sharing_rate": 0.5})["shared_savings"].tolist()
    [0, 28125000]
    """
    count = len(cases)
    status = pd.Series(problems if problems is not None else None, index=cases.index,
                       dtype=object).to_numpy(copy=True)
    resolved = _resolve_terms(cases, dict(terms or {}))
    status = np.where(pd.isna(status), resolved["problem"], status)

    benchmark = _figure(cases, "benchmark", count)
    expenditure = _figure(cases, "expenditure", count)
    for name, values in (("benchmark", benchmark), ("expenditure", expenditure)):
        status = np.where(pd.isna(status) & np.isnan(values), f"{name} is blank", status)
    status = np.where(pd.isna(status) & (benchmark <= 0), "benchmark must be above 0",
                      status)

    msr, msr_problem = _minimum_savings_rate(cases, resolved, count)
    status = np.where(pd.isna(status), msr_problem, status)
    mlr = np.where(np.isnan(resolved["minimum_loss_rate"]), msr,
                   resolved["minimum_loss_rate"])
    result = share(
        benchmark, expenditure, minimum_savings_rate=msr, minimum_loss_rate=mlr,
        sharing_rate=resolved["sharing_rate"], quality_score=resolved["quality_score"],
        payment_multiplier=resolved["payment_multiplier"],
        above_threshold=resolved["above_threshold"], savings_cap=resolved["savings_cap"],
        loss_sharing_rate=resolved["loss_sharing_rate"], loss_cap=resolved["loss_cap"])

    settled = pd.isna(status)
    outcome_text = pd.Series(result.outcome).map(OUTCOMES).to_numpy(dtype=object)
    cap_text = np.where(result.cap_bound != "", "; " + result.cap_bound + " reached", "")
    negative = np.where(expenditure < 0, "; expenditure is below 0: check the figures", "")
    status = np.where(settled, "ok; " + outcome_text + cap_text + negative,
                      "not settled: " + status.astype(str))
    has_savings = ~np.isnan(benchmark) & ~np.isnan(expenditure)
    return pd.DataFrame({
        "savings": _cents(result.savings, has_savings),
        "savings_rate": np.where(settled, result.savings_rate, np.nan),
        "minimum_savings_rate": np.where(settled, msr, np.nan),
        "minimum_loss_rate": np.where(settled, mlr, np.nan),
        "shared_savings": _cents(result.shared_savings, settled),
        "shared_losses": _cents(result.shared_losses, settled),
        "net_settlement": _cents(result.net_settlement, settled),
        "status": pd.Series(status, index=cases.index, dtype=str),
    }, index=cases.index)


def _figure(cases: pd.DataFrame, name: str, count: int) -> np.ndarray:
    if name not in cases:
        return np.full(count, np.nan)
    return pd.to_numeric(cases[name], errors="coerce").to_numpy(dtype=np.float64)


def _cents(values: np.ndarray, keep: np.ndarray) -> pd.array:
    """Whole cents (half to even) where ``keep``, else blank."""
    rounded = np.rint(np.where(keep, values, 0.0))
    return pd.array(np.where(keep, rounded, np.nan), dtype="Float64").astype("Int64")


def _resolve_terms(cases: pd.DataFrame, terms: dict[str, Any]) -> dict[str, np.ndarray]:
    """Check the terms of every distinct combination of case terms once, and spread the
    results over the rows as arrays (NaN where a term does not apply)."""
    columns = [c for c in CASE_TERMS if c in cases]
    given = cases[columns].astype(object).where(cases[columns].notna(), None)
    if columns:
        codes, _ = pd.factorize(pd.MultiIndex.from_frame(given.astype(str)))
    else:
        codes = np.zeros(len(cases), dtype=np.int64)
    _, first_rows = np.unique(codes, return_index=True)  # one row per combination
    combinations = [_combination(terms, given.iloc[row].to_dict()) for row in first_rows]
    fields = {name: np.array([c[name] for c in combinations], dtype=object)[codes]
              for name in _COMBINATION_FIELDS}
    resolved = {name: values.astype(np.float64) for name, values in fields.items()
                if name not in ("problem", "msr_kind")}
    resolved["problem"] = fields["problem"]
    resolved["msr_kind"] = fields["msr_kind"]
    resolved["above_threshold"] = resolved["above_threshold"].astype(bool)
    return resolved


_COMBINATION_FIELDS = ("problem", "msr_kind", "msr_value", "minimum_loss_rate",
                       "sharing_rate", "quality_score", "payment_multiplier",
                       "above_threshold", "savings_cap", "loss_sharing_rate", "loss_cap")


def _combination(terms: dict[str, Any], case_terms: dict[str, Any]) -> dict[str, Any]:
    """One combination of contract and case terms, checked, as plain numbers."""
    merged = {**terms, **{k: v for k, v in case_terms.items() if v is not None}}
    blank = dict.fromkeys(_COMBINATION_FIELDS, np.nan) | {"msr_kind": None}
    try:
        checked = SharingTerms.model_validate(merged)
    except ValidationError as exc:
        problems = [describe_error(error, SharingTerms) for error in exc.errors()]
        return blank | {"problem": "; ".join(problems)}
    msr = checked.minimum_savings_rate
    kind, value = (("cms", np.nan) if msr == "cms" else
                   ("confidence", msr.confidence) if isinstance(msr, ConfidenceLevel) else
                   ("fraction", msr))
    loss_rate = checked.effective_loss_sharing_rate
    return {
        "problem": None, "msr_kind": kind, "msr_value": value,
        "minimum_loss_rate": (np.nan if checked.minimum_loss_rate == "same"
                              else checked.minimum_loss_rate),
        "sharing_rate": checked.sharing_rate, "quality_score": checked.quality_score,
        "payment_multiplier": checked.payment_multiplier,
        "above_threshold": checked.sharing_basis == "above_threshold",
        "savings_cap": _nan_for_none(checked.savings_cap),
        "loss_sharing_rate": _nan_for_none(loss_rate),
        "loss_cap": _nan_for_none(checked.loss_cap),
    }


def _nan_for_none(value: float | None) -> float:
    return np.nan if value is None else value


def _minimum_savings_rate(cases: pd.DataFrame, resolved: dict[str, np.ndarray],
                          count: int) -> tuple[np.ndarray, np.ndarray]:
    """The MSR of each case as resolved, and why it could not be where it could not."""
    kind = resolved["msr_kind"]
    members = _figure(cases, "members", count)
    variation = _figure(cases, "coefficient_of_variation", count)
    by_table = cms_minimum_savings_rate(np.nan_to_num(members, nan=-1.0))
    confidence = kind == "confidence"
    with np.errstate(divide="ignore", invalid="ignore"):
        # Other cases get a stand-in level; their figure is dropped just below.
        by_confidence = np.where(confidence, confidence_minimum_savings_rate(
            np.where(confidence, resolved["msr_value"], 0.9), variation, members), np.nan)
    msr = np.select([kind == "fraction", kind == "cms", confidence],
                    [resolved["msr_value"], by_table, by_confidence], np.nan)
    problem = np.select(
        [(kind == "cms") & np.isnan(members),
         (kind == "cms") & np.isnan(by_table),
         confidence & (np.isnan(members) | (members <= 0)),
         confidence & np.isnan(variation)],
        ["minimum_savings_rate 'cms' needs the number of members, and members is blank",
         "minimum_savings_rate 'cms': the CMS table starts at 5,000 members; give a "
         "fraction or {confidence: p}",
         "minimum_savings_rate {confidence: p} needs a members count above 0",
         "minimum_savings_rate {confidence: p} needs coefficient_of_variation, which is "
         "blank"],
        None)
    return msr, problem
