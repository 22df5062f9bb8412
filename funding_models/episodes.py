"""Episodes of care (SPEC §4.4): opened by trigger claims, closed by a window in days.

An episode opens at a trigger and takes the member's claims dated from the trigger day
through trigger day + ``window_days``. A trigger inside an open episode joins it; the window
stays anchored at the first trigger, so a member's episodes never overlap and a claim falls
in at most one. Both steps work on whole arrays: episodes are found in rounds (each round
opens every member's next episode at once; there are as many rounds as the most episodes
one member has), claims are placed by a binary search over (member, start day).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

#: Days are shifted by this before they are packed with the member into one sort key, so
#: that dates back to 1700 stay positive.
_DAY_OFFSET = 100_000
_DAY_BITS = 21


def build_episodes(member: np.ndarray, day: np.ndarray, window_days: int,
                   tie_breaker: np.ndarray | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """Group trigger claims into episodes.

    Parameters
    ----------
    member : numpy.ndarray of int
        Member code of each trigger claim.
    day : numpy.ndarray of int
        Its service date as days since 1970-01-01.
    window_days : int
        Days after the first trigger's day that an episode takes in.
    tie_breaker : numpy.ndarray of int, optional
        Orders triggers of one member on one day (e.g. care code), so that which opens the
        episode does not depend on the order of the input rows.

    Returns
    -------
    episodes : pandas.DataFrame
        One row per episode, in order of member and start: ``member``, ``start_day`` and
        ``first_trigger`` (the position, in the input, of the trigger that opened it).
    episode_of_trigger : numpy.ndarray of int
        The episode (row of ``episodes``) of each trigger claim.

    Examples
    --------
    Triggers on days 0, 30 and 95 with a 90-day window: days 0 and 30 make one episode,
    day 95 opens the next.

    >>> episodes, of = build_episodes(np.array([1, 1, 1]), np.array([0, 30, 95]), 90)
    >>> episodes["start_day"].tolist(), of.tolist()
    ([0, 95], [0, 0, 1])
    """
    ties = np.zeros(len(member), dtype=np.int64) if tie_breaker is None else tie_breaker
    order = np.lexsort((ties, day, member))
    members, days = member[order], day[order]
    round_of = np.full(len(order), -1, dtype=np.int64)  # episode, numbered as opened
    remaining = np.arange(len(order))
    opened_at: list[np.ndarray] = []
    opened = 0
    while remaining.size:
        # Each member's earliest remaining trigger opens an episode; the member's
        # remaining triggers within its window join it.
        first = np.r_[True, members[remaining][1:] != members[remaining][:-1]]
        group = np.cumsum(first) - 1
        anchor = days[remaining][first]
        joined = days[remaining] <= anchor[group] + window_days
        round_of[remaining[joined]] = opened + group[joined]
        opened += int(first.sum())
        opened_at.append(remaining[first])
        remaining = remaining[~joined]
    starts = np.concatenate(opened_at) if opened_at else np.array([], dtype=np.int64)
    # Number episodes by member and start rather than by round.
    ranking = np.lexsort((days[starts], members[starts]))
    renumber = np.empty(len(starts), dtype=np.int64)
    renumber[ranking] = np.arange(len(starts))
    episode_of_trigger = np.empty(len(order), dtype=np.int64)
    episode_of_trigger[order] = renumber[round_of]
    ordered = starts[ranking]
    episodes = pd.DataFrame({"member": members[ordered], "start_day": days[ordered],
                             "first_trigger": order[ordered]})
    return episodes, episode_of_trigger


def episode_of_claims(episodes: pd.DataFrame, window_days: int, member: np.ndarray,
                      day: np.ndarray) -> np.ndarray:
    """The episode (row of ``episodes``) each claim falls in, or -1.

    A claim of member m on day d is in the member's latest episode starting on or before d,
    if d ≤ start + ``window_days``.

    Examples
    --------
    >>> episodes = pd.DataFrame({"member": [1, 1], "start_day": [0, 95]})
    >>> episode_of_claims(episodes, 90, np.array([1, 1, 1, 1, 2]),
    ...                   np.array([-1, 90, 91, 185, 10])).tolist()
    [-1, 0, -1, 1, -1]
    """
    starts = _keys(episodes["member"].to_numpy(), episodes["start_day"].to_numpy())
    position = np.searchsorted(starts, _keys(member, day), side="right") - 1
    found = position >= 0
    position = np.where(found, position, 0)
    if len(episodes):
        same_member = episodes["member"].to_numpy()[position] == member
        in_window = day <= episodes["start_day"].to_numpy()[position] + window_days
        found &= same_member & in_window
    else:
        found[:] = False
    return np.where(found, position, -1)


def _keys(member: np.ndarray, day: np.ndarray) -> np.ndarray:
    """One sortable int64 per (member, day)."""
    return (np.asarray(member, dtype=np.int64) << _DAY_BITS) + (
        np.asarray(day, dtype=np.int64) + _DAY_OFFSET)
