"""Faults during a run (issue 8): Ctrl-C, SIGTERM and a full disk leave no partial output,
end with one sentence and a non-zero exit, and a second run then succeeds.

Each case runs the real command in a subprocess, on claims with many rejected rows. For
the signals, the subprocess pauses halfway through writing the Rejected sheet (the
workbook's temporary file then holds part of a zip) and tells the test, which sends the
signal: the fault always falls in the middle of writing, however busy the machine. A full
disk is simulated with a file size limit (RLIMIT_FSIZE) below the workbook's size.
"""
from __future__ import annotations

import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROWS = 30_000
#: Below the workbook's size (about 500 kB), far above anything else the run writes.
FILE_SIZE_LIMIT = 150_000


@pytest.fixture
def run_folder(tmp_path):
    """Claims with two rejected rows in three, and one fee-for-service contract."""
    lines = ["claim_id,member_id,provider_id,service_date,domain,amount"]
    lines += [f"C{i},M{i % 500},P{i % 7},2024-0{1 + i % 9}-15,gp,{'12.50' if i % 3 == 0 else 'x'}"
              for i in range(ROWS)]
    (tmp_path / "claims.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "contracts.yaml").write_text(
        "contracts:\n  - name: Practice\n    model: fee_for_service\n    provider: P1\n"
        "    scope: {domains: all}\n    performance_years: [2024]\n")
    return tmp_path


#: Run in the subprocess before fundcalc: after 5 000 rows of the Rejected sheet the
#: writer touches the file named by the first argument and waits for the test's signal.
PAUSE_WHILE_WRITING = """
import sys, time, pathlib
import fileio.workbook as workbook
pause_file = pathlib.Path(sys.argv.pop(1))
rows_xml = workbook._rows_xml
def paused(frame, first_row):
    for number, row in enumerate(rows_xml(frame, first_row)):
        if number == 5_000:
            pause_file.touch()
            time.sleep(120)
        yield row
workbook._rows_xml = paused
from cli import main
main(prog_name="fundcalc")
"""


def command(folder: Path, pause_file: Path | None = None) -> list[str]:
    start = ([sys.executable, "-c", PAUSE_WHILE_WRITING, str(pause_file)] if pause_file
             else [sys.executable, "-m", "cli"])
    return [*start, "compare", str(folder / "claims.csv"), "--contracts",
            str(folder / "contracts.yaml"), "-o", str(folder / "out.xlsx")]


def start(folder: Path, file_size_limit: int | None = None, pause_file: Path | None = None
          ) -> subprocess.Popen:
    def prepare():  # in the child, before fundcalc starts
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # CI may start us with SIGINT ignored
        if file_size_limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

    return subprocess.Popen(command(folder, pause_file), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, preexec_fn=prepare, cwd=folder)


def wait_for(pause_file: Path, process: subprocess.Popen, timeout: float = 300) -> None:
    """Wait until the run has paused in the middle of writing the workbook."""
    deadline = time.monotonic() + timeout
    while not pause_file.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.01)


def assert_nothing_left(folder: Path) -> None:
    assert sorted(p.name for p in folder.iterdir()) == ["claims.csv", "contracts.yaml"]


def assert_second_run_succeeds(folder: Path) -> None:
    again = subprocess.run(command(folder), capture_output=True, text=True, cwd=folder)
    assert again.returncode == 0, again.stderr
    assert (folder / "out.xlsx").stat().st_size > FILE_SIZE_LIMIT
    assert sorted(p.name for p in folder.iterdir()) == ["claims.csv", "contracts.yaml",
                                                       "out.xlsx"]


@pytest.mark.parametrize("signum, message", [
    (signal.SIGINT, "fundcalc: interrupted; no partial output was left.\n"),
    (signal.SIGTERM, "fundcalc: stopped (SIGTERM); no partial output was left.\n"),
], ids=["SIGINT", "SIGTERM"])
def test_a_signal_while_writing_leaves_no_output(run_folder, tmp_path_factory, signum,
                                                 message):
    pause_file = tmp_path_factory.mktemp("pause") / "writing"
    process = start(run_folder, pause_file=pause_file)
    wait_for(pause_file, process)
    [temporary] = run_folder.glob(".out.xlsx.*.tmp")
    assert temporary.stat().st_size > 0  # part of the workbook is written
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + signum
    assert stderr.decode() == message
    assert_nothing_left(run_folder)
    assert_second_run_succeeds(run_folder)


def test_a_full_disk_leaves_no_output(run_folder):
    process = start(run_folder, file_size_limit=FILE_SIZE_LIMIT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 2
    assert stderr.decode() == (
        "fundcalc: cannot write the output: File too large (disk full or file size limit); "
        "no partial output was left. Free some space and run again.\n")
    assert_nothing_left(run_folder)
    assert_second_run_succeeds(run_folder)


def test_an_existing_output_survives_a_failed_run(run_folder):
    """A run that fails keeps the previous run's workbook as it was."""
    (run_folder / "out.xlsx").write_bytes(b"the previous run's workbook")
    process = start(run_folder, file_size_limit=FILE_SIZE_LIMIT)
    process.communicate(timeout=120)
    assert process.returncode == 2
    assert (run_folder / "out.xlsx").read_bytes() == b"the previous run's workbook"
    assert sorted(p.name for p in run_folder.iterdir()) == ["claims.csv", "contracts.yaml",
                                                           "out.xlsx"]
