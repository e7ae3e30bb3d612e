"""The ETL workflow's service actors: probe, freshness, download, validate.

Each actor turns one command into one result event; the saga in :mod:`sagas.etl`
decides what comes next. The adapters take everything from the command (URL, headers,
timeouts, directories), so the actors need no configuration and a resume rebuilds them
from nothing. The manifest is not a file: :func:`manifest` projects it from the log.
"""

from __future__ import annotations

from pathlib import Path

from loguru import logger

from sagalog.actors._actor import Actor
from sagalog.actors._etl_files import source_lock
from sagalog.actors._etl_http import download, probe
from sagalog.actors._etl_manifest import ManifestEntry, check_freshness, manifest
from sagalog.actors._etl_validate import validate
from sagalog.actors._handlers import handles
from sagalog.events import Envelope, Message
from sagalog.events.etl import (
    CheckFreshness,
    Downloaded,
    DownloadFailed,
    DownloadSource,
    FreshnessChecked,
    ManifestRecorded,
    ProbeFailed,
    ProbeSource,
    Quarantined,
    RecordManifest,
    SourceProbed,
    Validated,
    ValidateFile,
)

__all__ = [
    "DownloadService",
    "FreshnessService",
    "ManifestEntry",
    "ManifestService",
    "ProbeService",
    "ValidationService",
    "check_freshness",
    "manifest",
    "validate_locked",
]


class ProbeService(Actor):
    """Reads a source's ETag and size with a HEAD request."""

    @handles(ProbeSource)
    def probe_source(self, command: ProbeSource,
                     envelope: Envelope[Message]) -> SourceProbed | ProbeFailed:
        """SourceProbed, or ProbeFailed naming the error."""
        result = probe(command.source_id, command.url, command.headers, command.timeout)
        logger.bind(actor=self.actor_name, saga=envelope.correlation_id).info(
            "probed {}: {}", command.source_id, result)
        return result


class FreshnessService(Actor):
    """The freshness gate: reads the manifest (from the log) as of the question."""

    @handles(CheckFreshness)
    def check(self, command: CheckFreshness, envelope: Envelope[Message]) -> FreshnessChecked:
        """FreshnessChecked with the rule that decided and the manifest position."""
        entry = manifest(self._context.store, before=envelope.position).get(command.source_id)
        result = check_freshness(command.source_id, command.etag,
                                 force_refresh=command.force_refresh, entry=entry)
        logger.bind(actor=self.actor_name, saga=envelope.correlation_id).info(
            "{}: {} ({})", command.source_id, result.rule, result.reason)
        return result


class DownloadService(Actor):
    """Streams a source to a file while hashing it."""

    @handles(DownloadSource)
    def download_source(self, command: DownloadSource,
                        envelope: Envelope[Message]) -> Downloaded | DownloadFailed:
        """Downloaded (path, sha256, size, etag), or DownloadFailed naming the error."""
        result = download(command)
        logger.bind(actor=self.actor_name, saga=envelope.correlation_id).info(
            "download of {}: {}", command.source_id, type(result).__name__)
        return result


class ValidationService(Actor):
    """The validation gate: magic bytes and checksums; failing files go to quarantine."""

    @handles(ValidateFile)
    def validate_file(self, command: ValidateFile,
                      envelope: Envelope[Message]) -> Validated | Quarantined:
        """Validated, or Quarantined with the reason and where the file went.

        Under the source's lock (:func:`validate_locked`), as the download is.
        """
        result = validate_locked(command)
        if isinstance(result, Quarantined):
            logger.bind(actor=self.actor_name, saga=envelope.correlation_id).warning(
                "{} quarantined: {}", command.source_id, result.reason)
        return result


def validate_locked(command: ValidateFile) -> Validated | Quarantined:
    """The validation gate under the source's lock, as the download runs under it.

    A second handler of the command (another process resuming the same run) validates
    after the first has finished, and perhaps moved the file to quarantine, and so gives
    the same answer; it never reads a file the first is moving.
    """
    with source_lock(Path(command.path)):
        return validate(command)


class ManifestService(Actor):
    """Adds validated files to the manifest: a ``ManifestRecorded`` in the log."""

    @handles(RecordManifest)
    def record(self, command: RecordManifest, envelope: Envelope[Message]) -> ManifestRecorded:
        """ManifestRecorded: from now on, the source's manifest record."""
        return ManifestRecorded(
            source_id=command.source_id, run_id=command.run_id, url=command.url,
            etag=command.etag, sha256=command.sha256, size=command.size,
            file_path=command.file_path, format=command.format, final_url=command.final_url,
        )
