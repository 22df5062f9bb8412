"""Run the examples of a Markdown document as they are written, in order.

- A fenced block whose info string names a file (```` ```yaml file=proposal.yaml ````) is
  written to that file.
- A ```` ```console ```` block holds commands after ``$ `` (a line ending in ``\\``
  continues on the next); the lines after a command up to the next ``$ `` are its
  expected output (a line ``...`` stands for any lines). Each command must exit 0 and
  print exactly that.
- A ```` ```python ```` block is run, and a ```` ```pycon ```` block (``>>>`` prompts and
  the output they show) is checked as a doctest, in one namespace shared by the
  document's blocks.
"""
from __future__ import annotations

import doctest
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

_FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Block:
    """A fenced block: its info string (language and attributes) and its text."""

    info: str
    text: str

    @property
    def language(self) -> str:
        """The first word of the info string."""
        return self.info.split()[0] if self.info.split() else ""

    @property
    def file(self) -> str | None:
        """The file the block is to be saved as (``file=NAME``), or None."""
        found = re.search(r"\bfile=(\S+)", self.info)
        return found.group(1) if found else None


def blocks(markdown: str) -> list[Block]:
    """The fenced blocks of a document, in order."""
    return [Block(info.strip(), text) for info, text in _FENCE.findall(markdown)]


@dataclass(frozen=True)
class Command:
    """A console command and the output the document shows for it."""

    line: str
    expected: list[str]


def commands(console: str) -> list[Command]:
    """The commands of a console block with their expected output."""
    found: list[Command] = []
    lines = console.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line.startswith("$ "):
            raise ValueError(f"console block: output without a command before it: {line!r}")
        command = line[2:]
        while command.endswith("\\") and index < len(lines):
            command = command[:-1] + " " + lines[index].strip()
            index += 1
        expected = []
        while index < len(lines) and not lines[index].startswith("$ "):
            expected.append(lines[index])
            index += 1
        found.append(Command(command, expected))
    return found


def output_matches(expected: list[str], printed: str) -> bool:
    """Whether ``printed`` is ``expected``, a line ``...`` standing for any lines."""
    pattern = "\n".join(".*?" if line.strip() == "..." else re.escape(line.rstrip())
                        for line in expected)
    printed = "\n".join(line.rstrip() for line in printed.strip("\n").splitlines())
    return re.fullmatch(pattern, printed, re.DOTALL) is not None


def run_command(command: Command, cwd: Path) -> str:
    """Run one command as written in ``cwd``, check its exit status and its output, and
    return what it printed. ``fundcalc`` runs in this process (the installed command's
    own entry point, without a process start per command); ``python`` is this
    interpreter."""
    words = shlex.split(command.line)
    if words[0] == "fundcalc":
        from click.testing import CliRunner

        from cli import main

        previous = Path.cwd()
        os.chdir(cwd)
        try:
            done = CliRunner().invoke(main, words[1:])
        finally:
            os.chdir(previous)
        status, printed, errors = done.exit_code, done.stdout, done.stderr
        if done.exception is not None and not isinstance(done.exception, SystemExit):
            errors += repr(done.exception)
    else:
        if words[0] == "python":
            words[0] = sys.executable
        process = subprocess.run(words, cwd=cwd, capture_output=True, text=True, timeout=600)
        status, printed, errors = process.returncode, process.stdout, process.stderr
    assert status == 0, f"$ {command.line}\n{printed}{errors}"
    if command.expected:
        assert output_matches(command.expected, printed), (
            f"$ {command.line}\nprinted:\n{printed}\nthe document shows:\n"
            + "\n".join(command.expected))
    return printed


def run_document(markdown: str, cwd: Path, namespace: dict | None = None,
                 leave_out=lambda command: False) -> list[Command]:
    """Run every example of a document in ``cwd``, in order; return the commands run.
    Commands for which ``leave_out(command)`` is true are not run."""
    namespace = {} if namespace is None else namespace
    ran = []
    for block in blocks(markdown):
        if block.file:
            (cwd / block.file).write_text(block.text, encoding="utf-8")
        elif block.language == "console":
            for command in commands(block.text):
                if leave_out(command):
                    continue
                run_command(command, cwd)
                ran.append(command)
        elif block.language in ("python", "pycon"):
            previous = Path.cwd()
            os.chdir(cwd)
            try:
                _run_python(block, namespace)
            finally:
                os.chdir(previous)
    return ran


def _run_python(block: Block, namespace: dict) -> None:
    if block.language == "python":
        exec(compile(block.text, "<markdown python block>", "exec"), namespace)
        return
    test = doctest.DocTestParser().get_doctest(block.text, namespace, "markdown", None, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    report: list[str] = []
    runner.run(test, out=report.append, clear_globs=False)
    assert runner.failures == 0, "".join(report)
