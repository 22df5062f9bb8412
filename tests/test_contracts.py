"""The contracts file: loading, presets, and an error that names contract and key."""
import json

import pytest

from contracts import (
    ContractsError,
    FeeForServiceTerms,
    available_presets,
    contracts_json_schema,
    load_contracts,
    parse_contracts,
)

# The fee-for-service contract and global keys of SPEC.md's appendix, as written there.
APPENDIX_FFS = """\
currency: EUR
member_months: any_day            # or fractional
contracts:
  - name: Hospital A, ceiling contract
    model: fee_for_service
    provider: HOSP_A
    scope: {domains: [hospital]}
    performance_years: [2024, 2025]
    price_factor: 1.0
    revenue_ceiling: 12500000      # per year; or a map {2024: 12500000, 2025: 12800000}
    clawback_rate: 0.65
scenarios:
  - name: dermatology to primary care
    shift: {from: {domain: hospital, care_codes: [DERM1, DERM2]}, to_domain: gp,
            fraction: 0.3, cost_ratio: 0.4}
"""

NAME = "Hospital A, ceiling contract"


def ffs(**terms):
    """A valid fee-for-service contract, with ``terms`` added or replaced."""
    return {"name": NAME, "model": "fee_for_service", "provider": "HOSP_A",
            "performance_years": [2024, 2025], **terms}


def problems(data, source="contracts.yaml"):
    with pytest.raises(ContractsError) as caught:
        parse_contracts(data, source)
    return str(caught.value)


def one_contract_problems(**terms):
    return problems({"contracts": [ffs(**terms)]})


def test_appendix_fee_for_service_contract_loads(tmp_path):
    path = tmp_path / "contracts.yaml"
    path.write_text(APPENDIX_FFS, encoding="utf-8")
    contracts_file, text = load_contracts(path)
    assert text == APPENDIX_FFS
    assert contracts_file.settings.currency == "EUR"
    assert contracts_file.settings.member_months == "any_day"
    (contract,) = contracts_file.contracts
    assert isinstance(contract, FeeForServiceTerms)
    assert contract.provider == ("HOSP_A",)
    assert contract.scope.covers("Hospital") and not contract.scope.covers("gp")
    assert [contract.ceiling_for(y) for y in (2024, 2025)] == [12_500_000.0] * 2
    assert contract.floor_for(2024) is None
    assert contract.effective_clawback_rate == 0.65
    (shift,) = contracts_file.scenarios[0].shift
    assert shift.fraction == 0.3 and shift.from_.care_codes == ["DERM1", "DERM2"]


def test_unknown_model_lists_the_valid_ones():
    message = one_contract_problems(model="fee_for_servic")
    assert ("contract 'Hospital A, ceiling contract': model: unknown model 'fee_for_servic' "
            "(did you mean 'fee_for_service'?); the available models are fee_for_service"
            ) in message


@pytest.mark.parametrize("terms, expected", [
    ({"clawback_rate": 1.5}, "clawback_rate: must be at most 1 (got 1.5)"),
    ({"topup_rate": -0.1}, "topup_rate: must be at least 0 (got -0.1)"),
    ({"price_factor": 0}, "price_factor: must be greater than 0 (got 0)"),
    ({"trend": -1}, "trend: must be greater than -1 (got -1)"),
    ({"quality_score": 1.2}, "quality_score: must be at most 1 (got 1.2)"),
    ({"provider": []}, "provider: must not be empty"),
    ({"performance_years": []}, "performance_years: must not be empty"),
    ({"performance_years": [2025, 2024]},
     "performance_years: must list years in increasing order without repeats"),
    ({"performance_years": [2024, "next"]},
     "performance_years[2]: must be a whole number (got 'next')"),
    ({"baseline_years": [2023, 2024]},
     "baseline_years: every baseline year must be before the first performance year 2024"),
    ({"baseline_weights": [1.0]}, "baseline_weights: needs baseline_years"),
    ({"baseline_years": [2022, 2023], "baseline_weights": [1.0]},
     "baseline_weights: needs one weight per baseline year [2022, 2023] (got [1.0])"),
    ({"baseline_years": [2022, 2023], "baseline_weights": [0, 0]},
     "baseline_weights: must have a positive sum"),
    ({"baseline_years": [2022, 2023], "baseline_weights": [-1, 2]},
     "baseline_weights[1]: must be at least 0 (got -1)"),
    ({"scope": {"domains": "hospital"}},
     "scope.domains: must be 'all' or a non-empty list of domain names (got 'hospital')"),
    ({"scope": {"domains": []}}, "scope.domains: must be 'all' or a non-empty list"),
    ({"revenue_ceiling": -5}, "revenue_ceiling: must be an amount of at least 0 (got -5)"),
    ({"revenue_ceiling": "12,5M"}, "revenue_ceiling: must be an amount (got '12,5M')"),
    ({"revenue_ceiling": 10, "revenue_floor": 11},
     "revenue_floor: 11 in 2024 is above revenue_ceiling 10"),
    ({"lump_sum": 10, "revenue_ceiling": 12},
     "lump_sum: cannot be combined with revenue_ceiling"),
    ({"lump_sum": 10, "clawback_rate": 0.65},
     "lump_sum: cannot be combined with clawback_rate"),
    ({"name": "  "}, "name: must not be empty"),
])
def test_out_of_range_terms_name_contract_and_key(terms, expected):
    message = one_contract_problems(**terms)
    contract = "contract 1" if "name" in terms else f"contract '{NAME}'"
    assert f"contracts.yaml: {contract}: {expected}" in message


def test_global_keys_are_checked():
    message = problems({"contracts": [ffs()], "year_start_month": 13,
                        "member_months": "weekly", "date_format": "dd-mm-yyyy"})
    assert "contracts.yaml: year_start_month: must be at most 12 (got 13)" in message
    assert ("contracts.yaml: member_months: must be 'any_day' or 'fractional' "
            "(got 'weekly')") in message
    assert "date_format: must be a strptime format such as '%d-%m-%Y'" in message


@pytest.mark.parametrize("data, expected", [
    ({"contracts": [ffs(clawbak_rate=0.5)]},
     f"contracts.yaml: contract '{NAME}': unknown key 'clawbak_rate' "
     "(did you mean 'clawback_rate'?)"),
    ({"contracts": [ffs(scope={"domain": ["gp"]})]},
     f"contract '{NAME}': scope: unknown key 'domain' (did you mean 'domains'?)"),
    ({"contracts": [ffs(degressive_tiers=[{"up_to": 5, "rate": 1}, {"rte": 0.5}])]},
     f"contract '{NAME}': degressive_tiers[2]: unknown key 'rte' (did you mean 'rate'?)"),
    ({"contracts": [ffs()], "curency": "USD"},
     "contracts.yaml: unknown key 'curency' (did you mean 'currency'?)"),
    ({"contracts": [ffs(colour="red")]}, f"contract '{NAME}': unknown key 'colour'"),
])
def test_unknown_key_suggests_the_closest(data, expected):
    assert expected in problems(data)


def test_every_problem_is_reported_one_line_each():
    message = problems({"contracts": [
        ffs(clawback_rate=2),
        {"model": "fee_for_service", "provider": "GP_1", "performance_years": [2024]},
        "not a contract",
        ffs(name="Other", price_factor=-1, topup_rate=3),
    ], "currency": ""})
    assert message.splitlines() == [
        f"contracts.yaml: contract '{NAME}': clawback_rate: must be at most 1 (got 2)",
        "contracts.yaml: contract 2: name: is required",
        "contracts.yaml: contract 3: must be a mapping of terms (got 'not a contract')",
        "contracts.yaml: contract 'Other': price_factor: must be greater than 0 (got -1)",
        "contracts.yaml: contract 'Other': topup_rate: must be at most 1 (got 3)",
        "contracts.yaml: currency: must not be empty",
    ]


def test_contract_names_must_be_unique():
    message = problems({"contracts": [ffs(), ffs(provider="HOSP_B")]})
    assert "each contract needs its own name; used more than once: " \
           "'Hospital A, ceiling contract'" in message


@pytest.mark.parametrize("data, expected", [
    ({}, "contracts.yaml: contracts: is required"),
    ({"contracts": []}, "contracts.yaml: contracts: must not be empty"),
    (None, "contracts.yaml: is empty"),
    ([ffs()], "contracts.yaml: the top level must be a mapping with a 'contracts:' list"),
])
def test_file_without_contracts_is_refused(data, expected):
    assert expected in problems(data)


def test_scope_and_provider_are_normalised():
    (contract,) = parse_contracts({"contracts": [ffs(
        provider=["GP_1", 20450],
        scope={"domains": [" Hospital", "GP", "gp"], "segment": "elderly"},
    )]}).contracts
    assert contract.provider == ("GP_1", "20450")
    assert contract.scope.domains == ["hospital", "gp"]
    assert contract.scope.segment == "elderly"


def test_lump_sum_is_ceiling_and_floor_with_rates_one():
    (contract,) = parse_contracts({"contracts": [ffs(lump_sum=9_000_000)]}).contracts
    for year in (2024, 2025):
        assert contract.ceiling_for(year) == contract.floor_for(year) == 9_000_000.0
    assert contract.effective_clawback_rate == contract.effective_topup_rate == 1.0


def test_year_maps_give_each_performance_year_its_amount():
    (contract,) = parse_contracts({"contracts": [ffs(
        revenue_ceiling={2024: 12_500_000, 2025: 12_800_000}, revenue_floor=10_000_000,
        topup_rate=0.5,
    )]}).contracts
    assert contract.ceiling_for(2025) == 12_800_000.0
    assert contract.floor_for(2025) == 10_000_000.0
    assert contract.effective_topup_rate == 0.5


@pytest.mark.parametrize("key", ["revenue_ceiling", "revenue_floor", "lump_sum"])
def test_year_map_missing_a_performance_year_is_refused(key):
    message = one_contract_problems(**{key: {2024: 1_000_000}})
    assert (f"contract '{NAME}': {key}: no amount for performance year 2025 "
            "(the map gives 2024)") in message


def test_year_map_keys_must_be_years():
    message = one_contract_problems(revenue_ceiling={"next year": 5})
    assert "revenue_ceiling: map keys must be years (got 'next year')" in message


def test_degressive_tiers_are_read():
    (contract,) = parse_contracts({"contracts": [ffs(degressive_tiers=[
        {"up_to": 5_000_000, "rate": 1.0}, {"up_to": 8_000_000, "rate": 0.8}, {"rate": 0.5},
    ])]}).contracts
    assert [(t.up_to, t.rate) for t in contract.degressive_tiers] == [
        (5_000_000, 1.0), (8_000_000, 0.8), (None, 0.5)]


@pytest.mark.parametrize("tiers, expected", [
    ([{"up_to": 5, "rate": 1}, {"up_to": 8, "rate": 0.5}],
     "degressive_tiers: the last tier must have no up_to, so that it pays all revenue "
     "above the tier before it (got up_to 8)"),
    ([{"rate": 1}, {"rate": 0.5}],
     "degressive_tiers: tier 1 needs up_to; only the last tier goes without"),
    ([{"up_to": 8, "rate": 1}, {"up_to": 5, "rate": 0.8}, {"rate": 0.5}],
     "degressive_tiers: up_to must increase from tier to tier (tier 2: 5 is not above 8)"),
    ([{"up_to": 5, "rate": -0.1}, {"rate": 0.5}],
     "degressive_tiers[1].rate: must be at least 0 (got -0.1)"),
    ([{"up_to": 0, "rate": 1}, {"rate": 0.5}],
     "degressive_tiers[1].up_to: must be greater than 0 (got 0)"),
    ([], "degressive_tiers: must not be empty"),
])
def test_degressive_tiers_are_checked(tiers, expected):
    assert f"contract '{NAME}': {expected}" in one_contract_problems(degressive_tiers=tiers)


def test_shipped_presets():
    assert available_presets() == [
        "mssp_basic_a", "mssp_basic_b", "mssp_basic_c", "mssp_basic_d", "mssp_basic_e",
        "mssp_enhanced", "mssp_track_1", "mssp_track_1_plus", "mssp_track_2", "mssp_track_3",
        "nl_lump_sum", "nl_revenue_ceiling"]


def test_preset_terms_merge_under_the_contracts_own():
    contract = {"name": "Hospital B", "preset": "nl_revenue_ceiling", "provider": "HOSP_B",
                "performance_years": [2024], "revenue_ceiling": 8_000_000}
    (merged,) = parse_contracts({"contracts": [contract]}).contracts
    assert merged.model == "fee_for_service" and merged.preset == "nl_revenue_ceiling"
    assert merged.ceiling_for(2024) == 8_000_000.0 and merged.clawback_rate == 1.0
    (overridden,) = parse_contracts({"contracts": [{**contract, "clawback_rate": 0.65}]}).contracts
    assert overridden.clawback_rate == 0.65


def test_nl_lump_sum_preset():
    (contract,) = parse_contracts({"contracts": [{
        "name": "GP practice", "preset": "nl_lump_sum", "provider": "GP_1",
        "performance_years": [2024], "lump_sum": 400_000,
    }]}).contracts
    assert contract.ceiling_for(2024) == contract.floor_for(2024) == 400_000.0
    assert contract.effective_clawback_rate == contract.effective_topup_rate == 1.0


@pytest.mark.parametrize("preset, key", [
    ("nl_revenue_ceiling", "revenue_ceiling"), ("nl_lump_sum", "lump_sum")])
def test_preset_says_which_terms_the_contract_must_give(preset, key):
    message = problems({"contracts": [{"name": "Hospital B", "preset": preset,
                                       "provider": "HOSP_B", "performance_years": [2024]}]})
    assert (f"contracts.yaml: contract 'Hospital B': {key} is required by preset "
            f"{preset}") in message


def test_unknown_preset_lists_the_available_ones():
    message = one_contract_problems(preset="nl_revenue_cieling")
    assert (f"contract '{NAME}': unknown preset 'nl_revenue_cieling' (did you mean "
            "'nl_revenue_ceiling'?); the presets are mssp_basic_a, ") in message
    assert "nl_lump_sum, nl_revenue_ceiling, or give the path of a .yaml file" in message


def test_preset_by_path_with_scope_merged_key_by_key(tmp_path):
    (tmp_path / "presets").mkdir()
    (tmp_path / "presets" / "our_hospitals.yaml").write_text(
        "model: fee_for_service\n"
        "scope: {domains: [hospital], segment: adults}\n"
        "revenue_ceiling: 9000000\n"
        "clawback_rate: 0.8\n", encoding="utf-8")
    (tmp_path / "contracts.yaml").write_text(
        "contracts:\n"
        "  - name: Hospital C\n"
        "    preset: presets/our_hospitals.yaml\n"
        "    provider: HOSP_C\n"
        "    performance_years: [2024]\n"
        "    scope: {segment: elderly}\n"
        "    clawback_rate: 0.5\n", encoding="utf-8")
    (contract,) = load_contracts(tmp_path / "contracts.yaml")[0].contracts
    assert contract.scope.domains == ["hospital"] and contract.scope.segment == "elderly"
    assert contract.ceiling_for(2024) == 9_000_000.0 and contract.clawback_rate == 0.5


def test_preset_file_missing_or_setting_a_contracts_own_keys(tmp_path):
    (tmp_path / "named.yaml").write_text("model: fee_for_service\nname: X\n", encoding="utf-8")
    (tmp_path / "contracts.yaml").write_text(
        "contracts:\n"
        "  - {name: A, preset: gone.yaml, provider: P, performance_years: [2024]}\n"
        "  - {name: B, preset: named.yaml, provider: P, performance_years: [2024]}\n",
        encoding="utf-8")
    message = str(pytest.raises(ContractsError, load_contracts, tmp_path / "contracts.yaml").value)
    assert "contract 'A': preset file 'gone.yaml' not found" in message
    assert "contract 'B': preset 'named.yaml' must not set name" in message


def test_json_contracts_file(tmp_path):
    path = tmp_path / "contracts.json"
    path.write_text(json.dumps({"contracts": [ffs(
        revenue_ceiling={"2024": 12_500_000, "2025": 12_800_000})]}), encoding="utf-8")
    (contract,) = load_contracts(path)[0].contracts
    assert contract.ceiling_for(2025) == 12_800_000.0


@pytest.mark.parametrize("name, text, expected", [
    ("contracts.txt", "contracts: []", "a contracts file must be .yaml, .yml or .json"),
    ("contracts.yaml", "contracts: [\n  {name: A", "line 2, column 11: not valid YAML"),
    ("contracts.json", '{"contracts": [}', "line 1, column 16: not valid JSON"),
    ("contracts.yml", "- name: A\n", "the top level must be a mapping"),
    ("contracts.yaml", "", "is empty; it needs a 'contracts:' list"),
    ("contracts.yaml", "contracts:\n\t- name: A\n",
     "line 2, column 1: a tab, where YAML wants spaces; indent with spaces, not tabs"),
    # safe_load only: a tag that would build a Python object is refused, not run.
    ("contracts.yaml", "contracts: !!python/object/apply:os.system ['echo hi']\n",
     "line 1, column 12: YAML tags such as !!python/object are not allowed"),
])
def test_unusable_files_are_refused_with_one_sentence(tmp_path, name, text, expected):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    message = str(pytest.raises(ContractsError, load_contracts, path).value)
    assert message.startswith(f"{path}: ") and expected in message
    assert "\n" not in message


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.yaml"
    assert str(pytest.raises(ContractsError, load_contracts, path).value) == f"{path}: no such file"


def test_json_schema_documents_the_file():
    schema = contracts_json_schema()
    assert json.loads(json.dumps(schema)) == schema
    assert "contracts" in schema["properties"] and "contracts" in schema["required"]
    for definition in [schema, *schema["$defs"].values()]:
        for key, field in definition["properties"].items():
            assert field.get("description"), key


def test_a_key_repeated_in_a_contract_is_refused_not_silently_overridden(tmp_path):
    path = tmp_path / "contracts.yaml"
    path.write_text(
        "contracts:\n"
        "  - name: A\n"
        "    model: fee_for_service\n"
        "    provider: P\n"
        "    performance_years: [2024]\n"
        "    clawback_rate: 0.5\n"
        "    clawback_rate: 0.9\n")
    with pytest.raises(ContractsError) as error:
        load_contracts(path)
    assert "line 7" in str(error.value)
    assert "'clawback_rate' appears twice" in str(error.value)


@pytest.mark.parametrize("terms, message", [
    ({"revenue_ceiling": 1e300}, "revenue_ceiling: must be an amount of at most "
                                 "10,000,000,000,000 (got 1e+300)"),
    ({"revenue_floor": {2024: 5, 2025: 2e13}}, "must be an amount of at most "
                                               "10,000,000,000,000 for 2025"),
    ({"price_factor": 1e9}, "price_factor: must be at most 1000"),
    ({"degressive_tiers": [{"up_to": 1e20, "rate": 1}, {"rate": 0.5}]}, "at most 1e+13"),
])
def test_absurd_amounts_in_terms_are_refused_not_settled(terms, message):
    # 1e300 as a benchmark once overflowed the cents arithmetic with a traceback.
    assert message in one_contract_problems(**terms)


def test_ids_and_codes_written_as_numbers_keep_what_was_written(tmp_path):
    """YAML reads 012345 as the octal number 5349 and 1_000 as 1000: a provider id, a
    care code or a segment keeps the text written; a money term is still its number."""
    path = tmp_path / "contracts.yaml"
    path.write_text(
        "contracts:\n  - name: A\n    model: shared_savings\n    provider: [012345, 1_000]\n"
        "    baseline_years: [2023]\n    performance_years: [2024]\n    sharing_rate: 0.5\n"
        "    carve_out_codes: [0101, 1.10]\n    scope: {domains: all, segment: 007}\n"
        "    truncate_member_spend: 1_000\n", encoding="utf-8")
    (contract,) = load_contracts(path)[0].contracts
    assert contract.provider == ("012345", "1_000")
    assert contract.carve_out_codes == ["0101", "1.10"] and contract.scope.segment == "007"
    assert contract.truncate_member_spend == 1000


def test_an_absurd_bundle_price_is_refused_not_settled(tmp_path):
    # 1e300 as an episode price once overflowed the cents arithmetic with a traceback.
    path = tmp_path / "contracts.yaml"
    path.write_text(
        "contracts:\n  - name: hips\n    model: bundled\n    provider: HOSP_A\n"
        "    bundle: {kind: episode, trigger_codes: [HIP01], window_days: 90}\n"
        "    performance_years: [2024]\n    price: 1.0e+300\n", encoding="utf-8")
    with pytest.raises(ContractsError) as error:
        load_contracts(path)
    assert "price: must be an amount of at most 10,000,000,000,000 (got 1.0e+300)" in str(
        error.value)
