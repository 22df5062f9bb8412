"""Laws episodes and reconciliation must keep, for any data (hypothesis): a claim is in
at most one episode, the one whose window holds it; every trigger is in an episode that
starts at a trigger; NPRA never passes its bounds."""
from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from funding_models.bundled import reconcile
from funding_models.episodes import build_episodes, episode_of_claims

members = st.integers(0, 4)
days = st.integers(-400, 800)
events = st.lists(st.tuples(members, days), min_size=0, max_size=40)


@given(events, events, st.integers(0, 120))
def test_each_claim_is_in_at_most_one_episode_the_one_holding_it(triggers, claims, window):
    trigger_member = np.array([m for m, _ in triggers], dtype=np.int64)
    trigger_day = np.array([d for _, d in triggers], dtype=np.int64)
    episodes, of_trigger = build_episodes(trigger_member, trigger_day, window)
    member = np.array([m for m, _ in claims], dtype=np.int64)
    day = np.array([d for _, d in claims], dtype=np.int64)
    placed = episode_of_claims(episodes, window, member, day)
    for m, d, episode in zip(member, day, placed):
        holding = [i for i, e in episodes.iterrows()
                   if e["member"] == m and e["start_day"] <= d <= e["start_day"] + window]
        assert len(holding) <= 1
        assert episode == (holding[0] if holding else -1)
    # Each trigger lies in its episode's window; episodes start at a trigger.
    for i, (m, d) in enumerate(triggers):
        episode = episodes.iloc[of_trigger[i]]
        assert episode["member"] == m
        assert episode["start_day"] <= d <= episode["start_day"] + window
    starts = set(zip(episodes["member"], episodes["start_day"]))
    assert starts <= set(triggers)
    assert len(episodes) == len(starts)  # no episode twice


@given(st.floats(0, 1e9), st.floats(0, 2e9), st.floats(0, 1), st.floats(0, 1),
       st.floats(0, 1))
def test_npra_never_passes_its_bounds(target, cost, quality, gain, loss):
    npra, _ = reconcile(target, cost, quality_score=quality, stop_gain_rate=gain,
                        stop_loss_rate=loss)
    assert -loss * target - 1e-6 <= npra <= gain * target + 1e-6
    assert npra <= max(target - cost, 0) + 1e-6
