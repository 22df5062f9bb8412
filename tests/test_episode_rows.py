"""The Episodes sheet's rows are written as XML by fileio/workbook.py rather than through
openpyxl's append (several times faster): the saved bytes must be the ones openpyxl
writes, styles and number formats included, whatever the cells hold."""
from __future__ import annotations

import datetime as dt

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from fileio import workbook as workbook_module
from fileio.xlsx_style import number_formats

KINDS = workbook_module.EPISODE_KINDS


def _saved(frame: pd.DataFrame, path, spliced: bool) -> bytes:
    """The frame's rows saved as a one-sheet workbook, through openpyxl or spliced."""
    book = Workbook(write_only=True)
    book.properties.created = book.properties.modified = workbook_module.DOCUMENT_TIME
    sheet = book.create_sheet("Episodes")
    grid = workbook_module._grid(frame, KINDS)
    formats = number_formats("EUR")
    extra = {}
    if spliced:
        extra[sheet] = workbook_module._styled_rows_xml(sheet, grid, formats, first_row=1)
    else:
        for row in workbook_module._data_rows(sheet, grid, formats):
            sheet.append(row)
    workbook_module.save_deterministically(book, path, extra)
    return path.read_bytes()


def _same_bytes(frame: pd.DataFrame, tmp_path) -> bool:
    return (_saved(frame, tmp_path / "openpyxl.xlsx", spliced=False)
            == _saved(frame, tmp_path / "spliced.xlsx", spliced=True))


def _episodes(**columns) -> pd.DataFrame:
    """An episode list: every column of the sheet, the given ones as given."""
    rows = max(len(values) for values in columns.values())
    base = {"scenario": "base", "contract": "Hip", "year": 2024, "member": "M1",
            "trigger_date": pd.Timestamp("2024-01-02"), "trigger_code": "HIP01",
            "triggers": 1, "claims": 3, "cost": 12.5, "winsorised_cost": 12.5,
            "target": 14.0}
    return pd.DataFrame({name: columns.get(name, [value] * rows)
                         for name, value in base.items()})


def test_episode_rows_of_a_run_are_the_bytes_openpyxl_writes(tmp_path):
    frame = _episodes(member=["M2", "M1", "M3"], cost=[13205.28, 0.1 + 0.2, None],
                      trigger_date=[pd.Timestamp("2024-01-01"),
                                    pd.Timestamp("2024-03-05 13:45:10.5"),
                                    pd.Timestamp("2024-12-21")])
    assert _same_bytes(frame, tmp_path)


def test_hostile_and_mixed_cells_are_the_bytes_openpyxl_writes(tmp_path):
    # Text that openpyxl would take for a formula or an error value, markup, spaces and
    # line breaks; a column of several types, dates in a text column, a first time of
    # day late in a date column, a flag, huge and tiny numbers, blanks.
    texts = ["=1+1", "#N/A", "a&b<c>d", " lead", "trail ", "   ", "", "x\r\ny", "ü€😀",
             "x" * 40_000, None]
    count = len(texts)
    frame = _episodes(
        scenario=texts,
        member=[texts[(i + 3) % count] for i in range(count)],
        trigger_code=[5, "t", pd.Timestamp("2020-01-01"), 1.5, None, "u", 2, "v", None,
                      dt.date(2021, 1, 1), "w"],
        trigger_date=[pd.Timestamp("2024-01-01")] * 6 + [dt.date(2023, 2, 1), None,
                                                          dt.time(4, 5, 6), None,
                                                          pd.Timestamp("2024-01-01")],
        triggers=[1, None, 2 ** 60, 0, True, 7, 8, 9, 10, 11, 12],
        cost=[1e22, 1e-7, -123456.789, float("nan"), float("inf"), "text", None, 0.5,
              -0.0, 3.0, 1 / 3])
    assert _same_bytes(frame, tmp_path)
    assert _same_bytes(frame.iloc[::-1].reset_index(drop=True), tmp_path)


def test_no_episode_rows_are_the_bytes_openpyxl_writes(tmp_path):
    assert _same_bytes(_episodes(member=[]).iloc[:0], tmp_path)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=12)), min_size=1, max_size=6))
def test_any_member_text_is_written_as_openpyxl_writes_it(tmp_path_factory, members):
    assert _same_bytes(_episodes(member=members), tmp_path_factory.mktemp("rows"))
