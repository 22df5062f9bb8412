"""Presets: named sets of terms a contract can start from (``preset: nl_revenue_ceiling``).

A preset is a YAML mapping of terms, shipped in ``contracts/presets/NAME.yaml`` or kept by
the user in a file of their own (``preset: my_terms/ceiling.yaml``), so that a user can
replace a shipped preset with a newer one. A term a preset leaves to each contract is
written ``required``: the contract must give it.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from contracts.terms import did_you_mean

#: The value a preset gives a term that each contract must supply itself.
REQUIRED = "required"

#: Keys that belong to one contract, never to a preset.
CONTRACT_OWN_KEYS = ("name", "provider", "performance_years", "preset")

_SHIPPED = resources.files("contracts") / "presets"


def available_presets() -> list[str]:
    """The names of the shipped presets.

    Examples
    --------
    >>> available_presets()
    ['mssp_basic_a', 'mssp_basic_b', 'mssp_basic_c', 'mssp_basic_d', 'mssp_basic_e', 'mssp_enhanced', 'mssp_track_1', 'mssp_track_1_plus', 'mssp_track_2', 'mssp_track_3', 'nl_lump_sum', 'nl_revenue_ceiling']
    """
    return sorted(f.name.removesuffix(".yaml") for f in _SHIPPED.iterdir()
                  if f.name.endswith(".yaml"))


def _is_path(preset: str) -> bool:
    return preset.endswith((".yaml", ".yml")) or "/" in preset or "\\" in preset


def load_preset(preset: str, base_dir: Path | None = None) -> dict[str, Any]:
    """Read a preset's terms, by name or from a user's YAML file.

    Parameters
    ----------
    preset : str
        A shipped preset's name, or the path of a ``.yaml`` file.
    base_dir : Path, optional
        The folder a relative path is read from (the contracts file's folder); default the
        working directory.

    Returns
    -------
    dict
        The preset's terms, as written.

    Raises
    ------
    LookupError
        For an unknown preset name or a missing file.
    ValueError
        For a file that is not a YAML mapping of terms, or that sets a contract's own keys.

    Examples
    --------
    >>> load_preset("nl_revenue_ceiling")["clawback_rate"]
    1.0
    """
    if _is_path(preset):
        file = Path(base_dir or ".") / preset
        if not file.is_file():
            raise LookupError(f"preset file '{preset}' not found (looked for {file})")
        text = file.read_text(encoding="utf-8")
    else:
        if preset not in available_presets():
            raise LookupError(
                f"unknown preset '{preset}'{did_you_mean(preset, available_presets())}; "
                "the presets are "
                f"{', '.join(available_presets())}, or give the path of a .yaml file"
            )
        text = (_SHIPPED / f"{preset}.yaml").read_text(encoding="utf-8")
    try:
        terms = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"preset '{preset}' is not valid YAML: {exc}") from None
    if not isinstance(terms, dict):
        raise ValueError(f"preset '{preset}' must be a mapping of terms")
    own = [k for k in CONTRACT_OWN_KEYS if k in terms]
    if own:
        raise ValueError(
            f"preset '{preset}' must not set {', '.join(own)}; each contract gives its own"
        )
    return terms


def apply_preset(contract: dict[str, Any], base_dir: Path | None = None) -> dict[str, Any]:
    """Merge a contract's ``preset`` under its own keys.

    The contract's keys replace the preset's, except ``scope``, which is merged key by key.

    Parameters
    ----------
    contract : dict
        One contract as written, with a ``preset`` key.
    base_dir : Path, optional
        Where a preset given as a relative path is read from.

    Returns
    -------
    dict
        The merged terms, ``preset`` included.

    Raises
    ------
    LookupError, ValueError
        As :func:`load_preset`, and when the contract leaves out a term the preset
        marks ``required``.

    Examples
    --------
    >>> merged = apply_preset({"preset": "nl_revenue_ceiling", "revenue_ceiling": 1e6})
    >>> merged["clawback_rate"], merged["revenue_ceiling"]
    (1.0, 1000000.0)
    """
    name = contract["preset"]
    if not isinstance(name, str):
        raise ValueError(
            f"preset: must be a preset name or the path of a .yaml file (got {name!r})"
        )
    terms = load_preset(name, base_dir)
    merged = {**terms, **contract}
    if isinstance(terms.get("scope"), dict) and isinstance(contract.get("scope"), dict):
        merged["scope"] = {**terms["scope"], **contract["scope"]}
    missing = [k for k, v in merged.items() if v == REQUIRED]
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        raise ValueError(f"{' and '.join(missing)} {verb} required by preset {name}")
    return merged
