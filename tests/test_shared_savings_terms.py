"""Shared-savings terms: what a contract may say, the messages when it is wrong, and the
CMS track presets checked against CMS's published figures."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from contracts.presets import available_presets, load_preset
from contracts.shared_savings import ConfidenceLevel, QualityLossRate
from tests.conftest import contract, contract_problems

NAME = "Practice North"
BASE = {"name": NAME, "model": "shared_savings", "provider": ["GP_N1", "GP_N2"],
        "performance_years": [2024], "baseline_years": [2022, 2023], "sharing_rate": 0.5}


def parsed(**terms):
    return contract(**{**BASE, **terms})


def problems(**terms):
    return contract_problems(**{**BASE, **terms})


def test_spec_appendix_contract_reads():
    contract = parsed(scope={"domains": "all", "segment": "elderly"}, attribution="column",
                      baseline_weights=[0.1, 0.3, 0.6], baseline_years=[2021, 2022, 2023],
                      trend=0.03, performance_years=[2024, 2025, 2026],
                      minimum_savings_rate={"confidence": 0.90}, minimum_loss_rate="same",
                      loss_sharing_rate=0.3, savings_cap=0.10, loss_cap=0.05,
                      quality_score=0.92)
    assert isinstance(contract.minimum_savings_rate, ConfidenceLevel)
    assert contract.two_sided and contract.effective_loss_sharing_rate == 0.3
    assert contract.benchmark_pmpm_for(2025) is None


def test_defaults_one_sided_first_dollar_msr_zero():
    contract = parsed()
    assert contract.minimum_savings_rate == 0.0 and contract.minimum_loss_rate == "same"
    assert contract.sharing_basis == "first_dollar" and not contract.two_sided
    assert contract.attribution == "column" and contract.payment_multiplier == 1.0


@pytest.mark.parametrize("terms, expected", [
    ({"baseline_years": None},
     "benchmark_pmpm: give benchmark_pmpm (an amount or a map year -> amount), or "
     "baseline_years"),
    ({"benchmark_pmpm": {2023: 300}},
     "benchmark_pmpm: no amount for performance year 2024 (the map gives 2023)"),
    ({"minimum_savings_rate": "cmss"}, "minimum_savings_rate: must be a fraction such as "
                                       "0.02, 'cms', or {confidence: p} (got 'cmss')"),
    ({"minimum_savings_rate": 2}, "minimum_savings_rate: must be a fraction from 0 to 1"),
    ({"minimum_savings_rate": {"confidence": 1.2}},
     "minimum_savings_rate: confidence: must be less than 1 (got {'confidence': 1.2})"),
    ({"minimum_loss_rate": "equal", "loss_sharing_rate": 0.3},
     "minimum_loss_rate: must be a fraction such as 0.02, or 'same' (got 'equal')"),
    ({"minimum_savings_rate": 0.4, "sharing_rate": 1.1}, "sharing_rate: must be at most 1"),
    ({"loss_cap": 0.05}, "loss_cap: only used when losses are shared; set loss_sharing_rate"),
    ({"loss_sharing_rate": {"quality_slope": 0.75, "min": 0.8, "max": 0.4}},
     "loss_sharing_rate: min 0.8 is above max 0.4"),
    ({"risk_cap": 0.03}, "risk_cap: only used with risk_adjustment: risk_score"),
    ({"risk_adjustment": "risk_score", "baseline_years": None, "benchmark_pmpm": 300},
     "risk_adjustment: risk_score: needs baseline_years"),
    ({"attribution": "plural"}, "attribution: must be 'column', 'plurality' or 'none'"),
    ({"attribution_domains": ["gp"]},
     "attribution_domains: only used with attribution: plurality"),
    ({"sharing_basis": "first_euro"}, "sharing_basis: must be 'first_dollar' or "
                                      "'above_threshold'"),
    ({"truncate_member_spend": 0}, "truncate_member_spend: must be greater than 0"),
    ({"payment_multiplier": 1.02}, "payment_multiplier: must be at most 1"),
    ({"sharing_rat": 0.5}, "unknown key 'sharing_rat' (did you mean 'sharing_rate'?)"),
])
def test_wrong_terms_name_the_contract_and_key(terms, expected):
    assert f"contract '{NAME}': " in problems(**terms)
    assert expected in problems(**terms)


def test_quality_loss_rate_at_the_contracts_quality():
    contract = parsed(quality_score=0.6,
                      loss_sharing_rate={"quality_slope": 0.75, "min": 0.4, "max": 0.75})
    assert isinstance(contract.loss_sharing_rate, QualityLossRate)
    assert contract.effective_loss_sharing_rate == pytest.approx(0.55)


# -- the CMS presets -------------------------------------------------------------------

MSSP_PRESETS = {  # preset -> the track's name in CMS's file
    "mssp_track_1": "1", "mssp_track_1_plus": "1+", "mssp_track_2": "2",
    "mssp_track_3": "3", "mssp_basic_a": "BASIC_A", "mssp_basic_b": "BASIC_B",
    "mssp_basic_c": "BASIC_C", "mssp_basic_d": "BASIC_D", "mssp_basic_e": "BASIC_E",
    "mssp_enhanced": "ENHANCED",
}

REFERENCE = (Path(__file__).resolve().parents[2] / "shared" / "reference" / "mssp"
             / "mssp_aco_financial_2013_2024.csv")


def test_every_track_has_a_preset():
    assert set(MSSP_PRESETS) <= set(available_presets())


@pytest.mark.parametrize("preset", MSSP_PRESETS)
def test_preset_reads_and_cites_its_source(preset):
    contract = parsed(preset=preset)
    assert contract.model == "shared_savings" and contract.payment_multiplier == 0.98
    assert "42 CFR 425" in contract.notes or "Fact Sheet" in contract.notes
    text = (Path(__file__).resolve().parents[1] / "contracts" / "presets"
            / f"{preset}.yaml").read_text()
    assert "# Source:" in text


def test_presets_match_cms_published_rates():
    """The highest FinalShareRate CMS paid per track is the preset's sharing rate;
    two-sided tracks are two-sided presets; BASIC C–E owe 30% of losses, ENHANCED between
    40% and 75%."""
    cms = pd.read_csv(REFERENCE)
    for preset, track in MSSP_PRESETS.items():
        rows = cms[cms["track"] == track]
        terms = load_preset(preset)
        assert terms["sharing_rate"] == pytest.approx(rows["FinalShareRate"].max()), preset
        two_sided = (rows["Risk_Model"] == "Two-Sided").all()
        assert ("loss_sharing_rate" in terms) == two_sided, preset
        published = rows["FinalLossRate"].dropna()
        if len(published):
            contract = parsed(preset=preset)
            rates = [float(contract.loss_sharing_rate.at(q))
                     if isinstance(contract.loss_sharing_rate, QualityLossRate)
                     else contract.loss_sharing_rate for q in (0.0, 0.5, 1.0)]
            assert min(rates) <= published.min() + 1e-9 and published.max() <= max(rates)


@pytest.mark.parametrize("preset, cap", [
    ("mssp_track_1", 0.10), ("mssp_basic_b", 0.10), ("mssp_track_2", 0.15),
    ("mssp_track_3", 0.20), ("mssp_enhanced", 0.20)])
def test_preset_savings_caps_follow_the_reference_readme(preset, cap):
    assert load_preset(preset)["savings_cap"] == cap
