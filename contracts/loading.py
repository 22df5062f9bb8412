"""Reading a contracts file, and saying in plain words what is wrong with it.

Each contract is checked on its own, so that every problem names its contract; all
problems are collected and reported together, one line each.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from contracts.factor_tables import read_age_sex_factors
from contracts.presets import apply_preset
from contracts.contracts_file import CONTRACT_MODELS, ContractsFile
from contracts.scenarios import Scenario
from contracts.shared_savings import SharedSavingsTerms, SharingTerms
from contracts.terms import ContractTerms, Settings, WrittenFloat, WrittenInt, did_you_mean
from fileio.errors import one_line


class ContractsError(Exception):
    """A contracts file that cannot be used; ``str()`` gives one line per problem.

    Each line names the file, the contract (by name, else by position: ``contract 3``)
    and the key, e.g. ``contracts.yaml: contract 'Hospital A': clawback_rate: must be at
    most 1 (got 1.5)``. List items are counted from 1: ``degressive_tiers[2].rate``.

    Attributes
    ----------
    problems : list of str
        The problems, one sentence each.
    """

    def __init__(self, problems: str | list[str]):
        self.problems = [one_line(p) for p in ([problems] if isinstance(problems, str)
                                               else problems)]
        super().__init__("\n".join(self.problems))


def load_contracts(path: str | Path) -> tuple[ContractsFile, str]:
    """The checked contracts and the file's text: :func:`read_contracts` without the
    content as parsed."""
    contracts, text, _ = read_contracts(path)
    return contracts, text


def read_contracts(path: str | Path) -> tuple[ContractsFile, str, dict[str, Any]]:
    """Read and check a contracts file (``.yaml``, ``.yml`` or ``.json``), or a workbook
    (``.xlsx``) with a ``contracts`` sheet (:mod:`contracts.sheet_rows`).

    Parameters
    ----------
    path : str or Path
        The contracts file. Presets given as a relative path are read from its folder.

    Returns
    -------
    ContractsFile
        The checked contracts and settings.
    str
        The file's text, to show the terms as given.
    dict
        The file's content as parsed (a workbook's sheets as read): the terms as written,
        presets not merged in.

    Raises
    ------
    ContractsError
        When the file is missing, unreadable, not valid YAML/JSON, or its terms are wrong.
    """
    path = Path(path)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        # Reading a workbook is fileio's job; imported here, as fileio imports contracts.
        from fileio.contracts_sheet import read_contracts_workbook

        return read_contracts_workbook(path)
    if path.suffix.lower() not in (".yaml", ".yml", ".json"):
        raise ContractsError(f"{path}: a contracts file must be .yaml, .yml or .json, or an .xlsx "
                             f"workbook with a 'contracts' sheet (got '{path.name}')")
    data, text = read_terms_file(path)
    return parse_contracts(data, str(path), base_dir=path.parent), text, data


def read_terms_file(path: Path) -> tuple[Any, str]:
    """The parsed content and the text of a ``.yaml``/``.yml``/``.json`` terms file."""
    suffix = path.suffix.lower()
    if suffix not in (".yaml", ".yml", ".json"):
        raise ContractsError(
            f"{path}: a contracts file must be .yaml, .yml or .json (got '{path.name}')"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ContractsError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise ContractsError(f"{path}: cannot be read: it is not UTF-8 text") from None
    except OSError as exc:
        raise ContractsError(f"{path}: cannot be read: {exc.strerror}") from None
    try:
        data = json.loads(text) if suffix == ".json" else yaml.load(text, Loader=StrictSafeLoader)
    except json.JSONDecodeError as exc:
        raise ContractsError(
            f"{path}: line {exc.lineno}, column {exc.colno}: not valid JSON: {exc.msg}"
        ) from None
    except yaml.YAMLError as exc:
        raise ContractsError(f"{path}: {_yaml_problem(exc)}") from None
    return data, text


class RepeatedKeyError(yaml.constructor.ConstructorError):
    """A mapping in the YAML names the same key twice."""


class StrictSafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` (plain data only) that refuses a key repeated in one mapping,
    which plain ``safe_load`` would resolve silently by keeping the last value, and whose
    numbers keep the text they were written as (:class:`contracts.terms.WrittenInt`)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise RepeatedKeyError(None, None, f"key {key!r} appears twice; keep one",
                                       key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node) -> WrittenInt:
        value = WrittenInt(super().construct_yaml_int(node))
        value.text = node.value
        return value

    def construct_yaml_float(self, node) -> WrittenFloat:
        value = WrittenFloat(super().construct_yaml_float(node))
        value.text = node.value
        return value


# Numbers keep the text they were written as, for terms that are text (ids, codes), and
# are written back as that text wherever the terms as written are shown again.
_INT, _FLOAT = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
StrictSafeLoader.add_constructor(_INT, StrictSafeLoader.construct_yaml_int)
StrictSafeLoader.add_constructor(_FLOAT, StrictSafeLoader.construct_yaml_float)
yaml.SafeDumper.add_representer(
    WrittenInt, lambda dumper, value: dumper.represent_scalar(_INT, value.text))
yaml.SafeDumper.add_representer(
    WrittenFloat, lambda dumper, value: dumper.represent_scalar(_FLOAT, value.text))


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    problem = getattr(exc, "problem", None) or str(exc)
    if isinstance(exc, RepeatedKeyError):
        return f"{where}{problem}"
    if isinstance(exc, yaml.constructor.ConstructorError) and "tag" in problem:
        # safe_load builds plain data only: a tag could otherwise run code.
        return f"{where}YAML tags such as !!python/object are not allowed ({problem})"
    if "'\\t'" in problem:
        return f"{where}a tab, where YAML wants spaces; indent with spaces, not tabs"
    return f"{where}not valid YAML: {problem}"


def parse_contracts(
    data: Any, source: str = "contracts file", base_dir: Path | None = None
) -> ContractsFile:
    """Check the parsed content of a contracts file.

    Parameters
    ----------
    data : dict
        The file's content: the global settings, ``contracts`` and ``scenarios``.
    source : str
        How to name the file in messages.
    base_dir : Path, optional
        Where presets given as a relative path are read from; default the working
        directory.

    Returns
    -------
    ContractsFile

    Raises
    ------
    ContractsError
        Listing every problem found, one line each.

    Examples
    --------
    >>> terms = parse_contracts({"contracts": [{
    ...     "name": "Hospital A", "model": "fee_for_service", "provider": "HOSP_A",
    ...     "performance_years": [2024], "revenue_ceiling": 12_500_000}]})
    >>> terms.contracts[0].ceiling_for(2024)
    12500000.0
    """
    if data is None:
        raise ContractsError(f"{source}: is empty; it needs a 'contracts:' list")
    if not isinstance(data, dict):
        raise ContractsError(
            f"{source}: the top level must be a mapping with a 'contracts:' list "
            f"(got {type(data).__name__})"
        )
    problems: list[str] = []
    fields = dict(data)
    if isinstance(data.get("contracts"), list):
        fields["contracts"] = []
        for position, entry in enumerate(data["contracts"], 1):
            try:
                fields["contracts"].append(_parse_contract(entry, position, base_dir))
            except ContractsError as exc:
                problems += [f"{source}: {p}" for p in exc.problems]
    return contracts_file_of(fields, source, problems)


def contracts_file_of(fields: dict[str, Any], source: str, problems: Sequence[str] = ()
                      ) -> ContractsFile:
    """The contracts file from its fields, its contracts already checked one by one
    (:func:`check_contract`; ``problems``: what that found).

    Raises
    ------
    ContractsError
        Listing ``problems`` and every problem of the file's other fields.
    """
    problems = list(problems)
    contract_failed = bool(problems)
    try:
        contracts_file = ContractsFile.model_validate(fields)
    except ValidationError as exc:
        # With a contract left out, complaints about the list itself would mislead.
        problems += [f"{source}: {describe_error(e, ContractsFile)}" for e in exc.errors()
                     if not (contract_failed and e["loc"][:1] == ("contracts",))]
    if problems:
        raise ContractsError(problems)
    return contracts_file


def _parse_contract(entry: Any, position: int, base_dir: Path | None) -> ContractTerms:
    name = entry.get("name") if isinstance(entry, dict) else None
    label = f"contract '{name.strip()}'" if isinstance(name, str) and name.strip() else (
        f"contract {position}")
    if not isinstance(entry, dict):
        raise ContractsError(f"{label}: must be a mapping of terms (got {_show(entry)})")
    try:
        return check_contract(entry, base_dir)
    except TermsProblems as exc:
        raise ContractsError([f"{label}: {key_path_message(key, message)}"
                              for key, message in exc.problems]) from None


class TermsProblems(Exception):
    """The problems of one contract's terms, each as (key path, what is wrong).

    The key path is empty where the message names its key itself
    (``lump_sum: cannot be combined with revenue_ceiling ...``).

    Attributes
    ----------
    problems : list of (tuple, str)
    """

    def __init__(self, problems: list[tuple[tuple, str]]):
        self.problems = problems
        super().__init__("; ".join(key_path_message(key, message) for key, message in problems))


def check_contract(terms: dict[str, Any], base_dir: Path | None = None) -> ContractTerms:
    """Check one contract's terms as written: its preset merged in, its age/sex factor
    table read, its model's terms validated.

    Parameters
    ----------
    terms : dict
        The contract's keys and values, as in one item of ``contracts:``.
    base_dir : Path, optional
        Where a preset or factor table given as a relative path is read from.

    Returns
    -------
    ContractTerms
        The terms of the contract's model.

    Raises
    ------
    TermsProblems
        With every problem found, each with its key path.
    """
    try:
        terms = apply_preset(terms, base_dir) if "preset" in terms else terms
    except (LookupError, ValueError) as exc:
        raise TermsProblems([((), str(exc))]) from None
    model = terms.get("model")
    if "age_sex_factors" in terms:
        try:
            terms = {**terms, "age_sex_factors": read_age_sex_factors(
                terms["age_sex_factors"], base_dir)}
        except ValueError as exc:
            raise TermsProblems([((), str(exc))]) from None
    terms_class = CONTRACT_MODELS.get(model) if isinstance(model, str) else None
    if terms_class is None:
        raise TermsProblems([((), _model_problem(model))])
    try:
        return terms_class.model_validate(terms)
    except ValidationError as exc:
        raise TermsProblems([locate_error(e, terms_class) for e in exc.errors()]) from None


def _model_problem(model: Any) -> str:
    available = ", ".join(CONTRACT_MODELS)
    if model is None:
        return f"model: is required (one of: {available})"
    return (f"model: unknown model {_show(model)}{did_you_mean(model, CONTRACT_MODELS)}; "
            f"the available models are {available}")


#: What each kind of pydantic error means, in words; ``{...}`` come from the error's context.
_MESSAGES = {
    "missing": "is required",
    "greater_than": "must be greater than {gt}",
    "greater_than_equal": "must be at least {ge}",
    "less_than": "must be less than {lt}",
    "less_than_equal": "must be at most {le}",
    "too_short": "must not be empty",
    "string_too_short": "must not be empty",
    "finite_number": "must be a finite number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be text",
    "list_type": "must be a list",
    "dict_type": "must be a mapping of keys to values",
    "model_type": "must be a mapping of keys to values",
    "model_attributes_type": "must be a mapping of keys to values",
    "literal_error": "must be {expected}",
}

#: Errors where showing the value would add nothing.
_SELF_EVIDENT = ("missing", "too_short", "string_too_short")


def describe_error(error: dict[str, Any], model: type[BaseModel]) -> str:
    """One pydantic error as ``key.path: what is wrong (got value)``."""
    return key_path_message(*locate_error(error, model))


def locate_error(error: dict[str, Any], model: type[BaseModel]) -> tuple[tuple, str]:
    """One pydantic error as its key path and what is wrong (got value)."""
    loc, kind = error["loc"], error["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        return loc[:-1], f"unknown key '{key}'{did_you_mean(key, _keys_at(model, loc[:-1]))}"
    if kind == "value_error":
        # Our own validators' sentences, which show the value where it helps.
        return loc, str(error["ctx"]["error"])
    # Bounds read as written: "at most 1", not "at most 1.0".
    ctx = {k: f"{v:g}" if isinstance(v, float) else v for k, v in error.get("ctx", {}).items()}
    message = _MESSAGES[kind].format(**ctx) if kind in _MESSAGES else (
        error["msg"][0].lower() + error["msg"][1:])
    got = "" if kind in _SELF_EVIDENT else f" (got {_show(error['input'])})"
    return loc, message + got


def key_path_message(loc: tuple, message: str) -> str:
    """A problem at a key path as ``key.path: message``; list items counted from 1.

    Examples
    --------
    >>> key_path_message(("degressive_tiers", 1, "rate"), "must be at least 0")
    'degressive_tiers[2].rate: must be at least 0'
    """
    path = ""
    for part in loc:
        path += f"[{part + 1}]" if isinstance(part, int) else (f".{part}" if path else part)
    return f"{path}: {message}" if path else message


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _keys_at(model: type[BaseModel] | None, loc: tuple) -> list[str]:
    """The keys allowed at ``loc`` inside ``model``, to suggest one for a misspelt key."""
    for part in loc:
        if isinstance(part, str) and model is not None:
            field = model.model_fields.get(part)
            model = _model_in(field.annotation) if field else None
    return list(model.model_fields) if model else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if get_origin(annotation) is None and isinstance(annotation, type):
        return annotation if issubclass(annotation, BaseModel) else None
    return next(filter(None, map(_model_in, get_args(annotation))), None)


def contracts_json_schema() -> dict[str, Any]:
    """The JSON Schema of the contracts file, with a description of every key.

    Examples
    --------
    >>> "contracts" in contracts_json_schema()["properties"]
    True
    """
    return ContractsFile.model_json_schema()


@dataclass(frozen=True)
class SettlementTerms:
    """The terms ``fundcalc settle`` applies to every case, and how to read the cases.

    Attributes
    ----------
    terms : dict
        Sharing terms as written (a preset's merged in); a case may override each.
    settings : Settings
        ``columns`` renames the cases file's headers; ``decimal_comma``, ``currency``.
    text : str
        The file's text, empty without a file.
    """

    terms: dict[str, Any]
    settings: Settings
    text: str = ""


def load_settlement_terms(path: str | Path | None) -> SettlementTerms:
    """Read the terms for settling cases: sharing terms, or a contracts file with one
    shared-savings contract.

    Parameters
    ----------
    path : str or Path, optional
        A ``.yaml``/``.json`` file holding either sharing terms at the top level
        (``sharing_rate: 0.5``, ``preset: mssp_basic_e``...) with the reading settings
        (``columns``, ``decimal_comma``, ``currency``), or a contracts file whose
        ``contracts:`` hold exactly one ``shared_savings`` contract. None: no terms, each
        case gives its own.

    Returns
    -------
    SettlementTerms

    Raises
    ------
    ContractsError
        For an unreadable file, unknown keys or out-of-range terms. A term the cases
        may still give (``sharing_rate``) is not required here.
    """
    if path is None:
        return SettlementTerms({}, Settings())
    path = Path(path)
    data, text = read_terms_file(path)
    data = {} if data is None else data
    source = str(path)
    if not isinstance(data, dict):
        raise ContractsError(f"{source}: the top level must be a mapping of terms")
    if "contracts" in data:
        terms, settings = _one_shared_savings_contract(data, source, path.parent)
    else:
        settings = {k: v for k, v in data.items() if k in Settings.model_fields}
        terms = {k: v for k, v in data.items() if k not in Settings.model_fields}
        terms = _sharing_terms(terms, source, "", path.parent)
    try:
        checked_settings = Settings.model_validate(settings)
    except ValidationError as exc:
        raise ContractsError([f"{source}: {describe_error(e, Settings)}"
                              for e in exc.errors()]) from None
    return SettlementTerms(terms, checked_settings, text)


def _one_shared_savings_contract(data: dict, source: str, base_dir: Path
                                 ) -> tuple[dict[str, Any], dict[str, Any]]:
    contracts = data["contracts"]
    entries = [c for c in contracts if isinstance(c, dict)] if isinstance(contracts, list) else []
    merged = []
    for position, entry in enumerate(entries, 1):
        try:
            merged.append(apply_preset(entry, base_dir) if "preset" in entry else entry)
        except (LookupError, ValueError) as exc:
            raise ContractsError(f"{source}: contract {position}: {exc}") from None
    chosen = [c for c in merged if c.get("model") == "shared_savings"]
    if len(chosen) != 1:
        raise ContractsError(
            f"{source}: settle needs one shared_savings contract in 'contracts:' "
            f"(found {len(chosen)}); or write the sharing terms at the top level")
    label = f"contract '{chosen[0].get('name', 1)}': "
    problems = [_unknown_key(source, label, key, SharedSavingsTerms.model_fields)
                for key in chosen[0] if key not in SharedSavingsTerms.model_fields]
    problems += [_unknown_key(source, "", key, [*Settings.model_fields, "contracts",
                                                "scenarios"])
                 for key in data if key not in Settings.model_fields
                 and key not in ("contracts", "scenarios")]
    if problems:
        raise ContractsError(problems)
    terms = {k: v for k, v in chosen[0].items() if k in SharingTerms.model_fields}
    settings = {k: v for k, v in data.items() if k in Settings.model_fields}
    return _sharing_terms(terms, source, label, base_dir), settings


def _unknown_key(source: str, label: str, key: Any, allowed) -> str:
    return f"{source}: {label}unknown key '{key}'{did_you_mean(key, allowed)}"


#: Keys a settle terms file may hold besides the sharing terms: they name or describe.
_DESCRIPTIVE_KEYS = ("name", "model", "notes")


def _sharing_terms(terms: dict[str, Any], source: str, label: str, base_dir: Path
                   ) -> dict[str, Any]:
    """Sharing terms as written, a preset merged in, checked as far as they go."""
    unknown = [k for k in terms
               if k not in SharingTerms.model_fields and k not in (*_DESCRIPTIVE_KEYS, "preset")]
    if unknown:
        allowed = [*SharingTerms.model_fields, "preset", *Settings.model_fields]
        problems = []
        for key in unknown:
            hint = did_you_mean(key, allowed) or (
                " (settle takes the benchmark, expenditure and members from the cases file)")
            problems.append(f"{source}: {label}{key}: not a sharing term{hint}")
        raise ContractsError(problems)
    if "preset" in terms:
        try:
            terms = apply_preset(terms, base_dir)
        except (LookupError, ValueError) as exc:
            raise ContractsError(f"{source}: {label}{exc}") from None
    terms = {k: v for k, v in terms.items() if k in SharingTerms.model_fields}
    try:
        SharingTerms.model_validate(terms)
    except ValidationError as exc:
        # A term left out here may still come from the cases, one per row.
        problems = [f"{source}: {label}{describe_error(e, SharingTerms)}"
                    for e in exc.errors() if e["type"] != "missing"]
        if problems:
            raise ContractsError(problems) from None
    return terms


def load_scenarios(path: str | Path, taken: Sequence[str] = ()
                   ) -> tuple[list[Scenario], str]:
    """Read scenarios from a file of their own (``fundcalc compare --scenario FILE``).

    Parameters
    ----------
    path : str or Path
        A ``.yaml``/``.json`` file holding a list of scenarios, one scenario, or a mapping
        with a ``scenarios:`` list.
    taken : sequence of str
        Scenario names already in use (those of the contracts file).

    Returns
    -------
    list of Scenario
    str
        The file's text, to show the scenarios as given.

    Raises
    ------
    ContractsError
        Naming the file, the scenario and the key of every problem.
    """
    path = Path(path)
    data, text = read_terms_file(path)
    items = data["scenarios"] if isinstance(data, dict) and "scenarios" in data else data
    items = [items] if isinstance(items, dict) else items
    if not isinstance(items, list) or not items:
        raise ContractsError(f"{path}: must hold a scenario or a list of scenarios (each "
                             "with a name and a shift or growth)")
    scenarios, problems = [], []
    for position, item in enumerate(items, 1):
        name = item.get("name") if isinstance(item, dict) else None
        label = f"scenario '{name}'" if isinstance(name, str) else f"scenario {position}"
        try:
            scenarios.append(Scenario.model_validate(item))
        except ValidationError as exc:
            problems += [f"{path}: {label}: {describe_error(e, Scenario)}" for e in exc.errors()]
    names = [s.name.casefold() for s in scenarios] + [n.casefold() for n in taken]
    problems += [f"{path}: scenario '{s.name}': the name is already used; give each "
                 "scenario its own" for s in scenarios if names.count(s.name.casefold()) > 1]
    if problems:
        raise ContractsError(problems)
    return scenarios, text
