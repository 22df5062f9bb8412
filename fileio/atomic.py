"""Write an output file all at once or not at all.

A run that fails leaves no partial output: every output (workbook, CSV, JSON) is written
to a temporary file beside its destination and moved into place only when complete.
"""
from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path


class OutputPathError(ValueError):
    """The output path cannot be written; the message says what to do instead."""


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, inputs: Iterable[str | os.PathLike] = ()
                  ) -> Iterator[Path]:
    """Give a temporary path that replaces ``path`` when the block finishes.

    The temporary file lies in the destination's folder, so the final ``os.replace`` is
    atomic. If the block raises (``KeyboardInterrupt`` included) the temporary file is
    removed and an existing ``path`` is left as it was.

    Parameters
    ----------
    path : str or os.PathLike
        Where the output should end up. A symbolic link is followed: its target is
        replaced.
    inputs : iterable of str or os.PathLike
        Files and folders the run reads; writing over one of them, or into one of the
        folders, is refused.

    Yields
    ------
    pathlib.Path
        An empty temporary file to write the output to.

    Raises
    ------
    OutputPathError
        When the folder is missing or not writable, ``path`` exists but is not a regular
        file, or ``path`` is one of ``inputs`` or lies in a folder among them. Nothing is
        written then.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "summary.json"
    >>> with atomic_output(out) as temporary:
    ...     _ = temporary.write_text("{}")
    >>> out.read_text()
    '{}'
    """
    target = Path(os.path.realpath(path))
    check_output_path(target, inputs)
    temporary = _create_temporary(target)
    try:
        yield temporary
        _flush_to_disk(temporary)
        os.chmod(temporary, _final_mode(target))
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def check_output_path(target: Path, inputs: Iterable[str | os.PathLike]) -> None:
    """Raise :class:`OutputPathError` when ``target`` must not be written (checked again
    when it is written; callers check early so that a run does not fail at its end)."""
    try:
        folder_exists = target.parent.is_dir()
        mode = target.stat().st_mode if target.exists() else None
    except OSError as error:  # a name too long, a loop of links
        raise OutputPathError(
            f"The output path {target} cannot be used ({error.strerror}); choose another "
            "output path.") from None
    if not folder_exists:
        raise OutputPathError(
            f"The output folder {target.parent} does not exist; create it or choose "
            "another output path.")
    if mode is not None and not stat.S_ISREG(mode):
        raise OutputPathError(
            f"The output path {target} exists and is not a regular file; give a file "
            "name to write to.")
    for input_path in inputs:
        if _same_file(target, Path(input_path)):
            raise OutputPathError(
                f"The output path {target} is also an input of this run; choose another "
                "output path so the input is not overwritten.")
        if os.path.isdir(input_path) and _inside(target, Path(input_path)):
            raise OutputPathError(
                f"The output path {target} is inside the input folder {input_path}, whose "
                "files are all inputs of this run; choose a path outside it.")


def _inside(target: Path, folder: Path) -> bool:
    """Whether ``target`` lies in ``folder`` or a folder below it."""
    return Path(os.path.realpath(folder)) in Path(os.path.realpath(target)).parents


def _same_file(target: Path, other: Path) -> bool:
    """Whether two paths name the same file, also when either does not exist."""
    try:
        return os.path.samefile(target, other)
    except OSError:
        return target == Path(os.path.realpath(other))


def _create_temporary(target: Path) -> Path:
    """Create an empty hidden temporary file next to ``target``."""
    try:
        handle, name = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as error:  # no permission, a read-only file system, /proc
        raise OutputPathError(
            f"Cannot create a file in {target.parent} ({error.strerror}); choose a folder "
            "you can write to.") from error
    os.close(handle)
    return Path(name)


def _flush_to_disk(path: Path) -> None:
    """Make the finished file durable before it replaces the destination."""
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _final_mode(target: Path) -> int:
    """Keep an existing file's permissions; a new file gets the usual ones (umask)."""
    if target.exists():
        return stat.S_IMODE(target.stat().st_mode)
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
