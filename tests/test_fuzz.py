"""Fuzzing (issue 8): claims tables with random damage are either settled with rows and
cents reconciling, or refused with one clear sentence; never a traceback.

A short run for CI; ``python benchmarks/fuzz_campaign.py`` runs the same check on 10 000
examples or more.
"""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from fuzz_claims import damaged_file, run_and_check


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(damaged=damaged_file())
def test_damaged_claims_are_settled_or_refused_never_a_traceback(tmp_path_factory, damaged):
    outcome, _ = run_and_check(tmp_path_factory.mktemp("fuzz"), damaged)
    assert outcome in ("settled", "refused")
