"""The ledger: the claims aggregated once, on which every contract settles.

Built once per run from the accepted input rows (SPEC §2):

- ``spend``: claimed amount (cents) and lines per member x contract year x domain x
  provider, split by whether the claim was dated within the member's enrollment;
- ``care_code_totals``: amount, priced quantity and lines per provider x year x domain x
  care code, for pricing against a fee schedule;
- ``member_months``: per member and year, by the run's convention;
- the members, their enrollment and year-by-year attribution, and the tariffs.

Ids are pandas categoricals so that grouping runs on integer codes.
"""
from __future__ import annotations

import math

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from funding_models.periods import MergedSpans, contract_year, member_months, year_bounds


@dataclass(frozen=True)
class ClaimCodes:
    """The claims' keys as integer codes (-1: blank), row by row of :attr:`Ledger.claims`.

    ``member_year`` is ``member x number of years + year_index``; ``amount`` is in cents
    as float64, exact for sums below 2**53 cents; ``lines`` counts the claim lines of
    each row (float64, for ``numpy.bincount`` weights).
    """

    member: np.ndarray
    year_index: np.ndarray
    member_year: np.ndarray
    domain: np.ndarray
    provider: np.ndarray
    care_code: np.ndarray
    amount: np.ndarray
    lines: np.ndarray


#: Up to this many values, :func:`among` compares the codes with each (fast on small
#: integers) rather than looking every row up in a table.
AMONG_BY_COMPARISON = 8


@dataclass(frozen=True)
class Ledger:
    """Claims and members of a run, aggregated for settlement.

    Attributes
    ----------
    years : tuple of int
        Contract years the claims cover, first to last.
    year_start_month : int
        Month in which a contract year starts.
    member_months_convention : str
        ``any_day`` or ``fractional``.
    claims : pandas.DataFrame
        Accepted claim lines, a row each or summed (see ``lines``): ``member``,
        ``provider``, ``domain``, ``care_code`` (categoricals), ``service_date``, ``year``,
        ``quantity``, ``amount`` (cents), ``enrolled``, ``lines`` (the claim lines a row stands for: 1, or more where
        lines were summed before, see :func:`assemble_ledger`).
    members : pandas.DataFrame or None
        The members table indexed by ``member`` (categorical), or None when not given.
    member_months : pandas.DataFrame or None
        ``member``, ``year``, ``member_months``; None without a members table.
    attribution : pandas.DataFrame or None
        ``member``, ``year``, ``provider`` from the attribution table.
    tariffs : pandas.Series or None
        Tariff per unit in cents, indexed by care code.
    """

    years: tuple[int, ...]
    year_start_month: int
    member_months_convention: str
    claims: pd.DataFrame
    members: pd.DataFrame | None
    member_months: pd.DataFrame | None
    attribution: pd.DataFrame | None
    tariffs: pd.Series | None
    #: Results computed from this ledger, by a key of what they were computed for, so
    #: that contracts (and their spillover) on the same population share the work. A
    #: ledger made by ``dataclasses.replace`` starts with an empty cache.
    cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    #: The results worked out from the members, enrollment and attribution tables alone,
    #: not from the claims: shared with the ledgers of the same members with other claims
    #: (:meth:`with_claims`, a scenario's), which ``dataclasses.replace`` hands it to.
    members_cache: dict = field(default_factory=dict, repr=False, compare=False,
                                kw_only=True)

    @cached_property
    def spend(self) -> pd.DataFrame:
        """Amount (cents) and lines per member x year x domain x provider x enrolled."""
        keys = ["member", "year", "domain", "provider", "enrolled"]
        return (self.claims.groupby(keys, observed=True, sort=True)
                .agg(amount=("amount", "sum"), lines=("lines", "sum"))
                .reset_index())

    @cached_property
    def care_code_totals(self) -> pd.DataFrame:
        """Amount, priced quantity and lines per provider x year x domain x care code
        (see :func:`care_code_totals`)."""
        return care_code_totals(self.claims)

    @cached_property
    def codes(self) -> "ClaimCodes":
        """The claims' keys as integer arrays, for grouping with ``numpy.bincount``."""
        claims = self.claims
        member = claims["member"].cat.codes.to_numpy().astype(np.int64)
        year_index = claims["year"].to_numpy() - self.years[0]
        return ClaimCodes(
            member=member, year_index=year_index,
            member_year=member * len(self.years) + year_index,
            domain=claims["domain"].cat.codes.to_numpy(),
            provider=claims["provider"].cat.codes.to_numpy(),
            care_code=claims["care_code"].cat.codes.to_numpy(),
            amount=claims["amount"].to_numpy().astype(np.float64),
            lines=claims["lines"].to_numpy().astype(np.float64),
        )

    def among(self, column: str, values) -> np.ndarray:
        """Per row of the claims, whether its ``column`` (``domain``, ``provider`` or
        ``care_code``) is one of ``values``; a blank never is."""
        return among(self.claims[column], values)

    def remember(self, key: tuple, compute: Callable[[], Any], *,
                 members_only: bool = False) -> Any:
        """``compute()``, worked out once per ledger for ``key`` and kept in :attr:`cache`
        (with ``members_only``, a result that does not depend on the claims, in
        :attr:`members_cache`)."""
        cache = self.members_cache if members_only else self.cache
        if key not in cache:
            cache[key] = compute()
        return cache[key]

    def with_claims(self, claims: pd.DataFrame) -> "Ledger":
        """This ledger with other claims (the same members): it starts with an empty
        :attr:`cache` and shares :attr:`members_cache`."""
        return replace(self, claims=claims)

    def member_column(self, column: str) -> np.ndarray:
        """A column of the members table as an array indexed by member code (missing for
        members the table does not list: NaN, NaT or None)."""
        return self.remember(("member_column", column), lambda: self._by_member(column),
                             members_only=True)

    def _by_member(self, column: str) -> np.ndarray:
        values = self.members[column]
        kind = values.to_numpy().dtype
        blank = (np.nan if kind.kind == "f" else np.datetime64("NaT") if kind.kind == "M"
                 else None)
        array = np.full(len(self.members.index.categories), blank,
                        dtype=kind if kind.kind in "fM" else object)
        array[self.members.index.codes] = (values.to_numpy() if kind.kind in "fM"
                                           else values.astype(object).to_numpy())
        return array

    @property
    def domains(self) -> list[str]:
        """The care domains in the data, sorted."""
        return [str(d) for d in self.claims["domain"].cat.categories]

    @property
    def providers(self) -> list[str]:
        """The providers that billed claims, sorted."""
        return [str(p) for p in self.claims["provider"].cat.categories]


def providers_without_claims(ledger: Ledger, providers: Sequence[str]) -> str | None:
    """A warning naming those of ``providers`` that billed no claims, with the ids in the
    data that are the same but for case, spaces or leading zeros (``012345`` for
    ``12345``: a spreadsheet that kept ids as numbers drops the zeros); None when every
    one billed claims."""
    missing = sorted(set(providers) - set(ledger.providers))
    if not missing:
        return None

    def loosely(text: str) -> str:
        return text.strip().casefold().lstrip("0")

    billed: dict[str, list[str]] = {}
    for provider in ledger.providers:
        billed.setdefault(loosely(provider), []).append(provider)
    near = [f"{' or '.join(billed[loosely(m)])} for {m}" for m in missing if loosely(m) in billed]
    return (f"provider(s) {', '.join(missing)} billed no claims in the data"
            + (f" (it has {'; '.join(near)}: write the id as the claims do)" if near else ""))


def among(column: pd.Series, values) -> np.ndarray:
    """Per row of a categorical column, whether its value is one of ``values``; a blank
    never is. Worked out on the integer codes, not on a string per row.

    Examples
    --------
    >>> among(pd.Series(["gp", "lab", None, "gp"], dtype="category"), ["gp"]).tolist()
    [True, False, False, True]
    """
    categories = column.cat.categories
    wanted = np.flatnonzero(categories.isin(list(values)))
    codes = column.cat.codes.to_numpy()
    if len(wanted) > AMONG_BY_COMPARISON:
        listed = np.zeros(len(categories) + 1, dtype=bool)
        listed[wanted] = True
        return listed[codes]  # code -1 reads the last place, False
    chosen = np.zeros(len(codes), dtype=bool)
    for code in wanted.tolist():  # Python ints compare in the codes' own small type
        chosen |= codes == code
    return chosen


#: Decimals a sum of quantities is kept to (quantities are read to far fewer).
QUANTITY_DECIMALS = 9


def care_code_totals(claims: pd.DataFrame) -> pd.DataFrame:
    """Amount, priced quantity and lines per provider x year x domain x care code.

    ``priced_quantity`` is Σ quantity with the sign of each line's amount, so that a
    correction line (negative amount) is priced negative. It is rounded to
    :data:`QUANTITY_DECIMALS` decimals: a float sum depends on the order of its terms in
    its last bits, and the order the lines come in must not move a price by a cent.

    The four keys are packed into one integer per row and grouped on that (a blank id
    sorts last, as pandas sorts it): several times faster than grouping on the
    categoricals, with the same sums in the same order. Where the keys could not all be
    packed into 63 bits (millions of distinct ids over centuries of dates), the
    categoricals are grouped as they are.
    """
    keys = ["provider", "year", "domain", "care_code"]
    positions = [_key_positions(claims[key]) for key in keys]
    sizes = [size for _, size in positions]
    if math.prod(sizes) > np.iinfo(np.int64).max:
        return _care_code_totals_by_groupby(claims, keys)
    packed = np.zeros(len(claims), dtype=np.int64)
    for position, size in positions:
        packed = packed * size + position
    amount = claims["amount"].to_numpy()
    totals = pd.DataFrame({
        "packed": packed, "amount": amount,
        "priced_quantity": priced_quantity(amount, claims["quantity"].to_numpy()),
        "lines": claims["lines"].to_numpy(),
    }).groupby("packed", sort=True).sum()
    columns, rest = {}, totals.index.to_numpy()
    for key, size in reversed(list(zip(keys, sizes))):
        rest, columns[key] = np.divmod(rest, size)
    return pd.DataFrame({
        **{key: _key_values(claims[key], columns[key]) for key in keys},
        "amount": totals["amount"].to_numpy(),
        "priced_quantity": totals["priced_quantity"].round(QUANTITY_DECIMALS).to_numpy(),
        "lines": totals["lines"].to_numpy(),
    })


def priced_quantity(amount: np.ndarray, quantity: np.ndarray) -> np.ndarray:
    """The quantity with the sign of the amount, so that a correction line (negative
    amount) is priced negative."""
    return np.where(amount < 0, -1.0, 1.0) * quantity


def _care_code_totals_by_groupby(claims: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """:func:`care_code_totals` by grouping on the key columns themselves."""
    frame = claims[[*keys, "amount", "lines"]].assign(priced_quantity=priced_quantity(
        claims["amount"].to_numpy(), claims["quantity"].to_numpy()))
    totals = (frame.groupby(keys, observed=True, sort=True, dropna=False)
              [["amount", "priced_quantity", "lines"]].sum().reset_index())
    return totals.assign(priced_quantity=totals["priced_quantity"].round(QUANTITY_DECIMALS))


def _key_positions(column: pd.Series) -> tuple[np.ndarray, int]:
    """A key column as positions 0 to size - 1 in sort order: a categorical's codes (a
    blank last), a year's offset from the first."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy().astype(np.int64)
        blank = len(column.cat.categories)
        return np.where(codes < 0, blank, codes), blank + 1
    values = column.to_numpy()
    first = int(values.min()) if len(values) else 0
    return values - first, (int(values.max()) - first + 1) if len(values) else 1


def _key_values(column: pd.Series, positions: np.ndarray) -> pd.Categorical | np.ndarray:
    """The values of a key column at ``positions`` (the inverse of :func:`_key_positions`)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        blank = len(column.cat.categories)
        return pd.Categorical.from_codes(np.where(positions == blank, -1, positions),
                                         dtype=column.dtype)
    return positions + (int(column.min()) if len(column) else 0)


def build_ledger(claims: pd.DataFrame, *, members: pd.DataFrame | None = None,
                 enrollment: pd.DataFrame | None = None,
                 attribution: pd.DataFrame | None = None,
                 fee_schedule: pd.DataFrame | None = None, year_start_month: int = 1,
                 member_months_convention: str = "any_day") -> Ledger:
    """Aggregate the accepted input rows into a :class:`Ledger`.

    Parameters
    ----------
    claims : pandas.DataFrame
        Accepted claim lines (SPEC §1 columns; ``amount`` in integer cents).
    members, enrollment, attribution, fee_schedule : pandas.DataFrame, optional
        The accepted rows of those tables. An enrollment table replaces the members
        table's single span; members it does not list are not enrolled.
    year_start_month : int
        Month in which contract years start (1 = calendar years).
    member_months_convention : {"any_day", "fractional"}

    Returns
    -------
    Ledger
    """
    if claims.empty:
        raise ValueError("no accepted claim lines: nothing to settle")
    dates = claims["service_date"].to_numpy().astype("datetime64[D]")
    member = _member_categorical(claims["member_id"], members)
    enrolled = (np.ones(len(claims), dtype=bool) if members is None
                else enrollment_lookup(members, enrollment, member.dtype).hold(
                    member.codes.astype(np.int64), dates))
    lines = pd.DataFrame({
        "member": pd.Series(member, index=claims.index),
        "provider": id_categorical(claims["provider_id"]),
        "domain": id_categorical(claims["domain"]),
        "care_code": id_categorical(claims["care_code"]),
        "service_date": dates,
        "year": contract_year(dates, year_start_month).astype(np.int64),
        "quantity": claims["quantity"].to_numpy(dtype=np.float64),
        "amount": claims["amount"].to_numpy(dtype=np.int64),
        "enrolled": enrolled,
        "lines": np.ones(len(claims), dtype=np.int32),
    })
    return assemble_ledger(lines, members=members, enrollment=enrollment,
                           attribution=attribution, fee_schedule=fee_schedule,
                           year_start_month=year_start_month,
                           member_months_convention=member_months_convention)


def assemble_ledger(claims: pd.DataFrame, *, members: pd.DataFrame | None = None,
                    enrollment: pd.DataFrame | None = None,
                    attribution: pd.DataFrame | None = None,
                    fee_schedule: pd.DataFrame | None = None, year_start_month: int = 1,
                    member_months_convention: str = "any_day") -> Ledger:
    """A :class:`Ledger` on claims already keyed for it: the member, year and enrollment
    of each row worked out, lines that share them possibly summed into one row.

    Parameters
    ----------
    claims : pandas.DataFrame
        The :attr:`Ledger.claims` columns. ``member`` must list every member of
        ``members`` among its categories. A row may stand for several claim lines of one
        member, year, provider, domain, care code, enrollment and sign of the amount
        (``lines`` of them, ``amount`` and ``quantity`` summed, ``service_date`` the
        latest); an episode needs its members' claims one line a row.
    members, enrollment, attribution, fee_schedule, year_start_month, member_months_convention
        As for :func:`build_ledger`.

    Returns
    -------
    Ledger
    """
    year = claims["year"].to_numpy()
    years = tuple(range(int(year.min()), int(year.max()) + 1))
    member_type = claims["member"].dtype
    members_frame = months = attributed = None
    if members is not None:
        members_frame = members.drop(columns=[c for c in members if c.startswith("_")]).assign(
            member=members["member_id"].astype(str).astype(member_type)).set_index("member")
        span_member, span_start, span_end = _enrollment_spans(members, enrollment, member_type)
        first, last = year_bounds(np.array(years), year_start_month)
        months = member_months(span_member, _filled(span_start, first.min()),
                               _filled(span_end, last.max()), np.array(years),
                               member_months_convention, year_start_month)
        months["member"] = pd.Categorical.from_codes(months["member"], dtype=member_type)
        if attribution is not None:
            attributed = pd.DataFrame({
                "member": attribution["member_id"].astype(str).astype(member_type),
                "year": attribution["year"].to_numpy(dtype=np.int64),
                "provider": attribution["provider_id"].astype(str).to_numpy(dtype=object),
            })
    tariffs = None
    if fee_schedule is not None:
        tariffs = pd.Series(fee_schedule["tariff"].to_numpy(dtype=np.int64),
                            index=fee_schedule["care_code"].astype(str).to_numpy(), name="tariff")
    return Ledger(years, year_start_month, member_months_convention, claims,
                  members_frame, months, attributed, tariffs)


def _member_categorical(values: pd.Series, members: pd.DataFrame | None) -> pd.Categorical:
    """The claims' member ids as a categorical whose sorted categories also list every
    member of the members table (when given)."""
    member = id_categorical(values)
    if members is None:
        return member
    return id_categorical(values, pd.Index(member.categories).union(
        pd.Index(members["member_id"].astype(str).unique(), dtype=object)))


def id_categorical(values: pd.Series, categories: pd.Index | None = None) -> pd.Categorical:
    """Text ids as a categorical (default: sorted categories), encoded once by Arrow.

    Blank ids, and ids that ``categories`` does not list, get code -1.
    """
    text = pa.array(values.astype("string[pyarrow]").array)
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    encoded = text.dictionary_encode()
    found = pd.Index(encoded.dictionary.to_numpy(zero_copy_only=False), dtype=object)
    if categories is None:
        categories = found.sort_values()
    # Position len(found) stands for a blank id and maps to code -1.
    to_code = np.append(categories.get_indexer(found), -1)
    positions = pc.fill_null(encoded.indices, len(found)).to_numpy(zero_copy_only=False)
    return pd.Categorical.from_codes(to_code[positions], categories=categories)


def enrollment_lookup(members: pd.DataFrame, enrollment: pd.DataFrame | None,
                      member_type: pd.CategoricalDtype) -> MergedSpans:
    """The enrollment spans (of ``enrollment``, else of ``members``) merged for looking
    up claim lines, blank bounds open; members coded by ``member_type``."""
    span_member, span_start, span_end = _enrollment_spans(members, enrollment, member_type)
    return MergedSpans(span_member, _filled(span_start, _EARLIEST), _filled(span_end, _LATEST))


#: Bounds beyond every accepted date (1900–2199) that stand for a blank (open) one.
_EARLIEST, _LATEST = np.datetime64("1800-01-01", "D"), np.datetime64("2300-12-31", "D")


def _filled(bounds: np.ndarray, blank: np.datetime64) -> np.ndarray:
    return np.where(np.isnat(bounds), blank, bounds)


def _enrollment_spans(members: pd.DataFrame, enrollment: pd.DataFrame | None,
                     member_type: pd.CategoricalDtype
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Member codes and span bounds (NaT where blank) of the enrollment table, else of
    the members table."""
    source = enrollment if enrollment is not None else members
    start = source["enrollment_start"].to_numpy().astype("datetime64[D]")
    end = source["enrollment_end"].to_numpy().astype("datetime64[D]")
    codes = source["member_id"].astype(str).astype(member_type).cat.codes.to_numpy()
    return codes, start, end
