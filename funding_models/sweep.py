"""What a contract's terms do: settle one contract over a grid of term values (issue 9).

Every point of the grid is the contract's terms with some terms changed, checked again by
the terms' own model (so that a value out of range is refused with the term's name), and
settled on the same ledger: the ledger is built once and its populations are shared.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Sequence

import pandas as pd
import yaml
from pydantic import ValidationError

from contracts.loading import ContractsError, describe_error
from funding_models.compare import SETTLERS
from funding_models.ledger import Ledger
from funding_models.results import summary_frame

#: Most points a sweep settles.
MAX_POINTS = 10_000

#: Summary columns a sweep keeps for each point and year.
SWEEP_FIGURES = ("year", "members", "insurer_cost", "ffs_equivalent", "provider_result",
                 "shared_savings", "shared_losses", "stop_loss", "corridor",
                 "reconciliation", "savings_rate", "status")


@dataclass(frozen=True)
class Vary:
    """One term and the values it takes: ``key`` may name a nested term with dots
    (``stop_loss.attachment``)."""

    key: str
    values: tuple


def parse_vary(text: str) -> Vary:
    """Read ``key=start:stop:step`` (both ends included) or ``key=v1,v2,...``.

    Values are read as YAML scalars (``0.5``, ``cms``, ``true``).

    Raises
    ------
    ValueError
        With a sentence that says what is wrong.

    Examples
    --------
    >>> parse_vary("sharing_rate=0.3:0.5:0.1")
    Vary(key='sharing_rate', values=(0.3, 0.4, 0.5))
    >>> parse_vary("minimum_savings_rate=0,0.01,cms").values
    (0, 0.01, 'cms')
    """
    key, equals, spec = text.partition("=")
    key, spec = key.strip(), spec.strip()
    if not equals or not key or not spec:
        raise ValueError(f"--vary {text!r}: write TERM=START:STOP:STEP or TERM=V1,V2,...")
    if ":" in spec and "," not in spec:
        return Vary(key, _range(text, spec))
    return Vary(key, tuple(yaml.safe_load(part) for part in (p.strip() for p in spec.split(","))
                           if part))


def _range(text: str, spec: str) -> tuple:
    """The values of ``start:stop:step``, in decimal arithmetic so 0.1 steps stay exact."""
    try:
        start, stop, step = (Decimal(part.strip()) for part in spec.split(":"))
    except (ValueError, InvalidOperation):
        raise ValueError(f"--vary {text!r}: START:STOP:STEP must be three numbers") from None
    if step <= 0 or stop < start:
        raise ValueError(f"--vary {text!r}: STEP must be above 0 and STOP at least START")
    count = int((stop - start) / step) + 1
    if count > MAX_POINTS:
        raise ValueError(f"--vary {text!r}: {count:,} values; at most {MAX_POINTS:,}")
    return tuple(_number(start + position * step) for position in range(count))


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def term_grid(varies: Sequence[Vary]) -> list[dict[str, Any]]:
    """Every combination of the values, the first term varying slowest.

    Examples
    --------
    >>> term_grid([Vary("a", (1, 2)), Vary("b", ("x",))])
    [{'a': 1, 'b': 'x'}, {'a': 2, 'b': 'x'}]
    """
    keys = [vary.key for vary in varies]
    if len(set(keys)) < len(keys):
        raise ValueError("--vary: a term is named twice")
    points = [dict(zip(keys, values)) for values in itertools.product(
        *(vary.values for vary in varies))]
    if len(points) > MAX_POINTS:
        raise ValueError(f"--vary: {len(points):,} combinations; at most {MAX_POINTS:,}")
    return points


def terms_with(terms, changes: dict[str, Any]):
    """The contract's terms with ``changes`` made, checked again by their model.

    Raises
    ------
    contracts.ContractsError
        Naming the contract, the changed terms and what is wrong.
    """
    written = terms.model_dump(mode="json", by_alias=True, exclude_unset=True)
    for key, value in changes.items():
        *parents, last = key.split(".")
        place = written
        for parent in parents:
            place = place.setdefault(parent, {})
            if not isinstance(place, dict):
                raise ContractsError(f"contract '{terms.name}': --vary {key}: {parent} is "
                                     "not a mapping of terms")
        place[last] = value
    try:
        return type(terms).model_validate(written)
    except ValidationError as exc:
        point = ", ".join(f"{key}={value}" for key, value in changes.items())
        raise ContractsError([f"contract '{terms.name}' with {point}: "
                              f"{describe_error(error, type(terms))}"
                              for error in exc.errors()]) from None


def checked_grid(terms, varies: Sequence[Vary]) -> list[tuple[dict[str, Any], Any]]:
    """Every point of the grid with the contract's terms at that point, all checked.

    Raises
    ------
    ValueError
        When the grid is too large or names a term twice.
    contracts.ContractsError
        When the terms at a point are not valid (see :func:`terms_with`).
    """
    return [(point, terms_with(terms, point)) for point in term_grid(varies)]


def sweep(grid: Sequence[tuple[dict[str, Any], Any]], ledger: Ledger) -> pd.DataFrame:
    """Settle the contract at every point of a :func:`checked_grid`, on one ledger.

    Parameters
    ----------
    grid : sequence of (point, terms)
    ledger : Ledger

    Returns
    -------
    pandas.DataFrame
        One row per point and performance year: the varied terms (one column each), then
        :data:`SWEEP_FIGURES` (less those blank at every point: figures the model does
        not have), money in currency units.
    """
    frames = []
    for point, terms in grid:
        summary = summary_frame(SETTLERS[terms.model](terms, ledger).rows)
        figures = summary[list(SWEEP_FIGURES)].reset_index(drop=True)
        frames.append(pd.concat([pd.DataFrame([point] * len(figures)).astype(object),
                                 figures], axis=1))
    swept = pd.concat(frames, ignore_index=True)
    blank = [c for c in SWEEP_FIGURES if c != "status" and swept[c].isna().all()]
    return swept.drop(columns=blank)
