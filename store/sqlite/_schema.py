"""The database schema, and the checks that run on a file before SQLite touches it.

The events table is the log. ``position`` is the rowid, so reading in position order is
a walk of the table's own b-tree. Two unique indexes let the database enforce what the
code assumes: one record per (stream, version), one record per event id. Triggers refuse
UPDATE and DELETE, so the log is append-only even for someone with a raw connection.

The runs table is a summary the writer keeps in the same transaction as the records:
per correlation id, its first and last record, how many it has, and the status the
layer above's hooks gave it (the store knows no sagas: see ``RunStatusHook``). Listing
the runs of a log then reads one row per run instead of aggregating every record
(1,000,000 records: 1.4-2 s before, see ``bench/history_bench.py``). ``status_scans``
remembers, per hook, up to which position every record has been shown to it, so a hook
installed later (or a log written by a process without it) is caught up from there.
``metadata`` holds the log's own notes (a bundle's source, say).

Hazard: changing anything here changes the file format. Bump :data:`SCHEMA_VERSION` and
add a migration; a file with a higher version than this code knows is refused.
"""

from __future__ import annotations

import os
from pathlib import Path

from sagalog.store._errors import CorruptDatabaseError, NotADatabaseError
from sagalog.store._faults import storage_fault

__all__ = [
    "APPLICATION_ID",
    "COLUMNS",
    "SCHEMA_VERSION",
    "check_file",
    "create_script",
    "is_memory",
    "upgrade_statements",
]

APPLICATION_ID = 0x5347_4C47
"""``PRAGMA application_id`` of a sagalog database ("SGLG")."""

SCHEMA_VERSION = 3
"""``PRAGMA user_version`` this code writes and reads (1: no runs table; 2: the runs
table kept the last saga decision's rule; 3: neutral runs, statuses from hooks, metadata)."""

COLUMNS = (
    "position, stream_id, stream_version, event_id, type, version, recorded_at, "
    "correlation_id, causation_id, data"
)
"""The envelope columns, in envelope order (``hash`` is selected separately)."""

_RUNS = """
CREATE TABLE IF NOT EXISTS runs (
    first_position INTEGER PRIMARY KEY,
    correlation_id TEXT    NOT NULL UNIQUE,
    first_type     TEXT    NOT NULL,
    started        TEXT    NOT NULL,
    last_position  INTEGER NOT NULL,
    last_type      TEXT    NOT NULL,
    ended          TEXT    NOT NULL,
    events         INTEGER NOT NULL,
    status         TEXT,
    status_position INTEGER
);
CREATE INDEX IF NOT EXISTS runs_status ON runs (status, first_position);
CREATE TABLE IF NOT EXISTS status_scans (
    name    TEXT    PRIMARY KEY,
    through INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS metadata (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

_TABLES = _RUNS + """
CREATE TABLE IF NOT EXISTS events (
    position       INTEGER PRIMARY KEY,
    stream_id      TEXT    NOT NULL,
    stream_version INTEGER NOT NULL,
    event_id       BLOB    NOT NULL,
    type           TEXT    NOT NULL,
    version        INTEGER NOT NULL,
    recorded_at    TEXT    NOT NULL,
    correlation_id TEXT,
    causation_id   BLOB,
    data           TEXT    NOT NULL,
    hash           BLOB    NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS events_stream ON events (stream_id, stream_version);
CREATE UNIQUE INDEX IF NOT EXISTS events_event_id ON events (event_id);
CREATE INDEX IF NOT EXISTS events_correlation ON events (correlation_id, position)
    WHERE correlation_id IS NOT NULL;
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'sagalog: the events table is append-only (UPDATE refused)');
END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'sagalog: the events table is append-only (DELETE refused)');
END;
CREATE TABLE IF NOT EXISTS checkpoints (
    name       TEXT    PRIMARY KEY,
    position   INTEGER NOT NULL,
    updated_at TEXT    NOT NULL
);
"""


_FILL_RUNS = """
INSERT INTO runs (first_position, correlation_id, first_type, started, last_position,
                  last_type, ended, events)
SELECT g.first, g.correlation_id, f.type, f.recorded_at, g.last, l.type, l.recorded_at, g.n
FROM (SELECT correlation_id, min(position) AS first, max(position) AS last, count(*) AS n
      FROM events WHERE correlation_id IS NOT NULL GROUP BY correlation_id) AS g
JOIN events AS f ON f.position = g.first
JOIN events AS l ON l.position = g.last
"""
"""Builds the runs table of a version-1 file from its records (statuses come from the
hooks, which catch up from position 0: ``status_scans`` is empty)."""

_NEUTRAL_RUNS = """
ALTER TABLE runs RENAME TO runs_v2;
""" + _RUNS + """
INSERT INTO runs (first_position, correlation_id, first_type, started, last_position,
                  last_type, ended, events)
SELECT first_position, correlation_id, first_type, started, last_position, last_type, ended,
       events FROM runs_v2;
DROP TABLE runs_v2;
"""
"""Turns a version-2 runs table (which kept the last saga decision's rule, knowledge of the
layer above) into the neutral one; the hooks then fill the statuses from position 0."""


def upgrade_statements(version: int) -> list[str]:
    """What brings a file from schema ``version`` to :data:`SCHEMA_VERSION`, in order.

    Run by the writer inside its first write transaction, never at open: a read-only
    command opening an older file leaves it as it was.
    """
    statements = []
    if version < 2:  # the version that added the runs table
        statements += [*_split(_RUNS), _FILL_RUNS]
    elif version < 3:  # the version that made it neutral
        statements += _split(_NEUTRAL_RUNS)
    statements.append(f"PRAGMA user_version = {SCHEMA_VERSION}")
    return statements


def _split(script: str) -> list[str]:
    """The statements of a script without triggers, one by one.

    ``execute`` runs one statement at a time, and ``executescript`` would commit the
    writer's open transaction first.
    """
    return [statement.strip() for statement in script.split(";\n") if statement.strip()]


def create_script() -> str:
    """One script that creates the schema and stamps the file, in one transaction."""
    return (
        f"BEGIN IMMEDIATE;{_TABLES}"
        f"PRAGMA application_id = {APPLICATION_ID};\n"
        f"PRAGMA user_version = {SCHEMA_VERSION};\n"
        "COMMIT;"
    )


_MAGIC = b"SQLite format 3\x00"
_HEADER_SIZE = 100


def check_file(path: str) -> None:
    """Refuse a file that is not an SQLite database, or is truncated, before opening it.

    Reads only the 100-byte header, so the file is left byte-for-byte as it was. A
    missing or empty file is fine (SQLite makes a new database there).

    Raises:
        NotADatabaseError: the header is not SQLite's, or ``path`` is a directory.
        CorruptDatabaseError: the file is shorter than its header says.
        StorageIOError: the header could not be read (an I/O error).

    """
    file = Path(path)
    if file.is_dir():
        raise NotADatabaseError("is a directory, not a database file", path=path)
    try:
        size = file.stat().st_size
    except FileNotFoundError:
        return
    if size == 0:
        return
    try:
        with file.open("rb") as handle:
            header = handle.read(_HEADER_SIZE)
    except OSError as error:  # EIO: the disk, not the log; anything else as it is
        fault = storage_fault(error, "reading the file's header", path=path)
        if fault is None:
            raise
        raise fault from error
    if len(header) < _HEADER_SIZE or not header.startswith(_MAGIC):
        raise NotADatabaseError(
            "the file is not an SQLite database (no SQLite header); it was left unchanged",
            path=path,
        )
    page_size = int.from_bytes(header[16:18], "big")
    if page_size == 1:
        page_size = 65536
    page_count = int.from_bytes(header[28:32], "big")
    change_counter = int.from_bytes(header[24:28], "big")
    valid_for = int.from_bytes(header[92:96], "big")
    wal = Path(f"{path}-wal")
    has_wal = wal.exists() and wal.stat().st_size > 0
    if has_wal or valid_for != change_counter or page_size < 512:
        return  # the header's page count is not authoritative; SQLite checks the rest
    expected = page_size * page_count
    if size < expected or size % page_size:
        raise CorruptDatabaseError(
            f"the file is truncated: its header says {page_count} pages of {page_size} bytes "
            f"({expected} bytes) but it holds {size}; it was left unchanged",
            path=path,
        )


def is_memory(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names an in-memory database."""
    return str(path) == ":memory:"
