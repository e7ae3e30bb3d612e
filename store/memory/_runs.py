"""The runs table of an in-memory log: neutral facts per correlation id, and statuses.

Kept on every commit, as SQLite keeps its ``runs`` table in the same transaction as the
records: per correlation id its first and last record, how many it has, and the last
status a :class:`~sagalog.store.RunStatusHook` gave. Listing runs then reads one entry
per run, never the records. Runs are held in a dict in the order they started: a run
starts with its first record, and records are appended in position order, so that is
``first_position`` order and "newest first" is the dict reversed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sagalog.store._contract import RunFacts, RunPage, RunQuery

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sagalog.store._resolve import Row

__all__ = ["RunTable"]


@dataclass(slots=True)
class _Run:
    """One run's facts, updated in place as its records are appended."""

    correlation_id: str
    first_position: int
    first_type: str
    started: str
    last_position: int
    last_type: str
    ended: str
    events: int = 0
    status: str | None = None
    status_position: int | None = None

    def facts(self) -> RunFacts:
        return RunFacts(
            self.correlation_id, self.first_position, self.first_type, self.started,
            self.last_position, self.last_type, self.ended, self.events, self.status,
            self.status_position,
        )


class RunTable:
    """Every run of one log, by correlation id; the log's lock guards it."""

    def __init__(self) -> None:
        self._runs: dict[str, _Run] = {}

    def fold(self, rows: Sequence[Row], statuses: Sequence[str | None]) -> None:
        """Count committed ``rows`` into their runs; ``statuses`` is in step with them."""
        for row, status in zip(rows, statuses, strict=True):
            correlation_id = row[7]
            if correlation_id is None:
                continue
            run = self._runs.get(correlation_id)
            if run is None:
                run = self._runs[correlation_id] = _Run(
                    correlation_id, row[0], row[4], row[6], row[0], row[4], row[6])
            run.last_position, run.last_type, run.ended = row[0], row[4], row[6]
            run.events += 1
            if status is not None:
                run.status, run.status_position = status, row[0]

    def status_position(self, correlation_id: str) -> int:
        """The position that gave the run its status, 0 if none did (or no such run)."""
        run = self._runs.get(correlation_id)
        return 0 if run is None or run.status_position is None else run.status_position

    def fill(self, correlation_id: str, position: int, status: str) -> None:
        """Give a run ``status`` from the record at ``position``, unless a later one did."""
        run = self._runs.get(correlation_id)
        if run is not None and (run.status_position or 0) < position:
            run.status, run.status_position = status, position

    def get(self, correlation_id: str) -> RunFacts | None:
        """One run's facts, or None."""
        run = self._runs.get(correlation_id)
        return None if run is None else run.facts()

    def query(self, query: RunQuery) -> RunPage:
        """The runs answering ``query``, newest first, and how many answer it in all."""
        found: list[RunFacts] = []
        total = 0
        for run in reversed(self._runs.values()):
            if query.statuses is not None and run.status not in query.statuses:
                continue
            if query.first_types is not None and run.first_type not in query.first_types:
                continue
            if query.since is not None and run.started < query.since:
                continue  # compared as stored text, as SQLite compares it
            total += 1
            if not query.limit or len(found) < query.limit:
                found.append(run.facts())
        return RunPage(found, total)
