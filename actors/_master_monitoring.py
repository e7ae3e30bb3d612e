"""The ``monitoring_integration`` table: one row per activity try, projected from the log.

Each activity command starts a row (status ``running``); its result ends it
(``succeeded`` or ``failed``, with the error). A row is keyed by (run, stage, activity,
attempt), the attempt being the command's rank among the run's commands of that stage
and item, and its times are the records' ``recorded_at``. The rows are therefore a pure
function of the log: the projection upserts them idempotently, a crash only makes it
write the same rows again, and :func:`rebuild_monitoring` gives the same table from the
log alone, whenever it runs.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sagalog.actors._actor import Actor
from sagalog.actors._handlers import handles
from sagalog.events import Envelope, Message
from sagalog.events.master import (
    ACTIVITY_COMMANDS,
    ACTIVITY_FAILURES,
    ACTIVITY_SUCCESSES,
    ActivityCommand,
    ActivityFailed,
    ActivitySucceeded,
    MasterPipelineStarted,
)
from sagalog.store import EventStoreProtocol

__all__ = [
    "MONITORING_TABLE",
    "MonitoringProjection",
    "MonitoringRow",
    "attempts_of",
    "monitoring_rows",
    "read_monitoring",
    "rebuild_monitoring",
    "upsert_rows",
]

MONITORING_TABLE = "monitoring_integration"

_SCHEMA = f"""CREATE TABLE IF NOT EXISTS {MONITORING_TABLE} (
    run_id TEXT NOT NULL,
    stage TEXT NOT NULL,
    activity TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    status TEXT NOT NULL,
    started TEXT NOT NULL,
    ended TEXT,
    duration_s REAL,
    detail TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, stage, activity, attempt)
)"""

_UPSERT = f"""INSERT INTO {MONITORING_TABLE}
    (run_id, stage, activity, attempt, status, started, ended, duration_s, detail)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (run_id, stage, activity, attempt) DO UPDATE SET
    status = excluded.status, started = excluded.started, ended = excluded.ended,
    duration_s = excluded.duration_s, detail = excluded.detail"""  # noqa: S608 - constant


@dataclass(frozen=True, slots=True)
class MonitoringRow:
    """One activity try, as the monitoring table shows it."""

    run_id: str
    stage: str
    activity: str
    """``action``, or ``action[item]`` for a fan-out item."""
    attempt: int
    status: str
    """``running``, ``succeeded`` or ``failed``."""
    started: datetime
    """When the command was recorded."""
    ended: datetime | None
    """When its result was recorded."""
    duration_s: float | None
    detail: str = ""
    """The error of a failed try."""


def attempts_of(records: Iterable[Envelope[Message]]) -> dict[str, int]:
    """Each activity command's try number (by event id): its rank in its stage and item."""
    seen: dict[tuple[str, str], int] = {}
    attempts: dict[str, int] = {}
    for record in records:
        if isinstance(record.data, ActivityCommand):
            key = (record.type, record.data.item)
            seen[key] = seen.get(key, 0) + 1
            attempts[str(record.event_id)] = seen[key]
    return attempts


def monitoring_rows(records: Iterable[Envelope[Message]]) -> list[MonitoringRow]:
    """The rows one run's records (in log order) make."""
    listed = list(records)
    attempts = attempts_of(listed)
    rows: dict[str, MonitoringRow] = {}
    for record in listed:
        data = record.data
        if isinstance(data, ActivityCommand):
            key = str(record.event_id)
            rows[key] = MonitoringRow(data.run_id, data.stage, data.activity, attempts[key],
                                      "running", record.recorded_at, None, None)
        elif isinstance(data, ActivitySucceeded | ActivityFailed):
            started = rows.get(str(record.causation_id))
            if started is None:
                continue  # a result without its command in the run: nothing to end
            failed = isinstance(data, ActivityFailed)
            rows[str(record.causation_id)] = MonitoringRow(
                started.run_id, started.stage, started.activity, started.attempt,
                "failed" if failed else "succeeded", started.started, record.recorded_at,
                (record.recorded_at - started.started).total_seconds(),
                data.error if isinstance(data, ActivityFailed) else "",
            )
    return list(rows.values())


def upsert_rows(path: str | Path, rows: Iterable[MonitoringRow]) -> None:
    """Write ``rows`` into the table at ``path`` (created if new), replacing same-keyed rows."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=30.0)
    try:
        connection.execute("PRAGMA journal_mode = WAL")
        with connection:
            connection.execute(_SCHEMA)
            connection.executemany(_UPSERT, [
                (row.run_id, row.stage, row.activity, row.attempt, row.status,
                 row.started.isoformat(), None if row.ended is None else row.ended.isoformat(),
                 row.duration_s, row.detail)
                for row in rows
            ])
    finally:
        connection.close()


def read_monitoring(path: str | Path, run_id: str | None = None) -> list[MonitoringRow]:
    """The table's rows (of one run, if given), by start time."""
    if not Path(path).exists():
        return []
    connection = sqlite3.connect(path, timeout=30.0)
    try:
        found = connection.execute(
            f"SELECT run_id, stage, activity, attempt, status, started, ended, duration_s, "  # noqa: S608 - constant
            f"detail FROM {MONITORING_TABLE} WHERE :run_id IS NULL OR run_id = :run_id "
            "ORDER BY started, stage, activity, attempt", {"run_id": run_id},
        ).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        connection.close()
    return [MonitoringRow(run, stage, activity, attempt, status, datetime.fromisoformat(start),
                          None if end is None else datetime.fromisoformat(end), duration, detail)
            for run, stage, activity, attempt, status, start, end, duration, detail in found]


def _project(records: list[Envelope[Message]]) -> None:
    start = next((r.data for r in records if isinstance(r.data, MasterPipelineStarted)), None)
    if start is not None:
        upsert_rows(start.config.paths.monitoring_db, monitoring_rows(records))


def rebuild_monitoring(store: EventStoreProtocol, run_id: str | None = None) -> int:
    """Project every run (or one) from the log again; returns how many runs were written."""
    runs = ([run_id] if run_id is not None else
            [r.correlation_id or "" for r in store.read_all(types=[MasterPipelineStarted])])
    for run in runs:
        _project(list(store.read_correlation(run)))
    return len(runs)


class MonitoringProjection(Actor):
    """Keeps ``monitoring_integration`` up to date as activities start and end.

    On each activity record it projects the whole run again (a run is a few dozen
    records), so the table is right however the records were batched or replayed.
    """

    @handles(*ACTIVITY_COMMANDS.values(), *ACTIVITY_SUCCESSES.values(),
             *ACTIVITY_FAILURES.values())
    def project(self, message: Message, envelope: Envelope[Message]) -> None:
        """Upsert the rows of the run this record belongs to."""
        if envelope.correlation_id:
            records = list(self._context.store.read_correlation(envelope.correlation_id))
            _project(records)

