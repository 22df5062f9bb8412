"""What a contract's terms do: settle one contract over a grid of term values (issue 9).

Every point of the grid is the contract's terms with some terms changed, checked again as
the contracts file checks a contract (so that a value means what it means in the file, and
one out of range is refused with the term's name), and settled on the same ledger: the
ledger is built once and its populations are shared.
"""
from __future__ import annotations

import copy
import itertools
import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Sequence

import pandas as pd
import yaml

from contracts.loading import (
    ContractsError,
    StrictSafeLoader,
    TermsProblems,
    check_contract,
    key_path_message,
)
from funding_models.compare import SETTLERS
from funding_models.ledger import Ledger
from funding_models.results import summary_frame

#: Most points a sweep settles.
MAX_POINTS = 10_000

#: Summary columns a sweep keeps for each point and year.
SWEEP_FIGURES = ("year", "members", "insurer_cost", "ffs_equivalent", "provider_result",
                 "shared_savings", "shared_losses", "stop_loss", "corridor",
                 "reconciliation", "savings_rate", "status")

#: Figures of :data:`SWEEP_FIGURES` only some models have: left out when blank throughout.
MODEL_FIGURES = ("shared_savings", "shared_losses", "stop_loss", "corridor", "reconciliation",
                 "savings_rate")


@dataclass(frozen=True)
class Vary:
    """One term and the values it takes: ``key`` may name a nested term with dots
    (``stop_loss.attachment``)."""

    key: str
    values: tuple


def parse_vary(text: str) -> Vary:
    """Read ``key=start:stop:step`` (both ends included) or ``key=v1,v2,...``.

    A list's values are read as YAML, as in a contracts file (``0.5``, ``cms``, ``true``,
    ``{confidence: 0.9}``, ``[2023, 2024]``), and a value written as a number (``1e-2``)
    is a number. ``START:STOP:STEP`` is a range only when it is three numbers.

    Raises
    ------
    ValueError
        With a sentence that says what is wrong and what to write.

    Examples
    --------
    >>> parse_vary("sharing_rate=0.3:0.5:0.1")
    Vary(key='sharing_rate', values=(0.3, 0.4, 0.5))
    >>> parse_vary("minimum_savings_rate=0,1e-2,cms,{confidence: 0.9}").values
    (0, 0.01, 'cms', {'confidence': 0.9})
    """
    key, equals, spec = text.partition("=")
    key, spec = key.strip(), spec.strip()
    if not equals or not key or not spec:
        raise ValueError(f"--vary {text!r}: write TERM=START:STOP:STEP or TERM=V1,V2,...")
    if _looks_like_range(spec):
        return Vary(key, _range(text, spec))
    if not spec.replace(",", "").strip():
        raise ValueError(f"--vary {text!r}: no values; write TERM=V1,V2,...")
    try:
        values = yaml.load(f"[{spec}]", Loader=StrictSafeLoader)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None)
        raise ValueError(f"--vary {text!r}: the values cannot be read"
                         f"{f' ({problem})' if problem else ''}; write them as in the "
                         "contracts file, separated by commas, e.g. TERM=0.3,0.5 (quote text "
                         "that holds a comma, colon or @)") from None
    if any(isinstance(value, str) and _looks_like_range(value) for value in values):
        raise ValueError(f"--vary {text!r}: a range START:STOP:STEP is given alone, not "
                         "in a list of values")
    values = tuple(_numbers_as_numbers(value) for value in values)
    seen = set()
    for value in values:
        if _comparable(value) in seen:
            raise ValueError(f"--vary {text!r}: the value {value!r} is given twice; give "
                             "each value once")
        seen.add(_comparable(value))
    return Vary(key, values)


def _looks_like_range(spec: str) -> bool:
    """Whether ``spec`` is written as a range: two colons, no comma, not YAML's ``{...}``
    or ``[...]``."""
    return spec.count(":") == 2 and "," not in spec and spec[0] not in "{["


def _range(text: str, spec: str) -> tuple:
    """The values of ``start:stop:step``, in decimal arithmetic so 0.1 steps stay exact."""
    try:
        start, stop, step = (Decimal(part.strip()) for part in spec.split(":"))
        if not all(part.is_finite() for part in (start, stop, step)):
            raise InvalidOperation
    except (ValueError, ArithmeticError):
        raise ValueError(f"--vary {text!r}: START:STOP:STEP must be three finite numbers, "
                         "e.g. 0.3:0.7:0.1") from None
    if step <= 0 or stop < start:
        raise ValueError(f"--vary {text!r}: STEP must be above 0 and STOP at least START")
    try:
        steps = (stop - start) / step
    except ArithmeticError:
        steps = Decimal(MAX_POINTS)
    if steps >= MAX_POINTS:
        raise ValueError(f"--vary {text!r}: more than {MAX_POINTS:,} values; use a larger STEP")
    return tuple(_number(start + position * step) for position in range(int(steps) + 1))


def _number(value: Decimal) -> int | float:
    """A decimal as a whole number when it is one (of at most 15 digits), else as a float
    (``inf`` beyond a float's range, which the terms then refuse).

    Examples
    --------
    >>> _number(Decimal("2.0")), _number(Decimal("0.25")), _number(Decimal("1e400"))
    (2, 0.25, inf)
    """
    whole = value == value.to_integral_value() and value.adjusted() < 15
    return int(value) if whole else float(value)


def _numbers_as_numbers(value: Any) -> Any:
    """``value`` with text that is a finite number (YAML 1.1 reads ``1e-2`` as text) made
    a number, within mappings and lists too, so that a list reads numbers as a range does."""
    if isinstance(value, dict):
        return {key: _numbers_as_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_numbers_as_numbers(item) for item in value]
    if isinstance(value, str):
        try:
            number = Decimal(value)
        except (ValueError, ArithmeticError):
            return value
        return _number(number) if number.is_finite() else value
    return value


def _comparable(value: Any) -> Any:
    """A hashable stand-in for a value read from YAML, to find values given twice."""
    if isinstance(value, dict):
        return ("mapping", tuple(sorted((str(k), _comparable(v)) for k, v in value.items())))
    if isinstance(value, list):
        return ("list", tuple(_comparable(item) for item in value))
    return value


def term_grid(varies: Sequence[Vary]) -> list[dict[str, Any]]:
    """Every combination of the values, the first term varying slowest.

    Raises
    ------
    ValueError
        When a term is named twice or there would be more than :data:`MAX_POINTS`
        combinations (counted before any is made).

    Examples
    --------
    >>> term_grid([Vary("a", (1, 2)), Vary("b", ("x",))])
    [{'a': 1, 'b': 'x'}, {'a': 2, 'b': 'x'}]
    """
    keys = [vary.key for vary in varies]
    if len(set(keys)) < len(keys):
        raise ValueError("--vary: a term is named twice; give --vary once per term")
    count = math.prod(len(vary.values) for vary in varies)
    if count > MAX_POINTS:
        raise ValueError(f"--vary: {count:,} combinations; at most {MAX_POINTS:,} (give "
                         "fewer values)")
    return [dict(zip(keys, values))
            for values in itertools.product(*(vary.values for vary in varies))]


def terms_with(terms, changes: dict[str, Any], base_dir: Path | None = None,
               written: dict[str, Any] | None = None):
    """The contract's terms with ``changes`` made to the contract as written, checked again
    as the contracts file checks a contract (:func:`contracts.loading.check_contract`:
    presets, factor tables, the model's terms), so that a value means what it means in the
    file.

    Parameters
    ----------
    terms : contract terms
        The contract as checked.
    changes : dict
        Term (dots for nested terms) -> value. A nested term the contract as written
        leaves to a preset is changed in the mapping the contract has.
    base_dir : Path, optional
        The contracts file's folder, where presets and tables named by a relative path are
        read from.
    written : dict, optional
        The contract's entry as the file writes it (its preset not merged in, its factor
        table by name); default its checked terms.

    Raises
    ------
    contracts.ContractsError
        Naming the contract, the changed terms and what is wrong.
    """
    effective = terms.model_dump(mode="json", by_alias=True, exclude_unset=True)
    written = copy.deepcopy(effective if written is None else written)
    for key, value in changes.items():
        *parents, last = key.split(".")
        place, known = written, effective
        for parent in parents:
            known = known.get(parent) if isinstance(known, dict) else None
            if parent not in place:
                place[parent] = copy.deepcopy(known) if isinstance(known, dict) else {}
            place = place[parent]
            if not isinstance(place, dict):
                raise ContractsError(f"contract '{terms.name}': --vary {key}: {parent} is "
                                     "not a mapping of terms")
        place[last] = value
    try:
        return check_contract(written, base_dir)
    except TermsProblems as exc:
        point = ", ".join(f"{key}={value}" for key, value in changes.items())
        raise ContractsError([f"contract '{terms.name}' with {point}: "
                              f"{key_path_message(key, message)}"
                              for key, message in exc.problems]) from None


def checked_grid(terms, varies: Sequence[Vary], base_dir: Path | None = None,
                 written: dict[str, Any] | None = None) -> list[tuple[dict[str, Any], Any]]:
    """Every point of the grid with the contract's terms at that point, all checked.

    Parameters
    ----------
    terms : contract terms
    varies : sequence of Vary
    base_dir : Path, optional
    written : dict, optional
        The contracts file's folder and the contract as written (see :func:`terms_with`).

    Raises
    ------
    ValueError
        When the grid is too large or names a term twice.
    contracts.ContractsError
        When the terms at a point are not valid (see :func:`terms_with`).
    """
    return [(point, terms_with(terms, point, base_dir, written))
            for point in term_grid(varies)]


def term_column(key: str) -> str:
    """The Sweep table's column of a varied term: its key, or ``KEY (term)`` when a
    figure of the table has that name (``stop_loss``).

    Examples
    --------
    >>> term_column("sharing_rate"), term_column("stop_loss")
    ('sharing_rate', 'stop_loss (term)')
    """
    return f"{key} (term)" if key in SWEEP_FIGURES else key


def sweep(grid: Sequence[tuple[dict[str, Any], Any]], ledger: Ledger) -> pd.DataFrame:
    """Settle the contract at every point of a :func:`checked_grid`, on one ledger.

    Parameters
    ----------
    grid : sequence of (point, terms)
    ledger : Ledger

    Returns
    -------
    pandas.DataFrame
        One row per point and performance year: the varied terms (one column each, named
        by :func:`term_column`), then :data:`SWEEP_FIGURES` (less those of
        :data:`MODEL_FIGURES` blank at every point: figures the model does not have),
        money in currency units. A year not settled has blank figures and its reason in
        ``status``.
    """
    frames = []
    for point, terms in grid:
        summary = summary_frame(SETTLERS[terms.model](terms, ledger).rows)
        figures = summary[list(SWEEP_FIGURES)].reset_index(drop=True)
        varied = pd.DataFrame({term_column(key): pd.Series([_as_written(value)] * len(figures),
                                                           dtype=object)
                               for key, value in point.items()})
        frames.append(pd.concat([varied, figures], axis=1))
    swept = pd.concat(frames, ignore_index=True)
    return swept.drop(columns=[c for c in MODEL_FIGURES if swept[c].isna().all()])


def _as_written(value: Any) -> Any:
    """A term's value for the table: numbers and text as they are, others as YAML writes
    them (``null``, ``true``, ``{attachment: 200}``).

    Examples
    --------
    >>> _as_written(0.5), _as_written(None), _as_written({"attachment": 200})
    (0.5, 'null', '{attachment: 200}')
    """
    if isinstance(value, (int, float, str)) and not isinstance(value, bool):
        return value
    return yaml.safe_dump(value, default_flow_style=True, width=float("inf")
                          ).removesuffix("...\n").strip()
