"""Sweeps over contract terms (issue 9), and the Risk and Sweep sheets from the command line."""
from __future__ import annotations

import datetime as dt
import json

import openpyxl
import pytest
from click.testing import CliRunner

from cli import main
from contracts import ContractsError, parse_contracts
from funding_models.compare import settle_contracts
from funding_models.ledger import build_ledger
from funding_models.sweep import Vary, checked_grid, parse_vary, sweep, term_grid
from tests.conftest import claims_frame, contract, members_frame

TWO_MEMBERS = dict(model="shared_savings", provider="GP", scope={"domains": "all"},
                   attribution="none", performance_years=[2024], benchmark_pmpm=25,
                   sharing_rate=0.5, minimum_savings_rate=0.02)


def two_member_ledger():
    """Members spending 100 and 300 in 2024, enrolled all year."""
    return build_ledger(
        claims_frame([("A", "GP", "2024-03-01", "gp", "G1", 1, 100),
                      ("B", "GP", "2024-03-01", "gp", "G1", 1, 300)]),
        members=members_frame([("A", "s", "GP", 1.0), ("B", "s", "GP", 1.0)]))


# -- reading --vary ---------------------------------------------------------------------

@pytest.mark.parametrize("text, values", [
    ("sharing_rate=0.3:0.7:0.1", (0.3, 0.4, 0.5, 0.6, 0.7)),
    ("minimum_savings_rate=0,0.01,0.02", (0, 0.01, 0.02)),
    ("minimum_savings_rate=cms,0.02", ("cms", 0.02)),
    ("stop_loss.attachment=1000:3000:1000", (1000, 2000, 3000)),
    ("sharing_rate=0.5", (0.5,)),
    # A value written as a number is a number, in a list as in a range (YAML 1.1 alone
    # would read 1e-2 as text).
    ("sharing_rate=1e-2,5E-1", (0.01, 0.5)),
    ("stop_loss.attachment=1e3:3e3:1e3", (1000, 2000, 3000)),
    ("stop_loss={attachment: 2e3, insurer_share: 0.9}",
     ({"attachment": 2000, "insurer_share": 0.9},)),
    # A colon in a mapping or a list is not a range.
    ("minimum_savings_rate={confidence: 0.9}", ({"confidence": 0.9},)),
    ("minimum_savings_rate={confidence: 0.9},{confidence: 0.95}",
     ({"confidence": 0.9}, {"confidence": 0.95})),
    ("performance_years=[2023, 2024],[2024]", ([2023, 2024], [2024])),
    ("stop_loss=null", (None,)),
    ('provider="GP, north",GP', ("GP, north", "GP")),
    ("minimum_savings_rate=nan,cms", ("nan", "cms")),  # not finite: text, refused as terms
    ("benchmark_pmpm=1e999999", (float("inf"),)),  # beyond a float: refused as terms
])
def test_vary_reads_ranges_with_both_ends_and_lists(text, values):
    vary = parse_vary(text)
    assert vary.values == values and vary.key == text.split("=")[0]


@pytest.mark.parametrize("text, message", [
    ("sharing_rate", "write TERM=START:STOP:STEP"),
    ("sharing_rate=0.7:0.3:0.1", "STOP at least START"),
    ("sharing_rate=a:b:c", "three finite numbers"),
    ("sharing_rate=0:1:0", "STEP must be above 0"),
    ("sharing_rate=0:inf:1", "three finite numbers"),
    ("sharing_rate=nan:1:0.1", "three finite numbers"),
    ("sharing_rate=0:1:nan", "three finite numbers"),
    ("sharing_rate=0.1:0.2:1e-30", "more than 10,000 values"),
    ("sharing_rate=0:1e999999:1", "more than 10,000 values"),
    ("sharing_rate=,", "no values"),
    ("sharing_rate= , ", "no values"),
    ("sharing_rate=@x", "cannot be read"),
    ("sharing_rate=[0.3", "cannot be read"),
    ("sharing_rate=0.3,,0.5", "cannot be read"),
    ("minimum_savings_rate={confidence: 0.9, confidence: 0.8}", "appears twice"),
    ("sharing_rate=!!python/object/apply:os.system [ls]", "cannot be read"),
    ("sharing_rate=0.3:0.7:0.1,0.9", "a range START:STOP:STEP is given alone"),
    ("rate_pmpm=18,18", "the value 18 is given twice"),
    ("rate_pmpm=18,18.0", "is given twice"),
    ("stop_loss={attachment: 1},{attachment: 1}", "is given twice"),
])
def test_vary_that_cannot_be_read_says_how_to_write_it(text, message):
    with pytest.raises(ValueError, match=message):
        parse_vary(text)


def test_the_grid_size_is_checked_before_the_combinations_are_made():
    many = tuple(range(100_000))  # 10^10 combinations: refused at once, not built
    with pytest.raises(ValueError, match="10,000,000,000 combinations; at most 10,000"):
        term_grid([Vary("a", many), Vary("b", many)])


def test_the_grid_is_every_combination_first_term_slowest():
    grid = term_grid([Vary("a", (1, 2)), Vary("b", (3, 4))])
    assert grid == [{"a": 1, "b": 3}, {"a": 1, "b": 4}, {"a": 2, "b": 3}, {"a": 2, "b": 4}]
    with pytest.raises(ValueError, match="named twice"):
        term_grid([Vary("a", (1,)), Vary("a", (2,))])


# -- settling the grid ------------------------------------------------------------------

def test_sweep_by_hand():
    """Benchmark 25.00 x 24 member months = 600 against 400: savings 200, rate 1/3. With
    MSR 0 or 0.3 the savings are shared: 200 x sharing rate; with MSR 0.5 nothing is."""
    terms = contract(**TWO_MEMBERS)
    frame = sweep(checked_grid(terms, [parse_vary("sharing_rate=0.3,0.6"),
                                       parse_vary("minimum_savings_rate=0,0.3,0.5")]),
                  two_member_ledger())
    assert frame["provider_result"].tolist() == [60, 60, 0, 120, 120, 0]
    assert frame["insurer_cost"].tolist() == [460, 460, 400, 520, 520, 400]
    assert list(frame.columns[:3]) == ["sharing_rate", "minimum_savings_rate", "year"]
    assert "stop_loss" not in frame  # blank at every point: not this model's figure


def test_a_point_at_the_contracts_own_terms_settles_as_the_contract():
    terms = contract(**TWO_MEMBERS)
    ledger = two_member_ledger()
    frame = sweep(checked_grid(terms, [parse_vary("sharing_rate=0.5")]), ledger)
    row = settle_contracts([terms], ledger)[0].rows[0]
    assert frame["insurer_cost"].iloc[0] == row.insurer_cost / 100
    assert frame["status"].iloc[0] == row.status


def test_a_nested_term_by_hand():
    """Capitation on the two members (100 and 300): stop-loss at 150 pays 0.9 x 150 = 135;
    at 250, 0.9 x 50 = 45."""
    terms = contract(model="capitation", provider="GP", attribution="none",
                     performance_years=[2024], rate_pmpm=10,
                     stop_loss={"attachment": 1000, "insurer_share": 0.9})
    frame = sweep(checked_grid(terms, [parse_vary("stop_loss.attachment=150,250")]),
                  two_member_ledger())
    assert frame["stop_loss"].tolist() == [135, 45]


def test_a_varied_term_named_like_a_figure_keeps_both_columns():
    """Capitation at 10.00 PMPM on the two members (100 and 300): without stop-loss the
    insurer pays 240; with attachment 150 and share 0.9 it also pays 0.9 x 150 = 135."""
    terms = contract(model="capitation", provider="GP", attribution="none",
                     performance_years=[2024], rate_pmpm=10,
                     stop_loss={"attachment": 1000, "insurer_share": 0.9})
    frame = sweep(checked_grid(terms, [parse_vary(
        "stop_loss=null,{attachment: 150, insurer_share: 0.9}")]), two_member_ledger())
    assert list(frame.columns[:2]) == ["stop_loss (term)", "year"]
    assert frame["stop_loss (term)"].tolist() == ["null",
                                                 "{attachment: 150, insurer_share: 0.9}"]
    assert frame["stop_loss"].fillna(0).tolist() == [0, 135]
    assert frame["insurer_cost"].tolist() == [240, 375]


def test_a_sweep_where_no_point_settles_keeps_the_reasons():
    """The CMS table starts at 5,000 members: two members settle at no point."""
    terms = contract(**{**TWO_MEMBERS, "minimum_savings_rate": "cms"})
    frame = sweep(checked_grid(terms, [parse_vary("sharing_rate=0.3,0.5")]),
                  two_member_ledger())
    assert frame["insurer_cost"].isna().all() and frame["provider_result"].isna().all()
    assert all(status.startswith("not settled: minimum_savings_rate 'cms'")
               for status in frame["status"])


def test_a_varied_value_means_what_it_means_in_the_contracts_file(tmp_path):
    """A factor table named by a file (relative to the contracts file's folder) or
    'example' is read as the contracts loader reads it."""
    (tmp_path / "factors.csv").write_text("sex,age_from,age_to,factor\nF,0,,1.25\nM,0,,0.75\n")
    written = dict(model="capitation", provider="GP", attribution="none",
                   performance_years=[2024], rate_pmpm=10, risk_adjustment="age_sex",
                   age_sex_factors=[{"sex": "F", "age_from": 0, "factor": 1}])
    (_, from_file), (_, example) = checked_grid(
        contract(**written), [parse_vary("age_sex_factors=factors.csv,example")], tmp_path)
    assert [(row.sex, row.factor) for row in from_file.age_sex_factors] == [("F", 1.25),
                                                                           ("M", 0.75)]
    as_in_a_file = parse_contracts({"contracts": [{**written, "name": "test contract",
                                                   "age_sex_factors": "example"}]})
    assert example == as_in_a_file.contracts[0]


def test_a_varied_preset_is_merged_as_the_file_merges_it():
    """Another preset replaces the terms the first one gave: BASIC A is one-sided."""
    written = dict(name="test contract", preset="mssp_enhanced", provider="GP",
                   attribution="none", performance_years=[2024], benchmark_pmpm=25)
    checked = parse_contracts({"contracts": [written]}).contracts[0]
    [(_, varied)] = checked_grid(checked, [parse_vary("preset=mssp_basic_a")], None, written)
    basic_a = parse_contracts({"contracts": [{**written, "preset": "mssp_basic_a"}]})
    assert varied == basic_a.contracts[0] and varied.loss_sharing_rate is None
    # The checked terms alone hold the ENHANCED track's loss sharing, which would stay.
    [(_, from_checked)] = checked_grid(checked, [parse_vary("preset=mssp_basic_a")])
    assert from_checked.loss_sharing_rate is not None


def test_a_nested_term_a_preset_gives_keeps_the_rest_of_its_mapping(tmp_path):
    (tmp_path / "stop_loss.yaml").write_text(
        "model: capitation\nstop_loss: {attachment: 300, insurer_share: 0.8}\n")
    written = dict(name="test contract", preset="stop_loss.yaml", provider="GP",
                   attribution="none", performance_years=[2024], rate_pmpm=10)
    checked = parse_contracts({"contracts": [written]}, base_dir=tmp_path).contracts[0]
    [(_, varied)] = checked_grid(checked, [parse_vary("stop_loss.attachment=200")], tmp_path,
                                 written)
    assert (varied.stop_loss.attachment, varied.stop_loss.insurer_share) == (200, 0.8)


@pytest.mark.parametrize("vary, message", [
    ("age_sex_factors=nowhere.csv", "file 'nowhere.csv' not found"),
    ("sharing_rate=1e999999", "sharing_rate: must be a finite number"),
    ("sharing_rate=0.5,1.2", "with sharing_rate=1.2: sharing_rate: must be at most 1"),
    ("sharng_rate=0.5", "unknown key 'sharng_rate' (did you mean 'sharing_rate'?)"),
    ("minimum_savings_rate=lots", "minimum_savings_rate: must be"),
])
def test_a_bad_value_names_the_contract_and_the_term(vary, message):
    with pytest.raises(ContractsError) as caught:
        checked_grid(contract(**TWO_MEMBERS), [parse_vary(vary)])
    assert message in str(caught.value) and "contract 'test contract'" in str(caught.value)


# -- the command line -------------------------------------------------------------------

def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def small_run(tmp_path):
    """40 members of practice GP, 2023-2024, and a shared-savings and a fee-for-service
    contract."""
    book = openpyxl.Workbook()
    claims = book.active
    claims.title = "claims"
    claims.append(["claim_id", "member_id", "provider_id", "service_date", "domain", "amount"])
    members = book.create_sheet("members")
    members.append(["member_id", "segment", "attributed_provider"])
    for i in range(40):
        members.append([f"M{i}", "adults" if i % 3 else "elderly", "GP"])
        for year in (2023, 2024):
            claims.append([f"C{i}-{year}", f"M{i}", "GP", dt.date(year, 5, 1), "gp",
                           50 + (i * 37 + year) % 400])
    claims_path = tmp_path / "claims.xlsx"
    book.save(claims_path)
    contracts_path = tmp_path / "contracts.yaml"
    contracts_path.write_text(
        "contracts:\n"
        "  - {name: Savings, model: shared_savings, provider: GP, performance_years: [2024],\n"
        "     benchmark_pmpm: 22, minimum_savings_rate: 0.02, sharing_rate: 0.5}\n"
        "  - {name: Fees, model: fee_for_service, provider: GP, performance_years: [2024],\n"
        "     revenue_ceiling: 8000}\n")
    return claims_path, contracts_path


def test_compare_bootstrap_adds_a_risk_sheet_byte_identical_for_a_seed(small_run, tmp_path):
    claims_path, contracts_path = small_run
    outputs = [tmp_path / f"{name}.xlsx" for name in ("first", "again", "other")]
    for out, seed in zip(outputs, (5, 5, 6)):
        result = run("compare", claims_path, "--contracts", contracts_path, "-o", out,
                     "--bootstrap", 300, "--seed", seed)
        assert result.exit_code == 0, result.output
    assert outputs[0].read_bytes() == outputs[1].read_bytes()
    assert outputs[0].read_bytes() != outputs[2].read_bytes()
    sheet = openpyxl.load_workbook(outputs[0])["Risk"]
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    header = rows.index(next(r for r in rows if r[0] == "contract"))
    table = {r[0]: dict(zip(rows[header], r)) for r in rows[header + 1:header + 3]}
    assert table["Savings"]["units"] == 40 and table["Savings"]["replicates"] == 300
    assert 0 <= table["Savings"]["shared_savings_probability"] <= 1
    assert table["Fees"]["resampled"] == "patients"
    assert len(sheet._charts) == 2  # a histogram per contract


@pytest.mark.parametrize("args, message", [
    (["--null"], "--null needs --bootstrap"),
    (["--seed", "3"], "--seed needs --bootstrap"),
    (["--bootstrap", "10", "--seed", "-3"], "-3 is not in the range x>=0"),
    (["--bootstrap", "10", "--seed", "x"], "'x' is not a valid integer"),
])
def test_seed_and_null_need_bootstrap_and_a_seed_is_a_whole_number_from_0(small_run, tmp_path,
                                                                         args, message):
    claims_path, contracts_path = small_run
    result = CliRunner().invoke(main, ["compare", str(claims_path), "--contracts",
                                       str(contracts_path), "-o", str(tmp_path / "o.xlsx"),
                                       *args])
    assert result.exit_code == 2 and message in result.output
    assert isinstance(result.exception, SystemExit)
    assert not (tmp_path / "o.xlsx").exists()


def test_sweep_command_writes_a_sweep_sheet_with_charts(small_run, tmp_path):
    claims_path, contracts_path = small_run
    out = tmp_path / "sweep.xlsx"
    result = run("sweep", claims_path, "--contracts", contracts_path, "--contract", "Savings",
                 "--vary", "sharing_rate=0.3:0.7:0.2", "--vary", "minimum_savings_rate=0,0.5",
                 "-o", out)
    assert result.exit_code == 0, result.output
    assert "at 6 sets of terms" in result.output
    sheet = openpyxl.load_workbook(out)["Sweep"]
    header = [c.value for c in sheet[3]]
    assert header[:3] == ["sharing_rate", "minimum_savings_rate", "year"]
    assert sheet.max_row == 3 + 6 and len(sheet._charts) == 2
    again = tmp_path / "again.xlsx"
    run("sweep", claims_path, "--contracts", contracts_path, "--contract", "Savings",
        "--vary", "sharing_rate=0.3:0.7:0.2", "--vary", "minimum_savings_rate=0,0.5",
        "-o", again)
    assert again.read_bytes() == out.read_bytes()


def test_a_sweep_where_no_point_settles_writes_the_reasons_without_charts(small_run, tmp_path):
    claims_path, contracts_path = small_run
    contracts_path.write_text(contracts_path.read_text().replace(
        "minimum_savings_rate: 0.02", "minimum_savings_rate: cms"))
    out = tmp_path / "sweep.xlsx"
    result = run("sweep", claims_path, "--contracts", contracts_path, "--contract", "Savings",
                 "--vary", "sharing_rate=0.3,0.5", "-o", out)
    assert result.exit_code == 0, result.output
    assert "(2 of 2 rows not settled: see their status)" in result.output
    sheet = openpyxl.load_workbook(out)["Sweep"]
    rows = [dict(zip([c.value for c in sheet[3]], [c.value for c in row]))
            for row in sheet.iter_rows(min_row=4)]
    assert [row["sharing_rate"] for row in rows] == [0.3, 0.5]
    assert all(row["insurer_cost"] is None and row["provider_result"] is None
               and "the CMS table starts at 5,000 members" in row["status"] for row in rows)
    assert not sheet._charts


def test_a_sweep_reads_the_contract_as_its_file_writes_it(small_run, tmp_path):
    """A JSON contracts file whose contract names a two-sided preset (relative to the file):
    varied to the one-sided one, the losses the two-sided preset shares are gone."""
    claims_path, _ = small_run
    folder = tmp_path / "terms"
    folder.mkdir()
    (folder / "one_sided.yaml").write_text(
        "model: shared_savings\nsharing_rate: 0.5\nminimum_savings_rate: 0\n")
    (folder / "two_sided.yaml").write_text(
        "model: shared_savings\nsharing_rate: 0.5\nminimum_savings_rate: 0\n"
        "loss_sharing_rate: 0.5\n")
    contracts_path = folder / "contracts.json"
    contracts_path.write_text(json.dumps({"contracts": [{
        "name": "Savings", "preset": "two_sided.yaml", "provider": "GP",
        "performance_years": [2024], "benchmark_pmpm": 1}]}))
    out, summary = tmp_path / "sweep.xlsx", tmp_path / "summary.json"
    result = run("sweep", claims_path, "--contracts", contracts_path, "--contract", "Savings",
                 "--vary", "preset=two_sided.yaml,one_sided.yaml", "-o", out)
    assert result.exit_code == 0, result.output
    run("compare", claims_path, "--contracts", contracts_path, "-o", tmp_path / "c.xlsx",
        "--json", summary)
    sheet = openpyxl.load_workbook(out)["Sweep"]
    rows = [dict(zip([c.value for c in sheet[3]], [c.value for c in row]))
            for row in sheet.iter_rows(min_row=4)]
    as_compared = json.loads(summary.read_text())[0]
    assert rows[0]["insurer_cost"] == as_compared["insurer_cost"]
    assert rows[0]["provider_result"] == as_compared["provider_result"] < 0
    assert rows[1]["provider_result"] == 0


@pytest.mark.parametrize("args, message", [
    (["--contract", "Savings", "--vary", "sharing_rate=2"], "sharing_rate: must be at most 1"),
    (["--contract", "Savings", "--vary", "sharing_rate=0:inf:1"], "three finite numbers"),
    (["--contract", "Savings", "--vary", "sharing_rate=nan:1:0.1"], "three finite numbers"),
    (["--contract", "Savings", "--vary", "sharing_rate=@x"], "cannot be read"),
    (["--contract", "Savings", "--vary", "sharing_rate=[0.3"], "cannot be read"),
    (["--contract", "Savings", "--vary", "sharing_rate=,"], "no values"),
    (["--contract", "Savings", "--vary", "sharing_rate=0.3,0.3"], "given twice"),
    (["--contract", "Savings", "--vary", "sharing_rate=0:1:0.001", "--vary",
      "minimum_savings_rate=0:0.1:0.01"], "11,011 combinations; at most 10,000"),
    (["--contract", "Nobody", "--vary", "sharing_rate=0.5"], "no contract of that name"),
    (["--contract", "Savings", "--vary", "sharing_rate"], "TERM=START:STOP:STEP"),
])
def test_a_sweep_that_cannot_run_exits_2_with_one_sentence(small_run, tmp_path, args, message):
    claims_path, contracts_path = small_run
    out = tmp_path / "sweep.xlsx"
    result = CliRunner().invoke(main, ["sweep", str(claims_path), "--contracts",
                                       str(contracts_path), "-o", str(out), *args])
    assert result.exit_code == 2 and message in result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert not out.exists()
