"""Applying an activity's effect once: the ``activity_effects`` table in the warehouse.

An activity is keyed by its command's event id. :func:`apply_once` takes the
warehouse's write lock (``BEGIN IMMEDIATE``), looks the key up, and only if it is new
runs the action and records the key, in that same transaction. So the action's database
changes and the record of them commit together or not at all, and a command re-run
after a crash (same event id) finds its effect recorded and gets the first answer back.

Hazards: file changes an action makes cannot join the transaction; they must be safe to
redo (write to a temporary file and rename). Work that SQLite refuses inside a
transaction (``VACUUM``) goes to :meth:`EffectScope.after_commit`, which runs only when
the effect was applied by this call. The index on ``effect_key`` is deliberately NOT
unique, as in :mod:`actors._ledger`: a bug that bypasses the check must leave a second row
a test can count, not an ``IntegrityError`` that hides it.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sagalog.actors._local_db import faults_typed, write_transaction

__all__ = ["EffectRecord", "EffectScope", "apply_once", "effect_rows", "warehouse_connection"]

_BUSY_TIMEOUT_S = 30.0
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS activity_effects (
        id INTEGER PRIMARY KEY,
        effect_key TEXT NOT NULL,
        run_id TEXT NOT NULL,
        stage TEXT NOT NULL,
        activity TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        applied_at TEXT NOT NULL,
        details TEXT NOT NULL
    )""",
    # Not UNIQUE, on purpose: see the module docstring.
    "CREATE INDEX IF NOT EXISTS activity_effects_by_key ON activity_effects (effect_key)",
)


@dataclass(frozen=True, slots=True)
class EffectRecord:
    """What is recorded about one applied effect."""

    effect_key: str
    """The command's event id."""
    run_id: str
    stage: str
    activity: str
    attempt: int
    applied_at: datetime


@dataclass(slots=True)
class EffectScope:
    """The open transaction an action works in, and what to run once it committed."""

    connection: sqlite3.Connection
    """The warehouse, inside ``BEGIN IMMEDIATE``: do not commit or roll back."""
    _after: list[Callable[[], None]] = field(default_factory=list)

    def after_commit(self, work: Callable[[], None]) -> None:
        """Run ``work`` after the effect is committed (for ``VACUUM`` and the like)."""
        self._after.append(work)


@contextlib.contextmanager
def warehouse_connection(path: str | Path) -> Iterator[sqlite3.Connection]:
    """An autocommit connection to the warehouse (WAL, 30 s busy timeout), closed after.

    A full disk or an I/O error in the block is the store's typed fault naming the file.
    """
    with faults_typed(path, "the warehouse"):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(path, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
        try:
            connection.execute("PRAGMA journal_mode = WAL")
            yield connection
        finally:
            connection.close()


def apply_once(
    warehouse: str | Path, record: EffectRecord, action: Callable[[EffectScope], dict[str, Any]]
) -> tuple[bool, dict[str, Any]]:
    """Run ``action`` and record its effect under ``record.effect_key``, unless recorded.

    Returns:
        ``(True, details)`` when this call applied the effect, ``(False, the first
        details)`` when the key was recorded before.

    Raises:
        DiskFullError, StorageIOError: the disk is full, or an I/O error (the action's
            too); nothing is recorded.
        Exception: whatever else ``action`` raised; the transaction is rolled back and
            nothing is recorded.

    """
    with warehouse_connection(warehouse) as connection:
        for statement in _SCHEMA:
            connection.execute(statement)
        with write_transaction(connection):
            found = connection.execute(
                "SELECT details FROM activity_effects WHERE effect_key = ? ORDER BY id LIMIT 1",
                (record.effect_key,),
            ).fetchone()
            if found is not None:
                return False, json.loads(found[0])  # (nothing written: the commit is empty)
            scope = EffectScope(connection)
            details = action(scope)
            connection.execute(
                "INSERT INTO activity_effects (effect_key, run_id, stage, activity, attempt, "
                "applied_at, details) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (record.effect_key, record.run_id, record.stage, record.activity,
                 record.attempt, record.applied_at.isoformat(),
                 json.dumps(details, sort_keys=True, default=str)),
            )
        for work in scope._after:  # noqa: SLF001 - the scope is this module's own
            work()
    return True, json.loads(json.dumps(details, sort_keys=True, default=str))


def effect_rows(warehouse: str | Path) -> list[dict[str, Any]]:
    """Every recorded effect, oldest first ([] before the table exists): for tests and audits."""
    if not Path(warehouse).exists():
        return []
    with warehouse_connection(warehouse) as connection:
        connection.row_factory = sqlite3.Row
        try:
            rows = connection.execute("SELECT * FROM activity_effects ORDER BY id").fetchall()
        except sqlite3.OperationalError:
            return []
    return [dict(row) for row in rows]
