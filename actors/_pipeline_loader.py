"""Phase 2 of the data pipeline: load the collected dataset into the target SQLite database.

Before loading, the target is copied to ``<target>.backup`` (the last good target) with
SQLite's backup API, and a ``<target>.loading`` marker is written. Each table is then
replaced in its own transaction, as the annotations file says. If anything fails, the
ROLLBACK_TO_BACKUP healing action copies the backup over the target, for real, so no
half-loaded target is left; it is recorded with its status.

Exactly once: a finished load is recorded in the target's ``load_history`` table, keyed
by the command's event id, in the same database it changed; a re-run of that command
answers from there and loads nothing. A crash mid-load leaves the marker: the next run
restores the backup first (never backing up a half-loaded target) and loads again. A
crash after the ``load_history`` commit but before the marker is removed leaves a stale
marker: its key is in ``load_history``, so the load it marks is complete. It is removed
and the load kept; restoring the backup there would undo a committed load and erase its
``load_history`` row.

The annotations file maps each table to its collected file (relative to ``default_dir``)
and optionally its key columns::

    {"tables": {"orders": {"source": "DataCollector/newest/orders.json", "key": ["id"]}}}
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loguru import logger

from sagalog.actors._local_db import faults_typed, raise_if_fault
from sagalog.actors._pipeline_lock import phase_lock
from sagalog.events.pipeline import (
    HealingAction,
    LoadData,
    LoaderFailed,
    LoaderFinished,
    PhaseError,
)

__all__ = ["LOADER_AGENT", "DataLoader", "load_history"]

LOADER_AGENT = "DataLoaderAgent"
_HISTORY = """CREATE TABLE IF NOT EXISTS load_history (
    event_id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    loaded_at TEXT NOT NULL,
    tables INTEGER NOT NULL,
    rows INTEGER NOT NULL,
    result TEXT NOT NULL
)"""


class _LoadError(Exception):
    """One table (or the annotations) could not be loaded: (data type, error type, message)."""

    def __init__(self, data_type: str, error_type: str, message: str) -> None:
        super().__init__(message)
        self.data_type = data_type
        self.error_type = error_type


@contextlib.contextmanager
def _connect(path: Path) -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(path, timeout=30.0)
    try:
        yield connection
    finally:
        connection.close()


def _copy_database(source: Path, target: Path) -> None:
    """Copy a whole SQLite database, consistently, with the backup API."""
    with _connect(source) as src, _connect(target) as dst:
        src.backup(dst)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def load_history(target: str | Path) -> list[tuple[str, str]]:
    """(event id, run id) of every load recorded in ``target``, oldest first."""
    path = Path(target)
    if not path.exists():
        return []
    with _connect(path) as connection:
        try:
            rows = connection.execute(
                "SELECT event_id, run_id FROM load_history ORDER BY rowid").fetchall()
        except sqlite3.OperationalError:
            return []
    return [(str(event_id), str(run_id)) for event_id, run_id in rows]


@dataclass
class _Run:
    command: LoadData
    key: str
    target: Path
    started: float = field(default_factory=time.monotonic)
    healing: list[HealingAction] = field(default_factory=list)
    loaded: int = 0
    rows: int = 0
    total: int = 0

    @property
    def backup(self) -> Path:
        return self.target.with_name(self.target.name + ".backup")

    @property
    def marker(self) -> Path:
        return self.target.with_name(self.target.name + ".loading")


class DataLoader:
    """The loader adapter: :meth:`load` does phase 2 for one command, exactly once."""

    def load(self, command: LoadData, key: str) -> LoaderFinished | LoaderFailed:
        """Load the dataset of ``command`` (``key``: the command's event id)."""
        run = _Run(command, key, Path(command.config.target_db_path))
        run.target.parent.mkdir(parents=True, exist_ok=True)
        with phase_lock(run.target, key, actor=LOADER_AGENT, saga=command.run_id):
            return self._load_once(run)

    def _load_once(self, run: _Run) -> LoaderFinished | LoaderFailed:
        """The load, with the target's lock held: answered from history if it is there."""
        log = logger.bind(actor=LOADER_AGENT, saga=run.command.run_id)
        done = self._recorded(run, run.key)
        if done is not None:
            self._drop_stale_marker(run)
            log.info("load {} already recorded in load_history; not loading again", run.key)
            return done
        self._prepare(run)
        try:
            tables = self._annotations(run)
            run.total = len(tables)
            with _connect(run.target) as connection:
                for table, spec in tables.items():
                    self._load_table(run, connection, table, spec)
                result = self._record(run, connection)
        except _LoadError as error:
            return self._fail(run, error)
        run.marker.unlink()
        log.info("loaded {} tables, {} rows into {}", run.loaded, run.rows, run.target)
        return result

    def _recorded(self, run: _Run, key: str) -> LoaderFinished | None:
        """The recorded result of the load keyed ``key`` into the target, or None."""
        if not run.target.exists():
            return None
        with _connect(run.target) as connection:
            try:
                row = connection.execute("SELECT result FROM load_history WHERE event_id = ?",
                                         (key,)).fetchone()
            except sqlite3.OperationalError:  # no load_history yet: nothing was loaded
                return None
        return None if row is None else LoaderFinished.model_validate_json(row[0])

    def _drop_stale_marker(self, run: _Run) -> None:
        """Remove a marker whose load is recorded in ``load_history``: that load finished.

        Only the crash window between the ``load_history`` commit and the unlink leaves
        one. The target then holds that committed load, and is the last good one.
        """
        try:
            marked = run.marker.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        if marked and self._recorded(run, marked) is not None:
            logger.bind(actor=LOADER_AGENT, saga=run.command.run_id).info(
                "the marker of load {} is stale (its load is recorded); keeping that load",
                marked)
            run.marker.unlink()

    def _prepare(self, run: _Run) -> None:
        """Keep the last good target (or heal an interrupted load), then mark the load.

        A full disk while backing up or marking is a fault to retry, not a failed load.
        """
        self._drop_stale_marker(run)
        with faults_typed(run.target, "preparing the load (backup and marker)"):
            if run.marker.exists():
                run.healing.append(self._restore(run, "an interrupted load"))
            elif run.target.exists():
                _copy_database(run.target, run.backup)
            else:
                run.backup.unlink(missing_ok=True)  # no target yet: rolling back removes it
            run.marker.write_text(run.key, encoding="utf-8")

    def _annotations(self, run: _Run) -> dict[str, dict[str, Any]]:
        path = Path(run.command.config.annotation_path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise _LoadError("annotations", "FILE_NOT_FOUND", f"{path}: no such file") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise _LoadError("annotations", "PARSE_ERROR", f"{path}: {error}") from None
        tables = raw.get("tables") if isinstance(raw, dict) else None
        if not isinstance(tables, dict) or not tables or not all(
            isinstance(spec, dict) and isinstance(spec.get("source"), str)
            for spec in tables.values()
        ):
            raise _LoadError("annotations", "PARSE_ERROR",
                             f"{path}: needs 'tables': {{name: {{'source': path}}}}")
        return tables

    def _load_table(self, run: _Run, connection: sqlite3.Connection, table: str,
                    spec: dict[str, Any]) -> None:
        source = Path(run.command.config.default_dir) / spec["source"]
        try:
            dataset = json.loads(source.read_text(encoding="utf-8"))
            columns: list[str] = list(dataset["columns"])
            rows: list[dict[str, Any]] = dataset["rows"]
        except FileNotFoundError:
            raise _LoadError(table, "FILE_NOT_FOUND", f"{source}: no such file") from None
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise_if_fault(error, source, "reading a collected file")  # EIO: not a parse error
            raise _LoadError(table, "PARSE_ERROR", f"{source}: {error!r}") from None
        key = [str(column) for column in spec.get("key", [])]
        names = ", ".join(_quote(column) for column in columns)
        primary = f", PRIMARY KEY ({', '.join(map(_quote, key))})" if key else ""
        try:
            with connection:  # one transaction per table
                connection.execute(f"CREATE TABLE IF NOT EXISTS {_quote(table)} "
                                   f"({names}{primary})")
                connection.execute(f"DELETE FROM {_quote(table)}")  # noqa: S608 - quoted name
                connection.executemany(
                    f"INSERT INTO {_quote(table)} ({names}) "  # noqa: S608 - quoted names
                    f"VALUES ({', '.join('?' * len(columns))})",
                    [tuple(row.get(column) for column in columns) for row in rows],
                )
        except sqlite3.Error as error:
            raise_if_fault(error, run.target, f"loading {table}")  # a full disk: no failed load
            kind = "INTEGRITY_ERROR" if isinstance(error, sqlite3.IntegrityError) else "LOAD_ERROR"
            raise _LoadError(table, kind, f"{table}: {error}") from None
        run.loaded += 1
        run.rows += len(rows)

    def _record(self, run: _Run, connection: sqlite3.Connection) -> LoaderFinished:
        """Count the load in ``load_history``; the row keeps the result a re-run answers."""
        result = self._finished(run)
        with connection:
            connection.execute(_HISTORY)
            connection.execute(
                "INSERT INTO load_history VALUES (?, ?, ?, ?, ?, ?)",
                (run.key, run.command.run_id, datetime.now(UTC).isoformat(), run.loaded,
                 run.rows, result.model_dump_json()),
            )
        return result

    def _restore(self, run: _Run, why: str) -> HealingAction:
        """ROLLBACK_TO_BACKUP: the target becomes its last good copy again, for real."""
        try:
            if run.backup.exists():
                _copy_database(run.backup, run.target)
                detail = f"restored {run.target} from {run.backup} after {why}"
            else:
                run.target.unlink(missing_ok=True)
                detail = f"removed {run.target} after {why}: there was no target before"
        except (OSError, sqlite3.Error) as error:
            raise_if_fault(error, run.target, "restoring the backup")  # a full disk: retry
            logger.bind(actor=LOADER_AGENT, saga=run.command.run_id).error(
                "could not restore {}: {!r}", run.target, error)
            return HealingAction(scale="database", status="FAILED",
                                 detail=f"restoring {run.target} failed: {error}")
        return HealingAction(scale="database", status="SUCCESS", detail=detail)

    def _fail(self, run: _Run, error: _LoadError) -> LoaderFailed:
        logger.bind(actor=LOADER_AGENT, saga=run.command.run_id).warning(
            "load failed on {}: {}; rolling the target back", error.data_type, error)
        rollback = self._restore(run, f"a failed load of {error.data_type}")
        run.marker.unlink(missing_ok=True)
        run.healing.append(rollback)
        failure = PhaseError(data_type=error.data_type, error_type=error.error_type,
                             error_message=str(error), recovery_actions=(rollback,))
        return LoaderFailed(
            run_id=run.command.run_id, agent=LOADER_AGENT, status="failed", total=run.total,
            successful=0, failed=1, errors=(failure,), healing_actions=tuple(run.healing),
            output_paths=(str(run.target),), rollback_status=rollback.status,
            duration_s=time.monotonic() - run.started,
        )

    def _finished(self, run: _Run) -> LoaderFinished:
        return LoaderFinished(
            run_id=run.command.run_id, agent=LOADER_AGENT, status="success", total=run.total,
            successful=run.loaded, rows=run.rows, files_saved=1,
            healing_actions=tuple(run.healing), output_paths=(str(run.target),),
            duration_s=time.monotonic() - run.started,
        )
