"""docs/tutorial.md, the student's path, run as written: its files are saved, its commands
run in order with the output it shows, and the figures it quotes are the workbooks'."""
from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from markdown_examples import blocks, run_document

TUTORIAL = Path(__file__).resolve().parents[1] / "docs" / "tutorial.md"
TEXT = TUTORIAL.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The folder the tutorial was worked through in, and the commands it ran."""
    folder = tmp_path_factory.mktemp("course")
    return folder, run_document(TEXT, folder)


def rows_of(path: Path, sheet: str, header_row: int = 1) -> list[dict]:
    values = list(openpyxl.load_workbook(path, read_only=True)[sheet].iter_rows(
        values_only=True))
    header = values[header_row - 1]
    return [dict(zip(header, row)) for row in values[header_row:] if any(row)]


def shown(amount: float) -> str:
    """An amount as the tutorial writes it in tables: 45,756.70 (minus as −)."""
    return f"{amount:,.2f}".replace("-", "−")


def test_every_step_runs(course):
    _, ran = course
    assert [c.line.split()[1] for c in ran] == ["sample", "validate", "compare", "compare",
                                               "sweep"]
    assert [b.file for b in blocks(TEXT) if b.file] == ["proposal.yaml", "substitution.yaml"]


def test_the_summary_has_the_figures_the_tutorial_reads(course):
    folder, _ = course
    summary = {(r["scenario"], r["contract"]): r
               for r in rows_of(folder / "substitution.xlsx", "Summary")}
    expected = {  # scenario, contract: savings rate, shared savings, net insurer savings
        ("base", "Hospital only"): ("7.45%", 45756.70, -14428.56),
        ("base", "All care, two-sided"): ("1.98%", 0.0, 31328.13),
        ("dermatology to primary care", "Hospital only"): ("7.72%", 47399.24, -14100.06),
        ("dermatology to primary care", "All care, two-sided"): ("2.08%", 20085.98, 13213.19),
    }
    assert set(summary) == set(expected)
    for key, (rate, shared, net) in expected.items():
        row = summary[key]
        assert f"{row['savings_rate']:.2%}" == rate
        assert row["shared_savings"] == pytest.approx(shared, abs=0.005)
        assert row["net_insurer_savings"] == pytest.approx(net, abs=0.005)
        line = f"| {key[0]} | {key[1]} | {rate} | {shown(shared)} | {shown(net)} |"
        assert line in TEXT, line
    hospital_only = summary[("base", "Hospital only")]
    assert hospital_only["spillover"] == pytest.approx(60185.27, abs=0.005)
    assert summary[("dermatology to primary care", "Hospital only")]["spillover"] == (
        pytest.approx(61499.31, abs=0.005))
    assert hospital_only["members"] == 964 and "On 964 members" in TEXT
    # Step 3's workbook is step 5's base.
    base = {r["contract"]: r for r in rows_of(folder / "proposal.xlsx", "Summary")}
    assert {k: v["net_insurer_savings"] for k, v in base.items()} == {
        k[1]: v["net_insurer_savings"] for k, v in summary.items() if k[0] == "base"}


def test_the_spillover_sheet_shows_the_domains_the_tutorial_names(course):
    folder, _ = course
    values = list(openpyxl.load_workbook(folder / "proposal.xlsx", read_only=True)[
        "Spillover"].iter_rows(values_only=True))
    start = next(i for i, row in enumerate(values) if row[:4] == ("scenario", "contract",
                                                                  "year", "domain"))
    header = values[start]
    deltas = {(r["contract"], r["domain"]): r["delta"] for r in
              (dict(zip(header, row)) for row in values[start + 1:] if row[0])}
    assert deltas[("Hospital only", "hospital")] == pytest.approx(-91513.41, abs=0.005)
    assert deltas[("Hospital only", "mental_health")] == pytest.approx(74250.44, abs=0.005)
    assert "91 513.41" in TEXT and "74 250.44" in TEXT


def test_the_sweep_has_every_combination(course):
    folder, _ = course
    points = rows_of(folder / "sweep.xlsx", "Sweep", header_row=3)
    shared = {(p["sharing_rate"], p["minimum_savings_rate"]): p["shared_savings"]
              for p in points}
    assert len(shared) == 15
    assert shared[(0.3, 0)] == pytest.approx(11460.28, abs=0.005)
    assert shared[(0.5, 0.01)] == pytest.approx(19100.46, abs=0.005)
    assert shared[(0.7, 0)] == pytest.approx(26740.64, abs=0.005)
    assert all(shared[(rate, 0.02)] == 0 for rate in (0.3, 0.4, 0.5, 0.6, 0.7))
    # The savings the tutorial names: shared savings / sharing rate.
    assert shared[(0.5, 0)] * 2 == pytest.approx(38200.92, abs=0.01)
    assert "38 200.92" in TEXT and "11 460.28" in TEXT
