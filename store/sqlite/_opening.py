"""Opening a database file: check what it holds before changing anything, then set it up.

Runs on the writer's thread with a plain ``sqlite3`` connection. Nothing is written
until the file is known to be empty or a sagalog database this code can read, so a
foreign or newer file is refused byte-for-byte unchanged.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from sagalog.store._errors import NotADatabaseError, SchemaVersionError
from sagalog.store.sqlite._schema import APPLICATION_ID, SCHEMA_VERSION, create_script
from sagalog.store.sqlite._translate import translate

__all__ = ["BUSY_TIMEOUT_S", "SYNCHRONOUS", "check_readable_schema", "connect", "prepare"]

SYNCHRONOUS: dict[str, str] = {"full": "FULL", "normal": "NORMAL", "off": "OFF"}
BUSY_TIMEOUT_S = 60.0


def connect(path: str, *, read_uri: str | None = None) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), usable on any thread.

    With ``read_uri`` (from :func:`store._access.read_only_uri`) it is opened by that URI
    and cannot write.
    """
    try:
        if read_uri is not None:
            return sqlite3.connect(
                read_uri, uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_S,
                check_same_thread=False,
            )
        return sqlite3.connect(
            path, isolation_level=None, timeout=BUSY_TIMEOUT_S, check_same_thread=False
        )
    except sqlite3.Error as error:
        raise translate(error, "opening", path=path) from error


def prepare(
    connection: sqlite3.Connection, path: str, durability: str, *, read_only: bool = False
) -> int:
    """Refuse a file that is not ours, then set WAL, durability and the schema.

    Returns the file's schema version. A new file gets the current schema; an older
    one is left as it is, for the writer to upgrade in its first write transaction
    (:func:`store._schema.upgrade_statements`), so opening never writes to a log.
    ``read_only`` only checks: an empty file is refused (there is no log to read) and
    neither the journal mode nor the schema is touched.
    """
    try:
        # One read transaction, so the three answers come from one snapshot even while
        # another process is creating the schema (it stamps the ids in the same commit).
        connection.execute("BEGIN")
        application_id = _pragma(connection, "application_id")
        user_version = _pragma(connection, "user_version")
        tables = [
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        connection.execute("COMMIT")
    except sqlite3.Error as error:
        _rollback(connection)
        raise translate(error, "opening", path=path) from error
    _check_ours(path, application_id, user_version, tables)
    if read_only:
        if user_version == 0:
            msg = "the file holds no sagalog log yet (it is empty); nothing to read"
            raise NotADatabaseError(msg, path=path)
        return user_version
    try:
        if path != ":memory:":
            _retry_locked(connection, lambda: connection.execute("PRAGMA journal_mode = WAL"))
        connection.execute(f"PRAGMA synchronous = {SYNCHRONOUS[durability]}")
        if user_version == 0:
            _retry_locked(connection, lambda: connection.executescript(create_script()))
            user_version = _pragma(connection, "user_version")
    except sqlite3.Error as error:
        _rollback(connection)
        raise translate(error, "opening", path=path) from error
    return user_version


def _check_ours(path: str, application_id: int, user_version: int, tables: list[str]) -> None:
    """Refuse a foreign SQLite file, or one written by a newer sagalog, naming which."""
    if application_id not in (0, APPLICATION_ID) or (application_id == 0 and tables):
        msg = (
            "the file is an SQLite database but not a sagalog one "
            f"(application_id {application_id}, tables {', '.join(tables[:5])}); "
            "it was left unchanged"
        )
        raise NotADatabaseError(msg, path=path)
    if user_version > SCHEMA_VERSION:
        msg = (
            f"the database has schema version {user_version}, written by a newer sagalog; "
            f"this one reads up to version {SCHEMA_VERSION}. Upgrade sagalog to open it"
        )
        raise SchemaVersionError(msg, path=path)


_IDENTITY = ("SELECT (SELECT application_id FROM pragma_application_id), "
             "(SELECT user_version FROM pragma_user_version), "
             "(SELECT group_concat(name, char(31)) FROM sqlite_master WHERE type = 'table')")
"""The file's identity in ONE statement, so one snapshot (another process may be creating
the schema, and stamps the ids in the same commit)."""


def check_readable_schema(query: Callable[[str, tuple[()]], list[Any]], path: str) -> int:
    """For a read-only open: refuse what :func:`prepare` refuses, and an empty file.

    Returns the file's schema version; nothing is written.
    """
    application_id, user_version, names = query(_IDENTITY, ())[0]
    tables = names.split("\x1f") if names else []
    _check_ours(path, int(application_id), int(user_version), tables)
    if user_version == 0:
        msg = "the file holds no sagalog log yet (it is empty); nothing to read"
        raise NotADatabaseError(msg, path=path)
    return int(user_version)


def _pragma(connection: sqlite3.Connection, name: str) -> int:
    return int(connection.execute(f"PRAGMA {name}").fetchone()[0])


def _rollback(connection: sqlite3.Connection) -> None:
    if connection.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            connection.execute("ROLLBACK")


def _retry_locked(connection: sqlite3.Connection, action: Callable[[], object]) -> None:
    # Changing the journal mode or creating the schema needs a lock another process
    # may hold while it does the same; the busy timeout does not cover every case.
    for attempt in range(100):
        try:
            action()
        except sqlite3.OperationalError as error:
            _rollback(connection)
            if ("locked" not in str(error) and "busy" not in str(error)) or attempt == 99:
                raise
            time.sleep(0.05)
        else:
            return
