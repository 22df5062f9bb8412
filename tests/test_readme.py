"""The README's examples run as tests: the fresh-machine command, every console, file and
pycon block in order, and a command reference that names every command and option."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import click
import pytest

from cli import main
from markdown_examples import Command, blocks, run_command, run_document

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


RENDER = "python scripts/render_workbook.py"


@pytest.fixture
def workdir(tmp_path):
    """A folder to run the examples in, with the shipped sample and the scripts where the
    README says."""
    for folder in ("sample_workbooks", "scripts"):
        (tmp_path / folder).symlink_to(REPO / folder)
    return tmp_path


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start:end if end > 0 else None]


def test_the_fresh_machine_compare_runs(workdir):
    line = README.splitlines()[3].strip()
    install, compare = line.split(" && ")
    assert install == "python -m pip install ."  # installing is left to the machine
    run_command(Command(compare, ["Settled 10 contract(s) on 99,563 accepted claim lines "
                                  "(10 input rows rejected); wrote comparison.xlsx."]), workdir)
    assert (workdir / "comparison.xlsx").exists()


def test_every_readme_example_runs(workdir):
    # LibreOffice's rendering is left to the slow test below.
    ran = run_document(README, workdir, leave_out=lambda c: c.line.startswith(RENDER))
    assert [c.line.split()[1] for c in ran] == ["compare", "compare", "validate"]
    assert (workdir / "summary.json").exists()
    assert any(b.language == "pycon" for b in blocks(README))


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("soffice") is None or shutil.which("pdftoppm") is None,
                    reason="LibreOffice (soffice) and poppler-utils are not installed")
def test_the_picture_is_rendered_as_the_readme_says(workdir):
    ran = run_document(section("The picture"), workdir)
    assert [c.line.split()[:2] for c in ran] == [["fundcalc", "compare"],
                                                 ["python", "scripts/render_workbook.py"]]
    for picture in ("summary.png", "summary_chart.png"):
        assert (workdir / "docs" / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_command_reference_names_every_command_and_option():
    reference = section("The commands")
    for name, command in main.commands.items():
        assert f"`fundcalc {name}" in reference, name
        for option in command.params:
            if isinstance(option, click.Option):
                for flag in option.opts:
                    assert re.search(rf"`{re.escape(flag)}[` ]", reference), (name, flag)


def test_the_pictures_are_there():
    for picture in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", section("The picture")):
        assert (REPO / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", picture


def test_the_methodology_cites_tests_that_exist():
    methodology = (REPO / "docs" / "methodology.md").read_text(encoding="utf-8")
    cited = set(re.findall(r"`(?:tests/\w+\.py::)?(test_\w+)`", methodology))
    defined = set(re.findall(r"^def (test_\w+)", "\n".join(
        p.read_text(encoding="utf-8") for p in (REPO / "tests").glob("test_*.py")), re.M))
    assert len(cited) >= 20
    assert cited <= defined, cited - defined
