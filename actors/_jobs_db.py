"""The jobs database: the ``jobs`` status table, and the runs of the data pipeline.

``jobs`` holds one row per custom job with its final status: what the platform API
reads. Beside it, two effect tables record each change under the idempotency key of
the command that caused it (its event id): ``status_changes`` and ``pipeline_runs``.
A command handled again after a crash finds its key and changes nothing, and a test
counts these rows to prove that no effect happened twice.

Hazard: the indexes on ``command_id`` are deliberately NOT unique: code that bypassed
the check would leave a second row for :meth:`JobsDatabase.duplicates` to find.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sagalog.actors._jobs_sqlite import connect, transaction, translated

__all__ = ["JobRow", "JobsDatabase"]

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS jobs (
        job_id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        tenant TEXT NOT NULL,
        pipeline TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        finished_position INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS status_changes (
        id INTEGER PRIMARY KEY,
        command_id TEXT NOT NULL,
        job_id TEXT NOT NULL,
        status TEXT NOT NULL,
        recorded_at TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS status_changes_by_command ON status_changes (command_id)",
    """CREATE TABLE IF NOT EXISTS pipeline_runs (
        id INTEGER PRIMARY KEY,
        command_id TEXT NOT NULL,
        job_id TEXT NOT NULL,
        status TEXT NOT NULL,
        error TEXT NOT NULL,
        recorded_at TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS pipeline_runs_by_command ON pipeline_runs (command_id)",
)


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass(frozen=True, slots=True)
class JobRow:
    """One row of the ``jobs`` table."""

    job_id: str
    status: str
    tenant: str
    pipeline: str
    updated_at: str
    finished_position: int


class JobsDatabase:
    """The jobs database at ``path``, opened for the length of a ``with`` block.

    Example::

        with JobsDatabase.open(tmp_path / "jobs.db") as jobs:
            jobs.set_status("cmd-1", "job-1", "succeeded", tenant="t", pipeline="p",
                            finished_position=7)
            assert jobs.status("job-1") == "succeeded"
    """

    def __init__(self, path: str | Path, connection: sqlite3.Connection,
                 clock: Callable[[], str] = _now) -> None:
        self.path = Path(path)
        """The database file."""
        self._connection = connection
        self._clock = clock

    @staticmethod
    def open(path: str | Path) -> AbstractContextManager[JobsDatabase]:
        """Open (and create, if new) the jobs database at ``path``."""

        @contextmanager
        def opened() -> Iterator[JobsDatabase]:
            with connect(path, SCHEMA) as connection:
                yield JobsDatabase(path, connection)

        return opened()

    def record_run(self, command_id: str, job_id: str, status: str, error: str) -> tuple[str, str]:
        """Record a data-pipeline run under ``command_id``, unless one is recorded.

        Returns the run's ``(status, error)`` as first recorded: a re-run after a crash
        reports what the first run did.
        """
        with transaction(self._connection, self.path, "recording a pipeline run") as db:
            found = db.execute(
                "SELECT status, error FROM pipeline_runs WHERE command_id = ? ORDER BY id LIMIT 1",
                (command_id,),
            ).fetchone()
            if found is not None:
                return str(found[0]), str(found[1])
            db.execute(
                "INSERT INTO pipeline_runs (command_id, job_id, status, error, recorded_at) "
                "VALUES (?, ?, ?, ?, ?)", (command_id, job_id, status, error, self._clock()),
            )
        return status, error

    def set_status(self, command_id: str, job_id: str, status: str, *, tenant: str,
                   pipeline: str, finished_position: int) -> bool:
        """Write the job's status row, once per ``command_id``; False if done already."""
        with transaction(self._connection, self.path, "updating a job's status") as db:
            if db.execute("SELECT 1 FROM status_changes WHERE command_id = ?",
                          (command_id,)).fetchone():
                return False
            now = self._clock()
            db.execute(
                "INSERT INTO jobs (job_id, status, tenant, pipeline, updated_at, "
                "finished_position) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (job_id) DO UPDATE "
                "SET status = excluded.status, updated_at = excluded.updated_at, "
                "finished_position = excluded.finished_position",
                (job_id, status, tenant, pipeline, now, finished_position),
            )
            db.execute(
                "INSERT INTO status_changes (command_id, job_id, status, recorded_at) "
                "VALUES (?, ?, ?, ?)", (command_id, job_id, status, now),
            )
        return True

    def _rows(
        self, sql: str, parameters: tuple[Any, ...] | dict[str, Any] = ()
    ) -> list[tuple[Any, ...]]:
        with translated(self.path, "a read"):
            return self._connection.execute(sql, parameters).fetchall()

    def status(self, job_id: str) -> str | None:
        """The job's status in the ``jobs`` table (None without a row)."""
        rows = self._rows("SELECT status FROM jobs WHERE job_id = ?", (job_id,))
        return str(rows[0][0]) if rows else None

    def jobs(self) -> list[JobRow]:
        """Every row of the ``jobs`` table, by job id."""
        rows = self._rows("SELECT job_id, status, tenant, pipeline, updated_at, "
                          "finished_position FROM jobs ORDER BY job_id")
        return [JobRow(*row) for row in rows]

    def count(self, table: str, job_id: str | None = None) -> int:
        """Rows of ``status_changes`` or ``pipeline_runs`` (of ``job_id``, if given)."""
        if table not in ("status_changes", "pipeline_runs"):
            raise ValueError(f"no effect table {table!r}")
        rows = self._rows(f"SELECT COUNT(*) FROM {table} "  # noqa: S608 - checked name
                          "WHERE :job_id IS NULL OR job_id = :job_id", {"job_id": job_id})
        return int(rows[0][0])

    def duplicates(self) -> list[tuple[str, str, int]]:
        """``(table, command_id, count)`` for each key applied twice: should be []."""
        rows = self._rows(
            "SELECT 'status_changes', command_id, COUNT(*) FROM status_changes "
            "GROUP BY command_id HAVING COUNT(*) > 1 UNION ALL "
            "SELECT 'pipeline_runs', command_id, COUNT(*) FROM pipeline_runs "
            "GROUP BY command_id HAVING COUNT(*) > 1"
        )
        return [(table, key, count) for table, key, count in rows]
