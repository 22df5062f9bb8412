"""Age/sex factor tables: data files a user can replace, read where the terms are loaded.

A table is a CSV file with the columns ``sex`` (F, M, X), ``age_from``, ``age_to`` (both
included; blank for open) and ``factor``. ``example`` names the table shipped in
``contracts/tables/age_sex_factors.csv``: illustrative relativities of primary-care cost by
age and sex, made up for the sample data, not a published table.
"""
from __future__ import annotations

import csv
import io
from importlib import resources
from pathlib import Path
from typing import Any

#: The name of the shipped example table.
EXAMPLE = "example"

#: Largest factor table read, in bytes: a table has tens of rows.
MAX_TABLE_BYTES = 1_000_000

_COLUMNS = ("sex", "age_from", "age_to", "factor")


def read_age_sex_factors(value: Any, base_dir: Path | None = None) -> Any:
    """The rows of an age/sex factor table named by ``value``.

    Parameters
    ----------
    value : str or list
        ``example``, the path of a CSV file (relative to ``base_dir``), or rows already
        given inline (returned as they are).
    base_dir : Path, optional
        The contracts file's folder.

    Returns
    -------
    list of dict or the value as given
        Rows with ``sex``, ``age_from``, ``age_to`` (None when blank) and ``factor``, as
        written (checked by :class:`contracts.capitation.AgeSexFactor`).

    Raises
    ------
    ValueError
        When the file is missing, too large, or lacks a column.

    Examples
    --------
    >>> read_age_sex_factors("example")[0]
    {'sex': 'F', 'age_from': '0', 'age_to': '4', 'factor': '0.85'}
    """
    if not isinstance(value, str):
        return value
    if value.strip().lower() == EXAMPLE:
        text = (resources.files("contracts") / "tables" / "age_sex_factors.csv").read_text(
            encoding="utf-8")
        where = "the example table"
    else:
        path = Path(base_dir or ".") / value
        if not path.is_file():
            raise ValueError(f"age_sex_factors: file '{value}' not found (looked for {path})")
        if path.stat().st_size > MAX_TABLE_BYTES:
            raise ValueError(f"age_sex_factors: '{value}' is larger than a factor table can "
                             f"be ({MAX_TABLE_BYTES:,} bytes)")
        text = path.read_bytes().decode("utf-8-sig", errors="replace")
        where = f"'{value}'"
    reader = csv.DictReader(io.StringIO(text))
    headers = {(h or "").strip().lower(): h for h in reader.fieldnames or []}
    missing = [c for c in _COLUMNS if c not in headers]
    if missing:
        raise ValueError(f"age_sex_factors: {where} lacks the column(s) {', '.join(missing)} "
                         f"(it needs {', '.join(_COLUMNS)})")
    rows = []
    for record in reader:
        row = {c: (record[headers[c]] or "").strip() for c in _COLUMNS}
        if not any(row.values()):
            continue
        row["age_to"] = row["age_to"] or None
        rows.append(row)
    return rows
