"""Claims tables with random damage, and the check every run on them must pass (issue 8).

Used by ``tests/test_fuzz.py`` (a short run in CI) and ``benchmarks/fuzz_campaign.py`` (a
long campaign). A good claims table is drawn, damaged in its cells, its header, its rows
and its bytes, written as CSV, xlsx or Parquet, and settled under contracts of all four
models. The run must either finish with every table's rows and cents reconciling, or stop
with one clear sentence (an ``InputError`` or ``ContractsError``): never anything else.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

from hypothesis import strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from input_files import write_csv, write_parquet, write_xlsx

HEADER = ["claim_id", "line", "member_id", "provider_id", "service_date", "domain",
          "care_code", "quantity", "amount", "paid_date"]
MEMBERS = [["member_id", "segment", "attributed_provider", "risk_score", "conditions",
            "enrollment_start", "enrollment_end"],
           ["M1", "elderly", "P1", "1.2", "diabetes", "2023-01-01", ""],
           ["M2", "elderly", "P1", "0.8", "", "2023-03-15", "2024-10-31"],
           ["M3", "youth", "P2", "1.0", "diabetes", "", ""]]
CONTRACTS = """\
contracts:
  - name: Hospital ceiling
    model: fee_for_service
    provider: P1
    scope: {domains: [hospital, gp]}
    performance_years: [2024]
    revenue_ceiling: 500
    clawback_rate: 0.65
  - name: Shared savings
    model: shared_savings
    provider: P1
    scope: {domains: all}
    baseline_years: [2023]
    performance_years: [2024]
    sharing_rate: 0.5
    loss_sharing_rate: 0.3
  - name: Capitation
    model: capitation
    provider: P2
    scope: {domains: all}
    performance_years: [2024]
    rate_pmpm: 40
    stop_loss: {attachment: 300, insurer_share: 0.9}
  - name: Hip episodes
    model: bundled
    provider: P1
    bundle: {kind: episode, trigger_codes: [HIP], window_days: 90}
    scope: {domains: all}
    performance_years: [2024]
    price: 800
    reconciliation: retrospective
    stop_gain_rate: 0.2
    stop_loss_rate: 0.2
"""

#: Cells an export gets wrong: other conventions, absurd values, formula and control text.
NASTY = ["", " ", "NaN", "nan", "inf", "-Infinity", "1e308", "1e-400", "9" * 40, "-0", "0.005",
         "1.234,56", "12,50", "€ 12.50", "12.50 EUR", "(12.50)", "TRUE", "#N/A", "#DIV/0!",
         "=1+1", "+1", "-1", "@SUM(A1)", "\t=2", "\r=3", "\x00", "\ufeffC1", "ééé", "Ω≈ç√",
         "2024-02-30", "2024-13-01", "0000-00-00", "15-01-2024", "01/15/2024", "45306",
         "1899-12-31", "2200-01-01", "2024-01-15T25:00", "x" * 40_000, "C1", "M1", "P1",
         "HIP", "gp", "hospital", "2024-03-01", "100", "-100", "1e3"]

_cell = st.one_of(st.sampled_from(NASTY), st.text(max_size=12))
_rows = st.integers(0, 40)


@st.composite
def good_row(draw, number: int) -> list[str]:
    """One claims row that every rule accepts."""
    day = draw(st.dates(datetime.date(2023, 1, 1), datetime.date(2024, 12, 31)))
    return [f"C{number}", draw(st.sampled_from(["1", "2", ""])),
            draw(st.sampled_from(["M1", "M2", "M3"])), draw(st.sampled_from(["P1", "P2"])),
            day.isoformat(), draw(st.sampled_from(["gp", "hospital", "Pharmacy"])),
            draw(st.sampled_from(["HIP", "A1", "B2", ""])),
            draw(st.sampled_from(["", "1", "2", "0.5"])),
            f"{draw(st.decimals(-500, 5000, places=2, allow_nan=False)):f}",
            draw(st.sampled_from(["", (day + datetime.timedelta(days=20)).isoformat()]))]


@st.composite
def damaged_table(draw) -> list[list[str]]:
    """A good table (header first) with a few random kinds of damage."""
    rows = [draw(good_row(n)) for n in range(draw(st.integers(1, 30)))]
    table = [list(HEADER), *rows]
    for _ in range(draw(st.sampled_from([0, 1, 1, 2, 2, 3, 5]))):
        damage = draw(st.sampled_from(sorted(TABLE_DAMAGE)))
        table = TABLE_DAMAGE[damage](draw, table)
    return table


def _set_cell(draw, table):
    if len(table) > 1:
        row = draw(st.integers(1, len(table) - 1))
        column = draw(st.integers(0, len(table[row]))) if table[row] else 0
        cells = list(table[row]) + [""] * (column + 1 - len(table[row]))
        cells[column] = draw(_cell)
        table = [*table[:row], cells, *table[row + 1:]]
    return table


def _drop_column(draw, table):
    column = draw(st.integers(0, max(len(table[0]) - 1, 0)))
    return [row[:column] + row[column + 1:] for row in table]


def _repeat_column(draw, table):
    column = draw(st.integers(0, max(len(table[0]) - 1, 0)))
    return [row + row[column:column + 1] for row in table]


def _rename_header(draw, table):
    if not table[0]:
        return table
    column = draw(st.integers(0, len(table[0]) - 1))
    header = list(table[0])
    header[column] = draw(st.one_of(_cell, st.sampled_from(HEADER),
                                    st.just(header[column].upper().replace("_", " "))))
    return [header, *table[1:]]


def _repeat_row(draw, table):
    if len(table) < 2:
        return table
    row = draw(st.integers(1, len(table) - 1))
    copy = list(table[row])
    if len(copy) == len(HEADER) and draw(st.booleans()):  # the same key, another amount
        copy[HEADER.index("amount")] = draw(_cell)
    return [*table, copy]


def _drop_row(draw, table):
    if len(table) < 2:
        return table
    row = draw(st.integers(1, len(table) - 1))
    return table[:row] + table[row + 1:]


def _title_rows(draw, table):
    titles = draw(st.lists(st.lists(_cell, max_size=3), min_size=1, max_size=3))
    return [*titles, *table]


def _ragged_row(draw, table):
    return [*table, draw(st.lists(_cell, max_size=len(HEADER) + 3))]


def _shuffle(draw, table):
    return [table[0], *draw(st.permutations(table[1:]))]


TABLE_DAMAGE = {"set cell": _set_cell, "drop column": _drop_column,
                "repeat column": _repeat_column, "rename header": _rename_header,
                "repeat row": _repeat_row, "drop row": _drop_row, "title rows": _title_rows,
                "ragged row": _ragged_row, "shuffle": _shuffle}


@dataclass(frozen=True)
class Damaged:
    """A damaged claims file to write: format, table and damage to its bytes."""

    kind: str
    table: list[list[str]]
    byte_damage: tuple[str, float, bytes] | None
    encoding: str
    delimiter: str

    def write(self, folder: Path) -> Path:
        """Write the file into ``folder`` and return its path."""
        path = folder / f"claims.{self.kind}"
        if self.kind == "csv":
            write_csv(path, self.table, delimiter=self.delimiter, encoding=self.encoding)
        elif self.kind == "xlsx":  # a workbook cannot hold XML's illegal characters
            write_xlsx(path, {"claims": [[ILLEGAL_CHARACTERS_RE.sub("", cell) for cell in row]
                                         for row in self.table]})
        else:
            width = max(len(row) for row in self.table)
            header = list(self.table[0]) + [f"extra {i}"
                                            for i in range(len(self.table[0]), width)]
            if len(set(header)) == len(header):  # Parquet refuses repeated names
                write_parquet(path, [header, *self.table[1:]])
            else:
                write_csv(path.with_suffix(".csv"), self.table)
                path = path.with_suffix(".csv")
        if self.byte_damage is not None:
            how, where, data = self.byte_damage
            content = path.read_bytes()
            at = int(where * len(content))
            content = (content[:at] if how == "truncate" else
                       content[:at] + data + content[at + len(data):] if how == "overwrite"
                       else content[:at] + data + content[at:])
            path.write_bytes(content)
        return path


@st.composite
def damaged_file(draw) -> Damaged:
    """A damaged claims table in a random format, sometimes with damaged bytes."""
    byte_damage = draw(st.one_of(
        st.none(), st.none(), st.none(), st.none(),
        st.tuples(st.sampled_from(["truncate", "overwrite", "insert"]),
                  st.floats(0, 1), st.binary(min_size=1, max_size=16))))
    table = draw(damaged_table())
    encoding = draw(st.sampled_from(["utf-8", "cp1252"]))
    try:
        "".join(cell for row in table for cell in row).encode(encoding)
    except UnicodeEncodeError:
        encoding = "utf-8"
    return Damaged(draw(st.sampled_from(["csv", "csv", "xlsx", "parquet"])), table,
                   byte_damage, encoding, draw(st.sampled_from([",", ";", "\t"])))


def run_and_check(folder: Path, damaged: Damaged, workbook: bool = False
                  ) -> tuple[str, str]:
    """Settle the contracts on the damaged file (and with ``workbook`` write the
    comparison workbook); return ``("settled", "")``, or ``("refused", message)`` with
    the message checked. Any other exception propagates: it is a finding.
    """
    from contracts import ContractsError
    from fileio.errors import InputError
    from fileio.jobs import InputPaths, compare_files
    from fileio.workbook import write_comparison_workbook

    claims = damaged.write(folder)
    members = write_csv(folder / "members.csv", MEMBERS)
    contracts = folder / "contracts.yaml"
    contracts.write_text(CONTRACTS)
    try:
        comparison = compare_files(InputPaths((claims,), members=members), contracts)
    except (InputError, ContractsError) as error:
        message = str(error)
        assert "\n" not in message and message.strip() == message and message, message
        assert message.endswith((".", ")")), message
        assert str(claims) in message, message
        return "refused", message
    for report in comparison.input_files:
        assert report.rows_read == report.rows_accepted + report.rows_rejected, report
        if report.amount_read is not None:
            assert report.amount_read == report.amount_accepted + report.amount_rejected
    for table in ("claims", "members"):
        listed = int((comparison.rejected["table"] == table).sum())
        assert listed == sum(r.rows_rejected for r in comparison.input_files
                             if r.table == table)
    assert set(comparison.summary["contract"]) == {"Hospital ceiling", "Shared savings",
                                                   "Capitation", "Hip episodes"}
    if workbook:
        write_comparison_workbook(comparison, folder / "comparison.xlsx", inputs=[claims])
    return "settled", ""
