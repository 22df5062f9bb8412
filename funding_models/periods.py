"""Contract years and member months (SPEC §2), vectorised over enrollment spans.

A contract year is named by the calendar year in which it starts; with
``year_start_month = 1`` it is the calendar year. A member's **member months** in a year
are the calendar months in which an enrollment span overlaps at least one day
(``any_day``), or the enrolled days of each month divided by the days in that month
(``fractional``, both ends included).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

DAY = np.timedelta64(1, "D")


def contract_year(dates: np.ndarray, year_start_month: int = 1) -> np.ndarray:
    """The contract year of each date.

    >>> contract_year(np.array(["2024-03-31", "2024-04-01"], dtype="datetime64[D]"), 4)
    array([2023, 2024])
    """
    months = dates.astype("datetime64[M]").astype(np.int64)  # months since 1970-01
    return (months - (year_start_month - 1)) // 12 + 1970


def year_bounds(year, year_start_month: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """First and last day of contract year(s) ``year``."""
    first_month = (np.asarray(year, dtype=np.int64) - 1970) * 12 + (year_start_month - 1)
    first = first_month.astype("datetime64[M]").astype("datetime64[D]")
    last = (first_month + 12).astype("datetime64[M]").astype("datetime64[D]") - DAY
    return first, last


def merge_spans(member: np.ndarray, start: np.ndarray, end: np.ndarray, touching: str
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge each member's overlapping spans so that no day or month counts twice.

    Parameters
    ----------
    member : array of int
        Member code of each span.
    start, end : arrays of datetime64[D]
        Both days included; no missing values.
    touching : {"day", "month"}
        Merge spans that share a day, or (for ``any_day`` member months) a month.

    Returns
    -------
    member, start, end : arrays
        The merged spans, sorted by member and start.
    """
    order = np.lexsort((start, member))
    member, start, end = member[order], start[order], end[order]
    if touching == "month":
        start_key = start.astype("datetime64[M]").astype(np.int64)
        end_key = end.astype("datetime64[M]").astype(np.int64)
    else:
        start_key = start.astype(np.int64)
        end_key = end.astype(np.int64)
    reach = pd.Series(end_key).groupby(member).cummax().to_numpy()
    previous_reach = np.concatenate([[np.iinfo(np.int64).min], reach[:-1]])
    new_member = np.concatenate([[True], member[1:] != member[:-1]])
    opens = new_member | (start_key > previous_reach)
    group = np.cumsum(opens) - 1
    merged_end = pd.Series(end.astype(np.int64)).groupby(group).max().to_numpy()
    return member[opens], start[opens], merged_end.astype("datetime64[D]")


def _days_in_month(month_index: np.ndarray) -> np.ndarray:
    first = month_index.astype("datetime64[M]").astype("datetime64[D]")
    following = (month_index + 1).astype("datetime64[M]").astype("datetime64[D]")
    return (following - first).astype(np.int64)


def _month_fraction_sum(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Σ over months of enrolled days / days in month, for spans start..end (start ≤ end)."""
    start_month = start.astype("datetime64[M]").astype(np.int64)
    end_month = end.astype("datetime64[M]").astype(np.int64)
    start_day = (start - start.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    end_day = (end - end.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    start_dim = _days_in_month(start_month)
    end_dim = _days_in_month(end_month)
    same = start_month == end_month
    within = (end_day - start_day + 1) / start_dim
    across = (start_dim - start_day + 1) / start_dim + (end_month - start_month - 1) + end_day / end_dim
    return np.where(same, within, across)


def member_months(member: np.ndarray, start: np.ndarray, end: np.ndarray, years: np.ndarray,
                  convention: str = "any_day", year_start_month: int = 1) -> pd.DataFrame:
    """Member months per member and contract year.

    Parameters
    ----------
    member : array of int
        Member code of each enrollment span (several spans per member allowed).
    start, end : arrays of datetime64[D]
        Span bounds, both days included, already filled (no NaT).
    years : array of int
        The contract years to count.
    convention : {"any_day", "fractional"}
    year_start_month : int

    Returns
    -------
    pandas.DataFrame
        Columns ``member``, ``year``, ``member_months`` (float), one row per member and
        year with at least some enrollment.

    Examples
    --------
    Enrolled 15 Jan – 10 Apr 2024 (SPEC §2):

    >>> s, e = np.array(["2024-01-15"], "datetime64[D]"), np.array(["2024-04-10"], "datetime64[D]")
    >>> member_months(np.array([0]), s, e, np.array([2024]))["member_months"].tolist()
    [4.0]
    >>> fractional = member_months(np.array([0]), s, e, np.array([2024]), "fractional")
    >>> round(float(fractional["member_months"].iloc[0]), 3)
    2.882
    """
    touching = "month" if convention == "any_day" else "day"
    member, start, end = merge_spans(member, start, end, touching)
    years = np.asarray(years, dtype=np.int64)
    year_first, year_last = year_bounds(years, year_start_month)
    span_index = np.repeat(np.arange(len(member)), len(years))
    year_index = np.tile(np.arange(len(years)), len(member))
    lo = np.maximum(start[span_index], year_first[year_index])
    hi = np.minimum(end[span_index], year_last[year_index])
    overlap = lo <= hi
    span_index, year_index, lo, hi = span_index[overlap], year_index[overlap], lo[overlap], hi[overlap]
    if convention == "any_day":
        months = (hi.astype("datetime64[M]").astype(np.int64)
                  - lo.astype("datetime64[M]").astype(np.int64) + 1).astype(np.float64)
    elif convention == "fractional":
        months = _month_fraction_sum(lo, hi)
    else:
        raise ValueError(f"unknown member_months convention {convention!r}")
    frame = pd.DataFrame({"member": member[span_index], "year": years[year_index],
                          "member_months": months})
    return frame.groupby(["member", "year"], as_index=False, sort=True)["member_months"].sum()


class MergedSpans:
    """Enrollment spans merged per member and sorted, to look up many dates at a time.

    Parameters
    ----------
    member : numpy.ndarray of int
        Each span's member code.
    start, end : numpy.ndarray of datetime64[D]
        Each span's first and last day (no NaT).
    """

    _SHIFT = np.int64(1) << 32

    def __init__(self, member: np.ndarray, start: np.ndarray, end: np.ndarray):
        self.member, self.start, self.end = merge_spans(member, start, end, "day")
        self._key = self.member.astype(np.int64) * self._SHIFT + self.start.astype(np.int64)

    def hold(self, member: np.ndarray, dates: np.ndarray) -> np.ndarray:
        """Whether each (member, date) falls within one of that member's spans: a sorted
        search finds, for each date, the last span of the member that starts on or
        before it."""
        if not len(self.member):  # no spans: nobody is enrolled
            return np.zeros(len(member), dtype=bool)
        claim_key = member.astype(np.int64) * self._SHIFT + dates.astype(np.int64)
        position = np.searchsorted(self._key, claim_key, side="right") - 1
        found = position >= 0
        position = np.where(found, position, 0)
        return found & (self.member[position] == member) & (dates <= self.end[position])
