"""Every saga and run in a log, with kind, status, start, end, duration and size.

One aggregate query over the correlation index answers it (0.6 s for 71,000 runs in
1,000,000 records on the CI machine): the first record names the kind (the saga whose
start it is), the last saga decision gives the status. The query runs on a read-only
connection, so listing cannot write to a log a worker is writing.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from events import SagalogError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["STATUSES", "RunSummary", "list_runs", "open_read_only", "render_runs"]

_ENDING = {"complete": "completed", "fail": "failed", "end": "ended",
           "escalate": "manual_review"}
STATUSES = ("running", *_ENDING.values(), "rejected", "recorded")
"""What ``status`` can be: ``running`` until a saga decision ends the run; a run no saga
decided on is ``rejected`` (its last record is a refusal) or just ``recorded``."""

_REFUSALS = frozenset({"JobRejected"})

_QUERY = """
SELECT g.correlation_id, g.n, g.first, f.type, f.recorded_at, l.recorded_at, l.type,
       g.decided, (SELECT json_extract(data, '$.rule') FROM events WHERE position = g.decided)
FROM (SELECT correlation_id, min(position) AS first, max(position) AS last, count(*) AS n,
             max(CASE WHEN type = 'SagaDecided' THEN position END) AS decided
      FROM events WHERE correlation_id IS NOT NULL GROUP BY correlation_id) AS g
JOIN events AS f ON f.position = g.first
JOIN events AS l ON l.position = g.last
ORDER BY g.first
"""


@dataclass(frozen=True)
class RunSummary:
    """One saga or run, as ``list`` shows it."""

    run_id: str
    kind: str
    status: str
    started: datetime
    ended: datetime
    events: int
    first_position: int

    @property
    def duration(self) -> float:
        """Seconds from its first record to its last."""
        return (self.ended - self.started).total_seconds()


def open_read_only(path: str | Path) -> sqlite3.Connection:
    """A connection that cannot write, on an existing sagalog file.

    Raises:
        SagalogError: the file does not exist or is not a sagalog log.

    """
    if not Path(path).is_file():
        msg = f"{path}: no such log"
        raise SagalogError(msg)
    try:
        connection = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
        connection.execute("SELECT 1 FROM events LIMIT 1").fetchall()
    except sqlite3.DatabaseError as error:
        msg = f"{path}: not a sagalog log ({error})"
        raise SagalogError(msg) from None
    return connection


def list_runs(
    path: str | Path,
    kinds: Mapping[str, str] | None = None,
    *,
    status: str | None = None,
    kind: str | None = None,
    since: datetime | None = None,
) -> list[RunSummary]:
    """The runs of the log at ``path``, oldest first, filtered as asked.

    Args:
        path: the log.
        kinds: start message type -> kind (a saga definition's name); a run whose first
            record is not a known start is listed under its first record's type.
        status: only runs with this status (one of :data:`STATUSES`).
        kind: only runs of this kind.
        since: only runs started at or after this time.

    """
    if status is not None and status not in STATUSES:
        msg = f"--status must be one of {', '.join(STATUSES)}, not {status!r}"
        raise SagalogError(msg)
    kinds = kinds or {}
    connection = open_read_only(path)
    try:
        rows = connection.execute(_QUERY).fetchall()
    finally:
        connection.close()
    runs = []
    for run_id, events, first, first_type, started, ended, last_type, decided, rule in rows:
        summary = RunSummary(
            run_id=run_id, kind=kinds.get(first_type, first_type),
            status=_status(decided, rule, last_type), started=datetime.fromisoformat(started),
            ended=datetime.fromisoformat(ended), events=events, first_position=first,
        )
        if ((status is None or summary.status == status)
                and (kind is None or summary.kind == kind)
                and (since is None or summary.started >= since)):
            runs.append(summary)
    return runs


def _status(decided: int | None, rule: str | None, last_type: str) -> str:
    if decided is None:
        return "rejected" if last_type in _REFUSALS else "recorded"
    return _ENDING.get(rule or "", "running")


def render_runs(runs: list[RunSummary], limit: int = 0) -> str:
    """A readable table, newest last; with ``limit``, only the newest ``limit``."""
    shown = runs[-limit:] if limit else runs
    width = min(64, max([len(run.run_id) for run in shown] + [3]))
    header = (f"{'run':<{width}} {'kind':<18} {'status':<14} {'started (UTC)':<23} "
              f"{'duration':>10} {'events':>7}")
    lines = [header]
    for run in shown:
        started = run.started.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        lines.append(f"{_cut(run.run_id, width):<{width}} {_cut(run.kind, 18):<18} "
                     f"{run.status:<14} "
                     f"{started:<23} {run.duration:>9.3f}s {run.events:>7}")
    if len(shown) < len(runs):
        lines.append(f"... and {len(runs) - len(shown)} older (--limit 0 shows all)")
    lines.append(f"{len(runs)} runs")
    return "\n".join(lines)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
