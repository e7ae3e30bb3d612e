"""The ETL workflow's configuration file: JSON, checked field by field, paths made absolute.

Every mistake becomes a :class:`events.SagalogError` naming the file and the field
(``sources.json: sources[1].expected_format: ...``), so a user never sees a pydantic or
json traceback. Relative directories are read against the config file's directory, so
a run does not depend on where it was started from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sagalog.events import SagalogError
from sagalog.events._jsonfile import loads, path_problem
from sagalog.events.etl import (
    DEFAULT_DOWNLOAD_DEADLINE,
    DEFAULT_MAX_BYTES,
    EtlSettings,
    EtlSource,
    FileFormat,
)

__all__ = ["EtlConfig", "load_config"]


class _SourceFile(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    source_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=100)
    url: str = Field(min_length=1)
    expected_format: FileFormat
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    headers: dict[str, str] = Field(default_factory=dict)
    max_bytes: int | None = Field(default=None, gt=0)
    """This source's size cap (bytes); the file's ``max_bytes`` when unset."""


class _ConfigFile(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    sources: list[_SourceFile] = Field(min_length=1)
    download_dir: str = "downloads"
    quarantine_dir: str = "quarantine"
    base_url: str | None = None
    """Relative source URLs are joined to it (a local server in the showcase)."""
    probe_timeout: float = Field(default=10.0, gt=0)
    download_timeout: float = Field(default=60.0, gt=0)
    """Seconds one read (or the connect) may wait."""
    download_deadline: float = Field(default=DEFAULT_DOWNLOAD_DEADLINE, gt=0)
    """Seconds a whole download may take (10 minutes by default)."""
    max_bytes: int = Field(default=DEFAULT_MAX_BYTES, gt=0)
    """The size cap of sources that set none (256 MiB by default)."""
    dry_run: bool = False
    force_refresh: bool = False


@dataclass(frozen=True)
class EtlConfig:
    """A checked configuration: the sources, the settings, and the flags it asks for."""

    path: Path
    sources: tuple[EtlSource, ...]
    settings: EtlSettings
    dry_run: bool
    force_refresh: bool


def load_config(path: str | Path, base_url: str | None = None) -> EtlConfig:
    """Read and check the config file; ``base_url`` overrides the file's.

    Raises:
        SagalogError: the file is missing or unreadable, is not JSON, or a field is wrong
            (the message names the file and the field).

    """
    where = Path(path)
    try:
        text = where.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        msg = f"{where}: cannot read the ETL config ({error})"
        raise SagalogError(msg) from None
    try:
        raw = loads(text)
    except json.JSONDecodeError as error:
        msg = f"{where}: not JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        raise SagalogError(msg) from None
    try:
        parsed = _ConfigFile.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        msg = f"{where}: {_field(first['loc'])}: {first['msg']}"
        raise SagalogError(msg) from None
    return _resolve(where, parsed, base_url)


def _resolve(where: Path, parsed: _ConfigFile, base_url: str | None) -> EtlConfig:
    seen: set[str] = set()
    sources = []
    base = base_url or parsed.base_url
    for index, source in enumerate(parsed.sources):
        if source.source_id in seen:
            msg = f"{where}: sources[{index}].source_id: {source.source_id!r} appears twice"
            raise SagalogError(msg)
        seen.add(source.source_id)
        url = urljoin(base.rstrip("/") + "/", source.url) if base else source.url
        if not url.startswith(("http://", "https://")):
            msg = (f"{where}: sources[{index}].url: {url!r} is not an http(s) URL "
                   f"(relative URLs need base_url)")
            raise SagalogError(msg)
        sources.append(EtlSource(source_id=source.source_id, url=url,
                                 expected_format=source.expected_format,
                                 sha256=source.sha256, headers=source.headers,
                                 max_bytes=source.max_bytes))
    for field in ("download_dir", "quarantine_dir"):
        problem = path_problem(getattr(parsed, field))
        if problem is not None:
            msg = f"{where}: {field}: cannot be a path: {problem}"
            raise SagalogError(msg)
    home = where.resolve().parent
    settings = EtlSettings(
        download_dir=str((home / parsed.download_dir).resolve()),
        quarantine_dir=str((home / parsed.quarantine_dir).resolve()),
        probe_timeout=parsed.probe_timeout, download_timeout=parsed.download_timeout,
        download_deadline=parsed.download_deadline, max_bytes=parsed.max_bytes,
    )
    return EtlConfig(where.resolve(), tuple(sources), settings, parsed.dry_run,
                     parsed.force_refresh)


def _field(location: tuple[int | str, ...]) -> str:
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or "(top level)"
