"""The synthetic sample: shape per SPEC §1, the features the sample must show, and files."""
from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import fastexcel
import numpy as np
import openpyxl
import pandas as pd
import pytest
import yaml

from fileio import sample_data
from fileio.sample_data import BAD_ROWS, CONTRACTS_YAML, generate_sample, write_sample

SHIPPED = Path(__file__).resolve().parent.parent / "sample_workbooks"

# The column names of SPEC §1, written out here rather than taken from the module.
SPEC_COLUMNS = {
    "claims": ["claim_id", "line", "member_id", "provider_id", "service_date", "domain",
               "care_code", "quantity", "amount", "paid_date"],
    "members": ["member_id", "birth_date", "sex", "segment", "enrollment_start",
                "enrollment_end", "attributed_provider", "risk_score", "conditions"],
    "enrollment": ["member_id", "enrollment_start", "enrollment_end"],
    "attribution": ["member_id", "year", "provider_id"],
    "fee_schedule": ["care_code", "tariff"],
}
UNPRICED = {"H900", "H910", "H920"}


@pytest.fixture(scope="module")
def clean():
    return generate_sample(members=1500, seed=11, bad_rows=False)


@pytest.fixture(scope="module")
def with_faults():
    return generate_sample(members=1500, seed=11, bad_rows=True)


@pytest.fixture(scope="module")
def large():
    """Enough members for rates and trends to show through the noise."""
    return generate_sample(members=30_000, seed=5, bad_rows=False)


@pytest.fixture(scope="module")
def default():
    """The shipped sample's arguments (3 000 members, 2022-2024, seed 7)."""
    return generate_sample()


# --------------------------------------------------------------------------- shape


def test_same_seed_gives_equal_tables():
    first = generate_sample(members=300, seed=3)
    second = generate_sample(members=300, seed=3)
    for name in SPEC_COLUMNS:
        pd.testing.assert_frame_equal(first[name], second[name])
    other = generate_sample(members=300, seed=4)
    assert not first["claims"].equals(other["claims"])


@pytest.mark.parametrize("name", sorted(SPEC_COLUMNS))
def test_columns_are_those_of_spec(clean, with_faults, name):
    assert list(clean[name].columns) == SPEC_COLUMNS[name]
    assert list(with_faults[name].columns) == SPEC_COLUMNS[name]
    assert list(sample_data.TABLES[name]) == SPEC_COLUMNS[name]


def test_column_types_without_faults(clean):
    claims = clean["claims"]
    for column in ("service_date", "paid_date"):
        assert pd.api.types.is_datetime64_any_dtype(claims[column])
    assert claims["amount"].dtype == np.float64
    assert claims["line"].dtype == np.int64 and claims["quantity"].dtype == np.int64
    assert claims["quantity"].min() >= 1
    assert claims[["claim_id", "member_id", "provider_id", "domain"]].notna().all().all()
    assert not claims.duplicated(["claim_id", "line"]).any()
    assert claims["claim_id"].str.fullmatch(r"C\d{7}").all()
    assert clean["members"]["member_id"].str.fullmatch(r"M\d{6}").all()
    assert clean["members"]["member_id"].is_unique
    assert (claims["paid_date"] > claims["service_date"]).all()


def test_sizes_grow_with_members():
    small = generate_sample(members=500, seed=2, bad_rows=False)
    big = generate_sample(members=2000, seed=2, bad_rows=False)
    assert len(small["members"]) == 500 and len(big["members"]) == 2000
    ratio = len(big["claims"]) / len(small["claims"])
    assert 3.4 < ratio < 4.6
    per_member_year = len(big["claims"]) / (2000 * 3)
    assert per_member_year == pytest.approx(sample_data.LINES_PER_MEMBER_YEAR, rel=0.1)


def test_years_must_be_consecutive():
    with pytest.raises(ValueError, match="consecutive"):
        generate_sample(members=10, years=(2022, 2024))
    two = generate_sample(members=300, years=(2023, 2024), bad_rows=False)
    assert set(two["claims"]["service_date"].dt.year) == {2023, 2024}
    assert set(two["attribution"]["year"]) == {2023, 2024}


# --------------------------------------------------------------------------- members


def test_members_are_plausible(large):
    members = large["members"]
    age = 2022 - members["birth_date"].dt.year - (
        members["birth_date"].dt.strftime("%m%d") > "0101")
    expected = np.select([age < 18, age < 65], ["youth", "adults"], "elderly")
    assert (members["segment"] == expected).all()
    assert set(members["sex"]) == {"F", "M", "X"}
    assert (members["sex"] == "X").mean() < 0.02
    assert (members["risk_score"] > 0).all()
    assert members["risk_score"].mean() == pytest.approx(1.0, abs=0.02)
    assert members["risk_score"].median() < members["risk_score"].mean()  # right-skewed
    by_segment = members.groupby("segment")["risk_score"].mean()
    assert by_segment["elderly"] > by_segment["adults"] > by_segment["youth"]
    has = members["conditions"].notna()
    assert 0.05 < has.mean() < 0.35
    tokens = set(";".join(members.loc[has, "conditions"]).split(";"))
    assert tokens == {"diabetes", "copd", "heart_failure", "depression"}
    with_conditions = members.groupby(has)["risk_score"].mean()
    assert with_conditions[True] > with_conditions[False]
    diabetes = members["conditions"].fillna("").str.contains("diabetes")
    assert diabetes[members["segment"] == "elderly"].mean() > 3 * diabetes[
        members["segment"] == "adults"].mean()
    assert set(members["attributed_provider"]) == set(sample_data.GP_PRACTICES)


def test_enrollment_has_gaps_and_matches_members(clean):
    members = clean["members"].set_index("member_id")
    enrollment = clean["enrollment"]
    rows = enrollment.groupby("member_id").size()
    several = rows[rows > 1].index
    assert 0.03 < len(several) / len(members) < 0.08
    spans = enrollment.groupby("member_id").agg(
        start=("enrollment_start", "min"), end=("enrollment_end", "max"))
    pd.testing.assert_series_equal(spans["start"], members.loc[spans.index, "enrollment_start"],
                                   check_names=False)
    pd.testing.assert_series_equal(spans["end"], members.loc[spans.index, "enrollment_end"],
                                   check_names=False)
    gapped = enrollment[enrollment["member_id"].isin(several)]
    first, second = gapped.groupby("member_id").nth(0), gapped.groupby("member_id").nth(1)
    gap_days = (second["enrollment_start"].to_numpy() - first["enrollment_end"].to_numpy())
    assert (gap_days > np.timedelta64(1, "D")).all()
    # Some join or leave during the period, most are enrolled throughout.
    throughout = (members["enrollment_start"] == "2022-01-01") & (
        members["enrollment_end"] == "2024-12-31")
    assert 0.8 < throughout.mean() < 0.95


def test_claims_fall_within_enrollment(clean):
    claims = clean["claims"][["member_id", "service_date"]].reset_index()
    joined = claims.merge(clean["enrollment"], on="member_id")
    inside = (joined["service_date"] >= joined["enrollment_start"]) & (
        joined["service_date"] <= joined["enrollment_end"])
    assert inside.groupby(joined["index"]).any().reindex(claims["index"]).all()


def test_attribution_changes_between_years(clean):
    attribution = clean["attribution"]
    assert not attribution.duplicated(["member_id", "year"]).any()
    assert set(attribution["provider_id"]) == set(sample_data.GP_PRACTICES)
    table = attribution.pivot(index="member_id", columns="year", values="provider_id")
    for before, after in ((2022, 2023), (2023, 2024)):
        both = table[[before, after]].dropna()
        assert 0.03 < (both[before] != both[after]).mean() < 0.10
    # attributed_provider is the practice of the last year.
    last = attribution[attribution["year"] == 2024].set_index("member_id")["provider_id"]
    members = clean["members"].set_index("member_id")["attributed_provider"]
    assert (members.loc[last.index] == last).all()


# --------------------------------------------------------------------------- claims


def test_domains_providers_and_codes(clean):
    claims = clean["claims"]
    assert set(claims["domain"]) == set(sample_data.DOMAINS)
    assert set(claims["provider_id"]) == set(sample_data.PROVIDERS)
    assert {"HIP01", "HIP02", "DERM1", "DERM2", "DERM_GP", "G999", "REHAB", "HFU",
            "KZ_DM"} <= set(claims["care_code"])
    care_group = claims[claims["provider_id"] == "CARE_GROUP"]
    assert set(care_group["domain"]) == {"gp", "lab", "paramedical"}
    gp_codes = set(claims.loc[claims["domain"] == "gp", "care_code"])
    assert "G999" in gp_codes


def test_members_in_claims_exist(clean, with_faults):
    known = set(clean["members"]["member_id"])
    assert set(clean["claims"]["member_id"]) <= known
    unknown = set(with_faults["claims"]["member_id"].dropna()) - known
    assert unknown == {"M001501"}


def test_corrections_reverse_an_earlier_line(clean):
    claims = clean["claims"]
    negative = claims[claims["amount"] < 0]
    assert 0.003 < len(negative) / len(claims) < 0.008
    originals = claims[claims["amount"] > 0]
    matched = negative.merge(originals, on=["claim_id", "service_date", "care_code",
                                            "provider_id", "member_id"],
                             suffixes=("", "_original"))
    matched = matched[(matched["amount"] == -matched["amount_original"])
                      & (matched["line"] > matched["line_original"])]
    assert set(matched.set_index(["claim_id", "line"]).index) == set(
        negative.set_index(["claim_id", "line"]).index)
    # A correction takes the line numbers after the claim's last ordinary line.
    last = claims.groupby("claim_id")["line"].transform("max")
    assert (negative["line"] > last[negative.index] - negative.groupby("claim_id")[
        "line"].transform("size")).all()
    lines = claims.groupby("claim_id")["line"].agg(["min", "max", "size"])
    assert (lines["min"] == 1).all() and (lines["max"] == lines["size"]).all()


def test_unpriced_codes_exist(clean):
    schedule = set(clean["fee_schedule"]["care_code"])
    billed = set(clean["claims"]["care_code"])
    assert billed - schedule == UNPRICED
    assert clean["fee_schedule"]["care_code"].is_unique
    assert (clean["fee_schedule"]["tariff"] > 0).all()


def test_amounts_have_at_most_two_decimals(clean, with_faults):
    for amounts in (clean["claims"]["amount"],
                    pd.to_numeric(with_faults["claims"]["amount"], errors="coerce").dropna(),
                    clean["fee_schedule"]["tariff"]):
        cents = amounts.to_numpy(float) * 100
        assert np.abs(cents - np.round(cents)).max() < 1e-6


def test_prices_follow_the_fee_schedule(clean):
    claims = clean["claims"]
    tariff = claims["care_code"].map(clean["fee_schedule"].set_index("care_code")["tariff"])
    flat = claims["domain"].isin(["gp", "paramedical", "lab", "mental_health"])
    assert (claims.loc[flat, "amount"].abs() == (tariff * claims["quantity"])[flat]).all()
    hospital = claims[(claims["domain"] == "hospital") & tariff.notna()]
    ratio = hospital["amount"].abs() / (tariff * claims["quantity"])[hospital.index]
    by_house = ratio.groupby(hospital["provider_id"]).mean()
    assert by_house["HOSP_A"] > 1.02 and by_house["HOSP_B"] < 0.98
    pharmacy = claims[claims["domain"] == "pharmacy"]
    assert (pharmacy["amount"] != (tariff * claims["quantity"])[pharmacy.index]).mean() > 0.5
    quantities = claims.loc[claims["domain"].isin(["gp", "paramedical"]), "quantity"]
    assert (quantities == 1).mean() > 0.7 and quantities.isin([2, 3]).any()


def test_cost_level_tail_and_trend(large):
    claims = large["claims"]
    year = claims["service_date"].dt.year
    per_member_year = claims.groupby([claims["member_id"], year])["amount"].sum()
    assert 1500 < claims["amount"].sum() / (30_000 * 3) < 3000
    assert (per_member_year > 50_000).sum() >= 5
    hospital = claims[claims["domain"] == "hospital"].groupby(year)["amount"].sum()
    assert hospital[2024] > hospital[2022]
    paid_lag = (claims["paid_date"] - claims["service_date"]).dt.days
    assert paid_lag.min() >= 3 and paid_lag.median() < 30


def test_last_year_shows_a_waterbed(large):
    claims = large["claims"]
    year = claims["service_date"].dt.year
    hospital_derm = claims["care_code"].isin(["DERM1", "DERM2"]) & (
        claims["provider_id"] == "HOSP_A")
    gp_derm = claims["care_code"] == "DERM_GP"
    hospital = hospital_derm.groupby(year).sum()
    gp = gp_derm.groupby(year).sum()
    assert hospital[2024] < 0.9 * hospital[2023]
    # The moved visits lift GP dermatology above its own trend (2.5% a year).
    assert gp[2024] > 1.035 * gp[2023]


def test_hip_replacements_are_followed_by_rehabilitation(clean):
    claims = clean["claims"]
    hips = claims[claims["care_code"].isin(["HIP01", "HIP02"]) & (claims["amount"] > 0)]
    assert len(hips) > 0
    members = clean["members"].set_index("member_id")
    assert (members.loc[hips["member_id"], "segment"] == "elderly").mean() > 0.6
    rehab = claims[claims["care_code"] == "REHAB"].merge(
        hips[["member_id", "service_date"]], on="member_id", suffixes=("", "_hip"))
    days = (rehab["service_date"] - rehab["service_date_hip"]).dt.days
    assert days.between(7, 90).any()


# --------------------------------------------------------------------------- bad rows


def test_bad_rows_are_absent_unless_asked(clean):
    claims = clean["claims"]
    assert not (claims["member_id"].str.fullmatch(r"M\d+").eq(False)).any()
    assert claims["amount"].notna().all()


def test_bad_rows_are_appended(clean, with_faults):
    claims = with_faults["claims"]
    n = len(clean["claims"])
    pd.testing.assert_frame_equal(
        claims.iloc[:n].astype({"amount": float}).assign(
            service_date=pd.to_datetime(claims["service_date"].iloc[:n]).astype(
                "datetime64[ns]")),
        clean["claims"])
    bad = claims.iloc[n:].reset_index(drop=True)
    assert len(bad) == 12
    assert len(BAD_ROWS) == 10
    assert (bad["claim_id"] > clean["claims"]["claim_id"].iloc[-1]).all()

    assert (bad["amount"] == "abc").sum() == 1
    assert bad["member_id"].isna().sum() == 1
    assert (bad["service_date"] == "31/02/2024").sum() == 1
    assert (bad["quantity"] < 0).sum() == 1
    assert bad["domain"].isna().sum() == 1
    assert bad["amount"].isna().sum() == 1
    key = bad.duplicated(["claim_id", "line"], keep=False)
    exact = bad.duplicated(keep=False)
    assert exact.sum() == 2
    conflicting = bad[key & ~exact]
    assert len(conflicting) == 2 and conflicting["amount"].nunique() == 2
    assert (bad["member_id"] == "M001501").sum() == 1
    # The date after the member left.
    members = with_faults["members"].set_index("member_id")
    dated = bad[bad["service_date"].map(lambda v: isinstance(v, dt.date))
                & bad["member_id"].isin(members.index)]
    ends = members.loc[dated["member_id"], "enrollment_end"].dt.date.to_numpy()
    assert (dated["service_date"].to_numpy() > ends).sum() == 1
    # Other values of the faulty object columns are still dates and floats.
    assert claims["service_date"].iloc[:n].map(type).eq(dt.date).all()
    assert claims["amount"].iloc[:n].map(type).eq(float).all()


# --------------------------------------------------------------------------- files


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    directory = tmp_path_factory.mktemp("sample")
    paths = write_sample(directory, members=150, seed=9,
                         formats=("xlsx", "csv", "parquet"))
    return directory, paths


def test_write_sample_lists_its_files(written):
    directory, paths = written
    names = [p.name for p in paths]
    assert names[0] == "claims.xlsx" and names[-1] == "contracts.yaml"
    for kind in ("csv", "parquet"):
        assert {f"{t}.{kind}" for t in SPEC_COLUMNS} <= set(names)
    assert all(p.parent == directory and p.exists() for p in paths)
    assert not list(directory.glob("*.tmp"))


def test_written_xlsx_reads_back(written):
    directory, _ = written
    expected = generate_sample(members=150, seed=9)
    reader = fastexcel.read_excel(directory / "claims.xlsx")
    assert reader.sheet_names == list(SPEC_COLUMNS)
    for name, columns in SPEC_COLUMNS.items():
        frame = reader.load_sheet(name).to_pandas()
        assert list(frame.columns) == columns
        assert len(frame) == len(expected[name])
    members = reader.load_sheet("members").to_pandas()
    assert pd.api.types.is_datetime64_any_dtype(members["birth_date"])
    assert (members["member_id"] == expected["members"]["member_id"]).all()

    claims = pd.read_excel(directory / "claims.xlsx", sheet_name="claims", engine="openpyxl")
    n = len(claims) - 12
    assert claims["amount"].iloc[:n].astype(float).sum() == pytest.approx(
        pd.to_numeric(expected["claims"]["amount"].iloc[:n]).sum())
    sheet = openpyxl.load_workbook(directory / "claims.xlsx", read_only=True)["claims"]
    first = next(sheet.iter_rows(min_row=2, max_row=2))
    assert isinstance(first[4].value, dt.datetime) and first[4].is_date
    assert isinstance(first[8].value, (int, float))
    texts = [row[8].value for row in sheet.iter_rows(min_row=n + 2)]
    assert "abc" in texts


def test_written_csv_and_parquet_read_back(written):
    directory, _ = written
    expected = generate_sample(members=150, seed=9)
    for name, columns in SPEC_COLUMNS.items():
        csv = pd.read_csv(directory / f"{name}.csv", dtype=str, keep_default_na=False)
        parquet = pd.read_parquet(directory / f"{name}.parquet")
        assert list(csv.columns) == columns and list(parquet.columns) == columns
        assert len(csv) == len(parquet) == len(expected[name])
    csv = pd.read_csv(directory / "claims.csv", dtype=str, keep_default_na=False)
    assert csv["service_date"].iloc[0] == expected["claims"]["service_date"].iloc[0].isoformat()
    assert "31/02/2024" in set(csv["service_date"]) and "abc" in set(csv["amount"])
    parquet = pd.read_parquet(directory / "claims.parquet")
    assert "abc" in set(parquet["amount"])
    members = pd.read_parquet(directory / "members.parquet")
    assert isinstance(members["birth_date"].iloc[0], (dt.date, pd.Timestamp))
    clean_dir = directory / "clean"
    write_sample(clean_dir, members=150, seed=9, formats=("parquet",), bad_rows=False)
    claims = pd.read_parquet(clean_dir / "claims.parquet")
    assert claims["amount"].dtype == np.float64


def test_written_xlsx_is_deterministic(tmp_path):
    one = write_sample(tmp_path / "one", members=60, seed=1)[0]
    two = write_sample(tmp_path / "two", members=60, seed=1)[0]
    with zipfile.ZipFile(one) as a, zipfile.ZipFile(two) as b:
        assert a.namelist() == b.namelist()
        for name in a.namelist():
            assert a.read(name) == b.read(name), name


def test_contracts_yaml_is_written(written):
    directory, _ = written
    assert (directory / "contracts.yaml").read_text(encoding="utf-8") == CONTRACTS_YAML


def test_xlsx_refuses_too_many_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(sample_data, "_XLSX_MAX_ROWS", 1000)
    with pytest.raises(ValueError, match="do not fit on one xlsx sheet"):
        write_sample(tmp_path, members=200)
    assert not (tmp_path / "claims.xlsx").exists()
    with pytest.raises(ValueError, match="unknown sample format"):
        write_sample(tmp_path, members=10, formats=("ods",))


# --------------------------------------------------------------------------- shipped files


def test_sample_contracts_bite_on_the_default_sample(default):
    """The figures in CONTRACTS_YAML were chosen from the default sample; keep them true."""
    claims = default["claims"]
    claims = claims[pd.to_numeric(claims["amount"], errors="coerce").notna()
                    & claims["member_id"].notna()].copy()
    claims["service_date"] = pd.to_datetime(claims["service_date"], errors="coerce")
    claims = claims[claims["service_date"].notna()]
    amount = claims["amount"].astype(float)
    tariff = claims["care_code"].map(default["fee_schedule"].set_index("care_code")["tariff"])
    claims["value"] = np.where(tariff.notna(), tariff * claims["quantity"] * np.sign(amount),
                               amount)
    year = claims["service_date"].dt.year

    def gross(providers, domain, in_year=2024):
        rows = claims["provider_id"].isin(providers) & (claims["domain"] == domain) & (
            year == in_year)
        return claims.loc[rows, "value"].sum()

    contracts = {c["name"]: c for c in yaml.safe_load(CONTRACTS_YAML)["contracts"]}
    ceiling = contracts["Hospital A, revenue ceiling"]
    assert 0.9 * gross(["HOSP_A"], "hospital") < ceiling["revenue_ceiling"] < gross(
        ["HOSP_A"], "hospital")
    tiers = contracts["Hospital B, degressive tiers"]["degressive_tiers"]
    assert tiers[0]["up_to"] < gross(["HOSP_B"], "hospital")
    floor = contracts["GP practices North, revenue floor"]
    north = gross(floor["provider"], "gp")
    assert north < floor["revenue_floor"] < 1.1 * north
    lump = contracts["Mental health lump sum"]
    assert gross(["MH_1"], "mental_health", 2023) < lump["lump_sum"] < gross(
        ["MH_1"], "mental_health", 2024)


def test_shipped_files_match_the_generator(default):
    assert (SHIPPED / "contracts.yaml").read_text(encoding="utf-8") == CONTRACTS_YAML
    workbook = SHIPPED / "claims.xlsx"
    assert workbook.stat().st_size < 5_500_000
    reader = fastexcel.read_excel(workbook)
    assert reader.sheet_names == list(SPEC_COLUMNS)
    for name in SPEC_COLUMNS:
        assert reader.load_sheet(name).height == len(default[name])
    ids = reader.load_sheet("claims", use_columns=["claim_id"]).to_pandas()["claim_id"]
    assert (ids.to_numpy() == default["claims"]["claim_id"].to_numpy()).all()
