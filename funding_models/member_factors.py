"""Member factors for capitation (SPEC §4.3): 1, the risk score, or an age/sex table,
normalised over the insurer's whole book in the year.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from funding_models.ledger import Ledger


@dataclass(frozen=True)
class BookFactors:
    """Every book member's factor in one year.

    Attributes
    ----------
    book : pandas.Series
        The members of the book (members with a member month in the year, any segment),
        as the ledger's categorical.
    used : numpy.ndarray
        Their factors, raw, or divided by ``book_mean`` when normalised.
    book_mean : float
        The member-month-weighted mean raw factor over the book.
    without_factor : int
        Book members the factor could not be found for (no risk score, no birth date or
        sex, or no band in the table); they count with a raw factor of 1.
    """

    book: pd.Series
    used: np.ndarray
    book_mean: float
    without_factor: int

    def of(self, members: pd.Series) -> np.ndarray:
        """The factor of each of ``members`` (the ledger's categorical; NaN for a member
        outside the book), looked up by member code."""
        by_code = np.full(len(self.book.cat.categories) + 1, np.nan)  # code -1 reads NaN
        by_code[self.book.cat.codes.to_numpy()] = self.used
        return by_code[members.cat.codes.to_numpy()]


def book_factors(ledger: Ledger, terms, year: int) -> BookFactors:
    """The member factors of the whole book in ``year``.

    Parameters
    ----------
    ledger : Ledger
        With a members table.
    terms : contracts.CapitationTerms
        ``risk_adjustment``, ``age_sex_factors`` and ``normalize`` are read.
    year : int
        The contract year t; ages are taken on 1 January of t.
    """
    key = ("book_factors", year, terms.model_dump_json(
        include={"risk_adjustment", "age_sex_factors", "normalize"}))
    return ledger.remember(key, lambda: _book_factors(ledger, terms, year),
                           members_only=True)


def _book_factors(ledger: Ledger, terms, year: int) -> BookFactors:
    months = ledger.member_months
    book = months[(months["year"].to_numpy() == year) & (months["member_months"].to_numpy() > 0)]
    member = book["member"]
    if terms.risk_adjustment == "risk_score":
        raw = (ledger.member_column("risk_score")[member.cat.codes.to_numpy()]
               if "risk_score" in ledger.members else np.full(len(book), np.nan))
    elif terms.risk_adjustment == "age_sex":
        raw = _age_sex(ledger, member, year, terms.age_sex_factors)
    else:
        raw = np.ones(len(book))
    missing = np.isnan(raw)
    raw = np.where(missing, 1.0, raw)
    weights = book["member_months"].to_numpy()
    mean = float((raw * weights).sum() / weights.sum()) if weights.sum() else 1.0
    used = raw / mean if terms.normalize else raw
    return BookFactors(member, used, mean, int(missing.sum()))


def ages_on(birth_dates: np.ndarray, day: np.datetime64) -> np.ndarray:
    """Age in whole years on ``day`` (NaN where the birth date is missing).

    Examples
    --------
    >>> ages_on(np.array(["1960-01-01", "1960-01-02", "NaT"], dtype="datetime64[D]"),
    ...         np.datetime64("2024-01-01")).tolist()
    [64.0, 63.0, nan]
    """
    births = pd.DatetimeIndex(birth_dates)
    on = pd.Timestamp(day)
    before_birthday = (on.month < births.month) | ((on.month == births.month)
                                                    & (on.day < births.day))
    ages = on.year - births.year - before_birthday.astype(np.int64)
    return np.where(births.isna(), np.nan, ages.to_numpy(dtype=np.float64, na_value=np.nan))


def _age_sex(ledger: Ledger, member: pd.Series, year: int, table) -> np.ndarray:
    """The table's factor of each member, NaN without a birth date, sex or band."""
    if "birth_date" not in ledger.members or "sex" not in ledger.members:
        return np.full(len(member), np.nan)
    first_day = np.datetime64(f"{year}-01-01")  # SPEC §4.3: age on 1 January of t
    codes = member.cat.codes.to_numpy()
    births = ledger.member_column("birth_date")[codes].astype("datetime64[D]")
    sexes = ledger.member_column("sex")[codes]
    ages = ages_on(births, first_day)
    of_sex = {sex: sexes == sex for sex in {band.sex for band in table}}
    factor = np.full(len(member), np.nan)
    for band in table:
        upper = np.inf if band.age_to is None else band.age_to
        inside = of_sex[band.sex] & (ages >= band.age_from) & (ages <= upper)
        factor[inside] = band.factor
    return factor
