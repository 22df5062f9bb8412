"""Reproducibility (issue 8): the same inputs give a byte-identical workbook, also in
another process with another hash seed; the same claims in another row order give the same
Summary, contract, Spillover and Episodes sheets and the same rejected rows.

Runs the real command on a small sample written by ``fundcalc sample`` (all four models,
spillover and a scenario, with its deliberately bad rows).
"""
from __future__ import annotations

import csv
import os
import random
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from cli import main

#: Sheets whose cells do not depend on the claims' row order or file names.
ORDER_FREE = ("Summary", "Spillover", "Episodes")


def run(*args) -> None:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("sample")
    run("sample", "-o", folder, "--members", 200, "--years", "2022-2024", "--format", "csv",
        "--quiet")
    return folder


def compare_args(sample: Path, claims: Path, out: Path) -> list:
    return ["compare", claims, "--members", sample / "members.csv", "--fee-schedule",
            sample / "fee_schedule.csv", "--contracts", sample / "contracts.yaml", "-o", out,
            "--quiet"]


def sheet_values(path: Path) -> dict[str, list[tuple]]:
    book = openpyxl.load_workbook(path)
    return {name: list(book[name].iter_rows(values_only=True)) for name in book.sheetnames}


def test_two_processes_with_other_hash_seeds_write_the_same_bytes(sample, tmp_path):
    outputs = []
    for hash_seed in ("1", "987654"):
        out = tmp_path / f"run{hash_seed}.xlsx"
        subprocess.run([sys.executable, "-m", "cli", *map(str, compare_args(
            sample, sample / "claims.csv", out))], check=True,
            env={**os.environ, "PYTHONHASHSEED": hash_seed})
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]


def test_shuffled_claims_give_the_same_sheets(sample, tmp_path):
    with open(sample / "claims.csv", newline="", encoding="utf-8") as handle:
        header, *rows = list(csv.reader(handle))
    random.Random(8).shuffle(rows)
    shuffled = tmp_path / "claims.csv"  # the same name: the Rejected sheet shows it
    with open(shuffled, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows([header, *rows])
    (tmp_path / "original").mkdir()
    original_out, shuffled_out = tmp_path / "original" / "out.xlsx", tmp_path / "out.xlsx"
    run(*compare_args(sample, sample / "claims.csv", original_out))
    run(*compare_args(sample, shuffled, shuffled_out))
    original, again = sheet_values(original_out), sheet_values(shuffled_out)
    assert original.keys() == again.keys()
    contract_sheets = [name for name in original
                       if name not in (*ORDER_FREE, "Read me", "Inputs", "Rejected")]
    assert len(contract_sheets) >= 9
    for name in (*ORDER_FREE, *contract_sheets):
        assert original[name] == again[name], name

    def rejected(values):
        """The rows rejected and why, wherever they lie (an exact copy names the row of the
        copy kept, which moves with the order)."""
        return Counter((table, column, value, re.sub(r"^exact copy of .* row \d+", "exact copy",
                                                     reason))
                       for _, _, table, _, column, value, reason in values["Rejected"][1:])

    assert rejected(original) == rejected(again) and sum(rejected(original).values()) > 0
