"""Capitation terms: what a contract may say, the age/sex factor table it reads, and the
messages when either is wrong."""
from __future__ import annotations

import pytest

from contracts import ContractsError, load_contracts
from tests.conftest import contract, contract_problems

NAME = "Practice South"
BASE = {"name": NAME, "model": "capitation", "provider": "GP_S",
        "performance_years": [2024], "rate_pmpm": 42.50}


def parsed(**terms):
    return contract(**{**BASE, **terms})


def problems(**terms):
    return contract_problems(**{**BASE, **terms})


def test_spec_appendix_contract_reads():
    contract = parsed(scope={"domains": ["gp", "paramedical"]}, carve_out_codes=["G999"],
                      risk_adjustment="age_sex", age_sex_factors="example",
                      stop_loss={"attachment": 2500, "insurer_share": 0.9},
                      risk_corridors=[{"from": 0.03, "to": 0.08, "provider_share": 0.5},
                                      {"from": 0.08, "provider_share": 0.2}])
    assert contract.rate_for(2024) == 42.5 and contract.normalize
    assert contract.risk_corridors[1].to is None
    assert {row.sex for row in contract.age_sex_factors} == {"F", "M", "X"}


@pytest.mark.parametrize("terms, expected", [
    ({"rate_pmpm": "historic"}, "rate_pmpm: must be an amount, a map year -> amount, or "
                                "'historical' (got 'historic')"),
    ({"rate_pmpm": "historical"}, "rate_pmpm: historical needs baseline_years"),
    ({"discount": 0.05}, "discount: only used with rate_pmpm: historical"),
    ({"rate_pmpm": {2023: 40}}, "rate_pmpm: no amount for performance year 2024"),
    ({"risk_adjustment": "age_sex"}, "risk_adjustment: age_sex needs age_sex_factors"),
    ({"age_sex_factors": "example"}, "age_sex_factors: only used with risk_adjustment: "
                                     "age_sex"),
    ({"stop_loss": {"attachment": 0, "insurer_share": 0.9}},
     "stop_loss.attachment: must be greater than 0"),
    ({"risk_corridors": [{"from": 0.03, "provider_share": 0.5},
                         {"from": 0.08, "provider_share": 0.2}]},
     "band 1 needs 'to'; only the last band goes without"),
    ({"risk_corridors": [{"from": 0.03, "to": 0.08, "provider_share": 0.5},
                         {"from": 0.05, "provider_share": 0.2}]},
     "band 2 starts at 0.05, inside band 1"),
    ({"risk_corridors": [{"from": 0.08, "to": 0.03, "provider_share": 0.5}]},
     "band 1: 'to' 0.03 must be above 'from' 0.08"),
    ({"risk_adjustment": "age_sex",
      "age_sex_factors": [{"sex": "F", "age_from": 0, "age_to": 40, "factor": 1},
                          {"sex": "F", "age_from": 30, "factor": 1.5}]},
     "age_sex_factors: the F bands from 0 and from 30 overlap"),
    ({"risk_adjustment": "age_sex",
      "age_sex_factors": [{"sex": "Q", "age_from": 0, "factor": 1}]},
     "age_sex_factors[1].sex: must be 'F', 'M' or 'X'"),
])
def test_wrong_terms_name_the_contract_and_key(terms, expected):
    message = problems(**terms)
    assert f"contract '{NAME}': " in message and expected in message


def test_age_sex_table_from_a_csv_beside_the_contracts_file(tmp_path):
    (tmp_path / "factors.csv").write_text(
        "Sex,Age_from,Age_to,Factor\nF,0,,1.25\nM,0,,0.75\n\n", encoding="utf-8")
    (tmp_path / "contracts.yaml").write_text(
        "contracts:\n  - {name: S, model: capitation, provider: GP_S, "
        "performance_years: [2024], rate_pmpm: 40, risk_adjustment: age_sex, "
        "age_sex_factors: factors.csv}\n", encoding="utf-8")
    contract = load_contracts(tmp_path / "contracts.yaml")[0].contracts[0]
    assert [(r.sex, r.age_to, r.factor) for r in contract.age_sex_factors] == [
        ("F", None, 1.25), ("M", None, 0.75)]


@pytest.mark.parametrize("text, expected", [
    (None, "age_sex_factors: file 'factors.csv' not found"),
    ("sex,age,factor\nF,0,1\n", "lacks the column(s) age_from, age_to"),
    ("sex,age_from,age_to,factor\nF,0,,heavy\n", "age_sex_factors[1].factor: must be a "
                                                 "number (got 'heavy')"),
])
def test_a_bad_age_sex_table_is_named(tmp_path, text, expected):
    if text is not None:
        (tmp_path / "factors.csv").write_text(text, encoding="utf-8")
    (tmp_path / "contracts.yaml").write_text(
        "contracts:\n  - {name: S, model: capitation, provider: GP_S, "
        "performance_years: [2024], rate_pmpm: 40, risk_adjustment: age_sex, "
        "age_sex_factors: factors.csv}\n", encoding="utf-8")
    with pytest.raises(ContractsError) as caught:
        load_contracts(tmp_path / "contracts.yaml")
    assert "contract 'S': " in str(caught.value) and expected in str(caught.value)
