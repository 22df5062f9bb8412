"""Claims larger than memory: read a batch at a time, checked by the same rules, summed
by DuckDB within a memory limit.

The claim lines are read from Parquet or CSV files a batch at a time and parsed by the
rules of the in-memory path (:mod:`fileio.validation`). Each line that parses gets its contract
year and whether it falls within its member's enrollment, and is written to a temporary
Parquet file. DuckDB then applies the rules that look across all lines (repeated claim
keys, then members missing from the members table) and sums the accepted lines, spilling
to disk beyond its memory limit. What comes back is the ledger's rows: lines summed per
member, contract year, provider, domain, care code (where a contract looks at it),
enrollment and sign of the amount — except where summing would change a result (members
who may open an episode, claims a scenario changes), which stay one line a row. Memory
then grows with members and what they use, not with claim lines.

Every row is still accepted or rejected with a reason, and rows and cents reconcile per
file. The SQL is plain enough to run on a cluster engine such as Spark SQL; README
"Larger than memory" says how.
"""
from __future__ import annotations

import importlib.util
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fileio import validation
from fileio.errors import InputError
from fileio.inputs import (ReadOptions, accepted_or_none, malformed_rejects, nothing_accepted,
                           optional_tables, validate_tables)
from fileio.sources import (check_columns, check_readable, csv_batches, file_kind,
                            file_sha256, parquet_batches)
from fileio.tables import CLAIMS
from funding_models.ledger import Ledger, assemble_ledger, enrollment_lookup
from funding_models.periods import MergedSpans, contract_year
from funding_models.results import REJECTED_COLUMNS, InputFileReport

#: The lines as they are kept on disk, one Parquet file a batch.
_LINES = pa.schema([
    ("claim_id", pa.string()), ("line", pa.string()), ("service_date", pa.date32()),
    ("quantity", pa.float64()), ("amount", pa.int64()), ("paid_date", pa.date32()),
    ("_file", pa.int32()), ("_row", pa.int64()), ("year", pa.int32()),
    ("enrolled", pa.bool_()),
    # The ids numbered (IdNumbers; -1: blank), for summing on integers; their text is
    # not kept (IdNumbers.text gives it back).
    ("member_key", pa.int32()), ("provider_key", pa.int32()), ("domain_key", pa.int32()),
    ("care_code_key", pa.int32()),
    # Per line, what LineByLine says of it: may open an episode; a scenario changes it;
    # its care code counts.
    ("opens", pa.bool_()), ("changed", pa.bool_()), ("coded", pa.bool_())])

#: Lines whose claim key (claim_id, line) may be another line's: their keys' hashes
#: repeat (grouping on a number is quicker than on the text). The rule itself then runs
#: on these few lines, so a hash shared by chance only adds lines it lets through.
_REPEATED_KEYS = """
SELECT * FROM lines WHERE hash(claim_id, line) IN (
    SELECT hash(claim_id, line) AS key FROM lines GROUP BY key HAVING count(*) > 1
)
ORDER BY _file, _row
"""

#: The id columns numbered for the sums, and the ledger's columns they become.
_KEYED = {"member_id": "member", "provider_id": "provider", "domain": "domain",
          "care_code": "care_code"}


class IdNumbers:
    """Numbers the text ids of one column across batches, in the order first seen.

    Parameters
    ----------
    known : sequence of str, optional
        Ids numbered first (the members table's members): 0 to ``len(known) - 1``.
    """

    def __init__(self, known: Sequence[str] = ()):
        self.ids = pa.array(known, type=pa.large_string())
        self.known = len(self.ids)

    def numbers(self, values: pd.Series) -> np.ndarray:
        """The number of each value (-1 for a blank), numbering new ids."""
        encoded = validation.arrow_text(values).cast(pa.large_string()).dictionary_encode()
        found = encoded.dictionary
        position = pc.fill_null(pc.index_in(found, value_set=self.ids), -1).to_numpy(
            zero_copy_only=False).astype(np.int64)
        new = position < 0
        if new.any():
            position[new] = len(self.ids) + np.arange(int(new.sum()))
            self.ids = pa.concat_arrays([self.ids, found.filter(pa.array(new))])
        return np.append(position, -1)[
            pc.fill_null(encoded.indices, len(found)).to_numpy(zero_copy_only=False)]

    def number_of(self, value: str) -> int:
        """The number of ``value`` (-1 if not seen)."""
        position = pc.index_in(pa.scalar(value, pa.large_string()), value_set=self.ids)
        return -1 if position.as_py() is None else position.as_py()

    def text(self, numbers: np.ndarray) -> pd.arrays.ArrowStringArray:
        """The ids that ``numbers`` stand for (missing for -1)."""
        ids = self.ids.take(pa.array(numbers, mask=numbers < 0, type=pa.int64()))
        return pd.array(ids.cast(pa.string()), dtype=validation.TEXT)

    def categorical(self, numbers: np.ndarray) -> pd.Categorical:
        """``numbers`` as a categorical of the ids they stand for, with sorted categories:
        the ids used, and the ids numbered first (``known``)."""
        # The numbers are dense, so counting finds the used ones (and the known) without
        # a sort.
        counts = np.bincount(numbers[numbers >= 0], minlength=len(self.ids))
        counts[:self.known] += 1
        used = np.flatnonzero(counts)
        ids = pd.Index(self.ids.to_numpy(zero_copy_only=False), dtype=object)
        categories = pd.Index(ids[used], dtype=object)
        to_code = np.full(len(self.ids) + 1, -1, dtype=np.int64)  # last: blank
        categories = categories.sort_values()
        to_code[used] = categories.get_indexer(ids[used])
        return pd.Categorical.from_codes(to_code[numbers], categories=categories)


#: The ledger's rows: lines summed, but one line a row where summing would change a
#: result — every line of a member who may open an episode, and the lines a scenario
#: changes (each is rounded to the cent on its own). A care code no contract or scenario
#: looks at is left blank, so that such lines sum further. Ordered, so that the same
#: lines give the same rows.
_LEDGER_ROWS = """
WITH opening AS (
    SELECT DISTINCT member_key FROM accepted WHERE opens
), marked AS (
    SELECT member_key, provider_key, domain_key,
           CASE WHEN coded THEN care_code_key ELSE -1 END AS care_code_key,
           year, enrolled, service_date, quantity, amount,
           changed OR member_key IN (SELECT member_key FROM opening) AS single
    FROM accepted
), summed AS (
    SELECT member_key, provider_key, domain_key, care_code_key, year, enrolled,
           max(service_date) AS service_date, sum(quantity) AS quantity,
           sum(amount)::BIGINT AS amount, count(*)::INTEGER AS lines
    FROM marked WHERE NOT single
    GROUP BY member_key, provider_key, domain_key, care_code_key, year, enrolled, amount < 0
), single AS (
    SELECT member_key, provider_key, domain_key, care_code_key, year, enrolled,
           service_date, quantity, amount, 1 AS lines
    FROM marked WHERE single
)
SELECT * FROM (SELECT * FROM summed UNION ALL SELECT * FROM single)
ORDER BY member_key, year, provider_key, domain_key, care_code_key, enrolled, service_date,
         amount, quantity
"""


@dataclass(frozen=True)
class Selection:
    """Claim lines by domain, care code and provider; None matches any."""

    domain: str | None = None
    care_code: str | None = None
    provider: str | None = None


@dataclass(frozen=True)
class LineByLine:
    """Which claim lines the ledger must keep one a row.

    Attributes
    ----------
    opening : tuple of Selection
        Lines that may open an episode: every line of their members is kept.
    changed : tuple of Selection
        Lines that a scenario changes.
    coded : tuple of Selection or None
        Lines whose care code a contract or scenario looks at; the others' care code is
        left blank. None: every line keeps its care code.
    """

    opening: tuple[Selection, ...] = ()
    changed: tuple[Selection, ...] = ()
    coded: tuple[Selection, ...] | None = None


@dataclass(frozen=True)
class EngineOptions:
    """How the out-of-core engine runs.

    Attributes
    ----------
    memory_limit : str
        DuckDB's memory limit, such as ``1GB``; beyond it, work spills to disk.
    batch_rows : int
        Claim lines parsed at a time.
    temp_dir : Path or None
        Where the checked lines and DuckDB's spills go (default: the system's temporary
        folder). The lines take about the claims files' size again; the spills, up to
        the size of the lines.
    """

    memory_limit: str = "1GB"
    batch_rows: int = 1_000_000
    temp_dir: Path | None = None


@dataclass
class LargeInputs:
    """What the out-of-core read gives: the ledger, and per file the reconciliation and
    the rejected rows (as :class:`fileio.inputs.Inputs` gives them)."""

    ledger: Ledger
    reports: list[InputFileReport]
    rejected: pd.DataFrame


#: Claim lines from which ``--engine auto`` reads Parquet claims out of core: there it is
#: as fast as the in-memory path and needs less than half its memory.
AUTO_LINES = 2_000_000

#: CSV bytes from which ``--engine auto`` reads CSV claims out of core: about
#: :data:`AUTO_LINES` lines of a claims export.
AUTO_CSV_BYTES = 150 * 2**20

#: The claims files the out-of-core engine reads, by their kind (:func:`file_kind`).
_BATCH_READERS = {"parquet": parquet_batches, "csv": csv_batches}


def _kind(path: Path) -> str | None:
    """The file's kind, or None for a kind it cannot be."""
    try:
        return file_kind(path)
    except InputError:
        return None


def engine_for(choice: str, claims: Sequence[Path], memory_limit: str
               ) -> EngineOptions | None:
    """The engine of a run: None (in memory) or the out-of-core options.

    Parameters
    ----------
    choice : {"auto", "memory", "duckdb"}
        ``auto`` reads out of core when DuckDB is installed and the claims are a folder,
        Parquet files of at least :data:`AUTO_LINES` lines together, or CSV files of at
        least :data:`AUTO_CSV_BYTES`.
    claims : sequence of Path
        The claims paths given.
    memory_limit : str
        DuckDB's memory limit.
    """
    if choice == "memory":
        return None
    if choice == "duckdb":
        return EngineOptions(memory_limit)
    paths = [Path(p) for p in claims]
    if importlib.util.find_spec("duckdb") is None or not all(
            p.is_dir() or _kind(p) in _BATCH_READERS for p in paths):
        return None
    if any(p.is_dir() for p in paths):
        return EngineOptions(memory_limit)
    try:
        files = claims_files(paths)
        lines = sum(pq.ParquetFile(p).metadata.num_rows for p in files
                    if file_kind(p) == "parquet")
        text = sum(p.stat().st_size for p in files if file_kind(p) == "csv")
    except (InputError, pa.ArrowException, OSError):
        return None  # the in-memory reader says what is wrong with the file
    large = lines >= AUTO_LINES or text >= AUTO_CSV_BYTES
    return EngineOptions(memory_limit) if large else None


def claims_files(paths: Sequence[Path]) -> list[Path]:
    """The Parquet and CSV files of the claims: each file given, and of each folder given
    its ``.parquet`` (``.pq``) files, or if it has none its ``.csv`` files (sorted by
    name; a note or a table of another kind beside them is left alone).

    Raises
    ------
    InputError
        For a file of another kind (a workbook), or a folder without such files.
    """
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = (_files_in(path, (".parquet", ".pq")) or _files_in(path, (".csv",)))
            if not found:
                raise InputError(f"{path}: a folder without .parquet or .csv files; the "
                                 "out-of-core engine reads claims from Parquet or CSV.")
            files += found
        elif _kind(path) not in _BATCH_READERS:
            raise InputError(f"{path}: the out-of-core engine reads claims from Parquet or "
                             "CSV files (save the sheet as CSV, or run without --engine "
                             "duckdb).")
        else:
            check_readable(path)
            files.append(path)
    return list(dict.fromkeys(files))


def _files_in(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in suffixes and p.is_file())


def read_large_claims(claims: Sequence[Path], tables: dict[str, Path | None],
                      options: ReadOptions, *, year_start_month: int,
                      member_months_convention: str, line_by_line: LineByLine = LineByLine(),
                      engine: EngineOptions = EngineOptions(),
                      progress: Callable[[str], None] = lambda text: None) -> LargeInputs:
    """Read, check and sum claims that need not fit in memory, into a ledger.

    Parameters
    ----------
    claims : sequence of Path
        Parquet or CSV files, or folders of them.
    tables : dict
        Path (or None) of the ``members``, ``fee_schedule``, ``enrollment`` and
        ``attribution`` tables; these are read in memory.
    options : ReadOptions
        The contracts file's reading settings.
    year_start_month, member_months_convention
        As for :func:`funding_models.ledger.build_ledger`.
    line_by_line : LineByLine
        The lines to keep one a row (the rest are summed).
    engine : EngineOptions
    progress : callable
        Called with a short text at each step.

    Raises
    ------
    InputError
        When a file cannot be read, no claim line is accepted, or DuckDB stops (out of
        its memory limit or of disk space).
    """
    try:
        import duckdb
    except ImportError:
        raise InputError("the out-of-core engine needs DuckDB: pip install "
                         "'fundcalc[large]' (or duckdb).") from None
    files = claims_files(claims)
    for path in files:  # as in memory, a claims file's header error comes first
        check_columns(path, CLAIMS, options.rename)
    for path in (p for p in tables.values() if p is not None):
        check_readable(Path(path))
    with ThreadPoolExecutor(max_workers=1) as reader:
        # The claims' first batch is read and parsed while the other tables are checked.
        batches = _read_ahead(_parsed_batches(files, options, engine.batch_rows), reader)
        parsed, reports, rejected = validate_tables(optional_tables(tables, {}, options), options)
        members = accepted_or_none(parsed, "members")
        enrollment = accepted_or_none(parsed, "enrollment")
        numbers = {column: IdNumbers() for column in _KEYED}
        spans = None
        if members is not None:
            listed = members["member_id"].astype(str).unique()
            numbers["member_id"] = IdNumbers(listed)
            spans = enrollment_lookup(members, enrollment, pd.CategoricalDtype(listed))
        with tempfile.TemporaryDirectory(prefix="fundcalc-", dir=engine.temp_dir) as folder:
            connection = _connect(engine, folder)
            try:
                counts, parse_rejects, malformed = _load_lines(
                    connection, Path(folder), files, batches, spans, year_start_month,
                    line_by_line, numbers, progress)
                progress("checking claim keys and members")
                set_aside = _cross_row_rejects(connection, files, members, numbers)
                progress("summing the claim lines")
                rows = connection.sql(_LEDGER_ROWS).to_arrow_table()
                accepted = _accepted_per_file(connection)
            except duckdb.Error as error:
                raise InputError(_engine_failure(error, engine, folder)) from None
            finally:
                connection.close()
    claim_reports = [_claims_report(path, i, counts[i], accepted) for i, path in enumerate(files)]
    claim_rejects = pd.concat([*parse_rejects, *set_aside], ignore_index=True)
    if not len(rows):
        raise nothing_accepted(claim_reports)
    ledger = assemble_ledger(
        _ledger_frame(rows, numbers), members=members, enrollment=enrollment,
        attribution=accepted_or_none(parsed, "attribution"),
        fee_schedule=accepted_or_none(parsed, "fee_schedule"),
        year_start_month=year_start_month, member_months_convention=member_months_convention)
    # As in memory: the claims' rejected rows in file and row order, then their malformed
    # CSV lines, then the other tables'.
    claims_rejected = _at_their_lines(
        pd.concat([_sorted_rejects(claim_rejects, files), *malformed], ignore_index=True),
        files, counts)
    all_rejects = pd.concat([claims_rejected, rejected], ignore_index=True)
    all_rejects["row"] = pd.array(all_rejects["row"], dtype="Int64")
    return LargeInputs(ledger, claim_reports + reports, all_rejects)


def _connect(engine: EngineOptions, folder: str):
    """A DuckDB connection within the engine's memory limit, spilling to ``folder``."""
    import duckdb

    try:
        return duckdb.connect(":memory:", config={
            "memory_limit": engine.memory_limit, "temp_directory": folder,
            "preserve_insertion_order": False})
    except duckdb.Error as error:
        raise InputError(f"--memory-limit {engine.memory_limit}: DuckDB refuses it "
                         f"({str(error).splitlines()[0]}); write e.g. 1GB.") from None


def _at_their_lines(rejects: pd.DataFrame, files: list[Path], counts: list[dict]
                    ) -> pd.DataFrame:
    """The claims' rejected rows, those of a CSV file whose quoted values span lines
    renumbered to the lines their records start on (batches number records as lines:
    :attr:`RawTable.record_lines <fileio.sources.RawTable>`)."""
    for path, read in zip(files, counts):
        if read["record_lines"] is not None:
            theirs = (rejects["file"] == str(path)).to_numpy()
            rows = rejects.loc[theirs, "row"].to_numpy(dtype=np.int64)
            rejects.loc[theirs, "row"] = read["record_lines"][rows]
    return rejects


def _engine_failure(error: Exception, engine: EngineOptions, folder: str) -> str:
    """One sentence on why DuckDB stopped, and what to do."""
    import duckdb

    what = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if isinstance(error, duckdb.OutOfMemoryException):
        return (f"the out-of-core engine ran out of its memory limit {engine.memory_limit} "
                f"({what}); give a larger --memory-limit.")
    if isinstance(error, duckdb.IOException):
        return (f"the out-of-core engine could not write its temporary files in "
                f"{Path(folder).parent} ({what}); free disk space there or set TMPDIR to "
                "a folder with room for about twice the claims files.")
    return f"the out-of-core engine stopped ({what})."


def _parsed_batches(files: list[Path], options: ReadOptions, batch_rows: int) -> Iterator:
    """Each batch of the claims files as (file index, batch number, RawTable, ParsedTable)."""
    for index, path in enumerate(files):
        for number, raw in enumerate(_BATCH_READERS[file_kind(path)](
                path, CLAIMS, options.rename, batch_rows)):
            yield index, number, raw, validation.parse_raw(
                raw, CLAIMS, decimal_comma=options.decimal_comma,
                date_format=options.date_format)


def _load_lines(connection, folder: Path, files: list[Path], batches: Iterator,
                spans: MergedSpans | None, year_start_month: int, line_by_line: LineByLine,
                numbers: dict[str, IdNumbers], progress
                ) -> tuple[list[dict], list[pd.DataFrame], list[pd.DataFrame]]:
    """Take every parsed batch of ``batches`` (:func:`_parsed_batches`); write the lines
    that parse to Parquet files in ``folder``, seen by DuckDB as the view ``lines``.
    Returns per file the rows, amount and blank rows read (and where a CSV file's
    records start, if its values span lines), the rows rejected while parsing, and the
    malformed CSV lines (in file and line order).

    The last batch is written in a thread of its own while a batch's ids are numbered
    (and, by :func:`_read_ahead`, the next one is read and parsed): Arrow lets go of the
    interpreter while it reads and writes Parquet, and so does most of the parsing.
    """
    written = [folder / "lines-empty.parquet"]
    pq.write_table(_LINES.empty_table(), written[0])
    counts = [{"rows": 0, "amount": 0, "blank": 0, "record_lines": None} for _ in files]
    rejects, malformed = [], []
    with ThreadPoolExecutor(max_workers=1) as writer:
        writing = writer.submit(lambda: None)
        for index, number, raw, table in batches:
            counts[index]["rows"] += len(raw.rows) + len(raw.malformed)
            counts[index]["amount"] += int(table.amount_cents.sum())
            counts[index]["blank"] += raw.blank_rows
            if raw.record_lines is not None:
                counts[index]["record_lines"] = raw.record_lines
            if raw.malformed:
                malformed.append(malformed_rejects(raw, CLAIMS.name))
            ok = table.ok
            if not ok.all():
                rejects.append(validation.rejected(table))
            lines = _keyed_lines(table.frame if ok.all() else table.frame.loc[ok], index,
                                 numbers, spans, year_start_month, line_by_line)
            written.append(folder / f"lines-{index}-{number}.parquet")
            writing.result()  # one batch waits to be written at most: memory stays flat
            # Without dictionaries: quicker to write, and most columns are numbers.
            writing = writer.submit(pq.write_table, lines, written[-1], use_dictionary=False)
            progress(f"reading {files[index].name}: {counts[index]['rows']:,} lines")
        writing.result()
    # A list of files, not a pattern: the folder's name may hold glob characters.
    listed = ", ".join("'" + str(p).replace("'", "''") + "'" for p in written)
    connection.execute(f"CREATE VIEW lines AS SELECT * FROM read_parquet([{listed}])")
    return counts, rejects, malformed


def _read_ahead(batches: Iterator, reader: ThreadPoolExecutor) -> Iterator:
    """The items of ``batches``, each next one read by ``reader`` while the caller works
    on the one before (one call of ``next`` at a time, so a generator is safe). The first
    is asked for at once, before the first item is taken."""
    pending = reader.submit(next, batches, None)

    def items() -> Iterator:
        nonlocal pending
        while (item := pending.result()) is not None:
            pending = reader.submit(next, batches, None)
            yield item
    return items()


def _keyed_lines(frame: pd.DataFrame, file_index: int, numbers: dict[str, IdNumbers],
                 spans: MergedSpans | None, year_start_month: int, line_by_line: LineByLine
                 ) -> pa.Table:
    """The lines of one batch as an Arrow table, with contract year, enrollment (within
    ``spans``, the members table's members numbered alike; None: no members table), the
    ids numbered, and what ``line_by_line`` says of each."""
    dates = frame["service_date"].to_numpy().astype("datetime64[D]")
    keys = {f"{_KEYED[column]}_key": numbers[column].numbers(frame[column]) for column in _KEYED}
    if spans is None:
        enrolled = np.ones(len(frame), dtype=bool)
    else:  # members missing from the table are numbered beyond it: not enrolled (and
        # rejected later)
        member = keys["member_key"]
        enrolled = spans.hold(np.where(member < numbers["member_id"].known, member, -1), dates)
    columns = {spec.name: frame[spec.name] for spec in CLAIMS.columns}
    columns.update(service_date=dates, paid_date=frame["paid_date"].to_numpy()
                   .astype("datetime64[D]"), _file=np.full(len(frame), file_index, np.int32),
                   _row=frame["_row"].to_numpy(), year=contract_year(dates, year_start_month)
                   .astype(np.int32), enrolled=enrolled, **keys,
                   opens=_matching(keys, numbers, line_by_line.opening),
                   changed=_matching(keys, numbers, line_by_line.changed),
                   coded=(np.ones(len(frame), dtype=bool) if line_by_line.coded is None
                          else _matching(keys, numbers, line_by_line.coded)))
    return pa.table({name: pa.array(columns[name], type=_LINES.field(name).type)
                     for name in _LINES.names})


def _cross_row_rejects(connection, files: list[Path], members: pd.DataFrame | None,
                       numbers: dict[str, IdNumbers]) -> list[pd.DataFrame]:
    """Apply the rules across lines: repeated claim keys, then members missing from the
    members table (numbered past the table's members). Registers the rejected lines as
    ``set_aside`` (``_file``, ``_row``) and returns them as rejected rows."""
    rejects = [_rejected_by(connection.sql(_REPEATED_KEYS).df(), files, numbers,
                            validation.reject_repeated_keys)]
    connection.register("set_aside", _positions(rejects[0], files))
    if members is not None:
        unknown = connection.sql(f"SELECT lines.* FROM lines ANTI JOIN set_aside USING "
                                 f"(_file, _row) WHERE member_key >= {numbers['member_id'].known} "
                                 "ORDER BY _file, _row")
        rejects.append(_rejected_by(unknown.df(), files, numbers,
                                    lambda table: validation.reject_unknown_members(
                                        table, members["member_id"])))
        connection.unregister("set_aside")
        connection.register("set_aside", _positions(pd.concat(rejects), files))
    connection.execute("CREATE VIEW accepted AS SELECT * FROM lines "
                       "ANTI JOIN set_aside USING (_file, _row)")
    return rejects


def _rejected_by(lines: pd.DataFrame, files: list[Path], numbers: dict[str, IdNumbers],
                 rule) -> pd.DataFrame:
    """The lines that ``rule`` (a function of a ParsedTable) rejects, as rejected rows."""
    n = len(lines)
    frame = lines.assign(
        **{column: numbers[column].text(lines[f"{name}_key"].to_numpy(dtype=np.int64))
           for column, name in _KEYED.items()},
        _file=pd.Categorical.from_codes(lines["_file"].to_numpy(dtype=np.int64),
                                        [str(p) for p in files]),
        _sheet=pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), [""]))
    table = validation.ParsedTable(CLAIMS, frame, *(np.full(n, None, dtype=object)
                                                    for _ in range(3)), None)
    rule(table)
    return validation.rejected(table)


def _positions(rejects: pd.DataFrame, files: list[Path]) -> pa.Table:
    index = {str(p): i for i, p in enumerate(files)}
    return pa.table({"_file": pa.array(rejects["file"].map(index).to_numpy(dtype=np.int32)),
                     "_row": pa.array(rejects["row"].to_numpy(dtype=np.int64))})


def _matching(keys: dict[str, np.ndarray], numbers: dict[str, IdNumbers],
              selections: Sequence[Selection]) -> np.ndarray:
    """Per line (its ids numbered in ``keys``), whether it matches one of ``selections``."""
    lines = len(keys["member_key"])
    found = np.zeros(lines, dtype=bool)
    for selection in selections:
        match = np.ones(lines, dtype=bool)
        for column, value in (("domain", selection.domain), ("care_code", selection.care_code),
                              ("provider_id", selection.provider)):
            if value is not None:
                number = numbers[column].number_of(value)
                match &= (keys[f"{_KEYED[column]}_key"] == number) & (number >= 0)
        found |= match
    return found


def _accepted_per_file(connection) -> dict[int, tuple[int, int]]:
    totals = connection.sql("SELECT _file, count(*)::BIGINT, sum(amount)::BIGINT "
                            "FROM accepted GROUP BY _file").fetchall()
    return {file: (rows, amount or 0) for file, rows, amount in totals}


def _claims_report(path: Path, index: int, read: dict, accepted: dict) -> InputFileReport:
    rows, amount = accepted.get(index, (0, 0))
    return InputFileReport(
        file=str(path), sheet="", table="claims", sha256=file_sha256(path),
        rows_read=read["rows"], rows_accepted=rows, rows_rejected=read["rows"] - rows,
        amount_read=read["amount"], amount_accepted=amount,
        amount_rejected=read["amount"] - amount, blank_rows=read["blank"])


def _sorted_rejects(rejects: pd.DataFrame, files: list[Path]) -> pd.DataFrame:
    """Rejected claim rows in file and row order, as the in-memory path lists them."""
    order = {str(p): i for i, p in enumerate(files)}
    key = rejects["file"].map(order).to_numpy(dtype=np.int64) * (2**40) + \
        rejects["row"].to_numpy(dtype=np.int64)
    return rejects.iloc[np.argsort(key, kind="stable")].reset_index(drop=True).astype(
        {c: object for c in REJECTED_COLUMNS if c != "row"})


def _ledger_frame(rows: pa.Table, numbers: dict[str, IdNumbers]) -> pd.DataFrame:
    """The summed rows as :attr:`Ledger.claims` (ids as categoricals; the members of the
    members table among the members' whether they claimed or not)."""
    return pd.DataFrame({
        **{name: numbers[column].categorical(
            rows.column(f"{name}_key").to_numpy().astype(np.int64))
           for column, name in _KEYED.items()},
        "service_date": rows.column("service_date").to_numpy().astype("datetime64[D]"),
        "year": rows.column("year").to_numpy().astype(np.int64),
        "quantity": rows.column("quantity").to_numpy().astype(np.float64),
        "amount": rows.column("amount").to_numpy().astype(np.int64),
        "enrolled": rows.column("enrolled").to_numpy().astype(bool),
        "lines": rows.column("lines").to_numpy().astype(np.int32),
    })
