"""The runs table: neutral facts per correlation id, and statuses from the layer above.

The writer folds each commit's rows into one row per run it touched (first and last
record, count), in the same transaction, so the table cannot disagree with the log. A
run's status comes from the installed :class:`RunStatusHook`s: the store knows no sagas.

A hook must see every record of its types, whoever wrote it: another process without
the hook, or this one before the hook was installed. ``status_scans`` keeps, per hook,
the position up to which it has seen every record (``through``). A commit that starts
right after ``through`` moves it on; one that finds a gap (another process wrote, or the
hook is new) first shows the hook the gap's records of its types, read in the same
transaction. So a new hook on an old log is caught up once (by the first commit after it
is installed: opening a log writes nothing), and afterwards each commit costs nothing
more unless another process wrote in between.

Everything here but the queries runs on the writer's thread, inside its open transaction.
The queries (:func:`query_runs`, :func:`query_run`) are what ``list`` reads on a read-only
open, so this module imports neither loguru nor the decoder (pydantic) until a writer's
fold or an old log's statuses need them.
"""

from __future__ import annotations

import functools
import sqlite3
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sagalog.store._contract import RunFacts, RunPage, RunQuery, RunStatusHook
from sagalog.store.sqlite._schema import COLUMNS

if TYPE_CHECKING:
    from collections.abc import Callable

    from sagalog.events import Envelope, Message, Registry
    from sagalog.store._resolve import Row

__all__ = ["RUN_COLUMNS", "RunKeeper", "legacy_runs", "query_run", "query_runs"]

RUN_COLUMNS = ("correlation_id, first_position, first_type, started, last_position, "
               "last_type, ended, events, status, status_position")
"""The runs table's columns in :class:`RunFacts` order."""

_MARKS = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_PER_UPSERT = 500  # 5,000 bound values
_UPSERT = (
    "INSERT INTO runs (first_position, correlation_id, first_type, started, last_position, "
    "last_type, ended, events, status, status_position) VALUES {} "
    "ON CONFLICT (correlation_id) DO UPDATE SET last_position = excluded.last_position, "
    "last_type = excluded.last_type, ended = excluded.ended, "
    "events = events + excluded.events, "
    "status = CASE WHEN excluded.status_position IS NULL THEN status ELSE excluded.status END, "
    "status_position = coalesce(excluded.status_position, status_position)"
)
_SET_STATUS = (
    "UPDATE runs SET status = ?, status_position = ? WHERE correlation_id = ? "
    "AND (status_position IS NULL OR status_position < ?)"
)
_GAP_PAGE = 5000


class RunKeeper:
    """The writer's view of the hooks, and the fold of each commit into the runs table."""

    def __init__(self, registry: Registry, path: str) -> None:
        self._registry = registry
        self._path = path
        self._hooks: tuple[RunStatusHook, ...] = ()
        self._types: frozenset[str] = frozenset()
        self._through: dict[str, int] = {}

    @property
    def hooks(self) -> tuple[RunStatusHook, ...]:
        """The installed hooks, in the order they answer."""
        return self._hooks

    def install(self, connection: sqlite3.Connection, hook: RunStatusHook, *,
                scanned: bool = True) -> bool:
        """Add ``hook`` (once per name); False if one of that name is installed already.

        ``scanned``: the file has ``status_scans`` (it is of the current schema); an older
        one is caught up from position 0 at its upgrade's commit.
        """
        if any(known.name == hook.name for known in self._hooks):
            return False
        self._hooks = (*self._hooks, hook)
        self._types = self._types | hook.types
        row = connection.execute("SELECT through FROM status_scans WHERE name = ?",
                                 (hook.name,)).fetchone() if scanned else None
        self._through[hook.name] = int(row[0]) if row else 0
        return True

    def summarise(self, connection: sqlite3.Connection, rows: list[Row],
                  messages: list[Message]) -> None:
        """Fold one commit's ``rows`` (in step with ``messages``) into the runs table."""
        if not rows:
            return
        if self._hooks:
            self._fill_gap(connection, rows[0][0] - 1)
        runs: dict[str, list[Any]] = {}
        watched = self._types
        for row, message in zip(rows, messages, strict=True):
            correlation_id = row[7]
            if correlation_id is None:
                continue
            run = runs.get(correlation_id)
            if run is None:
                run = runs[correlation_id] = [row[0], correlation_id, row[4], row[6], 0, "",
                                              "", 0, None, None]
            run[4], run[5], run[6] = row[0], row[4], row[6]
            run[7] += 1
            if row[4] in watched:
                status = self._status(_envelope(row, message))
                if status is not None:
                    run[8], run[9] = status, row[0]
        _upsert(connection, list(runs.values()))
        if self._hooks:
            self._advance(connection, rows[-1][0])

    def _advance(self, connection: sqlite3.Connection, last: int) -> None:
        """Every hook has now seen every record up to ``last`` (the gap was filled)."""
        for name in self._through:
            self._through[name] = last
        self._save_through(connection)

    def _status(self, envelope: Envelope[Message]) -> str | None:
        for hook in self._hooks:
            if envelope.type not in hook.types:
                continue
            try:
                status = hook.status(envelope)
            except Exception as error:  # noqa: BLE001 - a hook must not fail a commit
                _logger().bind(position=envelope.position).opt(exception=error).error(
                    "sagalog store: run status hook {!r} failed", hook.name)
                continue
            if isinstance(status, str):
                return status
            if status is not None:
                _logger().error("sagalog store: run status hook {!r} gave {!r}, not a str",
                             hook.name, status)
        return None

    def _fill_gap(self, connection: sqlite3.Connection, head: int) -> None:
        """Show the hooks every record after their ``through``, up to ``head``."""
        behind = [name for name, through in self._through.items() if through < head]
        if not behind:
            return
        start = min(self._through[name] for name in behind) + 1
        types = sorted(self._types)
        marks = ",".join("?" * len(types))
        sql = (f"SELECT {COLUMNS} FROM events WHERE position >= ? AND position <= ? "  # noqa: S608
               f"AND type IN ({marks}) ORDER BY position LIMIT {_GAP_PAGE}")
        filled = 0
        while True:
            found = connection.execute(sql, (start, head, *types)).fetchall()
            updates = []
            from sagalog.store._decode import decode_rows  # noqa: PLC0415 - see the module

            for envelope in decode_rows(found, self._registry):
                status = self._status_after(envelope)
                if status is not None:
                    updates.append((status, envelope.position, envelope.correlation_id,
                                    envelope.position))
            if updates:
                connection.executemany(_SET_STATUS, updates)
                filled += len(updates)
            if len(found) < _GAP_PAGE:
                break
            start = found[-1][0] + 1
        for name in behind:
            self._through[name] = head
        if filled:
            _logger().bind(store=self._path).debug(
                "sagalog store: {} run statuses filled up to position {}", filled, head)

    def _status_after(self, envelope: Envelope[Message]) -> str | None:
        """Like :meth:`_status`, asking only the hooks that have not seen this record."""
        if envelope.correlation_id is None:
            return None
        for hook in self._hooks:
            if envelope.type not in hook.types or self._through[hook.name] >= envelope.position:
                continue
            try:
                status = hook.status(envelope)
            except Exception as error:  # noqa: BLE001 - a hook must not fail a commit
                _logger().opt(exception=error).error(
                    "sagalog store: run status hook {!r} failed", hook.name)
                continue
            if isinstance(status, str):
                return status
        return None

    def _save_through(self, connection: sqlite3.Connection) -> None:
        connection.executemany(
            "INSERT INTO status_scans (name, through) VALUES (?, ?) ON CONFLICT (name) "
            "DO UPDATE SET through = max(through, excluded.through)",
            list(self._through.items()),
        )


def _logger() -> Any:  # noqa: ANN401 - loguru's logger
    """Loguru, imported when something is logged (a read-only ``list`` loads none of it)."""
    from loguru import logger  # noqa: PLC0415 - see the module docstring

    import sagalog.events._logging  # noqa: F401, PLC0415 - silent until the app enables it

    return logger


def _envelope(row: Row, message: Message) -> Envelope[Message]:
    from sagalog.events import Envelope  # noqa: PLC0415 - only a hook's records need one

    return Envelope(row[0], row[1], row[2], UUID(bytes=row[3]), row[4], row[5],
                    datetime.fromisoformat(row[6]), row[7],
                    None if row[8] is None else UUID(bytes=row[8]), message)


def _upsert(connection: sqlite3.Connection, values: list[list[Any]]) -> None:
    for start in range(0, len(values), _PER_UPSERT):
        chunk = values[start : start + _PER_UPSERT]
        connection.execute(_upsert_sql(len(chunk)), [v for run in chunk for v in run])


@functools.lru_cache(maxsize=64)
def _upsert_sql(count: int) -> str:
    return _UPSERT.format(",".join([_MARKS] * count))


def query_runs(query: Callable[[str, tuple[Any, ...]], list[Any]], wanted: RunQuery) -> RunPage:
    """The runs answering ``wanted``, newest first, and how many answer it in all."""
    where, params = _where(wanted)
    limit = f" LIMIT {int(wanted.limit)}" if wanted.limit > 0 else ""
    rows = query(f"SELECT {RUN_COLUMNS} FROM runs{where} "  # noqa: S608 - built from constants
                 f"ORDER BY first_position DESC{limit}", tuple(params))
    runs = [RunFacts(*row) for row in rows]
    if wanted.limit <= 0 or len(runs) < wanted.limit:
        return RunPage(runs, len(runs))
    (total,) = query(f"SELECT count(*) FROM runs{where}", tuple(params))[0]  # noqa: S608
    return RunPage(runs, int(total))


def query_run(query: Callable[[str, tuple[Any, ...]], list[Any]], correlation_id: str
              ) -> RunFacts | None:
    """One run's facts, or None."""
    rows = query(f"SELECT {RUN_COLUMNS} FROM runs WHERE correlation_id = ?",  # noqa: S608
                 (correlation_id,))
    return RunFacts(*rows[0]) if rows else None


def _where(wanted: RunQuery) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if wanted.statuses is not None:
        named = sorted(status for status in wanted.statuses if status is not None)
        parts = []
        if named:
            parts.append(f"status IN ({','.join('?' * len(named))})")
            params += named
        if None in wanted.statuses:
            parts.append("status IS NULL")
        clauses.append("(" + " OR ".join(parts or ["0"]) + ")")
    if wanted.first_types is not None:
        types = sorted(wanted.first_types)
        clauses.append(f"first_type IN ({','.join('?' * len(types)) or 'NULL'})")
        params += types
    if wanted.since is not None:
        clauses.append("started >= ?")
        params.append(wanted.since)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


_AGGREGATE = """
SELECT g.correlation_id, g.first, f.type, f.recorded_at, g.last, l.type, l.recorded_at, g.n
FROM (SELECT correlation_id, min(position) AS first, max(position) AS last, count(*) AS n
      FROM events WHERE correlation_id IS NOT NULL {} GROUP BY correlation_id) AS g
JOIN events AS f ON f.position = g.first
JOIN events AS l ON l.position = g.last
"""


def legacy_runs(
    query: Callable[[str, tuple[Any, ...]], list[Any]],
    decode: Callable[[list[Any]], list[Envelope[Message]]],
    hooks: tuple[RunStatusHook, ...],
    schema: int,
    wanted: RunQuery,
    correlation_id: str | None = None,
) -> RunPage:
    """The runs of a log an older sagalog wrote, read without upgrading it (read-only).

    Version 2 has the runs table without statuses; version 1 none at all, so its records
    are aggregated. Statuses come from ``hooks`` over the records of their types, in
    memory: slower than the table (a scan of those types), for old logs only.
    """
    one = (correlation_id,) if correlation_id is not None else ()
    if schema >= 2:
        where = " WHERE correlation_id = ?" if one else ""
        rows = query("SELECT correlation_id, first_position, first_type, started, "  # noqa: S608
                     f"last_position, last_type, ended, events FROM runs{where}", one)
    else:
        rows = query(_AGGREGATE.format("AND correlation_id = ?" if one else ""), one)
    statuses = _legacy_statuses(query, decode, hooks, correlation_id)
    runs = [RunFacts(*row, *statuses.get(row[0], (None, None))) for row in rows]
    runs = [run for run in runs if _answers(run, wanted)]
    runs.sort(key=lambda run: run.first_position, reverse=True)
    shown = runs[: wanted.limit] if wanted.limit > 0 else runs
    return RunPage(shown, len(runs))


def _legacy_statuses(
    query: Callable[[str, tuple[Any, ...]], list[Any]],
    decode: Callable[[list[Any]], list[Envelope[Message]]],
    hooks: tuple[RunStatusHook, ...],
    correlation_id: str | None,
) -> dict[str, tuple[str, int]]:
    types = sorted({name for hook in hooks for name in hook.types})
    if not types:
        return {}
    marks = ",".join("?" * len(types))
    one = " AND correlation_id = ?" if correlation_id is not None else ""
    sql = (f"SELECT {COLUMNS} FROM events WHERE position >= ? AND type IN ({marks}){one} "  # noqa: S608
           f"ORDER BY position LIMIT {_GAP_PAGE}")
    found: dict[str, tuple[str, int]] = {}
    position = 1
    while True:
        rows = query(sql, (position, *types, *((correlation_id,) if one else ())))
        for envelope in decode(rows):
            for hook in hooks:
                if envelope.type in hook.types and envelope.correlation_id is not None:
                    status = hook.status(envelope)
                    if status is not None:
                        found[envelope.correlation_id] = (status, envelope.position)
                        break
        if len(rows) < _GAP_PAGE:
            return found
        position = rows[-1][0] + 1


def _answers(run: RunFacts, wanted: RunQuery) -> bool:
    return ((wanted.statuses is None or run.status in wanted.statuses)
            and (wanted.first_types is None or run.first_type in wanted.first_types)
            and (wanted.since is None or run.started >= wanted.since))
