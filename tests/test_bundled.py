"""Bundled payments (SPEC §4.4): the chain-care check, the reconciliation checks and
hand-worked episodes.

The episodes of the hand-worked case (HIP01/HIP02 billed by HOSP_A open an episode of 90
days; scope hospital, paramedical and gp), all in 2024:
    M1  10 Jan HIP01 HOSP_A 10 000   opens E1; its window ends 9 April (10 Jan + 90 days)
        1 Feb REHAB PARA 500, 15 Feb hospital HOSP_B 1 000 (any provider counts)
        1 Mar HIP02 HOSP_A 8 000     a trigger inside E1 joins it; the window stays put
        9 Apr GP 100                 the last day of the window: in E1
        10 Apr GP 200                one day after: in no episode
        20 Feb pharmacy 300          out of scope
        E1 = 10 000 + 500 + 1 000 + 8 000 + 100 = 19 600 (2 triggers, 5 claims)
    M2  1 May HIP01 4 000 + 20 May REHAB 300 = 4 300 (E2); 1 Oct HIP01 6 000 + 1 Nov
        REHAB 700 = 6 700 (E3, a new episode: 1 Oct is after E2's window)
    M3  1 Jun HIP01 12 000 = 12 000 (E4)
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from funding_models.bundled import episodes_of, reconcile
from funding_models.compare import settle_contracts
from funding_models.ledger import build_ledger
from tests.conftest import claims_frame, contract, members_frame

CLAIMS = [
    ("M1", "HOSP_A", "2024-01-10", "hospital", "HIP01", 1, 10_000),
    ("M1", "PARA", "2024-02-01", "paramedical", "REHAB", 1, 500),
    ("M1", "HOSP_B", "2024-02-15", "hospital", "H1", 1, 1_000),
    ("M1", "PHARM", "2024-02-20", "pharmacy", "RX", 1, 300),
    ("M1", "HOSP_A", "2024-03-01", "hospital", "HIP02", 1, 8_000),
    ("M1", "GP_N1", "2024-04-09", "gp", "G1", 1, 100),
    ("M1", "GP_N1", "2024-04-10", "gp", "G1", 1, 200),
    ("M2", "HOSP_A", "2024-05-01", "hospital", "HIP01", 1, 4_000),
    ("M2", "PARA", "2024-05-20", "paramedical", "REHAB", 1, 300),
    ("M2", "HOSP_A", "2024-10-01", "hospital", "HIP01", 1, 6_000),
    ("M2", "PARA", "2024-11-01", "paramedical", "REHAB", 1, 700),
    ("M3", "HOSP_A", "2024-06-01", "hospital", "HIP01", 1, 12_000),
]


def episode_terms(**overrides):
    base = dict(model="bundled", name="Hip episodes", provider="HOSP_A",
                bundle={"kind": "episode", "trigger_codes": ["HIP01", "HIP02"],
                        "window_days": 90},
                scope={"domains": ["hospital", "paramedical", "gp"]},
                performance_years=[2024], price=10_000)
    return contract(**{**base, **overrides})


def settle(terms, ledger):
    (result,) = settle_contracts([terms], ledger)
    return result


def per_year(result):
    table = next(t for t in result.tables if t.title == "Bundle per performance year")
    return table.frame.set_index("year")


# -- the checks of SPEC §4.4 -------------------------------------------------------------

def test_spec_chain_care_check():
    """1 000 patients with diabetes, 150 of them enrolled half the year: 850 + 75 = 925
    patient-years at €400: revenue €370 000 (prospective: what the insurer pays)."""
    rows = [(f"M{i:04d}", "adults", "CARE", 1.0, "2024-01-01",
             "2024-06-30" if i < 150 else "2024-12-31") for i in range(1_000)]
    members = members_frame(rows).assign(conditions="diabetes;copd")
    claims = [("M0001", "CARE", "2024-03-01", "gp", "KZ1", 1, 100)]
    ledger = build_ledger(claims_frame(claims), members=members)
    terms = contract(model="bundled", name="Diabetes", provider="CARE",
                     bundle={"kind": "condition", "condition": "Diabetes"},
                     performance_years=[2024], price=400, reconciliation="prospective")
    result = settle(terms, ledger)
    (row,) = result.rows
    assert per_year(result).loc[2024, "patient_years"] == 925
    assert row.insurer_cost == row.provider_revenue == 37_000_000
    assert row.provider_cost == row.ffs_equivalent == 10_000
    assert row.members == 1_000 and row.reconciliation is None


@pytest.mark.parametrize("gap, quality, expected, bound", [
    (600_000, 1.0, 500_000, "stop_gain"),      # +600k capped at 20% of 2.5M
    (-700_000, 1.0, -500_000, "stop_loss"),    # −700k floored at −20% of 2.5M
    (200_000, 0.9, 180_000, ""),               # +200k x quality 0.9
    (-200_000, 0.9, -200_000, ""),             # quality scales gains only
])
def test_spec_reconciliation_checks(gap, quality, expected, bound):
    npra, applied = reconcile(2_500_000, 2_500_000 - gap, quality_score=quality,
                              stop_gain_rate=0.2, stop_loss_rate=0.2)
    assert npra == pytest.approx(expected) and applied == bound


# -- episodes, hand-worked ---------------------------------------------------------------

def test_hand_worked_episodes():
    episodes = episodes_of(episode_terms(), build_ledger(claims_frame(CLAIMS)))
    assert episodes[["member", "trigger_date", "trigger_code", "triggers", "claims",
                     "cost"]].values.tolist() == [
        ["M1", np.datetime64("2024-01-10"), "HIP01", 2, 5, 1_960_000],
        ["M2", np.datetime64("2024-05-01"), "HIP01", 1, 2, 430_000],
        ["M2", np.datetime64("2024-10-01"), "HIP01", 1, 2, 670_000],
        ["M3", np.datetime64("2024-06-01"), "HIP01", 1, 1, 1_200_000],
    ]


def test_retrospective_with_winsorising():
    """Costs 4 300, 6 700, 12 000, 19 600; percentiles 25% and 75% by linear interpolation:
    4 300 + 0.75 x 2 400 = 6 100 and 12 000 + 0.25 x 7 600 = 13 900; winsorised 6 100 +
    6 700 + 12 000 + 13 900 = 38 700. Target 4 x 10 000 = 40 000: NPRA 1 300 x quality 0.9
    = 1 170. Claims stay paid: insurer cost 42 600 + 1 170 = 43 770."""
    result = settle(episode_terms(winsorize=[0.25, 0.75], quality_score=0.9,
                                  stop_gain_rate=0.2, stop_loss_rate=0.2),
                    build_ledger(claims_frame(CLAIMS)))
    (row,) = result.rows
    line = per_year(result).loc[2024]
    assert line["episodes"] == 4 and line["target"] == 40_000
    assert line["actual_cost"] == 42_600 and line["winsorised_cost"] == 38_700
    assert row.reconciliation == 117_000 and row.provider_result == 117_000
    assert row.insurer_cost == 4_260_000 + 117_000 and row.ffs_equivalent == 4_260_000
    listed = result.episodes
    assert listed["winsorised_cost"].tolist() == [13_900, 6_100, 12_000, 6_700]
    assert (listed["target"] == 10_000).all()


def test_prospective_episodes_pay_the_target():
    result = settle(episode_terms(reconciliation="prospective"),
                    build_ledger(claims_frame(CLAIMS)))
    (row,) = result.rows
    assert row.insurer_cost == row.provider_revenue == 4_000_000
    assert row.provider_result == 4_000_000 - 4_260_000 and row.reconciliation is None


def test_historical_episode_price():
    """2023: one episode of 9 000 (M4). Trend 5%, discount 2%: 9 000 x 1.05 x 0.98 =
    9 261.00 per episode."""
    claims = CLAIMS + [("M4", "HOSP_A", "2023-03-01", "hospital", "HIP01", 1, 9_000)]
    result = settle(episode_terms(price="historical", baseline_years=[2023], trend=0.05,
                                  discount=0.02), build_ledger(claims_frame(claims)))
    assert per_year(result).loc[2024, "price"] == pytest.approx(9_261.00)
    assert per_year(result).loc[2024, "target"] == 4 * 9_261.00


def test_episode_of_a_december_trigger_belongs_to_its_year_and_takes_january_claims():
    claims = [("M1", "HOSP_A", "2023-12-20", "hospital", "HIP01", 1, 5_000),
              ("M1", "PARA", "2024-01-05", "paramedical", "REHAB", 1, 400),
              ("M1", "HOSP_A", "2024-01-10", "hospital", "HIP02", 1, 1_000)]
    episodes = episodes_of(episode_terms(performance_years=[2023, 2024]),
                           build_ledger(claims_frame(claims)))
    assert episodes[["year", "triggers", "cost"]].values.tolist() == [[2023, 2, 640_000]]


def test_without_triggers_the_year_has_no_episodes():
    claims = [("M1", "GP_N1", "2024-01-05", "gp", "G1", 1, 50)]
    result = settle(episode_terms(), build_ledger(claims_frame(claims)))
    (row,) = result.rows
    assert "no episodes" in row.status and row.insurer_cost == 0
    assert result.warnings


def test_condition_bundle_historical_retrospective():
    """Members with copd: M1 (12 months in 2023 and 2024) and M2 (2024 only, 6 months).
    2023: 1 200 / 1 patient-year. 2024 price 1 200 x 1.1 x (1 − 0.1) = 1 188 per patient-
    year x 1.5 = 1 782; 2024 cost 900 + 300 = 1 200: NPRA 582 x quality 1, capped by a
    stop-gain of 10% x 1 782 = 178.20."""
    members = members_frame([("M1", "adults", "CARE", 1.0, "2023-01-01", None),
                             ("M2", "adults", "CARE", 1.0, "2024-07-01", None),
                             ("M3", "adults", "CARE", 1.0, "2023-01-01", None)])
    members["conditions"] = ["copd", "diabetes; COPD", "diabetes"]
    claims = [("M1", "GP_N1", "2023-03-01", "gp", "G1", 1, 1_200),
              ("M1", "GP_N1", "2024-03-01", "gp", "G1", 1, 900),
              ("M2", "GP_N1", "2024-08-01", "gp", "G1", 1, 300),
              ("M3", "GP_N1", "2024-08-01", "gp", "G1", 1, 5_000)]
    terms = contract(model="bundled", name="COPD", provider="CARE",
                     bundle={"kind": "condition", "condition": "copd"},
                     performance_years=[2024], price="historical", baseline_years=[2023],
                     trend=0.1, discount=0.1, stop_gain_rate=0.1)
    result = settle(terms, build_ledger(claims_frame(claims), members=members))
    (row,) = result.rows
    line = per_year(result).loc[2024]
    assert line["patient_years"] == 1.5 and line["price"] == pytest.approx(1_188)
    assert line["target"] == 1_782 and line["actual_cost"] == 1_200
    assert row.reconciliation == 17_820 and "stop_gain" in row.status


def test_bundle_terms_are_checked():
    from tests.conftest import contract_problems

    message = contract_problems(model="bundled", name="B", provider="H",
                                performance_years=[2024], price=100,
                                bundle={"kind": "condition", "condition": "copd"},
                                winsorize=[0.01, 0.99])
    assert "winsorize: only used with episode bundles" in message
    message = contract_problems(model="bundled", name="B", provider="H",
                                performance_years=[2024], price="histor",
                                bundle={"kind": "episode", "trigger_codes": ["X"],
                                        "window_days": 30})
    assert "price: must be an amount or 'historical' (got 'histor')" in message


def test_episodes_sheet_and_its_csv_beyond_the_row_limit(tmp_path, monkeypatch):
    from fileio import workbook
    from funding_models.results import Comparison, summary_frame

    result = settle(episode_terms(), build_ledger(claims_frame(CLAIMS)))
    comparison = Comparison(summary_frame(result.rows), [result], [], pd.DataFrame(), "",
                            {}, "EUR")
    path = tmp_path / "out.xlsx"
    workbook.write_comparison_workbook(comparison, path)
    import openpyxl
    rows = list(openpyxl.load_workbook(path)["Episodes"].iter_rows(values_only=True))
    assert rows[0][:3] == ("contract", "year", "member") and len(rows) == 5
    monkeypatch.setattr(workbook, "MAX_DATA_ROWS", 3)
    workbook.write_comparison_workbook(comparison, path)
    note = openpyxl.load_workbook(path)["Episodes"]["A1"].value
    assert note.startswith("4 episodes are more than a sheet holds")
    listed = pd.read_csv(tmp_path / "out_episodes.csv")
    assert listed["cost"].tolist() == [19_600, 4_300, 12_000, 6_700]


def test_only_triggers_of_the_years_settled_open_episodes():
    """A trigger of 20 December 2023, neither a performance nor a baseline year, opens no
    episode, so it cannot swallow the hip of 15 January 2024 (review finding)."""
    claims = [("M1", "HOSP_A", "2023-12-20", "hospital", "HIP01", 1, 7_000),
              ("M1", "HOSP_A", "2024-01-15", "hospital", "HIP01", 1, 9_000),
              ("M1", "PARA", "2024-02-01", "paramedical", "REHAB", 1, 500)]
    result = settle(episode_terms(price=8_000), build_ledger(claims_frame(claims)))
    line = per_year(result).loc[2024]
    assert line["episodes"] == 1 and line["actual_cost"] == 9_500


def test_which_trigger_opens_an_episode_does_not_depend_on_row_order():
    claims = [("M1", "HOSP_A", "2024-03-01", "hospital", "HIP02", 1, 2_000),
              ("M1", "HOSP_A", "2024-03-01", "hospital", "HIP01", 1, 1_000)]
    for rows in (claims, claims[::-1]):
        episodes = episodes_of(episode_terms(), build_ledger(claims_frame(rows)))
        assert episodes["trigger_code"].tolist() == ["HIP01"]
