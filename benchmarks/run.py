"""Time fundcalc against the alternatives on sample claims of growing size.

Run from the repository's root::

    python benchmarks/run.py                 # every size
    python benchmarks/run.py --sizes 100k    # one size, for a quick look

Inputs are written once into ``benchmarks/data/`` with ``fundcalc sample`` (xlsx at
100 000 and 1 000 000 claim lines, Parquet at 1 000 000 and 10 000 000). Each measurement
runs twice, each time in a process of its own; the table gives the faster wall time and
the larger peak memory (maximum resident set size), and the ratios the targets of the README's performance section are
stated in. ``fundcalc compare`` runs with its default engine (``auto``: out of core from
2 million Parquet lines); Parquet inputs are also run with each engine named. The table
is printed and written to ``benchmarks/results.md``; ``benchmarks/out_of_core.py`` appends
the 50M-line out-of-core run to it.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
RESULTS = HERE / "results.md"

#: Claim lines per member over three years of the sample (fileio.sample_data).
LINES_PER_MEMBER = 3 * 11.1

#: name -> (claim lines, format)
SIZES = {
    "100k": (100_000, "xlsx"),
    "1M": (1_000_000, "xlsx"),
    "1M-parquet": (1_000_000, "parquet"),
    "10M-parquet": (10_000_000, "parquet"),
}

FLOOR_XLSX = """
import sys, fastexcel
table = fastexcel.read_excel(sys.argv[1]).load_sheet("claims").to_arrow()
print(table.num_rows)
"""

PANDAS_XLSX = """
import sys, pandas as pd
claims = pd.read_excel(sys.argv[1], sheet_name="claims")
print(claims.groupby(["member_id", "domain"])["amount"].sum().size)
"""

ARROW_PARQUET = """
import sys, pyarrow.parquet as pq
claims = pq.read_table(sys.argv[1]).to_pandas()
print(claims.groupby(["member_id", "domain"])["amount"].sum().size)
"""


def measure(command: list[str], runs: int = 2) -> tuple[float, float]:
    """Run ``command`` ``runs`` times; the fastest wall time in seconds (the first run
    also pays for reading the files from disk into the cache) and the largest peak
    memory in MB: of the process and the processes it starts together (fundcalc reads a
    workbook in a child process), sampled every 20 ms, and never less than the
    process's own peak."""
    times, peaks = [], []
    for _ in range(runs):
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        sampled = [0]
        sampler = threading.Thread(target=_sample_memory, args=(process.pid, sampled))
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        times.append(time.perf_counter() - start)
        sampler.join()
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {process.stderr.read().decode()}")
        peaks.append(max(usage.ru_maxrss / 1024, sampled[0] / 1024))
    return min(times), max(peaks)


def _sample_memory(pid: int, peak: list[int]) -> None:
    """Keep in ``peak[0]`` the largest resident memory (KiB) of ``pid`` and its
    descendants together, read from /proc every 20 ms until ``pid`` ends."""
    while True:
        total = _resident_kib(pid)
        if total is None:
            return
        peak[0] = max(peak[0], total)
        time.sleep(0.02)


def _resident_kib(pid: int) -> int | None:
    """Resident memory (KiB) of ``pid`` and its descendants; None once ``pid`` has ended
    (or /proc cannot be read)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            fields = dict(line.split(":", 1) for line in status if ":" in line)
        if fields.get("State", "").strip().startswith("Z"):
            return None
        own = int(fields.get("VmRSS", "0 kB").split()[0])
        children = []
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as listed:
                children += [int(child) for child in listed.read().split()]
    except (OSError, ValueError):
        return None
    return own + sum(_resident_kib(child) or 0 for child in children)


def sample(name: str) -> Path:
    """The folder of one size's inputs, written on first use."""
    lines, kind = SIZES[name]
    return sample_of(DATA / name, max(1, round(lines / LINES_PER_MEMBER)), kind)


def sample_of(folder: Path, members: int, kind: str) -> Path:
    """``folder``, holding ``fundcalc sample``'s inputs for ``members`` members in
    ``kind`` files (written on first use, without faulty rows)."""
    if not (folder / "contracts.yaml").exists():
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "cli", "sample", "-o", str(folder),
                        "--members", str(members), "--format", kind, "--no-bad-rows"],
                       check=True, stdout=subprocess.DEVNULL)
    return folder


#: The tables besides the claims, given to compare as Parquet files.
TABLES = ("members", "enrollment", "attribution", "fee_schedule")


def table_options(folder: Path) -> list[str]:
    """compare's options naming ``folder``'s Parquet tables besides the claims."""
    return [arg for t in TABLES for arg in (f"--{t.replace('_', '-')}",
                                            str(folder / f"{t}.parquet"))]


def compare_command(folder: Path, kind: str) -> list[str]:
    command = [sys.executable, "-m", "cli", "compare", "--quiet",
               "--contracts", str(folder / "contracts.yaml"), "-o", str(folder / "out.xlsx")]
    if kind == "xlsx":
        return command + [str(folder / "claims.xlsx")]
    return command + [str(folder / "claims.parquet"), *table_options(folder)]


def append_results(text: str) -> None:
    """Print ``text`` and add it to :data:`RESULTS`."""
    print(text)
    with RESULTS.open("a", encoding="utf-8") as results:
        results.write(text)


def contracts_file(folder: Path, count: int) -> Path:
    """The sample contracts repeated (each copy renamed) or cut to ``count`` contracts,
    without scenarios: what many contracts cost against few on the same ledger."""
    import yaml

    terms = yaml.safe_load((folder / "contracts.yaml").read_text(encoding="utf-8"))
    base = terms["contracts"]
    terms["contracts"] = [{**base[i % len(base)], "name": f"{base[i % len(base)]['name']} #{i}"}
                          for i in range(count)]
    terms.pop("scenarios", None)
    path = folder / f"contracts_{count}.yaml"
    path.write_text(yaml.safe_dump(terms, sort_keys=False), encoding="utf-8")
    return path


def with_contracts(command: list[str], path: Path) -> list[str]:
    position = command.index("--contracts") + 1
    return [*command[:position], str(path), *command[position + 1:]]


def run_size(name: str, skip_pandas: bool) -> list[tuple[str, float, float]]:
    lines, kind = SIZES[name]
    folder = sample(name)
    command = compare_command(folder, kind)
    rows = [("fundcalc compare", *measure(command))]
    if kind == "parquet":
        for engine in ("memory", "duckdb"):
            rows.append((f"fundcalc compare --engine {engine}",
                         *measure(command + ["--engine", engine])))
    if name == "1M-parquet":
        for count in (5, 50):
            rows.append((f"fundcalc compare, {count} contracts, no scenario",
                         *measure(with_contracts(command, contracts_file(folder, count)))))
    if kind == "xlsx":
        claims = str(folder / "claims.xlsx")
        rows.append(("fastexcel read (floor)", *measure([sys.executable, "-c", FLOOR_XLSX,
                                                         claims])))
        if not skip_pandas:
            rows.append(("pandas read_excel + groupby",
                         *measure([sys.executable, "-c", PANDAS_XLSX, claims])))
    else:
        rows.append(("pyarrow read + groupby", *measure([sys.executable, "-c", ARROW_PARQUET,
                                                         str(folder / "claims.parquet")])))
    return rows


def table(results: dict[str, list[tuple[str, float, float]]]) -> str:
    lines = ["| input | what | seconds | peak MB | compare ÷ this |",
             "|---|---|---:|---:|---:|"]
    for name, rows in results.items():
        compare_seconds = rows[0][1]
        for what, seconds, peak in rows:
            ratio = ("" if what.startswith("fundcalc compare")
                     else f"{compare_seconds / seconds:.2f}")
            lines.append(f"| {name} | {what} | {seconds:.2f} | {peak:,.0f} | {ratio} |")
    for name, rows in results.items():
        if SIZES[name][1] == "parquet":
            arrow = arrow_size(sample(name) / "claims.parquet") / 2**20
            peaks = ", ".join(f"{what} {peak / arrow:.1f} x" for what, _, peak in rows
                              if what.startswith("fundcalc compare") and "contracts" not in what)
            lines += ["", f"{name}: the claims take {arrow:,.0f} MB as Arrow columns; peak "
                          f"memory against that: {peaks}."]
    many = {what: seconds for rows in results.values() for what, seconds, _ in rows}
    few, more = (many.get(f"fundcalc compare, {n} contracts, no scenario") for n in (5, 50))
    if few and more:
        lines += ["", f"50 contracts take {more / few:.2f} x the time of 5 on the same "
                      "1M-line input (the ledger is built once)."]
    return "\n".join(lines)


def arrow_size(*paths: Path) -> int:
    """The bytes Parquet files take as Arrow columns."""
    import pyarrow.parquet as pq

    return sum(pq.read_table(path).nbytes for path in paths)


def machine() -> str:
    cores = os.cpu_count()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{platform.processor() or platform.machine()}, {cores} cores, {memory:.0f} GiB, "
            f"Python {platform.python_version()}, {platform.system()} {platform.release()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(SIZES),
                        help=f"comma-separated, of {', '.join(SIZES)}")
    parser.add_argument("--pandas-all", action="store_true",
                        help="time pandas' read_excel at every xlsx size, not only at 100k "
                             "(it takes minutes at 1M lines)")
    parser.add_argument("--clean", action="store_true", help="write the inputs afresh")
    args = parser.parse_args()
    if args.clean and DATA.exists():
        shutil.rmtree(DATA)
    results = {}
    for name in args.sizes.split(","):
        name = name.strip()
        results[name] = run_size(name, skip_pandas=SIZES[name][0] > 100_000
                                 and not args.pandas_all)
        print(f"{name}: done", file=sys.stderr)
    text = (f"Measured {time.strftime('%Y-%m-%d')} on {machine()}.\n\n{table(results)}\n")
    print(text)
    RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
