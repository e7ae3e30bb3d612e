"""Reading the job workflow's configuration file.

The file is JSON; every key is optional::

    {
      "queues": {"pending": "data-pipeline-job-pending", ...},
      "jobs_db": "jobs.db",
      "search_index": "search.db",
      "indexers": ["fts5"],
      "failure_injection": {"pipeline_fails": []},
      "max_payload_bytes": 1048576
    }

Relative paths are relative to the file's directory, and are made absolute here, so the
configuration a :class:`events.jobs.JobSubmitted` carries means the same to any worker.
Without a file (or a path key), the databases go beside the log: ``<db>.jobs`` and
``<db>.search``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sagalog.events import SagalogError
from sagalog.events._jsonfile import loads, path_problem
from sagalog.events.jobs import JobsConfig

__all__ = ["JobsConfigError", "load_jobs_config"]


class JobsConfigError(SagalogError):
    """The configuration file is missing, not JSON, or has a wrong field (named)."""


def load_jobs_config(path: str | Path | None, db: str | Path) -> JobsConfig:
    """The configuration in ``path`` (None: the defaults), its paths made absolute.

    Raises:
        JobsConfigError: the file cannot be read, is not a JSON object, or a field is
            wrong; the message names the file and the field.

    """
    data: dict[str, Any] = {}
    base = Path.cwd()
    if path is not None:
        data = _read(Path(path))
        base = Path(path).resolve().parent
    log = Path(db).resolve()
    for key, default in (("jobs_db", f"{log}.jobs"), ("search_index", f"{log}.search")):
        value = data.get(key, default)
        problem = path_problem(value) if isinstance(value, str) else None
        if problem is not None:
            raise JobsConfigError(f"{path}: {key}: cannot be a path: {problem}")
        data[key] = str(base / value) if isinstance(value, str) and value else value
    try:
        return JobsConfig.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc']) or '(file)'}: {item['msg']}"
            for item in error.errors(include_url=False)
        )
        where = path if path is not None else "the default configuration"
        raise JobsConfigError(f"{where}: {problems}") from None


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise JobsConfigError(f"{path}: cannot read the configuration ({error})") from None
    try:
        data = loads(text)
    except json.JSONDecodeError as error:
        raise JobsConfigError(f"{path}: not JSON: {error}") from None
    if not isinstance(data, dict):
        raise JobsConfigError(f"{path}: the configuration must be a JSON object, "
                              f"not {type(data).__name__}")
    return data
