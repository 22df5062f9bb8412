"""The out-of-core engine (DuckDB) gives the in-memory path's results.

The sample, with its faulty rows, is written as Parquet (and, for the CSV tests, as CSV); its claims are split into a
folder of three files, shuffled, with repeated keys and a member missing from the members
table among them. Both paths read the same files; the out-of-core one in batches of 700
lines with DuckDB limited to 64 MB. The contracts are the sample's (all four models, an
episode bundle, the dermatology scenario) plus one with plurality attribution.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytest.importorskip("duckdb")

from fileio.errors import InputError  # noqa: E402
from fileio.jobs import InputPaths, compare_files  # noqa: E402
from fileio.out_of_core import EngineOptions, claims_files, engine_for  # noqa: E402
from fileio.sample_data import with_plurality_contract, write_sample  # noqa: E402


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("large")
    write_sample(folder, members=500, formats=("parquet",))
    contracts = (folder / "contracts.yaml").read_text(encoding="utf-8")
    contracts = with_plurality_contract(contracts)
    (folder / "contracts.yaml").write_text(contracts, encoding="utf-8")
    claims = pq.read_table(folder / "claims.parquet")
    rng = np.random.default_rng(3)
    # Repeats across files: an exact copy of an accepted line and a differing one.
    extra = claims.take([10, 20]).set_column(
        claims.schema.get_field_index("amount"), "amount",
        pa.array(["12.50", "99.99"], type=claims.schema.field("amount").type))
    claims = pa.concat_tables([claims, claims.take([5]), extra.take([1])])
    claims = claims.take(rng.permutation(claims.num_rows))
    (folder / "claims.parquet").unlink()
    parts = folder / "claims"
    parts.mkdir()
    for i, rows in enumerate(np.array_split(np.arange(claims.num_rows), 3)):
        pq.write_table(claims.take(rows), parts / f"part-{i}.parquet")
    return folder


def _paths(folder: Path, claims) -> InputPaths:
    return InputPaths(tuple(claims), folder / "members.parquet", folder / "fee_schedule.parquet",
                      folder / "enrollment.parquet", folder / "attribution.parquet")


@pytest.fixture(scope="module")
def both(sample):
    files = claims_files([sample / "claims"])
    in_memory = compare_files(_paths(sample, files), sample / "contracts.yaml")
    out_of_core = compare_files(_paths(sample, [sample / "claims"]), sample / "contracts.yaml",
                                engine=EngineOptions(memory_limit="64MB", batch_rows=700))
    return in_memory, out_of_core


def test_the_summary_is_the_same(both):
    in_memory, out_of_core = both
    assert len(in_memory.summary) > 20
    assert set(in_memory.summary["model"]) == {"fee_for_service", "shared_savings",
                                                "capitation", "bundled"}
    pd.testing.assert_frame_equal(out_of_core.summary, in_memory.summary)


def test_every_contract_sheet_and_the_spillover_are_the_same(both):
    in_memory, out_of_core = both
    for mine, theirs in zip(out_of_core.contracts, in_memory.contracts, strict=True):
        assert mine.warnings == theirs.warnings
        for a, b in zip(mine.tables, theirs.tables, strict=True):
            assert a.title == b.title
            pd.testing.assert_frame_equal(a.frame, b.frame)
        if theirs.episodes is not None:
            pd.testing.assert_frame_equal(mine.episodes, theirs.episodes)
    pd.testing.assert_frame_equal(out_of_core.spillover, in_memory.spillover)
    pd.testing.assert_frame_equal(out_of_core.spillover_years, in_memory.spillover_years)


def test_rows_and_cents_reconcile_file_by_file_as_in_memory(both):
    in_memory, out_of_core = both
    assert out_of_core.input_files == in_memory.input_files
    claims = [r for r in out_of_core.input_files if r.table == "claims"]
    assert len(claims) == 3
    for report in claims:
        assert report.rows_read == report.rows_accepted + report.rows_rejected
        assert report.amount_read == report.amount_accepted + report.amount_rejected


def test_the_same_rows_are_rejected_for_the_same_reasons(both):
    in_memory, out_of_core = both
    pd.testing.assert_frame_equal(out_of_core.rejected, in_memory.rejected)
    reasons = " ".join(out_of_core.rejected["reason"])
    assert "exact copy of" in reasons
    assert "repeated with different content" in reasons
    assert "member not in the members table" in reasons


def test_claims_must_be_parquet_or_csv(sample, tmp_path):
    (tmp_path / "claims.xlsx").write_bytes(b"")
    with pytest.raises(InputError, match="reads claims from Parquet or CSV"):
        claims_files([tmp_path / "claims.xlsx"])
    with pytest.raises(InputError, match="without .parquet or .csv files"):
        claims_files([tmp_path])


def test_a_folder_gives_its_parquet_files_else_its_csv_files(tmp_path):
    for name in ("b.parquet", "a.PQ", "members.csv", "README.txt"):
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in claims_files([tmp_path])] == ["a.PQ", "b.parquet"]
    for name in ("b.parquet", "a.PQ"):
        (tmp_path / name).unlink()
    assert [p.name for p in claims_files([tmp_path])] == ["members.csv"]


def test_a_claims_header_error_comes_before_another_tables_error(csv_sample, tmp_path):
    (tmp_path / "claims.csv").write_text("claim_id,amt\nC1,2\n", encoding="utf-8")
    (tmp_path / "members.csv").write_text("who\nM1\n", encoding="utf-8")
    paths = InputPaths((tmp_path / "claims.csv",), members=tmp_path / "members.csv")
    messages = []
    for engine in (None, EngineOptions()):
        with pytest.raises(InputError) as caught:
            compare_files(paths, csv_sample / "contracts.yaml", engine=engine)
        messages.append(str(caught.value))
    assert messages[0] == messages[1] and messages[0].startswith(str(tmp_path / "claims.csv"))


@pytest.fixture(scope="module")
def csv_sample(tmp_path_factory) -> Path:
    """The sample's faulty claims as a folder of three shuffled CSV files with a title
    row, malformed lines (too many and too few fields, one the last line) and blank
    lines; the other tables as CSV too. In part 1 a header cell and a care code are
    quoted values that span lines."""
    folder = tmp_path_factory.mktemp("large_csv")
    write_sample(folder, members=500, formats=("csv",))
    contracts = with_plurality_contract((folder / "contracts.yaml").read_text(encoding="utf-8"))
    (folder / "contracts.yaml").write_text(contracts, encoding="utf-8")
    header, *lines = (folder / "claims.csv").read_text(encoding="utf-8").splitlines()
    (folder / "claims.csv").unlink()
    lines = [lines[i] for i in np.random.default_rng(5).permutation(len(lines))]
    parts = folder / "claims"
    parts.mkdir()
    for i, chunk in enumerate(np.array_split(np.arange(len(lines)), 3)):
        body = [lines[j] for j in chunk]
        body[5:5] = ["", f"one,field,too,many,{body[5]}"]
        body[700:700] = [",,,,,,,,,", "too,few"]
        top = header
        if i == 1:
            top = header.replace("service_date", '"service\r\ndate"')
            fields = body[300].split(",")
            code = header.split(",").index("care_code")
            fields[code] = f'"{fields[code]}\nfirst visit\rsecond"'
            body[300] = ",".join(fields)
        text = "\n".join([f"Claims export, part {i}", top, *body, "last,line,short"])
        (parts / f"part-{i}.csv").write_text(text + "\n", encoding="utf-8")
    return folder


@pytest.mark.parametrize("batch_rows", [997, 1_000_000])
def test_csv_claims_out_of_core_give_the_same_as_in_memory(csv_sample, batch_rows):
    files = claims_files([csv_sample / "claims"])
    tables = {t: csv_sample / f"{t}.csv" for t in ("members", "fee_schedule", "enrollment",
                                                    "attribution")}
    in_memory = compare_files(InputPaths(tuple(files), **tables), csv_sample / "contracts.yaml")
    out_of_core = compare_files(InputPaths((csv_sample / "claims",), **tables),
                                csv_sample / "contracts.yaml",
                                engine=EngineOptions(memory_limit="64MB",
                                                     batch_rows=batch_rows))
    pd.testing.assert_frame_equal(out_of_core.summary, in_memory.summary)
    pd.testing.assert_frame_equal(out_of_core.rejected, in_memory.rejected)
    assert out_of_core.input_files == in_memory.input_files
    reasons = " ".join(in_memory.rejected["reason"])
    assert "fields where the header has" in reasons and "member not in the members" in reasons
    # Part 1's "too,few" line, after the header's and the care code's line breaks.
    text = (csv_sample / "claims" / "part-1.csv").read_text(encoding="utf-8")
    line = len(text[:text.index("\ntoo,few\n")].replace("\r\n", "\n").replace("\r", "\n")
               .split("\n")) + 1
    rejected = out_of_core.rejected
    assert rejected.loc[(rejected["value"] == "too,few")
                        & rejected["file"].str.endswith("part-1.csv"), "row"].tolist() == [line]


def test_scenarios_that_grow_care_or_shift_it_into_episodes_give_the_same(sample, tmp_path):
    scenario = tmp_path / "more.yaml"
    scenario.write_text(
        "scenarios:\n"
        "  - name: more hips\n    years: [2024]\n"
        "    shift: {from: {domain: hospital, care_codes: [DERM1]}, to_domain: hospital,\n"
        "            to_care_code: HIP01, fraction: 0.37, cost_ratio: 1.3}\n"
        "  - name: dearer gp care\n    years: [2024]\n"
        "    growth: {domain: gp, rate: 0.033}\n", encoding="utf-8")
    files = claims_files([sample / "claims"])
    in_memory = compare_files(_paths(sample, files), sample / "contracts.yaml",
                              scenario_paths=[scenario])
    out_of_core = compare_files(_paths(sample, [sample / "claims"]), sample / "contracts.yaml",
                                scenario_paths=[scenario],
                                engine=EngineOptions(memory_limit="64MB", batch_rows=5000))
    pd.testing.assert_frame_equal(out_of_core.summary, in_memory.summary)
    hips = [c for c in in_memory.contracts if c.episodes is not None and len(c.episodes)]
    assert hips
    mine = {c.name: c for c in out_of_core.contracts}
    for theirs in hips:
        pd.testing.assert_frame_equal(mine[theirs.name].episodes, theirs.episodes)


def _both(folder: Path, claims, contracts: Path, **tables):
    paths = InputPaths(tuple(claims), **tables)
    return (compare_files(paths, contracts),
            compare_files(paths, contracts, engine=EngineOptions(batch_rows=2)))


def test_chained_shifts_that_make_a_trigger_keep_its_members_lines_apart(tmp_path):
    # A GP line moves to hospital code XFER, which the second shift turns into a hip
    # trigger at HOSP_A: the member's 100.00 line of 10 March falls in its window. Summed
    # with the 1 November line (dated 1 November), it would not.
    pq.write_table(pa.table({
        "claim_id": ["C1", "C2", "C3"], "member_id": ["A", "A", "A"],
        "provider_id": ["GP1", "HOSP_B", "HOSP_B"],
        "service_date": ["2024-03-01", "2024-03-10", "2024-11-01"],
        "domain": ["gp", "hospital", "hospital"], "care_code": ["GP01", "H1", "H1"],
        "amount": ["50.00", "100.00", "200.00"]}), tmp_path / "claims.parquet")
    contracts = tmp_path / "contracts.yaml"
    contracts.write_text(
        "contracts:\n  - name: Hips\n    model: bundled\n    provider: HOSP_A\n"
        "    bundle: {kind: episode, trigger_codes: [HIP01], window_days: 90}\n"
        "    scope: {domains: all}\n    performance_years: [2024]\n    price: 1000\n"
        "scenarios:\n  - name: chain\n    shift:\n"
        "      - {from: {domain: gp, care_codes: [GP01]}, to_domain: hospital, "
        "to_care_code: XFER, fraction: 1.0, cost_ratio: 1.0}\n"
        "      - {from: {domain: hospital, care_codes: [XFER]}, to_domain: hospital, "
        "to_provider: HOSP_A, to_care_code: HIP01, fraction: 1.0, cost_ratio: 1.0}\n",
        encoding="utf-8")
    in_memory, out_of_core = _both(tmp_path, [tmp_path / "claims.parquet"], contracts)
    episodes = in_memory.contracts[0].episodes
    # 50.00 (the trigger) + 100.00; the claims count the rows the shifts leave at 0 too.
    assert episodes[["claims", "cost"]].values.tolist() == [[4, 150.0]]
    pd.testing.assert_frame_equal(out_of_core.contracts[0].episodes, episodes)
    pd.testing.assert_frame_equal(out_of_core.summary, in_memory.summary)


def test_fractional_quantities_price_the_same_in_any_order(tmp_path):
    # 0.1 + 0.4 + 0.7 + 0.9 + 0.2 = 2.3 units at 0.95 = 2.185, a half cent: float sums
    # in different orders (line by line; per member first) must not round it apart.
    pq.write_table(pa.table({
        "claim_id": [f"C{i}" for i in range(5)], "member_id": ["A", "B", "B", "A", "A"],
        "provider_id": ["P1"] * 5, "service_date": ["2024-03-01"] * 5, "domain": ["gp"] * 5,
        "care_code": ["X1"] * 5, "quantity": [0.1, 0.9, 0.2, 0.4, 0.7],
        "amount": ["10.00"] * 5}), tmp_path / "claims.parquet")
    pq.write_table(pa.table({"care_code": ["X1"], "tariff": ["0.95"]}),
                   tmp_path / "fee_schedule.parquet")
    contracts = tmp_path / "contracts.yaml"
    contracts.write_text("contracts:\n  - name: ffs\n    model: fee_for_service\n"
                         "    provider: P1\n    performance_years: [2024]\n", encoding="utf-8")
    in_memory, out_of_core = _both(tmp_path, [tmp_path / "claims.parquet"], contracts,
                                   fee_schedule=tmp_path / "fee_schedule.parquet")
    assert in_memory.summary["insurer_cost"].tolist() == [2.18]  # 2.185 to even
    pd.testing.assert_frame_equal(out_of_core.summary, in_memory.summary)


def test_without_members_with_contract_years_from_april_and_renamed_columns(sample, tmp_path):
    contracts = (sample / "contracts.yaml").read_text(encoding="utf-8")
    contracts = contracts.replace("contracts:\n", "year_start_month: 4\ncolumns: "
                                  "{patient: member_id}\ncontracts:\n", 1)
    (tmp_path / "contracts.yaml").write_text(contracts, encoding="utf-8")
    (tmp_path / "age_sex_factors.csv").write_bytes((sample / "age_sex_factors.csv").read_bytes())
    claims = pq.read_table(sample / "claims" / "part-0.parquet").rename_columns(
        {"member_id": "patient"})
    pq.write_table(claims, tmp_path / "claims.parquet")
    pq.write_table(claims.slice(0, 0), tmp_path / "empty.parquet")
    in_memory, out_of_core = _both(
        tmp_path, [tmp_path / "claims.parquet", tmp_path / "empty.parquet"],
        tmp_path / "contracts.yaml", fee_schedule=sample / "fee_schedule.parquet")
    pd.testing.assert_frame_equal(out_of_core.summary, in_memory.summary)
    pd.testing.assert_frame_equal(out_of_core.rejected, in_memory.rejected)
    assert out_of_core.input_files == in_memory.input_files


def test_what_stops_the_engine_is_one_sentence(sample, tmp_path):
    paths = _paths(sample, [sample / "claims"])
    with pytest.raises(InputError, match="memory limit 1MB.*larger --memory-limit"):
        compare_files(paths, sample / "contracts.yaml",
                      engine=EngineOptions(memory_limit="1MB"))
    with pytest.raises(InputError, match="--memory-limit lots: DuckDB refuses it"):
        compare_files(paths, sample / "contracts.yaml", engine=EngineOptions("lots"))


def test_a_temporary_folder_with_glob_characters_in_its_name(sample, tmp_path):
    folder = tmp_path / "tmp[1]*?"
    folder.mkdir()
    result = compare_files(_paths(sample, [sample / "claims"]), sample / "contracts.yaml",
                           engine=EngineOptions(temp_dir=folder))
    assert len(result.summary) and not list(folder.iterdir())


def test_auto_reads_a_folder_or_large_parquet_out_of_core(sample, monkeypatch):
    from fileio import out_of_core

    files = claims_files([sample / "claims"])
    assert engine_for("memory", [sample / "claims"], "1GB") is None
    assert engine_for("duckdb", files, "2GB") == EngineOptions("2GB")
    assert engine_for("auto", [sample / "claims"], "1GB") == EngineOptions("1GB")
    assert engine_for("auto", files, "1GB") is None  # a few thousand lines: in memory
    monkeypatch.setattr(out_of_core, "AUTO_LINES", 1000)
    assert engine_for("auto", files, "1GB") == EngineOptions("1GB")
    assert engine_for("auto", [sample / "members.parquet", sample / "contracts.yaml"],
                      "1GB") is None


def test_auto_reads_csv_claims_out_of_core_from_their_size(csv_sample, monkeypatch):
    from fileio import out_of_core

    files = claims_files([csv_sample / "claims"])
    assert engine_for("auto", files, "1GB") is None  # a megabyte or two: in memory
    monkeypatch.setattr(out_of_core, "AUTO_CSV_BYTES", sum(p.stat().st_size for p in files))
    assert engine_for("auto", files, "1GB") == EngineOptions("1GB")
    assert engine_for("auto", [csv_sample / "claims"], "1GB") == EngineOptions("1GB")


def test_no_accepted_line_stops_with_the_in_memory_sentence(tmp_path):
    pq.write_table(pa.table({
        "claim_id": ["C1"], "member_id": ["A"], "provider_id": ["P1"],
        "service_date": ["2024-02-30"], "domain": ["gp"], "amount": ["10.00"]}),
        tmp_path / "claims.parquet")
    contracts = tmp_path / "contracts.yaml"
    contracts.write_text("contracts:\n  - name: ffs\n    model: fee_for_service\n"
                         "    provider: P1\n    performance_years: [2024]\n", encoding="utf-8")
    paths = InputPaths((tmp_path / "claims.parquet",))
    messages = []
    for engine in (None, EngineOptions()):
        with pytest.raises(InputError) as caught:
            compare_files(paths, contracts, engine=engine)
        messages.append(str(caught.value))
    assert messages[0] == messages[1]
    assert messages[0].endswith("no claim line was accepted (1 rejected); nothing to settle. "
                                "See why with `fundcalc validate --rejected rejected.csv`.")
