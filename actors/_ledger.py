"""The demo adapters' ledger of effects: the "outside world" they change, made observable.

The built-in demo service adapters (payments, stock, mail) write each effect here under
its idempotency key, so a test can prove that no effect happened twice, whatever
crashed and was retried. The ledger is its own SQLite file, never the event store.

Hazard: the index on ``(adapter, idempotency_key)`` is deliberately NOT unique. The
ledger answers a repeated key idempotently (:meth:`Ledger.apply`), but an adapter that
bypasses it must leave a second row that :meth:`Ledger.duplicates` finds, not an
``IntegrityError`` that would hide the bug.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from sagalog.actors._errors import ActorRuntimeError
from sagalog.actors._local_db import faults_typed, set_wal, write_transaction
from sagalog.store import check_writable

__all__ = ["Ledger", "LedgerEntry", "LedgerError"]

_BUSY_TIMEOUT_S = 30.0
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS effects (
        id INTEGER PRIMARY KEY,
        adapter TEXT NOT NULL,
        idempotency_key TEXT NOT NULL,
        effect TEXT NOT NULL,
        detail TEXT,
        recorded_at TEXT
    )""",
    # Not UNIQUE, on purpose: see the module docstring.
    "CREATE INDEX IF NOT EXISTS effects_by_key ON effects (adapter, idempotency_key)",
)
_COLUMNS = "id, adapter, idempotency_key, effect, detail, recorded_at"


class LedgerError(ActorRuntimeError):
    """The ledger's file failed, it was used after :meth:`Ledger.close`, or a detail is not JSON."""


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One recorded effect."""

    id: int
    """Its row id: the order effects were recorded in."""
    adapter: str
    """The adapter that caused it (``"payments"``)."""
    idempotency_key: str
    """The key the adapter was called with."""
    effect: str
    """What happened (``"charged"``)."""
    detail: dict[str, Any]
    """What the adapter said about it ({} if nothing)."""
    recorded_at: datetime | None
    """When it was recorded; None for a row written without a time."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _encode(detail: dict[str, Any] | None) -> str:
    try:
        return json.dumps(detail or {}, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise LedgerError(f"an effect's detail must be plain JSON: {error}") from error


def _decode(text: str | None) -> dict[str, Any]:
    value = json.loads(text) if text else {}
    return value if isinstance(value, dict) else {"value": value}


def _entry(row: tuple[Any, ...]) -> LedgerEntry:
    row_id, adapter, key, effect, detail, recorded_at = row
    when = datetime.fromisoformat(recorded_at) if recorded_at else None
    return LedgerEntry(row_id, adapter, key, effect, _decode(detail), when)


class Ledger:
    """A record of every effect the demo adapters had, safe across threads and processes.

    Each :meth:`apply` runs in one ``BEGIN IMMEDIATE`` transaction, which takes the
    file's write lock before looking, so two callers (threads, or processes with their
    own ``Ledger``) can never both see a key as new. Waiting for that lock gives up
    after 30 s.

    Example::

        with Ledger(tmp_path / "ledger.db") as ledger:
            first, detail = ledger.apply("payments", "order-1", "charged", {"cents": 500})
            again, same = ledger.apply("payments", "order-1", "charged", {"cents": 999})
            assert first and not again and same == {"cents": 500}
            assert ledger.duplicates() == []
    """

    def __init__(self, path: str | Path, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self.path = Path(path)
        """The ledger's SQLite file."""
        self._clock = clock
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        check_writable(self.path)  # one clear line, not SQLite's "unable to open database file"
        try:
            with self._translated("opening"):
                self._connection = sqlite3.connect(
                    self.path,
                    timeout=_BUSY_TIMEOUT_S,
                    isolation_level=None,  # we issue BEGIN IMMEDIATE ourselves
                    check_same_thread=False,  # self._lock serialises the threads instead
                )
                set_wal(self._connection)
                self._connection.execute("PRAGMA synchronous = FULL")
            with self._transaction() as connection:
                for statement in _SCHEMA:
                    connection.execute(statement)
        except BaseException:
            self.close()
            raise

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """Hold the thread lock and an immediate (write-locked) transaction."""
        with (self._lock, self._translated("a transaction"),
              write_transaction(self._open()) as connection):
            yield connection

    @contextmanager
    def _translated(self, what: str) -> Iterator[None]:
        """A full disk or an I/O error as the store's typed fault; else a LedgerError."""
        try:
            with faults_typed(self.path, f"the ledger: {what}"):
                yield
        except sqlite3.Error as error:
            raise LedgerError(f"ledger {self.path}: {what} failed: {error}") from error

    def _open(self) -> sqlite3.Connection:
        if self._connection is None:
            raise LedgerError(f"ledger {self.path} is closed")
        return self._connection

    def _rows(
        self, sql: str, parameters: tuple[Any, ...] | dict[str, Any] = ()
    ) -> list[tuple[Any, ...]]:
        with self._lock, self._translated("a read"):
            return self._open().execute(sql, parameters).fetchall()

    def apply(
        self, adapter: str, key: str, effect: str, detail: dict[str, Any] | None = None
    ) -> tuple[bool, dict[str, Any]]:
        """Record ``effect`` for ``(adapter, key)`` unless one is recorded already.

        Returns:
            ``(True, detail)`` if this call recorded the effect, or ``(False, the first
            effect's detail)`` if the key was seen before: the idempotent answer. Either
            way the detail is as stored, after a JSON round trip.

        Raises:
            LedgerError: ``detail`` is not plain JSON, the ledger is closed, or the
                file failed (including a write lock not had within 30 s).

        """
        encoded = _encode(detail)
        with self._transaction() as connection:
            found = connection.execute(
                "SELECT detail FROM effects WHERE adapter = ? AND idempotency_key = ? "
                "ORDER BY id LIMIT 1",
                (adapter, key),
            ).fetchone()
            if found is not None:
                return False, _decode(found[0])
            connection.execute(
                "INSERT INTO effects (adapter, idempotency_key, effect, detail, recorded_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (adapter, key, effect, encoded, self._clock().isoformat()),
            )
        return True, _decode(encoded)

    def effects(self, adapter: str | None = None) -> list[LedgerEntry]:
        """Every recorded effect (of ``adapter``, if given), oldest first."""
        if adapter is None:
            rows = self._rows(f"SELECT {_COLUMNS} FROM effects ORDER BY id")  # noqa: S608 - constant
        else:
            rows = self._rows(
                f"SELECT {_COLUMNS} FROM effects WHERE adapter = ? ORDER BY id",  # noqa: S608 - constant
                (adapter,),
            )
        return [_entry(row) for row in rows]

    def duplicates(self) -> list[tuple[str, str, int]]:
        """``(adapter, key, count)`` for each key with more than one effect: should be []."""
        rows = self._rows(
            "SELECT adapter, idempotency_key, COUNT(*) FROM effects "
            "GROUP BY adapter, idempotency_key HAVING COUNT(*) > 1 "
            "ORDER BY adapter, idempotency_key"
        )
        return [(adapter, key, count) for adapter, key, count in rows]

    def count(self, adapter: str | None = None, effect: str | None = None) -> int:
        """How many effects are recorded, of ``adapter`` and ``effect`` where given."""
        rows = self._rows(
            "SELECT COUNT(*) FROM effects "
            "WHERE (:adapter IS NULL OR adapter = :adapter) "
            "AND (:effect IS NULL OR effect = :effect)",
            {"adapter": adapter, "effect": effect},
        )
        return int(rows[0][0])

    def close(self) -> None:
        """Close the file; later calls raise :class:`LedgerError`. Closing twice is fine."""
        with self._lock:
            connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
