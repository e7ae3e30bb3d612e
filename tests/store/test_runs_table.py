"""The runs table: one row per correlation id, kept by the writer with the records.

It must always say what aggregating the records would say, whichever write path the
batch took, and a file written before the table existed gets it on its first append
(not on open: a read-only command must leave an older file as it was).
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from uuid import uuid4

import pytest

from sagalog.events.sagas import SagaDecided
from sagalog.store import (
    SCHEMA_VERSION,
    AppendRequest,
    EventIdConflictError,
    EventStoreProtocol,
    WrongExpectedVersionError,
    open_store,
)
from tests.support import Deposited, Withdrawn

AGGREGATE = """
SELECT g.first, g.correlation_id, f.type, f.recorded_at, g.last, l.type, l.recorded_at, g.n,
       g.decided, (SELECT json_extract(data, '$.rule') FROM events WHERE position = g.decided)
FROM (SELECT correlation_id, min(position) AS first, max(position) AS last, count(*) AS n,
             max(CASE WHEN type = 'SagaDecided' THEN position END) AS decided
      FROM events WHERE correlation_id IS NOT NULL GROUP BY correlation_id) AS g
JOIN events AS f ON f.position = g.first
JOIN events AS l ON l.position = g.last
ORDER BY g.first
"""
SUMMARY = "SELECT * FROM runs ORDER BY first_position"


def decided(run: str, rule: str) -> SagaDecided:
    return SagaDecided(saga="test", saga_id=run, rule=rule, reason=f"{rule} because",
                       trigger_type="Deposited", trigger_position=1,
                       trigger_event_id=str(uuid4()), commands=[])


def tables(path: Path) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    with sqlite3.connect(path) as raw:
        summary = raw.execute(SUMMARY).fetchall()
        aggregate = raw.execute(AGGREGATE).fetchall()
    raw.close()
    return summary, aggregate


def write_mixed_log(store: EventStoreProtocol) -> None:
    """Interleaved runs, batches, a refused append, an idempotent repeat, no-run records."""
    store.append("acct-a", [Deposited(account="a", amount=1)], correlation_id="run-a")
    store.append("acct-b", [Deposited(account="b", amount=1)], correlation_id="run-b")
    store.append("saga-a", [decided("run-a", "start-stage")], correlation_id="run-a")
    store.append("loose", [Deposited(account="x", amount=1)])  # no correlation id
    store.append_all([
        AppendRequest("acct-a", [Withdrawn(account="a", amount=1)], correlation_id="run-a"),
        AppendRequest("saga-a", [decided("run-a", "complete")], correlation_id="run-a"),
        AppendRequest("acct-c", [Deposited(account="c", amount=2)] * 3, correlation_id="run-c"),
    ])
    with pytest.raises(WrongExpectedVersionError):  # refused: none of it may be counted
        store.append("acct-b", [Withdrawn(account="b", amount=1)], expected_version=7,
                     correlation_id="run-b")
    event_id = uuid4()
    for _ in range(2):  # the repeat appends nothing and goes the isolated way
        store.append("acct-b", [Withdrawn(account="b", amount=1)], correlation_id="run-b",
                     event_ids=[event_id])
    store.append("saga-b", [decided("run-b", "fail")], correlation_id="run-b")
    store.append("acct-b", [Deposited(account="b", amount=9)], correlation_id="run-b")


def test_the_runs_table_says_what_aggregating_the_records_says(tmp_path: Path) -> None:
    """First and last record, count, last decision and its rule, per run, after every path."""
    path = tmp_path / "log.db"
    with open_store(path, durability="off") as store:
        write_mixed_log(store)
        first = store.read_position(1)
        assert first is not None
        with pytest.raises(EventIdConflictError):  # a known id with other content
            store.append("acct-c", [Deposited(account="c", amount=1)], correlation_id="run-c",
                         event_ids=[first.event_id])
    summary, aggregate = tables(path)
    assert summary == aggregate
    assert [row[1] for row in summary] == ["run-a", "run-b", "run-c"]
    assert [(row[7], row[9]) for row in summary] == [(4, "complete"), (4, "fail"), (3, None)]


def test_an_older_file_is_upgraded_by_its_first_append_not_by_opening(tmp_path: Path) -> None:
    """Schema 1 (no runs table) stays byte-for-byte as it was until something is appended."""
    path = tmp_path / "old.db"
    with open_store(path, durability="off") as store:
        write_mixed_log(store)
    with sqlite3.connect(path) as raw:  # what a version-1 file is: no runs table
        raw.execute("DROP TABLE runs")
        raw.execute("PRAGMA user_version = 1")
    raw.close()
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    with open_store(path) as store:
        assert len(list(store.read_all())) == 12
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    with open_store(path) as store:
        store.append("acct-d", [Deposited(account="d", amount=1)], correlation_id="run-d")
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    raw.close()
    summary, aggregate = tables(path)
    assert summary == aggregate
    assert [row[1] for row in summary] == ["run-a", "run-b", "run-c", "run-d"]
