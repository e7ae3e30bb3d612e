"""The master pipeline's pluggable actions, and the built-in ones.

An action is a callable ``action(command, context) -> details``: it does one stage's
work (or one fan-out item's) and returns a small JSON-able dict saying what it did.
Raising means the try failed; the saga retries it by the stage's policy. Which action a
stage runs is named in the configuration, so a deployment swaps in its own (a call to
a real orchestrator) by registering it under a name.

The built-in actions do real, small work on local files and an SQLite warehouse, so the
pipeline runs end to end on a fresh machine:

- ``resolve_environment``: the environment's metadata (workspace id, connection ids)
  into ``<work_dir>/runs/<run_id>/environment.json``.
- ``ingest_csv``: every CSV of ``source_dir`` into a warehouse table ``raw_<name>``.
- ``run_sql_models``: each ``<models_dir>/<table>.sql`` (a SELECT) as ``CREATE TABLE AS``.
- ``check_row_counts``: row counts against ``thresholds``, recorded in ``load_checks``.
- ``cleanup``: run folders older than ``keep_days`` removed, then ``VACUUM``.
- ``refresh_semantic_model``: the model's query into ``semantic_<model>`` and
  ``<work_dir>/semantic/<model>.json``.

Hazard: an action's warehouse changes join the effect's transaction (see
:mod:`actors._master_effects`); its file changes must be safe to redo.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sagalog.actors._errors import ActorRuntimeError
from sagalog.actors._master_effects import EffectScope
from sagalog.events.master import ActivityCommand

__all__ = [
    "BUILTIN_ACTIONS",
    "Action",
    "ActionContext",
    "ActionError",
    "check_row_counts",
    "cleanup",
    "ingest_csv",
    "refresh_semantic_model",
    "resolve_environment",
    "run_sql_models",
]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SECONDS_PER_DAY = 86_400


class ActionError(ActorRuntimeError):
    """An action could not do its work; the message says what and where."""


@dataclass(frozen=True, slots=True)
class ActionContext:
    """What an action gets besides its command."""

    scope: EffectScope
    """The warehouse transaction the effect commits in (``scope.connection``)."""
    key: str
    """The command's event id: the effect's idempotency key."""
    attempt: int
    """Which try this is (1 for the first)."""
    now: datetime
    """The runtime clock's time (virtual in tests)."""

    @property
    def connection(self) -> sqlite3.Connection:
        """The warehouse, inside the effect's transaction."""
        return self.scope.connection


Action = Callable[[ActivityCommand, ActionContext], dict[str, Any]]
"""A stage's work: ``(command, context) -> details``; raise to fail the try."""


def _identifier(name: str, what: str) -> str:
    if not _IDENTIFIER.fullmatch(name):
        raise ActionError(f"{what} {name!r} is not a plain SQL identifier")
    return name


def _write_json(path: Path, value: object) -> None:
    """Write atomically (temporary file, then rename): safe to redo after a crash."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(value, indent=2, sort_keys=True, default=str) + "\n",
                         encoding="utf-8")
    temporary.replace(path)


def _count(connection: sqlite3.Connection, table: str) -> int:
    row = connection.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()  # noqa: S608 - checked identifier
    return int(row[0])


# -- initialisation ------------------------------------------------------------------------


def resolve_environment(command: ActivityCommand, context: ActionContext) -> dict[str, Any]:
    """Look up the workspace id and connection ids; write them where later stages read."""
    environment = command.environment
    workspace = environment.get("workspace_id")
    connections = environment.get("connections")
    if not workspace or not isinstance(workspace, str):
        raise ActionError("environment.workspace_id is not set")
    if not isinstance(connections, dict) or not connections:
        raise ActionError("environment.connections names no connection")
    missing = sorted(name for name, value in connections.items() if not value)
    if missing:
        raise ActionError(f"environment.connections has no id for {', '.join(missing)}")
    target = Path(command.paths.work_dir) / "runs" / command.run_id / "environment.json"
    _write_json(target, {
        "run_id": command.run_id, "environment": environment.get("name", ""),
        "workspace_id": workspace, "connections": connections,
        "resolved_at": context.now.isoformat(),
    })
    return {"file": str(target), "workspace_id": workspace, "connections": sorted(connections)}


# -- integration ---------------------------------------------------------------------------


def _value(text: str) -> int | float | str | None:
    if text == "":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def _ingest(connection: sqlite3.Connection, source: Path, table: str) -> int:
    with source.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if not header:
            raise ActionError(f"{source}: empty file, no header")
        columns = [_identifier(name.strip(), f"{source}: column") for name in header]
        rows = [[_value(cell) for cell in row] for row in reader if row]
    for number, row in enumerate(rows, start=2):
        if len(row) != len(columns):
            raise ActionError(f"{source}, line {number}: {len(row)} values for "
                              f"{len(columns)} columns")
    connection.execute(f'DROP TABLE IF EXISTS "{table}"')
    quoted = ", ".join(f'"{column}"' for column in columns)
    connection.execute(f'CREATE TABLE "{table}" ({quoted})')
    marks = ", ".join("?" * len(columns))
    connection.executemany(f'INSERT INTO "{table}" VALUES ({marks})', rows)  # noqa: S608 - checked identifiers
    return len(rows)


def ingest_csv(command: ActivityCommand, context: ActionContext) -> dict[str, Any]:
    """Load every ``*.csv`` of ``source_dir`` (or ``settings.files``) into ``raw_<name>``.

    A table is replaced, never appended to, so running the stage again (a new run)
    leaves the same warehouse.
    """
    source_dir = Path(command.paths.source_dir)
    names = command.settings.get("files")
    if names is None:
        files = sorted(source_dir.glob("*.csv"))
    else:
        files = [source_dir / str(name) for name in names]
    if not files:
        raise ActionError(f"{source_dir}: no CSV files to ingest")
    prefix = str(command.settings.get("prefix", "raw_"))
    loaded: dict[str, int] = {}
    for source in files:
        if not source.is_file():
            raise ActionError(f"{source}: no such file")
        table = _identifier(f"{prefix}{source.stem}", f"{source}: table")
        loaded[table] = _ingest(context.connection, source, table)
    return {"tables": loaded}


# -- transformation ------------------------------------------------------------------------


def run_sql_models(command: ActivityCommand, context: ActionContext) -> dict[str, Any]:
    """Build each model ``<models_dir>/<table>.sql`` (a SELECT) as a table.

    Models run in the order of ``settings.models`` if given, else by file name, so a
    model may read the tables of those before it.
    """
    models_dir = Path(command.paths.models_dir)
    order = command.settings.get("models")
    files = ([models_dir / f"{name}.sql" for name in order] if order is not None
             else sorted(models_dir.glob("*.sql")))
    if not files:
        raise ActionError(f"{models_dir}: no SQL models")
    built: dict[str, int] = {}
    for model in files:
        if not model.is_file():
            raise ActionError(f"{model}: no such model")
        table = _identifier(model.stem, f"{model}: model")
        query = model.read_text(encoding="utf-8").strip().rstrip(";")
        context.connection.execute(f'DROP TABLE IF EXISTS "{table}"')
        try:
            context.connection.execute(f'CREATE TABLE "{table}" AS {query}')
        except sqlite3.Error as error:
            raise ActionError(f"{model}: {error}") from error
        built[table] = _count(context.connection, table)
    return {"models": built}


# -- monitoring ----------------------------------------------------------------------------


def check_row_counts(command: ActivityCommand, context: ActionContext) -> dict[str, Any]:
    """Check each table of ``settings.thresholds`` has at least that many rows.

    The counts are recorded in ``load_checks`` (the stage's effect), the failing ones
    too; any table missing or below its threshold fails the try, naming them all.
    """
    thresholds = command.settings.get("thresholds")
    if not isinstance(thresholds, dict) or not thresholds:
        raise ActionError("monitoring: settings.thresholds names no table")
    connection = context.connection
    connection.execute(
        "CREATE TABLE IF NOT EXISTS load_checks (run_id TEXT, table_name TEXT, row_count "
        "INTEGER, min_rows INTEGER, ok INTEGER, checked_at TEXT)"
    )
    counts: dict[str, int | None] = {}
    breaches: list[str] = []
    for table, minimum in thresholds.items():
        _identifier(table, "monitoring: table")
        try:
            counts[table] = _count(connection, table)
        except sqlite3.OperationalError:
            counts[table] = None
        found = counts[table]
        ok = found is not None and found >= int(minimum)
        if not ok:
            breaches.append(f"{table}: {'missing' if found is None else found} < {minimum}")
        connection.execute("INSERT INTO load_checks VALUES (?, ?, ?, ?, ?, ?)",
                           (command.run_id, table, found, int(minimum), int(ok),
                            context.now.isoformat()))
    if breaches:
        raise ActionError(f"row counts below threshold: {'; '.join(breaches)}")
    return {"row_counts": counts}


# -- maintenance ---------------------------------------------------------------------------


def cleanup(command: ActivityCommand, context: ActionContext) -> dict[str, Any]:
    """Remove run folders older than ``settings.keep_days`` (default 7); VACUUM the warehouse.

    File ages are measured against the wall clock, because that is the clock that
    stamped the files.
    """
    keep_days = float(command.settings.get("keep_days", 7))
    runs = Path(command.paths.work_dir) / "runs"
    limit = time.time() - keep_days * _SECONDS_PER_DAY
    removed = []
    if runs.is_dir():
        for folder in sorted(runs.iterdir()):
            if folder.is_dir() and folder.name != command.run_id and \
                    folder.stat().st_mtime < limit:
                shutil.rmtree(folder)
                removed.append(folder.name)
    context.connection.execute("PRAGMA optimize")
    warehouse = command.paths.warehouse
    context.scope.after_commit(lambda: _vacuum(warehouse))
    return {"removed": removed, "vacuumed": warehouse}


def _vacuum(path: str) -> None:
    connection = sqlite3.connect(path, timeout=30.0, isolation_level=None)
    try:
        connection.execute("VACUUM")
    finally:
        connection.close()


# -- semantic refresh ----------------------------------------------------------------------


def refresh_semantic_model(command: ActivityCommand, context: ActionContext) -> dict[str, Any]:
    """Publish one semantic model: its query into ``semantic_<model>`` and a JSON file."""
    model = _identifier(command.item, "semantic model")
    query = command.settings.get("query")
    if not isinstance(query, str) or not query.strip():
        raise ActionError(f"semantic model {model}: no query")
    table = f"semantic_{model}"
    connection = context.connection
    connection.execute(f'DROP TABLE IF EXISTS "{table}"')
    try:
        connection.execute(f'CREATE TABLE "{table}" AS {query.strip().rstrip(";")}')
    except sqlite3.Error as error:
        raise ActionError(f"semantic model {model}: {error}") from error
    cursor = connection.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - checked identifier
    columns = [column[0] for column in cursor.description]
    rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    target = Path(command.paths.work_dir) / "semantic" / f"{model}.json"
    _write_json(target, {"model": model, "run_id": command.run_id,
                         "refreshed_at": context.now.isoformat(), "rows": rows})
    return {"table": table, "rows": len(rows), "file": str(target)}


BUILTIN_ACTIONS: Mapping[str, Action] = {
    "resolve_environment": resolve_environment,
    "ingest_csv": ingest_csv,
    "run_sql_models": run_sql_models,
    "check_row_counts": check_row_counts,
    "cleanup": cleanup,
    "refresh_semantic_model": refresh_semantic_model,
}
"""The actions every runner knows, by the names the configuration uses."""
