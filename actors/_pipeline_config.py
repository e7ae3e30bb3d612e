"""Reading the data pipeline's configuration file into a :class:`PipelineConfig`.

The file is a JSON object whose keys are the note's parameter names. Every key is
optional (the note's defaults apply) except that unknown keys are refused, as a typo
would otherwise silently fall back to a default path. Relative paths resolve against
the file's own directory, so a config and its dataset can move together.
"""

from __future__ import annotations

import json
from pathlib import Path

from sagalog.events import SagalogError
from sagalog.events._jsonfile import loads, path_problem
from sagalog.events.pipeline import PipelineConfig

__all__ = ["DEFAULTS", "PipelineConfigError", "load_pipeline_config"]

DEFAULTS: dict[str, str] = {
    "dynamic_db_source_dir": "database/dynamicDatabase",
    "databaseSchemas_path": "database/databaseSchemas.json",
    "annotation_path": "agents/shared_db/DataLoaderAgent/newest/path_annotations.json",
    "default_dir": "agents/shared_db",
    "target_db_path": "agents/shared_db/DataLoaderAgent/target.db",
    "report_dir": "agents/shared_db/DataPipelineOrchestrator",
    "recipient": "operations",
    "outbox_path": "",
}
"""The note's defaults (its constructor's), and ours for the fields it does not name."""

_PATHS = ("dynamic_db_source_dir", "databaseSchemas_path", "annotation_path", "default_dir",
          "target_db_path", "report_dir", "outbox_path")


class PipelineConfigError(SagalogError):
    """The configuration file is missing, not JSON, or has a wrong field; names both."""

    def __init__(self, path: Path, problem: str, field: str | None = None) -> None:
        self.path = path
        self.field = field
        where = f"{path}: field {field!r}" if field else str(path)
        super().__init__(f"{where}: {problem}")


def load_pipeline_config(path: str | Path) -> PipelineConfig:
    """The configuration in ``path``, every path made absolute.

    Raises:
        PipelineConfigError: the file cannot be read, is not a JSON object, names an
            unknown field, or a field is not a non-empty string.

    """
    file = Path(path).absolute()
    values = _fields(file, _read(file))
    base = file.parent
    for key in _PATHS:
        problem = path_problem(values[key])
        if problem is not None:
            raise PipelineConfigError(file, f"{key}: cannot be a path: {problem}")
        if values[key]:
            values[key] = str((base / values[key]).resolve())
    if not values["outbox_path"]:
        values["outbox_path"] = str(Path(values["report_dir"]) / "notifications.jsonl")
    return PipelineConfig.model_validate(values)


def _read(file: Path) -> object:
    try:
        return loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PipelineConfigError(file, "no such configuration file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise PipelineConfigError(file, f"cannot read it ({error})") from None
    except json.JSONDecodeError as error:
        raise PipelineConfigError(file, f"not valid JSON ({error})") from None


def _fields(file: Path, raw: object) -> dict[str, str]:
    """The defaults, overridden by the file's fields (each checked)."""
    if not isinstance(raw, dict):
        raise PipelineConfigError(file, f"must be a JSON object, not {type(raw).__name__}")
    values = dict(DEFAULTS)
    for key, value in raw.items():
        if key not in DEFAULTS:
            known = ", ".join(DEFAULTS)
            raise PipelineConfigError(file, f"unknown field (known: {known})", key)
        if not isinstance(value, str) or not value.strip():
            raise PipelineConfigError(file, f"must be a non-empty string, not {value!r}", key)
        values[key] = value
    return values
