"""The ``fundcalc`` command: parse the options, call one library function, report.

Exit status: 0 success; 1 finished, but rows were rejected and ``--strict`` was given;
2 unusable input, contracts or output path, or a full disk (one sentence on stderr says
which and why); 130 on Ctrl-C and 143 on SIGTERM (no partial output is left).
"""
from __future__ import annotations

import errno
import functools
import json
import signal
import sys
import threading
import time
from pathlib import Path

import click

from fileio.atomic import OutputPathError, check_output_path
from fileio.errors import InputError, one_line

EXIT_REJECTED = 1
EXIT_UNUSABLE = 2

_file = click.Path(path_type=Path, dir_okay=False)


def input_options(command):
    """The options that name the optional input tables, shared by several commands."""
    options = [
        click.option("--members", type=_file, help="Members table (.xlsx sheet 'members', "
                     ".csv or .parquet); default: the claims workbook's 'members' sheet."),
        click.option("--fee-schedule", type=_file, help="Fee schedule (care_code, tariff); "
                     "default: the claims workbook's 'fee_schedule' sheet."),
        click.option("--enrollment", type=_file, help="Enrollment spans (member_id, "
                     "enrollment_start, enrollment_end), several per member; replaces the "
                     "members table's span."),
        click.option("--attribution", type=_file, help="Attribution per year (member_id, "
                     "year, provider_id); takes precedence over attributed_provider."),
    ]
    return functools.reduce(lambda c, option: option(c), reversed(options), command)


def _read_ahead(claims):
    """Start reading the first claims file, when it is a workbook, while the rest of the
    program loads (see :func:`fileio.sheet_reader.read_ahead`)."""
    from fileio.sheet_reader import read_ahead

    read_ahead(Path(claims[0]))


def _paths(claims, members, fee_schedule, enrollment, attribution):
    from fileio.jobs import InputPaths

    return InputPaths(tuple(claims), members, fee_schedule, enrollment, attribution)


def quiet_option(command):
    """``--quiet``: print nothing but errors (for scheduled batch runs)."""
    return click.option("--quiet", is_flag=True,
                        help="Print nothing but errors: no progress, no summary line.")(command)


class Progress:
    """One line of progress on stderr, rewritten in place, when stderr is a terminal: the
    time so far, a bar when the share done is known, and what is being done."""

    BAR = 20

    def __init__(self, quiet: bool):
        self.shown = not quiet and sys.stderr.isatty()
        self.started = time.monotonic()
        self.width = 0

    def __call__(self, text: str, done: float | None = None) -> None:
        if self.shown:
            bar = ("" if done is None else
                   "[" + "#" * round(done * self.BAR) + "." * (self.BAR - round(done * self.BAR))
                   + "] ")
            line = f"{time.monotonic() - self.started:5.1f}s {bar}{one_line(text)}"[:110]
            click.echo("\r" + line.ljust(self.width), err=True, nl=False)
            self.width = len(line)

    def done(self) -> None:
        """Clear the progress line."""
        if self.shown and self.width:
            click.echo("\r" + " " * self.width + "\r", err=True, nl=False)


def _say(quiet: bool, text: str) -> None:
    if not quiet:
        click.echo(one_line(text))


def _fail(message: str, status: int = EXIT_UNUSABLE) -> None:
    """Print ``message`` (a sentence a line; names and paths from the inputs kept within
    their line by :func:`one_line`) and exit with ``status``."""
    click.echo("fundcalc: " + "\n".join(map(one_line, message.split("\n"))), err=True)
    sys.exit(status)


class _Terminated(BaseException):
    """The process was asked to stop (SIGTERM): raised like Ctrl-C's KeyboardInterrupt, so
    that outputs being written are removed on the way out."""


def _raise_terminated(signum, frame):
    raise _Terminated()


#: OSError numbers that mean the output does not fit: disk full, file size limit, quota.
_DISK_FULL = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}


def _stop(what: str, signum: int) -> None:
    """End an interrupted run with one sentence and exit 128 + the signal's number."""
    # Writers left half-way (openpyxl's row generators) fail as they are collected on the
    # way out; their outputs are already removed, so that noise is not shown.
    sys.unraisablehook = lambda unraisable: None
    _fail(f"{what}; no partial output was left.", 128 + signum)


def _is_contracts_error(error: Exception) -> bool:
    """Whether ``error`` is a :class:`contracts.ContractsError`: one can only have been
    raised once the contracts package is loaded, which commands do when they need it (it
    takes a fifth of a second, which a workbook's read can use)."""
    loading = sys.modules.get("contracts.loading")
    return loading is not None and isinstance(error, loading.ContractsError)


def _unusable_input_is_exit_2(command):
    """Turn the errors that mean "this input cannot be used" into one sentence and exit 2.

    A run stopped by Ctrl-C or SIGTERM, by a full disk or by another error reading or
    writing a file, also ends with one sentence (exit 130, 143 or 2), after the temporary
    files of unfinished outputs are removed (:func:`fileio.atomic.atomic_output`): no
    partial output is left.
    """
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        in_main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _raise_terminated) if in_main_thread else None
        try:
            return command(*args, **kwargs)
        except (InputError, OutputPathError) as error:
            _fail(str(error))
        except KeyboardInterrupt:
            _stop("interrupted", signal.SIGINT)
        except _Terminated:
            _stop("stopped (SIGTERM)", signal.SIGTERM)
        except OSError as error:
            if error.errno in _DISK_FULL:
                _fail(f"cannot write the output: {error.strerror} (disk full or file size "
                      "limit); no partial output was left. Free some space and run again.")
            # Any other failure to read or write a file: no partial output is left either.
            where = "" if error.filename is None else f"{error.filename}: "
            _fail(f"{where}{error.strerror or error}; check the path and that it can be "
                  "read (inputs) or written (outputs).")
        except Exception as error:
            if not _is_contracts_error(error):
                raise
            _fail(str(error))
        finally:
            if in_main_thread:
                signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fundcalc")
def main():
    """Settle health-insurer contracts on claims data and compare them in one workbook.

    Start with `fundcalc sample -o sample/` to get a claims workbook and a contracts
    file, then `fundcalc compare sample/claims.xlsx --contracts sample/contracts.yaml
    -o comparison.xlsx`.
    """


@main.command()
@click.argument("claims", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--contracts", "contracts_path", required=True, type=_file,
              help="The contracts file: .yaml or .json, or a workbook (.xlsx) "
                   "with a contracts sheet.")
@click.option("-o", "--output", required=True, type=_file, help="The workbook to write (.xlsx).")
@input_options
@click.option("--json", "json_path", type=_file,
              help="Also write the Summary rows as a JSON list to this path.")
@click.option("--scenario", "scenario_paths", type=_file, multiple=True,
              help="A file of scenarios (.yaml or .json) to compare under, besides those in "
                   "the contracts file; may be given more than once.")
@click.option("--strict", is_flag=True, help="Exit with status 1 when any input row was rejected.")
@click.option("--engine", type=click.Choice(["auto", "memory", "duckdb"]), default="auto",
              show_default=True,
              help="memory: every claim line in memory. duckdb: claims from Parquet or CSV "
                   "files or folders of them, read in batches and summed out of core within "
                   "--memory-limit, for claims larger than memory (pip install "
                   "'fundcalc[large]'). auto: duckdb for a folder, Parquet claims of 2 "
                   "million lines or more, or CSV claims of 150 MB or more, when DuckDB is "
                   "installed; else memory. Both give the same results.")
@click.option("--memory-limit", default="1GB", show_default=True,
              help="With --engine duckdb: DuckDB's memory limit (e.g. 1GB); beyond it, "
                   "work spills to the temporary folder.")
@click.option("--bootstrap", "replicates", type=click.IntRange(min=2),
              help="Also settle every contract on this many resamples of its members "
                   "(drawn with replacement within segments) and add a Risk sheet: P5, P50 "
                   "and P95 of insurer cost and provider result, the chance that shared "
                   "savings are paid, the provider's share of risk.")
@click.option("--seed", type=click.IntRange(min=0),
              help="With --bootstrap: the random seed, a whole number from 0 (default 1); "
                   "the same seed gives the same workbook.")
@click.option("--null", "null", is_flag=True,
              help="With --bootstrap: first scale each contract's care cost to its benchmark "
                   "(held fixed), so that what is paid is paid for luck alone.")
@quiet_option
@_unusable_input_is_exit_2
def compare(claims, contracts_path, output, members, fee_schedule, enrollment, attribution,
            json_path, scenario_paths, strict, engine, memory_limit, replicates, seed, null,
            quiet):
    """Settle every contract in CONTRACTS on the CLAIMS files and write a comparison workbook.

    CLAIMS are one or more .xlsx, .csv or .parquet files; a workbook may also carry the
    members, fee_schedule, enrollment and attribution sheets. Out of core (--engine),
    CLAIMS are Parquet or CSV files or folders of them. Rejected rows are listed in the workbook's
    Rejected sheet with their reasons.
    """
    _read_ahead(claims)
    from fileio.jobs import compare_files, write_summary_json
    from fileio.out_of_core import engine_for
    from fileio.workbook import write_comparison_workbook
    from funding_models.risk import RiskOptions

    for given, option in ((null, "--null"), (seed is not None, "--seed")):
        if given and replicates is None:
            _fail(f"{option} needs --bootstrap N (the number of replicates).")
    paths = _paths(claims, members, fee_schedule, enrollment, attribution)
    inputs = [*paths.all(), contracts_path, *scenario_paths]
    check_output_path(Path(output), inputs)
    if json_path is not None:
        check_output_path(Path(json_path), [*inputs, output])
    progress = Progress(quiet)
    comparison = compare_files(paths, contracts_path, scenario_paths, progress,
                               engine_for(engine, claims, memory_limit),
                               risk=None if replicates is None
                               else RiskOptions(replicates, 1 if seed is None else seed,
                                                null))
    progress("writing the workbook")
    write_comparison_workbook(comparison, output, inputs=inputs)
    progress.done()
    if json_path is not None:
        write_summary_json(comparison, json_path, inputs=[*inputs, output])
    rejected = len(comparison.rejected)
    claims = sum(r.rows_accepted for r in comparison.input_files if r.table == "claims")
    _say(quiet, f"Settled {len(comparison.contracts)} contract(s) on {claims:,} accepted "
                f"claim lines ({rejected:,} input rows rejected); wrote {output}.")
    if strict and rejected:
        sys.exit(EXIT_REJECTED)


def _read_varies(context, parameter, texts):
    from funding_models.sweep import parse_vary

    try:
        return [parse_vary(text) for text in texts]
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@main.command()
@click.argument("claims", nargs=-1, required=True, type=_file)
@click.option("--contracts", "contracts_path", required=True, type=_file,
              help="The contracts file: .yaml or .json, or a workbook (.xlsx) "
                   "with a contracts sheet.")
@click.option("--contract", "contract", required=True,
              help="The name of the contract whose terms to vary.")
@click.option("--vary", "varies", multiple=True, required=True, callback=_read_varies,
              help="A term and its values: TERM=START:STOP:STEP (both ends included) or "
                   "TERM=V1,V2,...; a nested term with dots (stop_loss.attachment). Give "
                   "--vary once per term; every combination is settled.")
@click.option("-o", "--output", required=True, type=_file, help="The workbook to write (.xlsx).")
@input_options
@quiet_option
@_unusable_input_is_exit_2
def sweep(claims, contracts_path, contract, varies, output, members, fee_schedule,
          enrollment, attribution, quiet):
    """Settle one contract over a grid of term values on the same claims, and write a
    workbook with a Sweep sheet: insurer cost and provider result at every point.

    Example: --contract "Practices North population contract" --vary
    sharing_rate=0.3:0.7:0.1 --vary minimum_savings_rate=0,0.01,0.02
    """
    _read_ahead(claims)
    from fileio.jobs import sweep_files
    from fileio.workbook import write_sweep_workbook

    paths = _paths(claims, members, fee_schedule, enrollment, attribution)
    inputs = [*paths.all(), contracts_path]
    check_output_path(Path(output), inputs)
    progress = Progress(quiet)
    run = sweep_files(paths, contracts_path, contract, varies, progress)
    progress("writing the workbook")
    write_sweep_workbook(run, output, inputs=inputs)
    progress.done()
    unsettled = int(run.frame["insurer_cost"].isna().sum())
    blank = (f" ({unsettled:,} of {len(run.frame):,} rows not settled: see their status)"
             if unsettled else "")
    _say(quiet, f"Settled {contract} at {run.points:,} sets of terms{blank}; wrote {output}.")


@main.command()
@click.argument("claims", nargs=-1, required=True, type=_file)
@click.option("--contracts", "contracts_path", type=_file,
              help="A contracts file (.yaml, .json or .xlsx) to check too (its columns:, "
                   "decimal_comma and "
                   "date_format settings are used for reading).")
@input_options
@click.option("--rejected", "rejected_path", type=_file,
              help="Write the rejected rows to this CSV file.")
@click.option("--strict", is_flag=True, help="Exit with status 1 when any input row was rejected.")
@_unusable_input_is_exit_2
def validate(claims, contracts_path, members, fee_schedule, enrollment, attribution,
             rejected_path, strict):
    """Check the input files (and a contracts file) without settling anything.

    Prints, per table and file, the rows and amounts read, accepted and rejected.
    """
    _read_ahead(claims)
    from fileio.jobs import read_run_inputs, write_rejected_csv

    paths = _paths(claims, members, fee_schedule, enrollment, attribution)
    given = [*paths.all(), *([contracts_path] if contracts_path else [])]
    if rejected_path is not None:
        check_output_path(Path(rejected_path), given)
    from contracts import load_contracts

    contracts = load_contracts(contracts_path)[0] if contracts_path else None
    inputs = read_run_inputs(paths, contracts)
    for report in inputs.reports:
        where = report.file + (f" [{report.sheet}]" if report.sheet else "")
        line = (f"{where}: {report.table}: {report.rows_read:,} rows read, "
                f"{report.rows_accepted:,} accepted, {report.rows_rejected:,} rejected")
        if report.amount_read is not None:
            line += (f"; amount read {report.amount_read / 100:,.2f}, accepted "
                     f"{report.amount_accepted / 100:,.2f}, rejected {report.amount_rejected / 100:,.2f}")
        click.echo(one_line(line))
    if rejected_path is not None:
        write_rejected_csv(inputs.rejected, rejected_path, inputs=given)
    if contracts is not None:
        click.echo(one_line(f"{contracts_path}: {len(contracts.contracts)} contract(s), all "
                            "valid."))
    if strict and inputs.rows_rejected:
        sys.exit(EXIT_REJECTED)


@main.command()
@click.argument("cases", type=_file)
@click.option("--model", type=click.Choice(["shared_savings"]), default="shared_savings",
              show_default=True, help="The funding model the cases are settled under.")
@click.option("--contract", "contract_path", type=_file,
              help="Terms for every case (.yaml or .json): sharing terms such as "
                   "sharing_rate: 0.5 or preset: mssp_enhanced, or a contracts file with "
                   "one shared_savings contract. A case's own columns override them.")
@click.option("-o", "--output", required=True, type=_file,
              help="Where to write the cases with their results (.csv or .xlsx).")
@click.option("--strict", is_flag=True, help="Exit with status 1 when a case was not settled.")
@quiet_option
@_unusable_input_is_exit_2
def settle(cases, model, contract_path, output, strict, quiet):
    """Settle aggregate CASES without claims: one row per case with benchmark, expenditure
    and members, and any sharing term as a column.

    The output repeats the input columns and adds savings, savings_rate,
    minimum_savings_rate, minimum_loss_rate, shared_savings, shared_losses,
    net_settlement and status.
    """
    from contracts.loading import load_settlement_terms
    from fileio.cases import settle_case_file

    check_output_path(Path(output), [cases] + ([contract_path] if contract_path else []))
    terms = load_settlement_terms(contract_path)
    done = settle_case_file(cases, output, terms)
    if done.replaced_columns:
        click.echo(one_line(f"Replaced the input's own {', '.join(done.replaced_columns)} "
                            "column(s) with the results."), err=True)
    _say(quiet, f"Settled {done.settled:,} of {done.cases:,} case(s) under {model}"
         + (f" ({done.not_settled:,} not settled: see status)" if done.not_settled else "")
         + f"; wrote {output}.")
    if strict and done.not_settled:
        sys.exit(EXIT_REJECTED)


@main.command()
@click.option("-o", "--output", "directory", required=True,
              type=click.Path(path_type=Path, file_okay=False),
              help="Folder to write the sample into (created if missing).")
@click.option("--members", default=3000, show_default=True, type=click.IntRange(min=1),
              help="How many members to generate.")
@click.option("--years", default="2022,2023,2024", show_default=True,
              help="Calendar years, comma-separated (or a range such as 2021-2024).")
@click.option("--seed", default=7, show_default=True, type=int, help="Random seed.")
@click.option("--format", "formats", default="xlsx", show_default=True,
              help="xlsx, csv and/or parquet, comma-separated.")
@click.option("--no-bad-rows", is_flag=True, help="Leave out the deliberately bad rows.")
@quiet_option
@_unusable_input_is_exit_2
def sample(directory, members, years, seed, formats, no_bad_rows, quiet):
    """Write a synthetic claims workbook (or CSV/Parquet files) and a contracts file."""
    from fileio.sample_data import write_sample

    try:
        year_list = _parse_years(years)
    except ValueError:
        _fail(f"--years {years!r}: give years such as 2022,2023,2024 or 2022-2024.")
    format_list = [f.strip().lower() for f in formats.split(",") if f.strip()]
    unknown = sorted(set(format_list) - {"xlsx", "csv", "parquet"})
    if unknown:
        _fail(f"--format: unknown format(s) {', '.join(unknown)}; use xlsx, csv or parquet.")
    directory.mkdir(parents=True, exist_ok=True)
    written = write_sample(directory, members=members, years=year_list, seed=seed,
                           formats=tuple(format_list), bad_rows=not no_bad_rows)
    for path in written:
        _say(quiet, str(path))


def _parse_years(text: str) -> list[int]:
    if "-" in text and "," not in text:
        first, last = (int(part) for part in text.split("-"))
        return list(range(first, last + 1))
    return [int(part) for part in text.split(",") if part.strip()]


@main.command()
def schema():
    """Print the JSON Schema of the contracts file (every key, with its meaning)."""
    from contracts import contracts_json_schema

    click.echo(json.dumps(contracts_json_schema(), indent=2))


if __name__ == "__main__":
    main()
