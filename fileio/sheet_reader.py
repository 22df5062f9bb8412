"""Workbook sheets, read by calamine in a process of its own.

fastexcel (Rust's calamine) reads a whole sheet in one call that cannot be interrupted,
and a hand-made workbook can make it ask for more memory than there is, which aborts the
process it runs in. So each workbook is read by a child process (``python -m
fileio.sheet_reader``), which lists its sheets and reads the sheets asked for, each into
an Arrow file, while this process checks the workbook's parts
(:func:`fileio.safety.check_parts`, which unpacks all of them) and gets on with loading
the contracts and the other tables. A refusal by the checks stops the child and is what
is reported, whatever the child did; a child that dies is reported as one sentence. No
sheet is used before its workbook has passed every check. A large sheet is cut in two
and read by two more children at once (:mod:`fileio.sheet_halves`).

:func:`read_ahead` starts on a run's first claims workbook as early as the command line
can, so that its longest read overlaps everything else.
"""
from __future__ import annotations

import atexit
import contextlib
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

from fileio.errors import InputError, first_line

#: The workbooks being read, by path and file status; see :func:`workbook`.
_OPEN: dict[tuple[str, int, int], "Workbook"] = {}
_OPEN_LOCK = threading.Lock()
#: How many sessions are open; see :func:`session`.
_SESSIONS = 0
#: Every reader not yet closed (the halves' too), for the way out.
_LIVE: set["Workbook"] = set()
#: The key, in a sheet's Arrow schema metadata, of its first column's number (from 0:
#: column A).
FIRST_COLUMN = b"fundcalc first column"


class Workbook:
    """One workbook, its sheets read by a child process.

    Sheets of :data:`fileio.sheet_halves.SPLIT_FROM` bytes or more are checked and cut in
    two as soon as the workbook is opened, and read in halves by two more children when
    asked for (:mod:`fileio.sheet_halves`).

    Parameters
    ----------
    path : Path
        The workbook; it has passed :func:`fileio.safety.check_container`.
    table : str, optional
        A table (``claims``) whose sheet, picked by :func:`fileio.tables.pick_sheet`, is
        read at once, before it is asked for.
    half : str, optional
        The workbook is one of fundcalc's own halves of this sheet
        (:func:`fileio.sheet_halves.split_sheet`): it needs no checks, and this sheet is
        read at once, whole.
    from_first_cell : bool
        Read sheets from their first used row instead of from row 1.
    """

    def __init__(self, path: Path, table: str | None = None, *, half: str | None = None,
                 from_first_cell: bool = False):
        from fileio.safety import check_parts

        self.path = path
        self._folder = tempfile.mkdtemp(prefix="fundcalc-sheets-")
        _LIVE.add(self)
        self._sheets: Future[list[str]] = Future()
        self._tables: dict[str, Future] = {}  # what each sheet's reader waits for
        self._requested: dict[str, Future] = {}  # the sheets the child reads
        self._ended: InputError | None = None  # why the child stopped, once it has
        self._closed = False
        self._lock = threading.Lock()
        self._early: dict[str, Workbook] = {}  # first halves read before their cut is checked
        self._splits = {} if half else self._cut_large_sheets()
        first = half or (f"table:{table}" if table and not self._splits else "")
        self._start_child([first, *(["--from-first-cell"] if from_first_cell else [])])
        if half:
            self._checks: Future = Future()
            self._checks.set_result({})  # a half holds no error cells of its own
        else:
            self._checks = _in_thread(check_parts, path, frozenset(
                part for part, _ in self._splits.values()))
        if table and self._splits:
            _in_thread(self._prefetch_table, table)

    def _start_child(self, arguments: list[str]) -> None:
        package_root = str(Path(__file__).resolve().parent.parent)
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join(
            filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
        with open(os.path.join(self._folder, "stderr"), "wb") as stderr:
            self._child = subprocess.Popen(
                [sys.executable, "-m", "fileio.sheet_reader", str(self.path), self._folder,
                 *arguments],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                env=environment)
        threading.Thread(target=self._listen, daemon=True).start()

    def _cut_large_sheets(self) -> dict[str, tuple[str, Future]]:
        """Start checking and cutting the large sheets: sheet -> (part, future (halves,
        error cells)) (:func:`fileio.sheet_halves.split_sheet`)."""
        import zipfile

        from fileio.safety import sheet_parts
        from fileio.sheet_halves import SPLIT_FROM, split_sheet

        try:
            with zipfile.ZipFile(self.path) as archive:
                large = [(part, name) for part, name in sheet_parts(archive).items()
                         if part in archive.NameToInfo
                         and archive.getinfo(part).file_size >= SPLIT_FROM]
        except (zipfile.BadZipFile, OSError):  # the checks say what is wrong
            return {}
        splits = {}
        for number, (part, name) in enumerate(large):
            folder = Path(self._folder) / f"halves-{number}"
            folder.mkdir()
            splits[name] = (part, _in_thread(split_sheet, self.path, part, folder,
                                             functools.partial(self._first_half_done, name)))
        return splits

    def _first_half_done(self, sheet: str, path: Path) -> None:
        """Start reading the first half of ``sheet`` now, if it is asked for."""
        with self._lock:
            if sheet in self._tables and not self._closed:
                self._early[sheet] = Workbook(path, half=sheet)

    def _prefetch_table(self, table: str) -> None:
        """Start reading the sheet ``table`` is read from, once the sheets are listed."""
        from fileio.tables import TABLES, pick_sheet

        try:
            self.prefetch(pick_sheet(self.path, TABLES[table], self.sheets, None))
        except InputError:  # said when the table is read
            pass

    @property
    def sheets(self) -> list[str]:
        """The workbook's sheet names, in their order."""
        try:
            return self._sheets.result()
        except InputError:
            self._raise_if_refused()
            raise

    def prefetch(self, sheet: str) -> None:
        """Start reading ``sheet`` (once)."""
        with self._lock:
            if sheet in self._tables:
                return
            self._tables[sheet] = (_in_thread(self._read_in_halves, sheet)
                                   if sheet in self._splits else self._request(sheet))

    def _request(self, sheet: str) -> Future:
        """The child's read of ``sheet``, asked for once (with the lock held)."""
        if sheet in self._requested:
            return self._requested[sheet]
        self._requested[sheet] = future = Future()
        if self._ended is not None:
            future.set_exception(self._ended)
            return future
        try:
            self._child.stdin.write((json.dumps(sheet) + "\n").encode())
            self._child.stdin.flush()
        except OSError:  # the child has ended; _listen says why
            pass
        return future

    def table(self, sheet: str):
        """``sheet``'s cells as text (a :class:`pyarrow.RecordBatch`, row 0 the sheet's
        first row), once the workbook has passed its checks.

        Raises
        ------
        InputError
            When the workbook fails a check, or the sheet cannot be read.
        """
        self.prefetch(sheet)
        try:
            batch = self._tables[sheet].result()
        except InputError:
            self._raise_if_refused()
            raise
        self._raise_if_refused()
        return batch

    def error_cells(self, sheet: str) -> dict[tuple[int, int], str]:
        """``sheet``'s cells that hold an Excel error, by (column, row) numbered from 1,
        as the checks found them (once :meth:`table` has given the sheet)."""
        if sheet in self._splits:
            return self._splits[sheet][1].result()[1]
        return self._checks.result().get(sheet, {})

    def _read_in_halves(self, sheet: str):
        """``sheet`` read in two halves at once, or whole (by the child) when it cannot be
        cut or its halves do not join up."""
        from fileio.sheet_halves import joined

        _, cutting = self._splits[sheet]
        try:
            halves, _ = cutting.result()  # a refusal by the checks is raised here
        except BaseException:
            _close(self._pop_early(sheet))
            raise
        early = self._pop_early(sheet)  # the first half's reader, if it started early
        if halves is None:
            _close(early)
            return self._read_whole(sheet)
        readers = [early or Workbook(halves.first, half=sheet),
                   Workbook(halves.second, half=sheet, from_first_cell=True)]
        try:
            whole = joined(*(reader.table(sheet) for reader in readers), halves.row)
        except InputError:  # the whole sheet's read says what is wrong
            whole = None
        finally:
            for reader in readers:
                reader.close()
            for path in (halves.first, halves.second):
                path.unlink(missing_ok=True)
        return whole if whole is not None else self._read_whole(sheet)

    def _pop_early(self, sheet: str) -> Workbook | None:
        with self._lock:
            return self._early.pop(sheet, None)

    def _read_whole(self, sheet: str):
        """``sheet`` as the child reads it, whole."""
        with self._lock:
            reading = self._request(sheet)
        return reading.result()

    def close(self) -> None:
        """Stop the child (and any early reader of a half) and remove its files."""
        _LIVE.discard(self)
        with self._lock:
            early, self._early, self._closed = list(self._early.values()), {}, True
        for reader in early:
            reader.close()
        if self._child.poll() is None:
            self._child.kill()
        self._child.wait()
        try:
            self._child.stdin.close()
        except OSError:  # what was left unsent cannot be sent to a child that has ended
            pass
        shutil.rmtree(self._folder, ignore_errors=True)

    def _raise_if_refused(self) -> None:
        """Wait for the checks; when they refuse the workbook, stop the child and raise."""
        try:
            self._checks.result()
            for _, cutting in self._splits.values():
                cutting.result()
        except InputError:
            self.close()
            raise

    def _listen(self) -> None:
        """Hand each of the child's answers to whoever waits for it; when the child ends,
        fail whatever it left unanswered."""
        for line in self._child.stdout:
            try:
                answer = json.loads(line)
            except ValueError:  # not an answer: something the reader printed
                continue
            if "sheets" in answer:
                self._sheets.set_result(answer["sheets"])
            elif "sheet" not in answer:  # the workbook cannot be opened
                self._sheets.set_exception(InputError(
                    f"{self.path}: cannot open the workbook ({answer['error']})."))
            else:
                with self._lock:  # the sheet read first was not asked for
                    future = self._requested.setdefault(answer["sheet"], Future())
                try:
                    if "error" in answer:
                        raise RuntimeError(answer["error"])
                    future.set_result(_load(answer["file"]))
                except Exception as error:  # the reader's, or its file went with a refusal
                    future.set_exception(InputError(
                        f"{self.path}, sheet {answer['sheet']!r}: cannot read the sheet "
                        f"({first_line(error)})."))
        self._child.stdout.close()
        with self._lock:
            self._ended = InputError(self._stop_message())
            for future in [self._sheets, *self._requested.values()]:
                if not future.done():
                    future.set_exception(self._ended)

    def _stop_message(self) -> str:
        status = self._child.wait()
        try:
            with open(os.path.join(self._folder, "stderr"), "rb") as stderr:
                said = stderr.read().decode("utf-8", "replace").strip().splitlines()
        except OSError:
            said = []
        why = (f"signal {signal.Signals(-status).name}" if status < 0
               else said[-1] if said else f"exit status {status}")
        return (f"{self.path}: the spreadsheet reader failed on this workbook ({why}); open it "
                "in Excel, delete any stray cells beyond the tables, and save it again, or "
                "export the sheets as CSV.")


def _close(reader: Workbook | None) -> None:
    if reader is not None:
        reader.close()


def _in_thread(function, *args) -> Future:
    """``function(*args)`` run in a thread that does not hold up the interpreter's exit."""
    future: Future = Future()

    def run():
        try:
            future.set_result(function(*args))
        except BaseException as error:  # handed to whoever waits for the result
            future.set_exception(error)

    threading.Thread(target=run, daemon=True).start()
    return future


def _load(file: str):
    """The record batch an Arrow file of the child holds (read into memory, the file
    removed)."""
    import pyarrow as pa

    with pa.OSFile(file) as source:
        table = pa.ipc.open_file(source).read_all()
    os.remove(file)
    return table.combine_chunks().to_batches()[0] if table.num_rows else \
        pa.RecordBatch.from_pylist([], schema=table.schema)


def workbook(path: Path, table: str | None = None) -> Workbook:
    """The reader of ``path``, started on first use (after the checks that unpack no
    part; reading ``table``'s sheet at once, see :class:`Workbook`) and kept until the end
    of the :func:`session` (or, outside one, until :func:`close_all`).

    Raises
    ------
    InputError
        When the file is not a workbook fundcalc reads (:func:`fileio.safety.check_container`).
    """
    from fileio.safety import check_container

    check_container(path)
    status = path.stat()
    key = (str(path.resolve()), status.st_size, status.st_mtime_ns)
    with _OPEN_LOCK:
        if key not in _OPEN:
            _OPEN[key] = Workbook(path, table)
        return _OPEN[key]


def read_ahead(path: Path) -> None:
    """Start reading the claims sheet of the workbook ``path`` now, so that the read
    overlaps whatever comes before the claims are needed. Never raises: a problem is
    reported when the claims are read, in its turn."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        try:
            workbook(path, table="claims")
        except (InputError, OSError):  # said again, in order, when the claims are read
            pass


@contextlib.contextmanager
def session() -> Iterator[None]:
    """Keep the workbooks opened within (or before) it until it ends, then stop their
    children; outside a session, :func:`fileio.sources.read_table` stops a workbook's
    child once its sheet is read."""
    global _SESSIONS
    _SESSIONS += 1
    try:
        yield
    finally:
        _SESSIONS -= 1
        if not _SESSIONS:
            close_all()


def release(reader: Workbook) -> None:
    """Done with ``reader`` for now: outside a :func:`session`, stop its child."""
    if _SESSIONS:
        return
    with _OPEN_LOCK:
        for key in [key for key, value in _OPEN.items() if value is reader]:
            del _OPEN[key]
    reader.close()


def close_all() -> None:
    """Stop every workbook's child and forget them."""
    with _OPEN_LOCK:
        readers = list(_OPEN.values())
        _OPEN.clear()
    for reader in readers:
        reader.close()


@atexit.register
def _close_everything() -> None:
    """On the way out (Ctrl-C, an error), stop every reader still running, the halves'
    included, and remove their files."""
    close_all()
    for reader in list(_LIVE):
        reader.close()


def _limit_memory() -> None:
    """Hold the child's address space to the machine's memory, so that a sheet that would
    ask for more fails at once (the reader then aborts) instead of pushing the machine
    into swap or the kernel's out-of-memory killer; where the system has no such limits,
    nothing changes."""
    try:
        import resource

        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = memory if hard == resource.RLIM_INFINITY else min(memory, hard)
        if soft == resource.RLIM_INFINITY or soft > limit:
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ImportError, ValueError, OSError):
        pass


def _serve(path: str, folder: str, first: str, from_first_cell: bool) -> None:
    """The child: list the sheets, read ``first`` (a sheet, or ``table:NAME`` for the
    sheet that table is read from) if given, then each sheet named on standard input (two
    at a time), each into an Arrow file of ``folder``, answering with a line of JSON each.
    Sheets are read from row 1, or with ``from_first_cell`` from their first used row."""
    import fastexcel
    import pyarrow as pa

    from fileio.tables import TABLES, pick_sheet

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops the child
    _limit_memory()
    answer_lock = threading.Lock()

    def answer(**fields) -> None:
        with answer_lock:
            sys.stdout.write(json.dumps(fields) + "\n")
            sys.stdout.flush()

    # An open workbook holds its shared strings, so each is opened once and lent to one
    # reading thread at a time (the one that listed the sheets too).
    spare, spare_lock = [], threading.Lock()

    def read(number: int, sheet: str) -> None:
        with spare_lock:
            book = spare.pop() if spare else None
        try:
            book = book or fastexcel.read_excel(path)
            # One parse of the sheet (calamine reads the whole sheet even for a preview);
            # skip_rows=0 anchors row 0 at the sheet's first row.
            loaded = book.load_sheet(sheet, header_row=None,
                                     skip_rows=None if from_first_cell else 0,
                                     dtypes="string")
            # The sheet's first used column, from 0: error cells are found by reference.
            first = next((c.absolute_index for c in loaded.available_columns()), 0)
            cells = loaded.to_arrow()
            cells = cells.replace_schema_metadata({FIRST_COLUMN: str(first)})
        except Exception as error:  # fastexcel raises its own error types
            answer(sheet=sheet, error=first_line(error))
            return
        with spare_lock:
            spare.append(book)
        file = os.path.join(folder, f"{number}.arrow")
        with pa.OSFile(file, "wb") as sink, pa.ipc.new_file(sink, cells.schema) as writer:
            writer.write(cells)
        answer(sheet=sheet, file=file)

    try:
        spare.append(fastexcel.read_excel(path))
    except Exception as error:
        answer(error=first_line(error))
        return
    names = list(spare[0].sheet_names)
    answer(sheets=names)
    started = set()
    with ThreadPoolExecutor(max_workers=2) as pool:
        if first:
            try:
                sheet = (pick_sheet(Path(path), TABLES[first[6:]], names, None)
                         if first.startswith("table:") else first)
                started.add(sheet)
                pool.submit(read, 0, sheet)
            except InputError:  # said when the table is read
                pass
        for number, line in enumerate(sys.stdin, 1):
            sheet = json.loads(line)
            if sheet not in started:
                started.add(sheet)
                pool.submit(read, number, sheet)


if __name__ == "__main__":
    _serve(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:] == ["--from-first-cell"])
