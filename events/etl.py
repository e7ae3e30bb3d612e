"""The ETL source orchestrator's messages. Registered names are the log format.

One saga runs per source per run: it starts on :class:`SourceRunStarted`, which carries
the source and the run's settings (the whole parsed configuration, so a resume needs
nothing but the log), and ends on one of :class:`SourceUpdated`, :class:`SourceSkipped`,
:class:`SourceQuarantined` or :class:`SourceFailed`. Every gate's answer is an event
with its reason: :class:`FreshnessChecked` names the rule of the note's freshness gate
and the manifest position it compared against.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sagalog.events._message import Command, Event

__all__ = [
    "DEFAULT_DOWNLOAD_DEADLINE",
    "DEFAULT_MAX_BYTES",
    "DOWNLOAD_FAILURES",
    "FORMATS",
    "FRESHNESS_RULES",
    "CheckFreshness",
    "DownloadFailed",
    "DownloadFailure",
    "DownloadSource",
    "Downloaded",
    "EtlRunStarted",
    "EtlSettings",
    "EtlSource",
    "FileFormat",
    "FreshnessChecked",
    "FreshnessRule",
    "ManifestRecorded",
    "ProbeFailed",
    "ProbeSource",
    "Quarantined",
    "RecordManifest",
    "SourceFailed",
    "SourceProbed",
    "SourceQuarantined",
    "SourceRunStarted",
    "SourceSkipped",
    "SourceUpdated",
    "ValidateFile",
    "Validated",
]

FileFormat = Literal["csv", "json", "gzip", "zip", "parquet"]
"""The formats whose magic bytes the validation gate knows."""

FORMATS: tuple[str, ...] = ("csv", "json", "gzip", "zip", "parquet")

FreshnessRule = Literal["force_refresh", "no_manifest_record", "etag_changed", "file_missing",
                        "up_to_date"]
"""The freshness gate's rules, in the order the note checks them."""

FRESHNESS_RULES: tuple[str, ...] = ("force_refresh", "no_manifest_record", "etag_changed",
                                    "file_missing", "up_to_date")

DownloadFailure = Literal["too_large", "deadline", "redirect", "http_status", "connect",
                          "timeout", "short_body", "io", "other"]
"""Why a download failed, as a word a program can test (the ``error`` text says more)."""

DOWNLOAD_FAILURES: tuple[str, ...] = ("too_large", "deadline", "redirect", "http_status",
                                      "connect", "timeout", "short_body", "io", "other")

DEFAULT_MAX_BYTES = 256 * 1024 * 1024
"""A download larger than this (256 MiB) fails unless its source or the run sets a cap."""

DEFAULT_DOWNLOAD_DEADLINE = 600.0
"""Seconds a whole download (connect, redirects, every read) may take, by default."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class EtlSource(_Frozen):
    """One source of the configuration: where it is and what it must look like."""

    source_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=100)
    """Names the source in the manifest and in file names (letters, digits, ``_.-``)."""
    url: str
    expected_format: FileFormat
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    """The checksum the file must have, when the source publishes one."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Request headers for the probe and the download (an API token, say)."""
    max_bytes: int | None = Field(default=None, gt=0)
    """This source's size cap in bytes (None: the run's ``max_bytes``)."""


class EtlSettings(_Frozen):
    """The run's settings, with paths already made absolute."""

    download_dir: str
    quarantine_dir: str
    probe_timeout: float = Field(default=10.0, gt=0)
    download_timeout: float = Field(default=60.0, gt=0)
    """Seconds one read (or the connect) may wait for the server."""
    download_deadline: float = Field(default=DEFAULT_DOWNLOAD_DEADLINE, gt=0)
    """Seconds the whole download may take, however steadily the server trickles."""
    max_bytes: int = Field(default=DEFAULT_MAX_BYTES, gt=0)
    """The size cap of a source that sets none."""


class EtlRunStarted(Event, name="EtlRunStarted"):
    """A run began: the configuration it read and the flags it ran with."""

    run_id: str
    config_path: str
    sources: list[str]
    """The saga ids of the run, one per source."""
    settings: EtlSettings
    dry_run: bool
    force_refresh: bool


class SourceRunStarted(Event, name="SourceRunStarted"):
    """One source's saga starts: everything it needs, taken from the run's configuration."""

    run_id: str
    source: EtlSource
    settings: EtlSettings
    dry_run: bool
    force_refresh: bool


class _SourceCommand(Command, abstract=True):
    run_id: str
    source_id: str


class _SourceEvent(Event, abstract=True):
    source_id: str


class ProbeSource(_SourceCommand, name="ProbeSource"):
    """Read the remote metadata (ETag, size) without downloading the body."""

    url: str
    headers: dict[str, str]
    timeout: float


class SourceProbed(_SourceEvent, name="SourceProbed"):
    """The source answered the probe."""

    etag: str | None
    size: int | None
    status: int


class ProbeFailed(_SourceEvent, name="ProbeFailed"):
    """The probe got an error status or no answer."""

    error: str


class CheckFreshness(_SourceCommand, name="CheckFreshness"):
    """The freshness gate's question: whether this probed ETag needs a download."""

    etag: str | None
    force_refresh: bool


class FreshnessChecked(_SourceEvent, name="FreshnessChecked"):
    """The freshness gate's answer, the rule that gave it, and the manifest record it read."""

    download_needed: bool
    rule: FreshnessRule
    reason: str
    etag: str | None
    """The probed ETag the decision was about."""
    manifest_position: int | None
    """Log position of the manifest record compared against (None when there was none)."""


class DownloadSource(_SourceCommand, name="DownloadSource"):
    """Stream the source to a file in the download directory, hashing it on the way."""

    url: str
    headers: dict[str, str]
    timeout: float
    download_dir: str
    expected_format: FileFormat
    probed_etag: str | None
    max_bytes: int = Field(default=DEFAULT_MAX_BYTES, gt=0)
    """More bytes than this and the download fails (``too_large``)."""
    deadline: float = Field(default=DEFAULT_DOWNLOAD_DEADLINE, gt=0)
    """Seconds for the whole download; past them it fails (``deadline``)."""


class Downloaded(_SourceEvent, name="Downloaded"):
    """The whole body is on disk at ``path``."""

    path: str
    sha256: str
    """Computed while streaming."""
    size: int
    etag: str | None
    """The ETag of the GET's response (the probe's, unless the file changed in between)."""
    final_url: str | None = None
    """Where the body came from after redirects (None in logs written before it was kept)."""


class DownloadFailed(_SourceEvent, name="DownloadFailed"):
    """The download got an error status, no answer, a short or too large body, or ran late."""

    error: str
    cause: DownloadFailure = "other"
    """The kind of failure (``too_large``, ``deadline``, ``redirect``...)."""


class ValidateFile(_SourceCommand, name="ValidateFile"):
    """The validation gate's question: whether the file's magic bytes and checksums are right."""

    path: str
    expected_format: FileFormat
    sha256: str
    """The hash computed while streaming: the file on disk must still have it."""
    expected_sha256: str | None
    quarantine_dir: str


class Validated(_SourceEvent, name="Validated"):
    """The file has the expected format's magic bytes and the right checksum."""

    path: str
    format: FileFormat
    sha256: str


class Quarantined(_SourceEvent, name="Quarantined"):
    """The file failed validation and was moved out of the download directory."""

    path: str
    reason: str
    quarantine_path: str


class RecordManifest(_SourceCommand, name="RecordManifest"):
    """Add the validated file to the manifest."""

    url: str
    etag: str | None
    sha256: str
    size: int
    file_path: str
    format: FileFormat
    final_url: str | None = None
    """Where the body came from after redirects."""


class ManifestRecorded(_SourceEvent, name="ManifestRecorded"):
    """A manifest record: the manifest is the last of these per source, read from the log."""

    run_id: str
    url: str
    etag: str | None
    sha256: str
    size: int
    file_path: str
    format: FileFormat
    final_url: str | None = None
    """Where the body came from after redirects (None: as ``url``, or an older record)."""


class _SourceEnd(_SourceEvent, abstract=True):
    run_id: str


class SourceUpdated(_SourceEnd, name="SourceUpdated"):
    """The source was downloaded, validated and recorded in the manifest."""

    rule: str
    """Why it was downloaded (the freshness rule)."""
    file_path: str
    sha256: str
    etag: str | None


class SourceSkipped(_SourceEnd, name="SourceSkipped"):
    """Nothing was downloaded: the file is up to date, or this is a dry run."""

    why: Literal["up_to_date", "dry_run"]
    reason: str


class SourceQuarantined(_SourceEnd, name="SourceQuarantined"):
    """The download failed validation; the file is in quarantine and not in the manifest."""

    reason: str
    quarantine_path: str


class SourceFailed(_SourceEnd, name="SourceFailed"):
    """The probe or the download failed (or a service kept crashing)."""

    stage: str
    reason: str
    cause: str | None = None
    """The download's failure kind (``too_large``, ``deadline``...), when it was one."""
