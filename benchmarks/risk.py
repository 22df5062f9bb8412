"""The bootstrap's cost: ``compare --bootstrap 1000`` against a plain ``compare`` of the
same 100 000-member sample (issue 9's target: at most 3 x).

Run from the repository's root::

    python benchmarks/risk.py                    # 100 000 members, 1 000 replicates
    python benchmarks/risk.py --replicates 200   # a quicker look

The input is written once into ``benchmarks/data/100k-members-parquet/`` with ``fundcalc
sample`` (Parquet, about 3.3 million claim lines over three years); the contracts are the
sample's, all four models and a scenario. Each run is a process of its own (wall time and
peak memory as in ``benchmarks/run.py``); the table is printed and appended to
``benchmarks/results.md``.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import DATA, append_results, compare_command, machine, measure, sample_of  # noqa: E402

MEMBERS = 100_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=MEMBERS)
    parser.add_argument("--replicates", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=2,
                        help="runs of each command; the fastest counts")
    args = parser.parse_args()
    folder = sample_of(DATA / f"{args.members // 1000}k-members-parquet", args.members,
                       "parquet")
    plain = compare_command(folder, "parquet")
    bootstrapped = [*plain, "--bootstrap", str(args.replicates), "--seed", "1"]
    rows = []
    # Without --null the sample's historical benchmarks and prices are not redrawn (blank
    # with the reason); with it every population contract is, but not fee-for-service.
    for what, command in (("fundcalc compare", plain),
                          (f"fundcalc compare --bootstrap {args.replicates:,}", bootstrapped),
                          (f"fundcalc compare --bootstrap {args.replicates:,} --null",
                           [*bootstrapped, "--null"])):
        seconds, peak = measure(command, runs=args.repeat)
        rows.append((what, seconds, peak))
        print(f"{what}: {seconds:.2f} s, {peak:,.0f} MB", file=sys.stderr)
    ratio = max(seconds for _, seconds, _ in rows[1:]) / rows[0][1]
    text = "\n".join([
        "", f"Bootstrap, measured {time.strftime('%Y-%m-%d')} on {machine()}: "
            f"{args.members:,}-member sample (Parquet), fastest of {args.repeat} runs.", "",
        "| what | seconds | peak MB |", "|---|---:|---:|",
        *(f"| {what} | {seconds:.2f} | {peak:,.0f} |" for what, seconds, peak in rows), "",
        f"The slower bootstrap costs {ratio:.2f} x a plain compare (target: at most 3 x).",
        ""])
    append_results(text)


if __name__ == "__main__":
    main()
