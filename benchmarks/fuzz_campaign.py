"""A long fuzzing campaign (issue 8): damaged claims tables through the whole run.

    python benchmarks/fuzz_campaign.py [--examples 10000] [--workbook-every 20] [--seed 1]

Each example is drawn by ``tests/fuzz_claims.py`` (the same strategy as the short run in
``tests/test_fuzz.py``): a good claims table damaged in its cells, header, rows and bytes,
written as CSV, xlsx or Parquet, settled under contracts of all four models, and every
``--workbook-every``-th one also written to a comparison workbook. An example must end
settled with rows and cents reconciling, or refused with one clear sentence. Anything else
is a finding: the campaign records it and goes on, then prints the counts and one example
of each distinct finding, and exits 1 if there was any.
"""
from __future__ import annotations

import argparse
import collections
import re
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402

from fuzz_claims import damaged_file, run_and_check  # noqa: E402


def campaign(examples: int, workbook_every: int, random_seed: int) -> int:
    """Run the campaign and print what it found; the exit status (1 when anything was
    found)."""
    outcomes: collections.Counter = collections.Counter()
    refusals: collections.Counter = collections.Counter()
    findings: dict[str, tuple[int, str]] = {}
    count = 0
    started = time.monotonic()

    @seed(random_seed)
    @settings(max_examples=examples, deadline=None, database=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(damaged=damaged_file())
    def one(damaged):
        nonlocal count
        count += 1
        with tempfile.TemporaryDirectory() as folder:
            try:
                outcome, message = run_and_check(Path(folder), damaged,
                                                 workbook=count % workbook_every == 0)
                if message:
                    refusals[_kind_of(message, folder)] += 1
            except Exception as error:  # a finding: kept, and the campaign goes on
                where = traceback.extract_tb(error.__traceback__)[-1]
                key = f"{type(error).__name__} at {Path(where.filename).name}:{where.lineno}"
                number, _ = findings.get(key, (0, ""))
                findings[key] = (number + 1, f"{error!s:.300}\n    example: {damaged!r:.600}")
                outcome = "finding"
        outcomes[(damaged.kind, damaged.byte_damage is not None, outcome)] += 1
        if count % 500 == 0:
            print(f"{count:,} examples, {time.monotonic() - started:,.0f} s", flush=True)

    one()
    print(f"\n{count:,} examples in {time.monotonic() - started:,.0f} s "
          f"(seed {random_seed}, a workbook written every {workbook_every})")
    print("format  damaged bytes  outcome    examples")
    for (kind, bytes_damaged, outcome), number in sorted(outcomes.items()):
        print(f"{kind:8}{str(bytes_damaged):15}{outcome:11}{number:8,}")
    print("\nrefusals, by their message's opening words:")
    for text, number in refusals.most_common():
        print(f"{number:8,}  {text}")
    print(f"\nfindings: {len(findings)}")
    for key, (number, text) in findings.items():
        print(f"- {key} ({number}x): {text}")
    return 1 if findings else 0


def _kind_of(message: str, folder: str) -> str:
    """A refusal's message without the file's path, cut before its details."""
    text = message.replace(str(Path(folder).resolve()), "").replace(folder, "")
    text = text.lstrip("/").split(": ", 1)[-1]
    return re.split(r"[(;]", text)[0].strip()[:70]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10_000)
    parser.add_argument("--workbook-every", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    arguments = parser.parse_args()
    sys.exit(campaign(arguments.examples, arguments.workbook_every, arguments.seed))


if __name__ == "__main__":
    main()
