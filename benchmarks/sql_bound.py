"""How fast the 10M-line claims could be checked and summed in DuckDB SQL alone: a bound.

This is not fundcalc. It answers one question of issue 7: would moving the cell checks
and the id numbering into DuckDB SQL (a second implementation of the rules) bring
``compare`` on 10M Parquet lines within 3 x pyarrow's read and groupby?

It does less than fundcalc does, so its time is a lower bound for that route: ids are
numbered by joins, cells are checked only for what a typed Parquet file can hold wrong
(blanks, dates out of range, amounts that are not finite or sit on a half cent, and
nothing is said of why a line fails), each line keeps its row number, enrollment is
found by an ASOF join, repeated claim keys are counted by hash, and the lines are summed
and ordered as fundcalc's ledger rows are (every care code kept). There is no reconciliation per file, no list of rejected
rows, and no settlement or workbook.

Run ``python benchmarks/run.py --sizes 10M-parquet`` first (it writes the input), then
``python benchmarks/sql_bound.py [--memory-limit 1GB]``.
"""
from __future__ import annotations

import argparse
import time

import duckdb

from run import DATA as RUN_DATA  # this folder's benchmark, which writes the input

DATA = RUN_DATA / "10M-parquet"

MEMBERS = """
CREATE TABLE members AS
SELECT member_id, (row_number() OVER (ORDER BY member_id) - 1)::INTEGER AS member_key
FROM (SELECT DISTINCT member_id FROM '{data}/members.parquet');
CREATE TABLE spans AS
SELECT m.member_key, e.enrollment_start AS first_day,
       coalesce(e.enrollment_end, DATE '9999-12-31') AS last_day
FROM '{data}/enrollment.parquet' e JOIN members m USING (member_id);
"""

#: Each id column numbered in sorted order, joined back to the lines.
_NUMBERED = """{column}_keys AS (
    SELECT {column}, (row_number() OVER (ORDER BY {column}) - 1)::INTEGER AS {column}_key
    FROM (SELECT DISTINCT {column} FROM '{data}/claims.parquet'))"""

LINES = """
CREATE TEMP TABLE lines AS
WITH {numbered}, keyed AS (
    SELECT file_row_number AS row, hash(claim_id, line) AS claim_key, m.member_key, provider_id_key,
           domain_key, care_code_key, service_date, quantity::DOUBLE AS quantity,
           round(amount * 100)::BIGINT AS amount, year(service_date)::INTEGER AS year,
           (claim_id IS NOT NULL AND length(trim(claim_id)) > 0 AND line IS NOT NULL
            AND provider_id IS NOT NULL AND length(trim(provider_id)) > 0
            AND service_date BETWEEN DATE '1900-01-01' AND DATE '2100-12-31'
            AND isfinite(amount) AND abs(amount) <= 1e9
            AND abs(abs(amount * 100 - floor(amount * 100)) - 0.5) >= 1e-6
            AND quantity IS NOT NULL AND domain IS NOT NULL AND care_code IS NOT NULL
           ) AS fine
    FROM read_parquet('{data}/claims.parquet', file_row_number = true)
         LEFT JOIN members m USING (member_id) LEFT JOIN provider_id_keys USING (provider_id)
         LEFT JOIN domain_keys USING (domain) LEFT JOIN care_code_keys USING (care_code)
)
SELECT k.*, (s.last_day IS NOT NULL AND k.service_date <= s.last_day) AS enrolled
FROM keyed k ASOF LEFT JOIN spans s
     ON k.member_key = s.member_key AND k.service_date >= s.first_day
"""

REPEATED_KEYS = ("SELECT count(*) FROM (SELECT claim_key FROM lines GROUP BY claim_key "
                 "HAVING count(*) > 1)")

LEDGER_ROWS = """
SELECT member_key, provider_id_key, domain_key, care_code_key, year, enrolled,
       max(service_date) AS service_date, sum(quantity) AS quantity,
       sum(amount)::BIGINT AS amount, count(*)::INTEGER AS lines
FROM lines WHERE fine
GROUP BY member_key, provider_id_key, domain_key, care_code_key, year, enrolled, amount < 0
ORDER BY member_key, year, provider_id_key, domain_key, care_code_key, enrolled,
         service_date, amount, quantity
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memory-limit", default="1GB",
                        help="DuckDB's memory limit (fundcalc's default is 1GB)")
    memory_limit = parser.parse_args().memory_limit
    numbered = ", ".join(_NUMBERED.format(column=c, data=DATA)
                         for c in ("provider_id", "domain", "care_code"))
    stages = [("members and enrollment", lambda c: c.execute(MEMBERS.format(data=DATA))),
              ("check, number, enrollment", lambda c: c.execute(
                  LINES.format(numbered=numbered, data=DATA))),
              ("repeated keys", lambda c: c.sql(REPEATED_KEYS).fetchall()),
              ("ledger rows", lambda c: c.sql(LEDGER_ROWS).to_arrow_table())]
    connection = duckdb.connect(":memory:", config={"memory_limit": memory_limit,
                                                    "preserve_insertion_order": False})
    total = 0.0
    for name, stage in stages:
        start = time.perf_counter()
        stage(connection)
        took = time.perf_counter() - start
        total += took
        print(f"{name:28} {took:6.2f} s")
    print(f"{'total (memory limit ' + memory_limit + ')':28} {total:6.2f} s")


if __name__ == "__main__":
    main()
