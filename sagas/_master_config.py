"""Reading the master pipeline's JSON configuration, with environment overrides.

Any string value may name environment variables: ``${NAME}`` (the variable must be
set) or ``${NAME:-default}`` (the default when it is unset or empty). A value that is
one reference only (``"${MASTER_RETRIES:-3}"``) is converted to the field's type, so
numbers and flags can differ per environment too. Relative paths resolve against the
configuration file's directory, so a run behaves the same from any working directory,
and the start event records the absolute paths a later ``resume`` needs.

Every mistake raises :class:`events.SagalogError` naming the file and the field.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from sagalog.events import SagalogError
from sagalog.events._jsonfile import loads, path_problem
from sagalog.events.master import STAGES, MasterConfig

__all__ = ["DEFAULT_PATHS", "load_master_config", "parse_master_config"]

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

DEFAULT_PATHS = {
    "work_dir": "work",
    "source_dir": "data",
    "models_dir": "models",
    "warehouse": "{work_dir}/warehouse.db",
    "monitoring_db": "{work_dir}/monitoring.db",
}
"""Paths when the file leaves them out; the last two sit in the work directory."""


def load_master_config(path: str | Path, environ: Mapping[str, str] | None = None) -> MasterConfig:
    """Read, substitute, resolve and check the configuration file at ``path``.

    Raises:
        SagalogError: the file is missing or not JSON, a variable it needs is unset, or
            a field is missing or wrong (the message names the file and the field).

    """
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as error:
        raise SagalogError(f"{source}: cannot read the configuration ({error.strerror})") from None
    except UnicodeDecodeError as error:
        raise SagalogError(f"{source}: cannot read the configuration (not UTF-8: "
                           f"{error.reason} at byte {error.start})") from None
    try:
        raw = loads(text)
    except json.JSONDecodeError as error:
        raise SagalogError(f"{source}: not valid JSON: {error.msg} at line {error.lineno}, "
                           f"column {error.colno}") from None
    return parse_master_config(raw, source, os.environ if environ is None else environ)


def parse_master_config(raw: object, source: Path, environ: Mapping[str, str]) -> MasterConfig:
    """:func:`load_master_config` on already-parsed JSON (``source`` names it in errors)."""
    if not isinstance(raw, dict):
        raise SagalogError(f"{source}: the configuration must be a JSON object")
    try:
        values = _substitute(raw, environ, source, "")
    except RecursionError:  # json.loads reads deeper than Python recurses (3.13's does)
        raise SagalogError(f"{source}: the configuration is nested too deeply") from None
    assert isinstance(values, dict)  # noqa: S101 - a dict stays a dict
    values["paths"] = _resolve_paths(values.get("paths", {}), source)
    values["source"] = str(source.resolve())
    try:
        config = MasterConfig.model_validate(values)
    except ValidationError as error:
        raise SagalogError(f"{source}: {_describe(error)}") from None
    _check(config, source)
    return config


def _substitute(value: object, environ: Mapping[str, str], source: Path, where: str) -> object:
    if isinstance(value, dict):
        return {key: _substitute(item, environ, source, f"{where}.{key}" if where else key)
                for key, item in value.items()}
    if isinstance(value, list):
        return [_substitute(item, environ, source, f"{where}[{index}]")
                for index, item in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        found = environ.get(name)
        if found:
            return found
        if default is not None:
            return default
        raise SagalogError(f"{source}: {where}: environment variable {name} is not set "
                           f"(write ${{{name}:-default}} to give a default)")

    return _REFERENCE.sub(replace, value)


def _resolve_paths(paths: object, source: Path) -> dict[str, object]:
    if not isinstance(paths, dict):
        raise SagalogError(f"{source}: paths: must be an object")
    base = source.resolve().parent
    merged = {**DEFAULT_PATHS, **paths}
    work_dir = merged["work_dir"]
    resolved: dict[str, object] = {}
    for key, value in merged.items():
        if not isinstance(value, str):
            resolved[key] = value  # the model names the field and the type
            continue
        problem = path_problem(value)
        if problem is not None:
            raise SagalogError(f"{source}: paths.{key}: cannot be a path: {problem}")
        if key in ("warehouse", "monitoring_db") and isinstance(work_dir, str):
            value = value.replace("{work_dir}", work_dir)  # noqa: PLW2901 - the default's form
        resolved[key] = str((base / value).resolve())
    return resolved


def _describe(error: ValidationError) -> str:
    problems = []
    for problem in error.errors():
        field = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        problems.append(f"{field}: {problem['msg']}")
    return "; ".join(problems)


def _check(config: MasterConfig, source: Path) -> None:
    missing = [stage for stage in STAGES if stage not in config.stages]
    if missing:
        raise SagalogError(f"{source}: stages: missing {', '.join(missing)} "
                           f"(every one of {', '.join(STAGES)} needs an action)")
    unknown = sorted(set(config.stages) - set(STAGES))
    if unknown:
        raise SagalogError(f"{source}: stages: unknown stage {', '.join(unknown)} "
                           f"(known: {', '.join(STAGES)})")
    for name in config.semantic_models:
        if not _IDENTIFIER.fullmatch(name):
            raise SagalogError(f"{source}: semantic_models.{name}: a model's name must be a "
                               "plain identifier (letters, digits, _)")
    known = set(STAGES) | {f"semantic_refresh[{name}]" for name in config.semantic_models}
    for key, count in config.fail.items():
        if key not in known:
            raise SagalogError(f"{source}: fail.{key}: not a stage or semantic_refresh[model]")
        if count < 0:
            raise SagalogError(f"{source}: fail.{key}: must be 0 or more, not {count}")

