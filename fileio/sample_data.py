"""A synthetic Dutch insurer's claims data, for the sample workbook, tests and benchmarks.

:func:`generate_sample` draws members, enrollment, GP attribution, a fee schedule and claim
lines with the columns of SPEC §1; :func:`write_sample` writes them as ``claims.xlsx`` (one
sheet per table), CSV or Parquet files, together with a sample ``contracts.yaml`` and the
same contracts as a workbook, ``contracts.xlsx``.

The data are made up but shaped like the real thing: utilisation rises with age, chronic
conditions and a member's (hidden) frailty; a few members cost more than €50 000 a year;
hospitals bill negotiated prices that differ from the fee schedule; some hospital codes
have no tariff at all; some lines are reversed by a correction line; and in the last year
low-complex dermatology moves from HOSP_A to the GP practices (a mild waterbed). Every draw
is vectorised over members, claims and lines, so a hundred thousand members take a few
seconds, and the same seed gives the same tables.
"""
from __future__ import annotations

import datetime as dt
import zipfile
from importlib import resources
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import yaml

__all__ = [
    "BAD_ROWS",
    "CARE_CODES",
    "CONDITIONS",
    "CONTRACTS_YAML",
    "DOMAINS",
    "GP_PRACTICES",
    "HOSPITALS",
    "LINES_PER_MEMBER_YEAR",
    "PROVIDERS",
    "TABLES",
    "generate_sample",
    "write_sample",
]

#: The tables :func:`generate_sample` returns, with their columns (SPEC §1), in order.
TABLES: dict[str, tuple[str, ...]] = {
    "claims": ("claim_id", "line", "member_id", "provider_id", "service_date", "domain",
               "care_code", "quantity", "amount", "paid_date"),
    "members": ("member_id", "birth_date", "sex", "segment", "enrollment_start",
                "enrollment_end", "attributed_provider", "risk_score", "conditions"),
    "enrollment": ("member_id", "enrollment_start", "enrollment_end"),
    "attribution": ("member_id", "year", "provider_id"),
    "fee_schedule": ("care_code", "tariff"),
}

#: Claim lines per member-year, approximately (measured: 11.06 for 3 000 members, 11.14
#: for 100 000, 2022-2024, corrections included), with the generator's mix of ages (about
#: 21% youth, 57% adults, 22% elderly). A benchmark wanting N lines over Y years asks for
#: ``members = round(N / (LINES_PER_MEMBER_YEAR * Y))``: 1 million lines over three years
#: is about 30 000 members, 10 million about 300 000.
LINES_PER_MEMBER_YEAR = 11.1

DOMAINS = ("hospital", "gp", "mental_health", "pharmacy", "paramedical", "lab")
CONDITIONS = ("diabetes", "copd", "heart_failure", "depression")
SEGMENTS = ("youth", "adults", "elderly")

HOSPITALS = ("HOSP_A", "HOSP_B", "HOSP_C")
GP_PRACTICES = ("GP_N1", "GP_N2", "GP_S", "GP_E", "GP_W", "GP_C")
PROVIDERS = HOSPITALS + GP_PRACTICES + (
    "CARE_GROUP", "PHARM_1", "PHARM_2", "MH_1", "MH_2", "PARA_1", "PARA_2", "LAB_1")

#: Care codes: (code, domain, tariff per unit or ``None`` when the fee schedule lacks it,
#: description). Tariffs are in euros.
CARE_CODES: tuple[tuple[str, str, float | None, str], ...] = (
    # hospital: DBC-like products; hospitals bill negotiated prices around the tariff
    ("H100", "hospital", 180.00, "outpatient visit"),
    ("H110", "hospital", 520.00, "outpatient diagnostic trajectory"),
    ("H200", "hospital", 950.00, "day treatment"),
    ("H210", "hospital", 290.00, "imaging (CT/MRI)"),
    ("H300", "hospital", 3400.00, "short admission"),
    ("H400", "hospital", 14500.00, "long admission"),
    ("H500", "hospital", 16000.00, "major surgery"),
    ("DERM1", "hospital", 165.00, "dermatology, low-complex outpatient"),
    ("DERM2", "hospital", 410.00, "dermatology, low-complex with procedure"),
    ("HIP01", "hospital", 10800.00, "total hip replacement (episode trigger)"),
    ("HIP02", "hospital", 15600.00, "hip revision (episode trigger)"),
    ("HFU", "hospital", 210.00, "orthopaedic follow-up visit"),
    ("H900", "hospital", None, "add-on expensive medicine (not in fee schedule)"),
    ("H910", "hospital", None, "intensive care day (not in fee schedule)"),
    ("H920", "hospital", None, "other care product (not in fee schedule)"),
    # gp
    ("GP01", "gp", 35.00, "consult"),
    ("GP02", "gp", 55.00, "long consult"),
    ("GP03", "gp", 70.00, "home visit"),
    ("GP04", "gp", 95.00, "minor surgical procedure"),
    ("DERM_GP", "gp", 65.00, "dermatology in primary care"),
    ("G999", "gp", 45.00, "practice nurse mental health (capitation carve-out example)"),
    # mental health
    ("MH01", "mental_health", 260.00, "intake"),
    ("MH02", "mental_health", 125.00, "treatment session"),
    ("MH03", "mental_health", 1450.00, "basic mental health trajectory"),
    ("MH04", "mental_health", 5200.00, "specialist trajectory"),
    ("MH05", "mental_health", 12000.00, "clinical admission"),
    # pharmacy: reference prices; pharmacies' amounts vary around them
    ("P1001", "pharmacy", 14.00, "cardiovascular, generic"),
    ("P1002", "pharmacy", 18.00, "oral antidiabetic"),
    ("P1003", "pharmacy", 42.00, "inhaler"),
    ("P1004", "pharmacy", 12.00, "antidepressant"),
    ("P1005", "pharmacy", 8.00, "analgesic"),
    ("P1006", "pharmacy", 10.00, "antibiotic"),
    ("P2001", "pharmacy", 95.00, "anticoagulant (DOAC)"),
    ("P2002", "pharmacy", 120.00, "insulin"),
    ("P3001", "pharmacy", 950.00, "specialty medicine"),
    # paramedical
    ("PT01", "paramedical", 36.00, "physiotherapy session"),
    ("PT02", "paramedical", 32.00, "exercise therapy session"),
    ("PT03", "paramedical", 42.00, "manual therapy session"),
    ("DIET", "paramedical", 40.00, "dietetics consult"),
    ("REHAB", "paramedical", 48.00, "post-operative rehabilitation session"),
    # lab
    ("LAB01", "lab", 14.00, "basic panel"),
    ("LAB02", "lab", 38.00, "extended panel"),
    ("LAB03", "lab", 115.00, "specialist test"),
    # care group chain care (diabetes, COPD), billed by CARE_GROUP
    ("KZ_DM", "gp", 98.00, "diabetes chain care, quarterly GP module"),
    ("KZ_DM_LAB", "lab", 22.00, "diabetes chain care, lab"),
    ("KZ_DM_POD", "paramedical", 38.00, "diabetes chain care, podiatry"),
    ("KZ_COPD", "gp", 72.00, "COPD chain care, quarterly GP module"),
    ("KZ_COPD_PT", "paramedical", 40.00, "COPD chain care, physiotherapy"),
)

#: The faults appended to the claims table when ``bad_rows=True``, in order:
#: (fault, what a reader should do with the row(s)).
BAD_ROWS: tuple[tuple[str, str], ...] = (
    ("amount is the text 'abc'", "reject"),
    ("member_id blank", "reject"),
    ("service_date is the text '31/02/<last year>'", "reject"),
    ("quantity -1", "reject"),
    ("exact duplicate: two identical rows with the same claim_id and line", "keep one"),
    ("same claim_id and line, different amounts (two rows)", "reject both"),
    ("member_id not in the members table", "reject: member not in the members table"),
    ("domain blank", "reject"),
    ("service_date after the member's enrollment ended", "keep; not in population spend"),
    ("amount blank", "reject"),
)

#: The sample contracts (SPEC §3), figures chosen from the default sample
#: (``generate_sample()``: 3 000 members, 2022-2024, seed 7).
CONTRACTS_YAML = """\
# Sample contracts for the sample claims (fundcalc sample: 3 000 members, 2022-2024, seed 7):
# fee-for-service (SPEC 4.1), shared savings (4.2) and capitation (4.3). For
# fee-for-service, "gross" below is the sum of line values of the provider's in-scope lines
# in the year: tariff x quantity where the fee schedule has the code, else the claimed
# amount x price_factor (hospital codes H900, H910, H920 have no tariff), corrections with
# their sign.
currency: EUR
member_months: any_day
contracts:
  # Revenue ceiling with partial claw-back. HOSP_A's 2024 hospital gross is 1 713 367.56,
  # above the ceiling of 1 650 000: 65% of the 63 367.56 excess is clawed back, so HOSP_A
  # is paid 1 672 178.65 (41 188.91 below fee-for-service).
  - name: Hospital A, revenue ceiling
    model: fee_for_service
    provider: HOSP_A
    scope: {domains: [hospital]}
    performance_years: [2024]
    price_factor: 1.0
    revenue_ceiling: 1650000
    clawback_rate: 0.65

  # Degressive tiers: the first 900 000 of HOSP_B's 2024 gross (1 038 016.12) is paid in
  # full and the rest at 80%, so HOSP_B is paid 1 010 412.90 (27 603.22 below gross).
  - name: Hospital B, degressive tiers
    model: fee_for_service
    provider: HOSP_B
    scope: {domains: [hospital]}
    performance_years: [2024]
    degressive_tiers:
      - {up_to: 900000, rate: 1.0}
      - {rate: 0.8}

  # A joint revenue floor for two practices: GP_N1 and GP_N2 together gross about
  # 214 100 on the gp domain in 2024 (chain care is billed by CARE_GROUP, not by them);
  # the floor of 225 000 tops up half the shortfall, about 5 450.
  - name: GP practices North, revenue floor
    model: fee_for_service
    provider: [GP_N1, GP_N2]
    scope: {domains: [gp]}
    performance_years: [2024]
    revenue_floor: 225000
    topup_rate: 0.5

  # A lump sum (aanneemsom) over two years: MH_1 is paid 420 000 a year whatever it bills.
  # It grossed 383 320 in 2023 (the insurer pays 36 680 more than fee-for-service) and
  # 449 435 in 2024 (29 435 less).
  - name: Mental health lump sum
    model: fee_for_service
    provider: MH_1
    scope: {domains: [mental_health]}
    performance_years: [2023, 2024]
    lump_sum: 420000

  # A Dutch-style population contract: the insurer and practices North share the savings
  # on all care of the members attributed to them, above a 2% threshold, and half the
  # losses beyond it up to 3% of the benchmark. The benchmark PMPM is the members' own
  # history: 2022 and 2023 weighted 1:2, trended 4% a year, each member's yearly spend
  # counted up to 50 000. In 2024 the benchmark is 2 204 443.60 (176.43 PMPM x 12 495
  # member months) against 2 096 367.30: savings 108 076.30 (4.90%); 50% of the part
  # above the 2% threshold, (108 076.30 - 44 088.87) x 0.5 = 31 993.71, is shared.
  - name: Practices North population contract
    model: shared_savings
    provider: [GP_N1, GP_N2]
    scope: {domains: all}
    attribution: column
    baseline_years: [2022, 2023]
    baseline_weights: [1, 2]
    trend: 0.04
    truncate_member_spend: 50000
    performance_years: [2024]
    minimum_savings_rate: 0.02
    sharing_basis: above_threshold
    sharing_rate: 0.5
    loss_sharing_rate: 0.5
    loss_cap: 0.03

  # The CMS ENHANCED track's terms (preset mssp_enhanced: 75% of savings from the first
  # dollar once they reach 2%, times quality, times 0.98 sequestration; two-sided) on the
  # members of practices South, East and West, benchmarked on their 2022 PMPM trended 3%
  # and adjusted for the change in their mean risk score (at most 3%). At quality 0.9 the
  # practices earn 71 060.23 in 2023 and 59 352.79 in 2024.
  - name: MSSP ENHANCED look-alike, South, East and West
    preset: mssp_enhanced
    provider: [GP_S, GP_E, GP_W]
    scope: {domains: all}
    baseline_years: [2022]
    trend: 0.03
    risk_adjustment: risk_score
    risk_cap: 0.03
    performance_years: [2023, 2024]
    quality_score: 0.9

  # Capitation for practice South: 20.00 per member per month for the gp and paramedical
  # care of its 499 attributed members (5 865 member months in 2024), scaled by age/sex
  # factors (age_sex_factors.csv, an illustrative table to replace with your own) relative
  # to the whole book: mean factor 1.037, revenue 121 595.32. The practice nurse for mental
  # health (G999, 5 040.00) stays fee-for-service. Their care costs 129 301.00; eight
  # members pass the 1 500 attachment by 2 598.00 in all, of which the insurer pays 90%
  # (2 338.20). The loss after stop-loss, 4.41% of the capitation revenue, lies in the
  # 3-8% corridor band: the insurer pays half of the part above 3%, 859.81. The practice's
  # result: -4 507.67.
  - name: Practice South, risk-adjusted capitation
    model: capitation
    provider: GP_S
    scope: {domains: [gp, paramedical]}
    carve_out_codes: [G999]
    performance_years: [2024]
    rate_pmpm: 20.00
    risk_adjustment: age_sex
    age_sex_factors: age_sex_factors.csv
    stop_loss: {attachment: 1500, insurer_share: 0.9}
    risk_corridors:
      - {from: 0.03, to: 0.08, provider_share: 0.5}
      - {from: 0.08, provider_share: 0.2}

  # Chain care for diabetes (ketenzorg): the care group is paid one price per patient-year
  # for the gp, paramedical and lab care of all members with diabetes, whoever delivers it,
  # and carries the cost (prospective). The price is their own 2022-2023 cost per
  # patient-year, trended 3% a year, less 2%: 1 018.18. 2024: 125.42 patient-years (130
  # members), target 127 696.48 against a cost of 131 903.00: the care group's margin is
  # -4 206.52.
  - name: Care group diabetes bundle
    model: bundled
    provider: CARE_GROUP
    bundle: {kind: condition, condition: diabetes}
    scope: {domains: [gp, paramedical, lab]}
    baseline_years: [2022, 2023]
    trend: 0.03
    performance_years: [2024]
    price: historical
    discount: 0.02
    reconciliation: prospective

  # Hip replacement episodes (as in CMS's BPCI Advanced): a HIP01/HIP02 claim of HOSP_A
  # opens a 90-day episode of hospital, paramedical and gp care. The target is the 2022-
  # 2023 mean episode cost (winsorised at the 1st and 99th percentiles), trended 2%, less
  # 3%: 13 017.47. Claims stay paid; at year end HOSP_A receives the difference. Its five
  # 2024 episodes cost 70 109.67 (winsorised) against 65 087.34: HOSP_A pays back
  # 5 022.33, within the 20% stop-loss. The episode of 21 December runs past the data.
  - name: Hip replacement episodes
    model: bundled
    provider: HOSP_A
    bundle: {kind: episode, trigger_codes: [HIP01, HIP02], window_days: 90}
    scope: {domains: [hospital, paramedical, gp]}
    baseline_years: [2022, 2023]
    performance_years: [2024]
    price: historical
    trend: 0.02
    discount: 0.03
    winsorize: [0.01, 0.99]
    reconciliation: retrospective
    quality_score: 0.95
    stop_gain_rate: 0.20
    stop_loss_rate: 0.20

  # The waterbed: a shared-savings contract on hospital care only, for all members
  # attributed to the six practices. Its hospital savings are partly care that moved to
  # the practices (in the data, a fifth of HOSP_A's low-complex dermatology moves to GP care
  # in 2024; the scenario below moves more). The Spillover sheet sets them against the
  # rise in the other domains (GP spend per member is expected to grow 1% a year, the rest
  # 3%): net insurer savings are well below the savings in scope.
  - name: All practices, hospital-only shared savings
    model: shared_savings
    provider: [GP_N1, GP_N2, GP_S, GP_E, GP_W, GP_C]
    scope: {domains: [hospital]}
    baseline_years: [2022, 2023]
    trend: 0.03
    performance_years: [2024]
    minimum_savings_rate: 0.02
    sharing_rate: 0.5
    spillover: {trends: {gp: 0.01}}

scenarios:
  # Substitution: 30% of HOSP_A's low-complex dermatology in 2024 moves to the member's
  # own practice, where it costs 40% of the hospital price.
  - name: dermatology to primary care
    years: [2024]
    shift: {from: {domain: hospital, care_codes: [DERM1, DERM2], provider: HOSP_A},
            to_domain: gp, to_provider: attributed, to_care_code: DERM_GP,
            fraction: 0.3, cost_ratio: 0.4}
"""

#: One more shared-savings contract, with plurality attribution, for checks that need
#: every way of attributing (the out-of-core engine's tests and benchmark); see
#: :func:`with_plurality_contract`.
PLURALITY_CONTRACT_YAML = """\
  - name: Practices by plurality of GP spend
    model: shared_savings
    provider: [GP_N1, GP_S]
    scope: {domains: all}
    attribution: plurality
    attribution_domains: [gp]
    baseline_years: [2022]
    trend: 0.03
    performance_years: [2023, 2024]
    minimum_savings_rate: 0.01
    sharing_rate: 0.5
"""


def with_plurality_contract(contracts_yaml: str) -> str:
    """The sample's contracts file with :data:`PLURALITY_CONTRACT_YAML` added after its
    last contract."""
    return contracts_yaml.replace("\nscenarios:", "\n" + PLURALITY_CONTRACT_YAML
                                  + "\nscenarios:", 1)

_CODES = tuple(c[0] for c in CARE_CODES)
_CODE = {code: i for i, code in enumerate(_CODES)}
_CODE_DOMAIN = np.array([DOMAINS.index(c[1]) for c in CARE_CODES], dtype=np.int8)
_TARIFF = np.array([np.nan if c[2] is None else c[2] for c in CARE_CODES])
_PROVIDER = {p: i for i, p in enumerate(PROVIDERS)}
_GP_IDS = np.array([_PROVIDER[p] for p in GP_PRACTICES])

# Regular visits: claims per member-year by segment (youth, adults, elderly) before
# frailty, conditions and exposure, and the yearly volume trend.
_VISIT_RATE = {
    "hospital": (0.45, 0.68, 1.70),
    "gp": (2.30, 3.10, 5.60),
    "mental_health": (0.18, 0.18, 0.08),
    "pharmacy": (1.20, 2.20, 5.50),
    "paramedical": (0.30, 0.60, 1.00),
    "lab": (0.12, 0.45, 1.20),
}
_TREND = {"hospital": 0.03, "gp": 0.025, "mental_health": 0.035, "pharmacy": 0.04,
          "paramedical": 0.02, "lab": 0.03}
# How much each condition multiplies a domain's visit rate.
_CONDITION_RATE = {
    "hospital": (1.3, 1.5, 1.8, 1.1),
    "gp": (1.3, 1.3, 1.4, 1.4),
    "mental_health": (1.1, 1.1, 1.2, 6.0),
    "pharmacy": (1.2, 1.2, 1.4, 1.2),
    "paramedical": (1.2, 1.5, 1.3, 1.0),
    "lab": (1.8, 1.2, 1.6, 1.0),
}
# The main care code of a visit, by segment: (codes, youth, adults, elderly probabilities).
_VISIT_CODES = {
    "hospital": (("H100", "H110", "H200", "H210", "H300", "H400", "DERM1", "DERM2", "H920"),
                 (0.48, 0.14, 0.08, 0.06, 0.04, 0.005, 0.10, 0.04, 0.055),
                 (0.40, 0.15, 0.12, 0.08, 0.05, 0.012, 0.08, 0.04, 0.068),
                 (0.36, 0.15, 0.14, 0.08, 0.08, 0.030, 0.07, 0.04, 0.050)),
    "gp": (("GP01", "GP02", "GP03", "GP04", "DERM_GP", "G999"),
           (0.72, 0.12, 0.01, 0.04, 0.07, 0.04),
           (0.62, 0.18, 0.02, 0.05, 0.06, 0.07),
           (0.52, 0.20, 0.16, 0.04, 0.05, 0.03)),
    "mental_health": (("MH01", "MH02", "MH03", "MH04", "MH05"),
                      (0.18, 0.52, 0.20, 0.09, 0.01),
                      (0.16, 0.55, 0.18, 0.09, 0.02),
                      (0.18, 0.55, 0.18, 0.07, 0.02)),
    "pharmacy": (("P1001", "P1002", "P1003", "P1004", "P1005", "P1006", "P2001", "P3001"),
                 (0.01, 0.01, 0.16, 0.06, 0.34, 0.41, 0.00, 0.01),
                 (0.14, 0.06, 0.10, 0.12, 0.30, 0.25, 0.02, 0.01),
                 (0.40, 0.12, 0.08, 0.06, 0.16, 0.09, 0.08, 0.01)),
    "paramedical": (("PT01", "PT02", "PT03", "DIET"),
                    (0.55, 0.25, 0.05, 0.15),
                    (0.60, 0.12, 0.18, 0.10),
                    (0.60, 0.20, 0.10, 0.10)),
    "lab": (("LAB01", "LAB02", "LAB03"),
            (0.70, 0.25, 0.05), (0.65, 0.30, 0.05), (0.55, 0.37, 0.08)),
}
# Further lines on a visit's claim: mean number of extra lines and their codes.
_EXTRA_LINES = {
    "hospital": (0.35, ("H210", "H920", "H900"), (0.55, 0.33, 0.12)),
    "gp": (0.05, ("GP04",), (1.0,)),
    "mental_health": (0.0, (), ()),
    "pharmacy": (0.35, ("P1001", "P1003", "P1004", "P1005", "P1006", "P2001"),
                 (0.35, 0.08, 0.10, 0.25, 0.17, 0.05)),
    "paramedical": (0.0, (), ()),
    "lab": (0.3, ("LAB01", "LAB02"), (0.6, 0.4)),
}
# Repeat prescriptions for chronic conditions: claims per year and product.
_CONDITION_PRESCRIPTIONS = {
    "diabetes": (3.0, ("P1002", "P2002"), (0.7, 0.3)),
    "copd": (3.0, ("P1003",), (1.0,)),
    "heart_failure": (5.0, ("P1001", "P2001"), (0.6, 0.4)),
    "depression": (3.0, ("P1004",), (1.0,)),
}
# Quantity per line by code: probabilities of 1, 2 and 3 units.
_QUANTITY = {
    **{c: (0.90, 0.07, 0.03) for c in ("GP01", "GP02", "GP03", "G999")},
    **{c: (0.60, 0.25, 0.15) for c in ("PT01", "PT02", "PT03")},
    **{c: (0.88, 0.10, 0.02) for c in _CODES if c.startswith("P") and c[1:].isdigit()},
    "MH02": (0.85, 0.15, 0.0),
}
# Negotiated price level of each hospital relative to the fee schedule.
_HOSPITAL_PRICE_LEVEL = {"HOSP_A": 1.06, "HOSP_B": 0.96, "HOSP_C": 1.01}
# The hospital a GP practice's patients mostly go to, and pharmacy / paramedical practice.
_REGION = {  # gp practice: (hospital, pharmacy, paramedical)
    "GP_N1": ("HOSP_A", "PHARM_1", "PARA_1"),
    "GP_N2": ("HOSP_A", "PHARM_1", "PARA_1"),
    "GP_S": ("HOSP_B", "PHARM_2", "PARA_2"),
    "GP_E": ("HOSP_C", "PHARM_2", "PARA_1"),
    "GP_W": ("HOSP_B", "PHARM_2", "PARA_2"),
    "GP_C": ("HOSP_A", "PHARM_1", "PARA_1"),
}
_GP_SHARE = (0.20, 0.17, 0.18, 0.15, 0.15, 0.15)

_FIXED_TIMESTAMP = dt.datetime(2024, 1, 1)
_XLSX_MAX_ROWS = 1_048_576
_EPOCH = np.datetime64("1970-01-01", "D")


# --------------------------------------------------------------------------- public API


def generate_sample(members: int = 3000, years: Sequence[int] = (2022, 2023, 2024),
                    seed: int = 7, bad_rows: bool = True) -> dict[str, pd.DataFrame]:
    """Generate a synthetic insurer's claims, members, enrollment, attribution and tariffs.

    Parameters
    ----------
    members : int
        Number of members. Claim lines come to about ``LINES_PER_MEMBER_YEAR`` (11.1)
        per member-year: 3 000 members over three years give about 100 000 lines,
        100 000 members about 3.3 million (a few seconds). Lines grow linearly with
        ``members``; mean claimed amount is about €1 850 per member-year.
    years : sequence of int
        Consecutive calendar years with claims; enrollment spans them.
    seed : int
        Seed of the ``numpy.random.Generator(PCG64(seed))`` every draw comes from; the
        same arguments give equal tables.
    bad_rows : bool
        Append to the claims table the faulty rows listed in :data:`BAD_ROWS` (twelve
        rows, each fault a claim of its own after the last ordinary claim; eleven when no
        member left early). With faults, ``amount`` is an object column of floats, the
        text ``"abc"`` and ``None``, and ``service_date`` an object column of
        ``datetime.date`` values and the text ``"31/02/<last year>"``.

    Returns
    -------
    dict of str to pandas.DataFrame
        ``claims``, ``members``, ``enrollment``, ``attribution`` and ``fee_schedule``, with
        the columns of :data:`TABLES` (SPEC §1), in that order. Dates are ``datetime64``
        columns (but see ``bad_rows``), amounts floats in euros rounded to cents, ids
        and codes text, ``line``, ``quantity`` and ``year`` integers. ``conditions`` is
        missing for members without any.

    Notes
    -----
    Members: age mix like the Dutch population; conditions (diabetes, COPD, heart
    failure, depression) more prevalent with age; ``risk_score`` mean 1, higher for the
    elderly and the chronically ill. About 7% join and 6% leave during the period; 5% have
    a gap of one to six months (two ``enrollment`` rows). About 6% change GP practice at
    each new year. Claims fall only on enrolled days; visits per member-year are Poisson
    with a gamma frailty per member and year, trended 2-4% a year by domain. Rare events
    give the heavy tail: hip replacements (HIP01/HIP02) followed within 90 days by
    rehabilitation (REHAB) and follow-up visits (HFU), catastrophic admissions with
    intensive care, and chronic expensive medicine. CARE_GROUP bills quarterly chain care
    for diabetes and COPD. About 0.5% of lines are followed by a correction line that
    reverses them. In the last year a fifth of HOSP_A's low-complex dermatology (DERM1,
    DERM2) moves to the member's GP practice as DERM_GP.

    Examples
    --------
    >>> tables = generate_sample(members=200, years=(2023, 2024), seed=1)
    >>> sorted(tables)
    ['attribution', 'claims', 'enrollment', 'fee_schedule', 'members']
    >>> list(tables["fee_schedule"].columns)
    ['care_code', 'tariff']
    """
    years = tuple(int(y) for y in years)
    if members < 1:
        raise ValueError(f"members must be at least 1, not {members}")
    if not years or list(years) != list(range(years[0], years[0] + len(years))):
        raise ValueError(f"years must be consecutive calendar years in order, not {years}")
    rng = np.random.Generator(np.random.PCG64(seed))

    people = _draw_members(rng, members, years)
    lines = _draw_claim_lines(rng, people, years)
    claims = _claims_frame(lines, people)
    if bad_rows:
        claims = _append_bad_rows(claims, people, years)
    return {
        "claims": claims,
        "members": _members_frame(people),
        "enrollment": _enrollment_frame(people),
        "attribution": _attribution_frame(people, years),
        "fee_schedule": _fee_schedule_frame(),
    }


def write_sample(directory, members: int = 3000, years: Sequence[int] = (2022, 2023, 2024),
                 seed: int = 7, formats: Sequence[str] = ("xlsx",),
                 bad_rows: bool = True) -> list[Path]:
    """Write a generated sample and the sample ``contracts.yaml`` into ``directory``.

    Parameters
    ----------
    directory : str or Path
        Where to write; created if missing. Existing files of the same name are replaced.
    members, years, seed, bad_rows
        As for :func:`generate_sample`.
    formats : sequence of {"xlsx", "csv", "parquet"}
        ``xlsx`` writes ``claims.xlsx`` with a sheet per table (dates as Excel dates,
        amounts as numbers, the same bytes for the same arguments apart from zip entry
        times); ``csv`` and ``parquet`` write one file per table (``claims.csv``,
        ``members.csv``, ...). In CSV and Parquet dates are ISO ``YYYY-MM-DD``; a Parquet
        column holding a faulty text value (``amount``, ``service_date`` with
        ``bad_rows``) is stored as text.

    Returns
    -------
    list of Path
        The files written: the tables, ``age_sex_factors.csv`` (the example table the
        capitation contract reads), ``contracts.xlsx`` (the same contracts as a workbook,
        one row per contract, a comment on each column saying what it holds) and
        ``contracts.yaml`` last.

    Raises
    ------
    ValueError
        For an unknown format, or when ``xlsx`` is asked for and the claims would not fit
        on one sheet (1 048 576 rows).

    Examples
    --------
    >>> import tempfile
    >>> paths = write_sample(tempfile.mkdtemp(), members=100, formats=("csv",))
    >>> [p.name for p in paths][:2]
    ['claims.csv', 'members.csv']
    """
    formats = tuple(formats)
    unknown = sorted(set(formats) - {"xlsx", "csv", "parquet"})
    if unknown:
        raise ValueError(f"unknown sample format {unknown[0]!r}; use xlsx, csv or parquet")
    tables = generate_sample(members=members, years=years, seed=seed, bad_rows=bad_rows)
    if "xlsx" in formats and len(tables["claims"]) + 1 > _XLSX_MAX_ROWS:
        raise ValueError(
            f"{len(tables['claims']):,} claim lines do not fit on one xlsx sheet "
            f"(at most {_XLSX_MAX_ROWS - 1:,} rows below the header); "
            "ask for fewer members or write csv or parquet")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in formats:
        if kind == "xlsx":
            written.append(_write_xlsx(tables, directory / "claims.xlsx"))
            continue
        for name, frame in tables.items():
            path = directory / f"{name}.{kind}"
            if kind == "csv":
                frame.to_csv(path, index=False, date_format="%Y-%m-%d")
            else:
                _write_parquet(frame, path)
            written.append(path)
    factors = directory / "age_sex_factors.csv"
    factors.write_bytes((resources.files("contracts") / "tables" / "age_sex_factors.csv")
                        .read_bytes())
    written.append(factors)
    from fileio.contracts_sheet import write_contracts_workbook

    template = directory / "contracts.xlsx"
    write_contracts_workbook(yaml.safe_load(CONTRACTS_YAML), template)
    written.append(template)
    contracts = directory / "contracts.yaml"
    contracts.write_text(CONTRACTS_YAML, encoding="utf-8")
    written.append(contracts)
    return written


# --------------------------------------------------------------------------- members


def _draw_members(rng: np.random.Generator, n: int, years: tuple[int, ...]) -> dict:
    """Draw the members' ages, sex, conditions, frailty, enrollment and attribution."""
    first = _jan1(years[0])
    last = _jan1(years[-1] + 1) - 1

    # Ages on 1 January of the first year: flat to 64, then thinning out towards 100.
    weights = np.ones(100)
    weights[65:] = np.linspace(1.0, 0.02, 35)
    age = rng.choice(100, size=n, p=weights / weights.sum())
    birth_year = years[0] - age - 1
    year_length = _jan1(birth_year + 1) - _jan1(birth_year)
    # Born from 2 January of that year to 1 January of the next: ``age`` on 1 January.
    birth = _jan1(birth_year) + 1 + (rng.random(n) * year_length).astype(np.int64)
    segment = np.select([age < 18, age < 65], [0, 1], 2).astype(np.int8)
    sex = np.array(["F", "M", "X"])[
        np.searchsorted(np.cumsum([0.505, 0.49]), rng.random(n), side="right")]

    # Conditions: prevalence rising with age (a logistic curve each).
    prevalence = np.column_stack([
        0.003 + 0.25 / (1 + np.exp(-(age - 70) / 10)),
        0.001 + 0.14 / (1 + np.exp(-(age - 72) / 8)),
        0.0005 + 0.12 / (1 + np.exp(-(age - 80) / 7)),
        np.select([age < 12, age < 18, age < 65], [0.002, 0.03, 0.07], 0.05),
    ])
    conditions = rng.random((n, len(CONDITIONS))) < prevalence

    # Frailty: a member's hidden propensity to use care (gamma, mean 1, heavy tail).
    frailty = rng.gamma(1.1, 1 / 1.1, n)
    age_factor = np.select([age < 18, age < 65], [0.55, 0.6 + 0.015 * (age - 18)],
                           1.6 + 0.04 * (age - 65))
    condition_factor = np.prod(np.where(conditions, [1.35, 1.5, 1.9, 1.3], 1.0), axis=1)
    raw = age_factor * condition_factor * np.sqrt(frailty) * rng.lognormal(0, 0.25, n)
    risk_score = np.maximum(np.round(raw / raw.mean(), 3), 0.05)

    # Enrollment: most throughout, some join or leave on any day, 5% with a gap.
    start = np.full(n, first)
    end = np.full(n, last)
    span = last - first + 1
    joins = rng.random(n) < 0.07
    start[joins] = first + 1 + (rng.random(joins.sum()) * (span - 60)).astype(np.int64)
    leaves = rng.random(n) < 0.06
    room = end - start - 30
    leaves &= room > 0
    end[leaves] = start[leaves] + 30 + (rng.random(leaves.sum()) * room[leaves]).astype(np.int64)
    # A gap leaves at a month end and returns at a month start, one to six months later.
    gap = (rng.random(n) < 0.05) & (end - start > 300)
    pick = start + 60 + (rng.random(n) * np.maximum(end - start - 240, 1)).astype(np.int64)
    gap_from = _add_months(pick, 1)
    gap_to = _add_months(gap_from, rng.integers(1, 7, n))
    gap &= gap_to <= end - 30
    end1 = np.where(gap, gap_from - 1, end)
    start2 = np.where(gap, gap_to, 1)
    end2 = np.where(gap, end, 0)  # start2 > end2: no second span

    # GP practice per year; about 6% move at each new year.
    gp = np.empty((n, len(years)), dtype=np.int64)
    gp[:, 0] = rng.choice(len(GP_PRACTICES), size=n, p=_GP_SHARE)
    for k in range(1, len(years)):
        move = rng.random(n) < 0.06
        other = (gp[:, k - 1] + rng.integers(1, len(GP_PRACTICES), n)) % len(GP_PRACTICES)
        gp[:, k] = np.where(move, other, gp[:, k - 1])

    # A few members, the frailer more likely, need costly medicine every month.
    on_medicine = rng.random(n) < 0.003 * np.minimum(frailty, 4) / np.minimum(frailty, 4).mean()
    dose = np.where(on_medicine, rng.uniform(1500, 7000, n), 0.0)

    # Where members go for hospital, pharmacy and paramedical care follows their region.
    region = np.array([[_PROVIDER[p] for p in _REGION[g]] for g in GP_PRACTICES])
    home = region[gp[:, 0]]
    return {
        "n": n, "age": age, "birth": birth, "segment": segment, "sex": sex,
        "conditions": conditions, "frailty": frailty, "risk_score": risk_score,
        "start1": start, "end1": end1, "start2": start2, "end2": end2,
        "gp": gp, "hospital": home[:, 0], "pharmacy": home[:, 1], "paramedical": home[:, 2],
        "mental_health": np.where(rng.random(n) < 0.6, _PROVIDER["MH_1"], _PROVIDER["MH_2"]),
        "medicine_dose": dose,
        "sex_factor": np.select([sex == "F", sex == "M"], [1.08, 0.93], 1.0),
    }


def _exposure(people: dict, year: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Enrolled stretches of each member within ``year``: (from1, days1, from2, days2)."""
    lo, hi = _jan1(year), _jan1(year + 1) - 1
    from1 = np.maximum(people["start1"], lo)
    days1 = np.maximum(np.minimum(people["end1"], hi) - from1 + 1, 0)
    from2 = np.maximum(people["start2"], lo)
    days2 = np.maximum(np.minimum(people["end2"], hi) - from2 + 1, 0)
    return from1, days1, from2, days2


def _enrolled(people: dict, member: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Whether each member is enrolled on each day."""
    return (((people["start1"][member] <= day) & (day <= people["end1"][member]))
            | ((people["start2"][member] <= day) & (day <= people["end2"][member])))


def _sample_days(rng: np.random.Generator, member: np.ndarray, exposure) -> np.ndarray:
    """A uniformly random enrolled day of the year for each entry of ``member``."""
    from1, days1, from2, days2 = (a[member] for a in exposure)
    u = (rng.random(len(member)) * (days1 + days2)).astype(np.int64)
    return np.where(u < days1, from1 + u, from2 + u - days1)


# --------------------------------------------------------------------------- claims


class _Lines:
    """Claim lines collected from the generators, before claim ids are given.

    Each claim is an integer ``event``; a claim's lines keep the order they were added in.
    """

    def __init__(self) -> None:
        self.parts: list[dict[str, np.ndarray]] = []
        self.events = 0

    def new_events(self, count: int) -> np.ndarray:
        """Ids for ``count`` new claims."""
        ids = np.arange(self.events, self.events + count)
        self.events += count
        return ids

    def add(self, event, member, provider, day, code, quantity=None, amount=None) -> None:
        """Add lines (``quantity`` 0 or ``amount`` NaN: drawn later from the code)."""
        size = len(event)
        self.parts.append({
            "event": np.asarray(event, dtype=np.int64),
            "member": np.asarray(member, dtype=np.int64),
            "provider": np.broadcast_to(np.asarray(provider, dtype=np.int64), size),
            "day": np.asarray(day, dtype=np.int64),
            "code": np.broadcast_to(np.asarray(code, dtype=np.int64), size),
            "quantity": np.zeros(size, np.int64) if quantity is None
            else np.broadcast_to(np.asarray(quantity, dtype=np.int64), size),
            "amount": np.full(size, np.nan) if amount is None else np.asarray(amount, float),
        })

    def collect(self) -> dict[str, np.ndarray]:
        """All lines, concatenated in the order added."""
        return {k: np.concatenate([p[k] for p in self.parts]) for k in self.parts[0]}


def _code_sampler(codes: Sequence[str], *probabilities: Sequence[float]):
    """A function drawing codes (by segment when several probability rows are given)."""
    index = np.array([_CODE[c] for c in codes])
    cumulative = [np.cumsum(p) / np.sum(p) for p in probabilities]

    def draw(rng: np.random.Generator, segment: np.ndarray) -> np.ndarray:
        u = rng.random(len(segment))
        if len(cumulative) == 1:
            return index[np.searchsorted(cumulative[0], u, side="right").clip(0, len(index) - 1)]
        pick = np.empty(len(segment), np.int64)
        for s, cum in enumerate(cumulative):
            rows = segment == s
            pick[rows] = np.searchsorted(cum, u[rows], side="right").clip(0, len(index) - 1)
        return index[pick]

    return draw


def _draw_claim_lines(rng: np.random.Generator, people: dict, years: tuple[int, ...]) -> dict:
    """Draw every claim line of every year; returns line arrays with claim numbers."""
    lines = _Lines()
    n = people["n"]
    conditions = people["conditions"]
    for k, year in enumerate(years):
        exposure = _exposure(people, year)
        enrolled_fraction = (exposure[1] + exposure[3]) / (_jan1(year + 1) - _jan1(year))
        # The member's frailty times a passing year-to-year swing, for the enrolled days.
        intensity = people["frailty"] * rng.gamma(4.0, 0.25, n) * enrolled_fraction
        for domain in DOMAINS:
            rate = (np.asarray(_VISIT_RATE[domain])[people["segment"]]
                    * np.prod(np.where(conditions, _CONDITION_RATE[domain], 1.0), axis=1)
                    * people["sex_factor"] * intensity * (1 + _TREND[domain]) ** k)
            _visits(rng, lines, people, domain, rate, exposure, k,
                    waterbed=(domain == "hospital" and k == len(years) - 1 and k > 0))
        for c, condition in enumerate(CONDITIONS):
            per_year, codes, p = _CONDITION_PRESCRIPTIONS[condition]
            rate = np.where(conditions[:, c], per_year * enrolled_fraction, 0.0)
            _prescriptions(rng, lines, people, rate, exposure, _code_sampler(codes, p))
        _chain_care(rng, lines, people, exposure, enrolled_fraction)
        _hip_replacements(rng, lines, people, exposure, enrolled_fraction, years)
        _catastrophes(rng, lines, people, exposure, enrolled_fraction)
        _expensive_medicine(rng, lines, people, exposure, enrolled_fraction)
    return _number_claims(rng, lines.collect(), people)


def _visits(rng, lines: _Lines, people: dict, domain: str, rate: np.ndarray, exposure,
            k: int, waterbed: bool) -> None:
    """Ordinary claims of one domain in one year: a main line and maybe extra lines."""
    member = np.repeat(np.arange(people["n"]), rng.poisson(rate))
    segment = people["segment"][member]
    code = _code_sampler(*_VISIT_CODES[domain])(rng, segment)
    day = _sample_days(rng, member, exposure)
    gp = _GP_IDS[people["gp"][member, k]]
    if domain == "gp":
        # Now and then a patient sees another practice (a locum, out of hours).
        provider = np.where(rng.random(len(member)) < 0.03,
                            _GP_IDS[rng.integers(0, len(_GP_IDS), len(member))], gp)
    elif domain in ("hospital", "pharmacy", "paramedical"):
        own = people[domain][member]
        choices = {"hospital": HOSPITALS, "pharmacy": ("PHARM_1", "PHARM_2"),
                   "paramedical": ("PARA_1", "PARA_2")}[domain]
        ids = np.array([_PROVIDER[p] for p in choices])
        elsewhere = rng.random(len(member)) < (0.2 if domain == "hospital" else 0.15)
        provider = np.where(elsewhere, ids[rng.integers(0, len(ids), len(member))], own)
    elif domain == "mental_health":
        provider = people["mental_health"][member]
    else:
        provider = np.full(len(member), _PROVIDER["LAB_1"])
    mean_extra, extra_codes, extra_p = _EXTRA_LINES[domain]
    extra = rng.poisson(mean_extra, len(member)).clip(0, 4) if mean_extra else np.zeros(
        len(member), np.int64)
    if waterbed:
        # The last year's substitution: a fifth of HOSP_A's low-complex dermatology is
        # done by the member's own GP practice instead.
        derm = np.isin(code, [_CODE["DERM1"], _CODE["DERM2"]]) & (
            provider == _PROVIDER["HOSP_A"])
        moved = derm & (rng.random(len(member)) < 0.2)
        code = np.where(moved, _CODE["DERM_GP"], code)
        provider = np.where(moved, gp, provider)
        extra = np.where(moved, 0, extra)
    event = lines.new_events(len(member))
    lines.add(event, member, provider, day, code)
    if extra.any():
        which = np.repeat(np.arange(len(member)), extra)
        lines.add(event[which], member[which], provider[which], day[which],
                  _code_sampler(extra_codes, extra_p)(rng, segment[which]))


def _prescriptions(rng, lines: _Lines, people: dict, rate, exposure, sampler) -> None:
    """Repeat prescriptions of a chronic condition, one line each."""
    member = np.repeat(np.arange(people["n"]), rng.poisson(rate))
    own = people["pharmacy"][member]
    other = np.where(own == _PROVIDER["PHARM_1"], _PROVIDER["PHARM_2"], _PROVIDER["PHARM_1"])
    provider = np.where(rng.random(len(member)) < 0.1, other, own)
    lines.add(lines.new_events(len(member)), member, provider,
              _sample_days(rng, member, exposure), sampler(rng, people["segment"][member]))


def _chain_care(rng, lines: _Lines, people: dict, exposure, enrolled_fraction) -> None:
    """CARE_GROUP's quarterly chain care for diabetes and COPD (gp, lab, paramedical)."""
    for c, main, extras in ((0, "KZ_DM", (("KZ_DM_LAB", 0.5), ("KZ_DM_POD", 0.3))),
                            (1, "KZ_COPD", (("KZ_COPD_PT", 0.4),))):
        quarters = rng.binomial(4, np.where(people["conditions"][:, c], enrolled_fraction, 0))
        member = np.repeat(np.arange(people["n"]), quarters)
        event = lines.new_events(len(member))
        day = _sample_days(rng, member, exposure)
        lines.add(event, member, _PROVIDER["CARE_GROUP"], day, _CODE[main], 1)
        for code, p in extras:
            has = rng.random(len(member)) < p
            lines.add(event[has], member[has], _PROVIDER["CARE_GROUP"], day[has], _CODE[code], 1)


def _hip_replacements(rng, lines: _Lines, people: dict, exposure, enrolled_fraction,
                      years: tuple[int, ...]) -> None:
    """Hip replacements with their rehabilitation and follow-up within 90 days."""
    age = people["age"]
    p = np.select([age >= 75, age >= 65, age >= 50], [0.025, 0.015, 0.004], 0.0)
    member = np.flatnonzero(rng.random(people["n"]) < p * enrolled_fraction)
    day = _sample_days(rng, member, exposure)
    hospital = np.where(rng.random(len(member)) < 0.85, people["hospital"][member],
                        np.array([_PROVIDER[h] for h in HOSPITALS])[
                            rng.integers(0, len(HOSPITALS), len(member))])
    code = np.where(rng.random(len(member)) < 0.15, _CODE["HIP02"], _CODE["HIP01"])
    event = lines.new_events(len(member))
    lines.add(event, member, hospital, day, code, 1)
    imaging = rng.random(len(member)) < 0.7
    lines.add(event[imaging], member[imaging], hospital[imaging], day[imaging], _CODE["H210"], 1)
    icu = rng.random(len(member)) < 0.05
    lines.add(event[icu], member[icu], hospital[icu], day[icu], _CODE["H910"],
              1 + rng.poisson(1, icu.sum()))

    end_of_data = _jan1(years[-1] + 1) - 1
    # Follow-up visits at about six weeks and, for half, at about twelve weeks.
    second = rng.random(len(member)) < 0.5
    fu_member = np.concatenate([member, member[second]])
    fu_day = np.concatenate([day + rng.integers(35, 51, len(member)),
                             day[second] + rng.integers(80, 91, second.sum())])
    fu_hospital = np.concatenate([hospital, hospital[second]])
    # Rehabilitation: six to about fifteen sessions in the 90 days after surgery.
    sessions = 6 + rng.poisson(4, len(member))
    rehab_member = np.repeat(member, sessions)
    rehab_day = np.repeat(day, sessions) + rng.integers(7, 91, sessions.sum())
    for who, when, provider, code in (
            (fu_member, fu_day, fu_hospital, _CODE["HFU"]),
            (rehab_member, rehab_day, people["paramedical"][rehab_member], _CODE["REHAB"])):
        keep = (when <= end_of_data) & _enrolled(people, who, when)
        lines.add(lines.new_events(keep.sum()), who[keep], provider[keep], when[keep], code, 1)


def _catastrophes(rng, lines: _Lines, people: dict, exposure, enrolled_fraction) -> None:
    """Rare major admissions: surgery or a long stay, intensive care, expensive medicine."""
    p = np.asarray((0.001, 0.003, 0.012))[people["segment"]] * np.minimum(
        people["frailty"], 5)
    member = np.flatnonzero(rng.random(people["n"]) < p * enrolled_fraction)
    day = _sample_days(rng, member, exposure)
    hospital = people["hospital"][member]
    event = lines.new_events(len(member))
    lines.add(event, member, hospital, day,
              np.where(rng.random(len(member)) < 0.5, _CODE["H500"], _CODE["H400"]), 1)
    lines.add(event, member, hospital, day, _CODE["H910"], 1 + rng.poisson(4, len(member)))
    lines.add(event, member, hospital, day, _CODE["H900"], 1,
              np.round(rng.lognormal(np.log(5000), 0.8, len(member)), 2))


def _expensive_medicine(rng, lines: _Lines, people: dict, exposure, enrolled_fraction) -> None:
    """Monthly costly medicine from the hospital for the few members on it (0.3%)."""
    users = np.flatnonzero(people["medicine_dose"] > 0)
    months = rng.binomial(12, enrolled_fraction[users])
    member = np.repeat(users, months)
    amount = people["medicine_dose"][member] * rng.uniform(0.95, 1.05, len(member))
    lines.add(lines.new_events(len(member)), member, people["hospital"][member],
              _sample_days(rng, member, exposure), _CODE["H900"], 1, np.round(amount, 2))


def _number_claims(rng, raw: dict, people: dict) -> dict:
    """Order claims by date and member, give claim and line numbers, price and correct."""
    events = int(raw["event"].max()) + 1 if len(raw["event"]) else 0
    # All lines of a claim share its member and date.
    claim_day = np.zeros(events, np.int64)
    claim_member = np.zeros(events, np.int64)
    claim_day[raw["event"]] = raw["day"]
    claim_member[raw["event"]] = raw["member"]
    claim_rank = np.empty(events, np.int64)
    claim_rank[np.lexsort((np.arange(events), claim_member, claim_day))] = np.arange(events)
    claim = claim_rank[raw["event"]]
    order = np.argsort(claim, kind="stable")  # stable: a claim's lines keep their order
    lines = {k: v[order] for k, v in raw.items() if k != "event"}
    lines["claim"] = claim[order]
    starts = np.flatnonzero(np.r_[len(order) > 0, lines["claim"][1:] != lines["claim"][:-1]])
    counts = np.diff(np.r_[starts, len(order)])
    lines["line"] = np.arange(len(order)) - np.repeat(starts, counts) + 1
    lines["last_line"] = np.repeat(counts, counts)

    _price(rng, lines)
    # Payment: a few days to some weeks after service, hospitals slower; one date a claim.
    is_hospital = _CODE_DOMAIN[lines["code"][starts]] == DOMAINS.index("hospital")
    lag = np.where(is_hospital, 10 + rng.gamma(2.0, 12.0, len(starts)),
                   3 + rng.gamma(2.0, 5.0, len(starts))).astype(np.int64)
    lines["paid"] = lines["day"] + np.repeat(lag, counts)
    return _add_corrections(rng, lines)


def _price(rng, lines: dict) -> None:
    """Draw quantities and amounts by care code and provider."""
    code = lines["code"]
    quantity = lines["quantity"].copy()
    u = rng.random(len(code))
    for name, p in _QUANTITY.items():
        rows = (code == _CODE[name]) & (quantity == 0)
        quantity[rows] = 1 + np.searchsorted(np.cumsum(p), u[rows], side="right").clip(0, 2)
    quantity[quantity == 0] = 1
    lines["quantity"] = quantity

    domain = _CODE_DOMAIN[code]
    amount = _TARIFF[code] * quantity
    # Hospitals bill their negotiated price per code: a house level times a code factor.
    level = np.ones((len(PROVIDERS), len(_CODES)))
    for name, house in _HOSPITAL_PRICE_LEVEL.items():
        level[_PROVIDER[name]] = house * rng.uniform(0.96, 1.04, len(_CODES))
    rows = np.flatnonzero(domain == DOMAINS.index("hospital"))
    factor = level[lines["provider"][rows], code[rows]]
    amount[rows] = np.round(_TARIFF[code[rows]] * factor, 2) * quantity[rows]
    # Codes without a tariff: intensive care is priced per day, the others vary widely.
    for name, draw in (
            ("H910", lambda k, f: 2300 * f * rng.uniform(0.97, 1.03, k)),
            ("H900", lambda k, f: rng.lognormal(np.log(1200), 0.8, k)),
            ("H920", lambda k, f: rng.lognormal(np.log(300), 0.6, k))):
        which = code[rows] == _CODE[name]
        amount[rows[which]] = draw(which.sum(), factor[which]) * quantity[rows[which]]
    # Pharmacies bill the product for the supply dispensed (half, one, two or three times
    # the reference pack) plus their own dispensing fee, so amounts vary around tariffs.
    rows = np.flatnonzero(domain == DOMAINS.index("pharmacy"))
    supply = np.array([0.5, 1.0, 2.0, 3.0])[
        np.searchsorted([0.15, 0.75, 0.95], rng.random(len(rows)), side="right")]
    fee = np.where(lines["provider"][rows] == _PROVIDER["PHARM_1"], 7.10, 6.85)
    amount[rows] = amount[rows] * supply + fee
    given = ~np.isnan(lines["amount"])
    amount[given] = lines["amount"][given]
    lines["amount"] = np.round(amount, 2)


def _add_corrections(rng, lines: dict) -> dict:
    """Follow about 0.5% of lines with a line reversing them, at the end of their claim."""
    picked = np.flatnonzero(rng.random(len(lines["claim"])) < 0.005)
    claim = lines["claim"][picked]
    # Several corrections on one claim take consecutive line numbers after its last line.
    first_of_claim = np.r_[True, claim[1:] != claim[:-1]]
    group_start = np.maximum.accumulate(np.where(first_of_claim, np.arange(len(claim)), 0))
    rank = np.arange(len(claim)) - group_start
    correction = {k: v[picked] for k, v in lines.items()}
    correction["line"] = correction["last_line"] + rank + 1
    correction["amount"] = -correction["amount"]
    correction["paid"] = correction["paid"] + rng.integers(14, 121, len(picked))
    # Lines are in claim order: insert each correction right after its claim's last line.
    end_of_claim = picked - lines["line"][picked] + lines["last_line"][picked] + 1
    return {k: np.insert(lines[k], end_of_claim, correction[k]) for k in lines}


# --------------------------------------------------------------------------- frames


def _claims_frame(lines: dict, people: dict) -> pd.DataFrame:
    width = max(7, len(str(len(lines["claim"]) + 20)))
    return pd.DataFrame({
        "claim_id": _text(_ids("C", lines["claim"] + 1, width)),
        "line": lines["line"].astype(np.int64),
        "member_id": _text(_member_ids(people["n"]), lines["member"]),
        "provider_id": _text(PROVIDERS, lines["provider"]),
        "service_date": _dates(lines["day"]),
        "domain": _text(DOMAINS, _CODE_DOMAIN[lines["code"]]),
        "care_code": _text(_CODES, lines["code"]),
        "quantity": lines["quantity"].astype(np.int64),
        "amount": lines["amount"],
        "paid_date": _dates(lines["paid"]),
    })


def _members_frame(people: dict) -> pd.DataFrame:
    start = people["start1"]
    end = np.where(people["start2"] <= people["end2"], people["end2"], people["end1"])
    names = np.array(CONDITIONS, dtype=object)
    conditions = [";".join(names[row]) for row in people["conditions"]]
    return pd.DataFrame({
        "member_id": _text(_member_ids(people["n"])),
        "birth_date": _dates(people["birth"]),
        "sex": _text(people["sex"].tolist()),
        "segment": _text(SEGMENTS, people["segment"]),
        "enrollment_start": _dates(start),
        "enrollment_end": _dates(end),
        "attributed_provider": _text(GP_PRACTICES, people["gp"][:, -1]),
        "risk_score": people["risk_score"],
        "conditions": pd.Series(conditions, dtype="str").replace("", pd.NA),
    })


def _enrollment_frame(people: dict) -> pd.DataFrame:
    two = np.flatnonzero(people["start2"] <= people["end2"])
    member = np.concatenate([np.arange(people["n"]), two])
    start = np.concatenate([people["start1"], people["start2"][two]])
    end = np.concatenate([people["end1"], people["end2"][two]])
    order = np.lexsort((start, member))
    return pd.DataFrame({
        "member_id": _text(_member_ids(people["n"]), member[order]),
        "enrollment_start": _dates(start[order]),
        "enrollment_end": _dates(end[order]),
    })


def _attribution_frame(people: dict, years: tuple[int, ...]) -> pd.DataFrame:
    """One row per member and year in which the member is enrolled at least one day."""
    member, year, practice = [], [], []
    for k, y in enumerate(years):
        _, days1, _, days2 = _exposure(people, y)
        rows = np.flatnonzero(days1 + days2 > 0)
        member.append(rows)
        year.append(np.full(len(rows), y, np.int64))
        practice.append(people["gp"][rows, k])
    member, year, practice = map(np.concatenate, (member, year, practice))
    order = np.lexsort((year, member))
    return pd.DataFrame({
        "member_id": _text(_member_ids(people["n"]), member[order]),
        "year": year[order],
        "provider_id": _text(GP_PRACTICES, practice[order]),
    })


def _fee_schedule_frame() -> pd.DataFrame:
    priced = [(code, tariff) for code, _, tariff, _ in CARE_CODES if tariff is not None]
    return pd.DataFrame({"care_code": _text([c for c, _ in priced]),
                         "tariff": np.array([t for _, t in priced], dtype=float)})


def _append_bad_rows(claims: pd.DataFrame, people: dict, years: tuple[int, ...]) -> pd.DataFrame:
    """Append the rows of :data:`BAD_ROWS`, each a new claim after the last one."""
    last = years[-1]
    n = people["n"]
    width = len(claims["claim_id"].iloc[-1]) - 1 if len(claims) else 7
    next_claim = int(claims["claim_id"].iloc[-1][1:]) + 1 if len(claims) else 1
    id_width = max(6, len(str(n + 1)))
    day, paid = dt.date(last, 3, 14), pd.Timestamp(last, 3, 28)
    # The faults sit on an ordinary member, enrolled throughout, at the member's own GP.
    end = np.where(people["start2"] <= people["end2"], people["end2"], people["end1"])
    whole = (people["start1"] == _jan1(years[0])) & (end == _jan1(last + 1) - 1) & (
        people["start2"] > people["end2"])
    member = int(np.argmax(whole))
    gp = GP_PRACTICES[people["gp"][member, -1]]

    def row(number: int, **changes) -> dict:
        base = {"claim_id": f"C{next_claim + number:0{width}d}", "line": 1,
                "member_id": f"M{member + 1:0{id_width}d}", "provider_id": gp,
                "service_date": day, "domain": "gp", "care_code": "GP01", "quantity": 1,
                "amount": 35.0, "paid_date": paid}
        return {**base, **changes}

    hospital = {"provider_id": "HOSP_B", "domain": "hospital", "care_code": "H100"}
    rows = [
        row(0, amount="abc"),
        row(1, member_id=None),
        row(2, service_date=f"31/02/{last}", paid_date=pd.NaT),
        row(3, quantity=-1),
        row(4, care_code="GP02", amount=55.0),
        row(4, care_code="GP02", amount=55.0),
        row(5, **hospital, amount=172.8),
        row(5, **hospital, amount=178.2),
        row(6, member_id=f"M{n + 1:0{id_width}d}"),
        row(7, domain=None),
    ]
    # A claim dated after its member left: the first member whose enrollment ended early.
    left = np.flatnonzero(end < _jan1(last + 1) - 1)
    if len(left):
        after = (_EPOCH + int(end[left[0]]) + 10).astype(dt.date)
        rows.append(row(8, member_id=f"M{left[0] + 1:0{id_width}d}", service_date=after,
                        provider_id=GP_PRACTICES[people["gp"][left[0], after.year - years[0]]],
                        paid_date=pd.Timestamp(after) + pd.Timedelta(days=14)))
    rows.append(row(9, amount=None))

    # The faulty text values need object columns: dates as datetime.date, amounts as float.
    good = claims.assign(
        service_date=claims["service_date"].to_numpy().astype("datetime64[D]").astype(object),
        amount=claims["amount"].astype(object))
    bad = pd.DataFrame(rows, columns=claims.columns)
    for name in ("claim_id", "member_id", "provider_id", "domain", "care_code"):
        bad[name] = bad[name].astype("str")
    bad = bad.astype({"line": np.int64, "quantity": np.int64, "amount": object,
                      "service_date": object, "paid_date": "datetime64[ns]"})
    return pd.concat([good, bad], ignore_index=True)


# --------------------------------------------------------------------------- writing


def _write_xlsx(tables: dict[str, pd.DataFrame], path: Path) -> Path:
    """Write the tables as sheets of one workbook with openpyxl's write-only mode."""
    from openpyxl import Workbook
    from openpyxl.writer.excel import ExcelWriter

    wb = Workbook(write_only=True)
    # Fixed document times, so the same seed gives the same workbook.
    wb.properties.created = _FIXED_TIMESTAMP
    wb.properties.modified = _FIXED_TIMESTAMP
    wb.properties.creator = "fundcalc sample"
    for name, frame in tables.items():
        ws = wb.create_sheet(name)
        ws.append(list(frame.columns))
        for row in zip(*(_cells(frame[c]) for c in frame.columns)):
            ws.append(row)
    # ExcelWriter rather than wb.save, which would stamp the document with the time now.
    tmp = path.with_name(path.name + ".tmp")
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
            ExcelWriter(wb, archive).save()
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _cells(column: pd.Series) -> list:
    """A column as Python values for openpyxl: dates as ``date``, missing as ``None``."""
    if pd.api.types.is_datetime64_any_dtype(column):
        return column.to_numpy().astype("datetime64[D]").tolist()  # NaT -> None
    values = column.tolist()
    for i in np.flatnonzero(column.isna().to_numpy()):
        values[i] = None
    return values


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write a table to Parquet: dates as dates; a column mixing faulty text as text."""
    import pyarrow.parquet as pq

    columns = {}
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_datetime64_any_dtype(column):
            columns[name] = pa.array(column.to_numpy().astype("datetime64[D]"),
                                     mask=column.isna().to_numpy())
        elif column.dtype == object:
            columns[name] = pa.array([_as_text(v) for v in column], pa.string())
        else:
            columns[name] = pa.array(column)
    pq.write_table(pa.table(columns), path)


def _as_text(value) -> str | None:
    """A cell of a mixed column as text: dates ISO, amounts with two decimals."""
    if value is None or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (dt.date, pd.Timestamp)):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


# --------------------------------------------------------------------------- helpers


def _jan1(year) -> np.ndarray | int:
    """Day number (days since 1970-01-01) of 1 January of ``year``."""
    y = np.asarray(year, dtype=np.int64)
    days = (y - 1970).astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64)
    return days if days.ndim else int(days)


def _add_months(day: np.ndarray, months) -> np.ndarray:
    """The first day of the month ``months`` after the month of ``day``."""
    month = (np.asarray(day).astype("datetime64[D]").astype("datetime64[M]")
             + np.asarray(months).astype("timedelta64[M]"))
    return month.astype("datetime64[D]").astype(np.int64)


def _dates(days: np.ndarray) -> np.ndarray:
    """Day numbers as a ``datetime64[ns]`` array."""
    return np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype("datetime64[ns]")


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.StringArray:
    """``prefix`` + zero-padded numbers as an Arrow string array (fast for millions)."""
    numbers = np.asarray(numbers, dtype=np.int64)
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    chars = np.empty((len(numbers), width + 1), np.uint8)
    chars[:, 0] = ord(prefix)
    chars[:, 1:] = numbers[:, None] // powers % 10 + ord("0")
    large = (len(numbers) + 1) * (width + 1) >= 2**31
    offsets = np.arange(0, (len(numbers) + 1) * (width + 1), width + 1,
                        dtype=np.int64 if large else np.int32)
    kind = pa.LargeStringArray if large else pa.StringArray
    return kind.from_buffers(len(numbers), pa.py_buffer(offsets), pa.py_buffer(chars.tobytes()))


def _member_ids(n: int) -> pa.StringArray:
    """Member ids M000001 ... (wide enough for one more, the deliberately unknown one)."""
    return _ids("M", np.arange(1, n + 1), max(6, len(str(n + 1))))


def _text(names, index: np.ndarray | None = None) -> pd.api.extensions.ExtensionArray:
    """A pandas text column of ``names`` (or of ``names[index]``), built through Arrow."""
    values = names if isinstance(names, pa.Array) else pa.array(list(names), pa.string())
    if index is not None:
        values = values.take(pa.array(np.asarray(index, dtype=np.int64)))
    return pd.array(values, dtype="str")
