"""The ETL manifest as a projection of the log, and the note's freshness gate over it.

There is no manifest file to drift from the log: the manifest is the last
``ManifestRecorded`` per source, with the position it was recorded at. The freshness
gate (the freshness rules, in their documented order) is a pure function of the probe's
ETag, the flag, that record, and whether the recorded file exists, so each of its five
rules can be tested alone and its answer is recorded with the rule and the position.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sagalog.events.etl import FreshnessChecked, FreshnessRule, ManifestRecorded

if TYPE_CHECKING:
    from sagalog.store import LogReaderProtocol

__all__ = ["ManifestEntry", "check_freshness", "manifest"]


@dataclass(frozen=True)
class ManifestEntry:
    """One source's current manifest record and where the log holds it."""

    record: ManifestRecorded
    position: int


def manifest(store: LogReaderProtocol, before: int | None = None) -> dict[str, ManifestEntry]:
    """The manifest: the last ``ManifestRecorded`` per source (before position ``before``).

    ``before`` makes the answer repeatable: the freshness gate reads the manifest as it
    was when its question was asked, whatever was recorded since.
    """
    entries: dict[str, ManifestEntry] = {}
    for envelope in store.read_all(types=[ManifestRecorded]):
        if before is not None and envelope.position >= before:
            break
        record = envelope.data
        if isinstance(record, ManifestRecorded):
            entries[record.source_id] = ManifestEntry(record, envelope.position)
    return entries


def check_freshness(
    source_id: str,
    etag: str | None,
    *,
    force_refresh: bool,
    entry: ManifestEntry | None,
    exists: Callable[[str], bool] = lambda path: Path(path).exists(),
) -> FreshnessChecked:
    """The freshness gate, rule by rule in the note's order; the first that applies wins.

    1. ``force_refresh`` -> download.  2. no manifest record -> download.
    3. the probe has an ETag and it differs from the record's -> download (no ETag from
       the server skips this rule, as in the note).
    4. the recorded file is missing -> download.  5. otherwise up to date: skip.
    """
    def answer(rule: FreshnessRule, reason: str) -> FreshnessChecked:
        return FreshnessChecked(
            source_id=source_id, download_needed=rule != "up_to_date", rule=rule,
            reason=reason, etag=etag, manifest_position=entry.position if entry else None,
        )

    if force_refresh:
        return answer("force_refresh", "force_refresh is set: download required")
    if entry is None:
        return answer("no_manifest_record",
                      f"no manifest record for {source_id}: download required")
    record, position = entry.record, entry.position
    if etag and record.etag != etag:
        return answer("etag_changed",
                      f"ETag changed since pos {position} ({record.etag} -> {etag})")
    if not exists(record.file_path):
        return answer("file_missing",
                      f"file recorded at pos {position} is missing ({record.file_path})")
    if etag:
        return answer("up_to_date", f"ETag unchanged since pos {position}")
    return answer("up_to_date",
                  f"no ETag from the server; the file recorded at pos {position} exists")
