"""Open a comparison workbook in a real spreadsheet program and check what it shows.

LibreOffice Calc (headless) opens the workbook fundcalc wrote, prints it to PDF (each sheet
on one page) and to PNG pages, and saves it again as .xlsx. The script fails (exit 1)
unless

- the Summary page's text, as LibreOffice renders it, holds every contract name of the
  Summary sheet and each row's insurer cost and provider result as the cells show them;
- the charts survive the round trip: the .xlsx LibreOffice writes, reopened with
  openpyxl, has the same charts (sheet, title, number of series) as the original.

It also crops two pictures of the Summary page (the table up to provider_result, and the
charts) for the README.

    python scripts/render_workbook.py comparison.xlsx --out rendered/ \\
        --picture docs/summary.png --chart-picture docs/summary_chart.png

LibreOffice and poppler (pdftoppm, pdftotext) are needed for this script only:
``apt-get install -y libreoffice-calc poppler-utils``. Exit status: 0 all checks pass,
1 a check failed, 2 a tool is missing or a conversion failed.
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import openpyxl

#: Seconds LibreOffice may take for one conversion.
TIMEOUT = 600
#: Dots per inch of the PNG pages and of the pictures.
PAGE_DPI, PICTURE_DPI = 50, 90
#: Drawing units (EMU) per point: anchors give sizes in EMU.
EMU_PER_POINT = 12700


class RenderError(Exception):
    """A tool is missing or a conversion failed."""


@dataclass(frozen=True)
class Chart:
    """A chart as a reader finds it: its sheet, title and number of series."""

    sheet: str
    title: str
    series: int


def soffice() -> str:
    """The LibreOffice command, or RenderError saying how to install it."""
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found is None:
        raise RenderError("LibreOffice is not installed: apt-get install -y libreoffice-calc")
    return found


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise RenderError(f"{name} is not installed: apt-get install -y poppler-utils")
    return found


def convert(workbook: Path, out_dir: Path, target: str) -> Path:
    """Convert ``workbook`` with LibreOffice (headless) into ``out_dir``.

    Parameters
    ----------
    workbook : Path
        The .xlsx to open.
    out_dir : Path
        Where the converted file goes (named like the workbook).
    target : str
        LibreOffice's ``--convert-to`` argument, e.g. ``xlsx:Calc MS Excel 2007 XML``.

    Returns
    -------
    Path
        The converted file.
    """
    extension = target.split(":")[0]
    out_dir.mkdir(parents=True, exist_ok=True)
    # A profile of its own, so that runs at the same time do not share a lock.
    with tempfile.TemporaryDirectory() as profile:
        command = [soffice(), f"-env:UserInstallation=file://{profile}", "--headless",
                   "--norestore", "--convert-to", target, "--outdir", str(out_dir),
                   str(workbook)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)
    converted = out_dir / f"{workbook.stem}.{extension}"
    if done.returncode != 0 or not converted.exists():
        raise RenderError(f"LibreOffice could not convert {workbook} to {extension}: "
                          f"{(done.stderr or done.stdout).strip()[-500:]}")
    return converted


def to_pdf(workbook: Path, out_dir: Path) -> Path:
    """The workbook printed to PDF, each sheet on a page of its own."""
    return convert(workbook, out_dir, 'pdf:calc_pdf_Export:{"SinglePageSheets":'
                                      '{"type":"boolean","value":"true"}}')


def page_texts(pdf: Path) -> list[str]:
    """The text of each page of ``pdf``, laid out as rendered."""
    done = subprocess.run([_tool("pdftotext"), "-layout", str(pdf), "-"],
                          capture_output=True, text=True, check=True)
    return done.stdout.split("\f")


def summary_expectations(workbook: Path) -> tuple[list[str], list[str]]:
    """What the Summary page must show: its header, and per row the contract name, the
    insurer cost and the provider result as the cells display them (``1,672,178.65``)."""
    sheet = openpyxl.load_workbook(workbook, read_only=True)["Summary"]
    rows = sheet.iter_rows(values_only=True)
    header = [h for h in next(rows) if h is not None]
    expected = []
    for row in rows:
        cells = dict(zip(header, row))
        if cells.get("contract") is None:
            continue
        expected.append(str(cells["contract"]))
        expected += [f"{cells[key]:,.2f}" for key in ("insurer_cost", "provider_result")
                     if isinstance(cells.get(key), (int, float))]
    return header, list(dict.fromkeys(expected))


def summary_page(texts: list[str], header: list[str]) -> int:
    """The number (from 1) of the page that shows the Summary: every header cell in it."""
    for number, text in enumerate(texts, 1):
        if all(name in text for name in header):
            return number
    raise RenderError("no page of the PDF shows the Summary's header")


def charts_in(workbook: Path) -> list[Chart]:
    """Every chart openpyxl finds in ``workbook``."""
    book = openpyxl.load_workbook(workbook)
    return [Chart(sheet.title, _title(chart), len(chart.series))
            for sheet in book.worksheets for chart in sheet._charts]


def _title(chart) -> str:
    try:
        return "".join(run.t for paragraph in chart.title.tx.rich.p for run in paragraph.r or [])
    except AttributeError:
        return ""


def render_pages(pdf: Path, out_dir: Path) -> list[Path]:
    """Every page of ``pdf`` as a PNG in ``out_dir`` (``page-01.png``...)."""
    subprocess.run([_tool("pdftoppm"), "-png", "-r", str(PAGE_DPI), str(pdf),
                    str(out_dir / "page")], check=True)
    return sorted(out_dir.glob("page-*.png"))


def _words(pdf: Path, page: int) -> list[tuple[float, float, float, float, str]]:
    """The words of a page with their boxes (points): x0, y0, x1, y1, text."""
    done = subprocess.run([_tool("pdftotext"), "-bbox", "-f", str(page), "-l", str(page),
                           str(pdf), "-"], capture_output=True, text=True, check=True)
    found = re.findall(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" '
                       r'yMax="([\d.]+)">([^<]*)</word>', done.stdout)
    return [(float(a), float(b), float(c), float(d), text) for a, b, c, d, text in found]


def _page_size(pdf: Path, page: int) -> tuple[float, float]:
    done = subprocess.run([_tool("pdfinfo"), "-f", str(page), "-l", str(page), str(pdf)],
                          capture_output=True, text=True, check=True)
    size = re.search(r"size:\s+([\d.]+) x ([\d.]+) pts", done.stdout)
    return float(size.group(1)), float(size.group(2))


def crop(pdf: Path, page: int, box: tuple[float, float, float, float], picture: Path) -> Path:
    """Render the ``box`` (x0, y0, x1, y1 in points) of a page as a PNG ``picture``."""
    scale = PICTURE_DPI / 72
    x0, y0, x1, y1 = (round(v * scale) for v in box)
    picture.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([_tool("pdftoppm"), "-png", "-singlefile", "-r", str(PICTURE_DPI),
                    "-f", str(page), "-l", str(page), "-x", str(x0), "-y", str(y0),
                    "-W", str(x1 - x0), "-H", str(y1 - y0), str(pdf),
                    str(picture.with_suffix(""))], check=True)
    return picture


def picture_boxes(pdf: Path, page: int, workbook: Path
                  ) -> tuple[tuple[float, ...], tuple[float, ...] | None]:
    """The boxes (points) of the Summary's table, up to the provider_result column, and
    of its charts: the charts are the rightmost objects on the page, as wide as their
    anchors in the workbook."""
    words = _words(pdf, page)
    width, height = _page_size(pdf, page)
    header_y = min(y0 for x0, y0, x1, y1, text in words)
    header = sorted((x0, text) for x0, y0, x1, y1, text in words if y0 == header_y)
    names = [text for x0, text in header]
    right = (header[names.index("provider_result") + 1][0] - 4
             if "provider_result" in names[:-1] else width)
    bottom = max(y1 for x0, y0, x1, y1, text in words if x1 <= right)
    table = (0.0, 0.0, right, min(bottom + 6, height))
    summary = openpyxl.load_workbook(workbook)["Summary"]
    extents = [chart.anchor.ext.width / EMU_PER_POINT for chart in summary._charts
               if getattr(chart.anchor, "ext", None) is not None]
    if not extents:
        return table, None
    return table, (max(width - max(extents) - 12, right), 0.0, width, height)


def check(workbook: Path, out_dir: Path, picture: Path | None = None,
          chart_picture: Path | None = None) -> list[str]:
    """Render the workbook and return what failed (empty when all checks pass).

    Parameters
    ----------
    workbook : Path
        A comparison workbook written by ``fundcalc compare``.
    out_dir : Path
        Where the PDF, the PNG pages and the round-tripped .xlsx are written.
    picture, chart_picture : Path, optional
        Where to write the crops of the Summary's table and charts.

    Returns
    -------
    list of str
        One line per failed check.
    """
    pdf = to_pdf(workbook, out_dir)
    texts = page_texts(pdf)
    header, expected = summary_expectations(workbook)
    page = summary_page(texts, header)
    failures = [f"the Summary page (page {page}) does not show {item!r}"
                for item in expected if item not in texts[page - 1]]
    render_pages(pdf, out_dir)
    if picture is not None:
        table, charts = picture_boxes(pdf, page, workbook)
        crop(pdf, page, table, picture)
        if chart_picture is not None and charts is not None:
            crop(pdf, page, charts, chart_picture)
    round_trip = convert(workbook, out_dir / "round_trip", "xlsx:Calc MS Excel 2007 XML")
    before, after = charts_in(workbook), charts_in(round_trip)
    if not before:
        failures.append(f"{workbook} has no charts to check")
    if before != after:
        failures.append(f"the charts changed in LibreOffice's round trip: {before} became "
                        f"{after}")
    return failures


def main(argv: list[str] | None = None) -> int:
    """Run the checks on the command line; the exit status says how they went."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workbook", type=Path, help="The comparison workbook (.xlsx).")
    parser.add_argument("--out", type=Path, default=Path("rendered"),
                        help="Folder for the PDF, PNG pages and round-tripped .xlsx.")
    parser.add_argument("--picture", type=Path, help="Write the Summary table's picture here.")
    parser.add_argument("--chart-picture", type=Path,
                        help="Write the Summary charts' picture here.")
    args = parser.parse_args(argv)
    try:
        failures = check(args.workbook, args.out, args.picture, args.chart_picture)
    except (RenderError, subprocess.SubprocessError) as error:
        print(f"render_workbook: {error}", file=sys.stderr)
        return 2
    for failure in failures:
        print(f"render_workbook: {failure}", file=sys.stderr)
    if not failures:
        print(f"{args.workbook}: the Summary's contracts and figures are on the rendered page "
              f"and the charts survive LibreOffice's round trip; pages in {args.out}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
