"""Claims larger than memory: 50 million lines through ``--engine duckdb`` with DuckDB's
memory limited to 1 GB, and the same Summary as in memory where both can run.

Run from the repository's root (after ``python benchmarks/run.py --sizes 1M-parquet,10M-parquet``
has written those samples, or it writes them)::

    python benchmarks/out_of_core.py            # 50M lines
    python benchmarks/out_of_core.py --parts 2  # 20M lines, for a quicker look

It also runs the 10M-line sample's claims written as one CSV file (out of core by
default at that size) and checks that its Summary is the Parquet file's.

The 50M-line input is a folder of five Parquet files: the 10M-line sample five times over,
each copy's member and claim ids prefixed so that they are new members (the members,
enrollment and attribution tables likewise). The contracts are the sample's — all four
models, an episode bundle, the dermatology scenario — plus a shared-savings contract with
plurality attribution. The result is appended to ``benchmarks/results.md``.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from fileio.sample_data import with_plurality_contract

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import (DATA, TABLES, append_results, arrow_size, machine, measure,  # noqa: E402
                 sample, table_options)



def with_plurality(folder: Path) -> Path:
    """The sample's contracts plus one with plurality attribution."""
    text = (folder / "contracts.yaml").read_text(encoding="utf-8")
    path = folder / "contracts_plurality.yaml"
    path.write_text(with_plurality_contract(text), encoding="utf-8")
    return path


def _prefixed(table: pa.Table, columns: tuple[str, ...], prefix: str) -> pa.Table:
    for name in columns:
        if name in table.column_names:
            position = table.schema.get_field_index(name)
            table = table.set_column(position, name, pc.binary_join_element_wise(
                prefix, pc.cast(table.column(name), pa.string()), ""))
    return table


def larger_input(parts: int) -> Path:
    """The 10M-line sample ``parts`` times over, as a folder of Parquet files."""
    source = sample("10M-parquet")
    folder = DATA / f"{parts * 10}M-folder"
    claims = folder / "claims"
    if (folder / "contracts_plurality.yaml").exists():
        return folder
    claims.mkdir(parents=True, exist_ok=True)
    lines = pq.read_table(source / "claims.parquet")
    for part in range(parts):
        pq.write_table(_prefixed(lines, ("member_id", "claim_id"), f"p{part}-"),
                       claims / f"part-{part}.parquet")
    del lines
    for name in TABLES:
        table = pq.read_table(source / f"{name}.parquet")
        if name != "fee_schedule":
            table = pa.concat_tables([_prefixed(table, ("member_id",), f"p{part}-")
                                      for part in range(parts)])
        pq.write_table(table, folder / f"{name}.parquet")
    for name in ("contracts.yaml", "age_sex_factors.csv"):
        (folder / name).write_bytes((source / name).read_bytes())
    with_plurality(folder)
    return folder


def compare_command(folder: Path, claims: Path, output: Path, *engine: str) -> list[str]:
    return [sys.executable, "-m", "cli", "compare", "--quiet", str(claims),
            "--contracts", str(folder / "contracts_plurality.yaml"), "-o", str(output),
            "--json", str(output.with_suffix(".json")), *engine, *table_options(folder)]


def same_summary(folder: Path) -> bool:
    """Whether both engines give the same Summary (as JSON) on ``folder``'s sample."""
    with_plurality(folder)
    outputs = {}
    for name, engine in (("memory", ()), ("duckdb", ("--engine", "duckdb"))):
        output = folder / f"out-{name}.xlsx"
        subprocess.run(compare_command(folder, folder / "claims.parquet", output, *engine),
                       check=True)
        outputs[name] = json.loads(output.with_suffix(".json").read_text(encoding="utf-8"))
    return outputs["memory"] == outputs["duckdb"] and len(outputs["memory"]) > 0


def csv_run(memory_limit: str) -> tuple[float, float, float, bool]:
    """Seconds and peak MB of compare on the 10M-line claims as one CSV file (the default
    engine), its size in GiB, and whether its Summary is the Parquet claims'."""
    folder = sample("10M-parquet")
    with_plurality(folder)
    claims = folder / "claims.csv"
    if not claims.exists():
        pacsv.write_csv(pq.read_table(folder / "claims.parquet"), claims)
    output = folder / "out-csv.xlsx"
    seconds, peak = measure(compare_command(folder, claims, output, "--memory-limit",
                                            memory_limit))
    subprocess.run(compare_command(folder, folder / "claims.parquet", folder / "out.xlsx"),
                   check=True)
    same = (json.loads(output.with_suffix(".json").read_text(encoding="utf-8"))
            == json.loads((folder / "out.json").read_text(encoding="utf-8")))
    return seconds, peak, claims.stat().st_size / 2**30, same


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", type=int, default=5,
                        help="copies of the 10M-line sample (default 5: 50M lines)")
    parser.add_argument("--memory-limit", default="1GB")
    args = parser.parse_args()
    checked = same_summary(sample("1M-parquet"))
    folder = larger_input(args.parts)
    claims = folder / "claims"
    lines = sum(pq.ParquetFile(p).metadata.num_rows for p in sorted(claims.glob("*.parquet")))
    on_disk = sum(p.stat().st_size for p in claims.glob("*.parquet")) / 2**30
    arrow = arrow_size(*claims.glob("*.parquet")) / 2**30
    seconds, peak = measure(compare_command(folder, claims, folder / "out.xlsx", "--engine",
                                            "duckdb", "--memory-limit", args.memory_limit),
                            runs=1)
    csv_seconds, csv_peak, csv_size, csv_same = csv_run(args.memory_limit)
    text = "\n".join([
        "", f"Out of core, measured {time.strftime('%Y-%m-%d')} on {machine()}:", "",
        "| input | what | seconds | peak MB |", "|---|---|---:|---:|",
        f"| {lines / 1e6:.0f}M lines, {len(list(claims.glob('*.parquet')))} Parquet files "
        f"({on_disk:.1f} GiB on disk, {arrow:.1f} GiB as Arrow columns) | fundcalc compare "
        f"--engine duckdb --memory-limit {args.memory_limit} | {seconds:.1f} | {peak:,.0f} |",
        f"| 10M lines, one CSV file ({csv_size:.1f} GiB) | fundcalc compare (auto: out of "
        f"core) --memory-limit {args.memory_limit} | {csv_seconds:.1f} | {csv_peak:,.0f} |",
        "", f"Same Summary from the CSV as from the Parquet claims: "
            f"{'yes' if csv_same else 'NO'}.",
        "", f"Same Summary from both engines on the 1M-line sample (all four models, episode "
            f"bundles, plurality attribution, a scenario): {'yes' if checked else 'NO'}.", ""])
    append_results(text)


if __name__ == "__main__":
    main()
