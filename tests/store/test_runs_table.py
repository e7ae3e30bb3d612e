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

from sagalog.events import Envelope, Message
from sagalog.events.sagas import SagaDecided
from sagalog.store import (
    SCHEMA_VERSION,
    AppendRequest,
    EventIdConflictError,
    EventStoreProtocol,
    RunQuery,
    RunStatusHook,
    WrongExpectedVersionError,
    open_store,
)
from tests.support import Deposited, Withdrawn

AGGREGATE = """
SELECT g.first, g.correlation_id, f.type, f.recorded_at, g.last, l.type, l.recorded_at, g.n,
       (SELECT json_extract(data, '$.rule') FROM events WHERE position = g.decided), g.decided
FROM (SELECT correlation_id, min(position) AS first, max(position) AS last, count(*) AS n,
             max(CASE WHEN type = 'SagaDecided' THEN position END) AS decided
      FROM events WHERE correlation_id IS NOT NULL GROUP BY correlation_id) AS g
JOIN events AS f ON f.position = g.first
JOIN events AS l ON l.position = g.last
ORDER BY g.first
"""
SUMMARY = "SELECT * FROM runs ORDER BY first_position"
"""The oracle above gives each run the rule of its last decision as its status, which is
what :data:`RULE` says: the store's status is whatever the installed hook says."""


def _rule(envelope: Envelope[Message]) -> str | None:
    return envelope.data.rule if isinstance(envelope.data, SagaDecided) else None


RULE = RunStatusHook(frozenset({"SagaDecided"}), _rule, "test:rule")


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
    with open_store(path, durability="off", run_status=[RULE]) as store:
        write_mixed_log(store)
        first = store.read_position(1)
        assert first is not None
        with pytest.raises(EventIdConflictError):  # a known id with other content
            store.append("acct-c", [Deposited(account="c", amount=1)], correlation_id="run-c",
                         event_ids=[first.event_id])
    summary, aggregate = tables(path)
    assert summary == aggregate
    assert [row[1] for row in summary] == ["run-a", "run-b", "run-c"]
    assert [(row[7], row[8]) for row in summary] == [(4, "complete"), (4, "fail"), (3, None)]


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
    with open_store(path, run_status=[RULE]) as store:  # caught up on the whole log
        store.append("acct-d", [Deposited(account="d", amount=1)], correlation_id="run-d")
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    raw.close()
    summary, aggregate = tables(path)
    assert summary == aggregate
    assert [row[1] for row in summary] == ["run-a", "run-b", "run-c", "run-d"]


V2_RUNS = """
CREATE TABLE runs (first_position INTEGER PRIMARY KEY, correlation_id TEXT NOT NULL UNIQUE,
                   first_type TEXT NOT NULL, started TEXT NOT NULL, last_position INTEGER NOT NULL,
                   last_type TEXT NOT NULL, ended TEXT NOT NULL, events INTEGER NOT NULL,
                   decided INTEGER, rule TEXT)
"""


def as_version_2(path: Path) -> None:
    """Turn a current file into what sagalog 0.1 wrote: its runs table kept saga rules."""
    with sqlite3.connect(path) as raw:
        raw.execute("DROP TABLE runs")
        raw.execute("DROP TABLE status_scans")
        raw.execute("DROP TABLE metadata")
        raw.execute(V2_RUNS)
        raw.execute("INSERT INTO runs " + AGGREGATE.replace(  # noqa: S608 - constants
            "(SELECT json_extract(data, '$.rule') FROM events WHERE position = g.decided), "
            "g.decided", "g.decided, (SELECT json_extract(data, '$.rule') FROM events "
            "WHERE position = g.decided)"))
        raw.execute("PRAGMA user_version = 2")
    raw.close()


def test_a_version_2_file_reads_with_statuses_and_upgrades_to_neutral_runs(tmp_path: Path) -> None:
    """Read-only, a 0.1 log's runs get statuses from the hooks; its first append upgrades it."""
    path = tmp_path / "v2.db"
    with open_store(path, durability="off") as store:
        write_mixed_log(store)
    as_version_2(path)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    # Read-only: nothing is written; the statuses come from the hook over the records.
    with open_store(path, read_only=True, run_status=[RULE]) as log:
        page = log.runs(RunQuery(limit=0))
        assert [(run.correlation_id, run.status) for run in page.runs] == [
            ("run-c", None), ("run-b", "fail"), ("run-a", "complete")]
        assert log.runs(RunQuery(statuses=frozenset({"fail"}))).total == 1
        run_a = log.run("run-a")
        assert run_a is not None
        assert run_a.status_position == 6
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    # A writer with the hook: the first commit upgrades the file and fills every status.
    with open_store(path, run_status=[RULE]) as store:
        store.append("acct-d", [Deposited(account="d", amount=1)], correlation_id="run-d")
        assert [(run.correlation_id, run.status, run.events)
                for run in store.runs(RunQuery(limit=0)).runs] == [
            ("run-d", None, 1), ("run-c", None, 3), ("run-b", "fail", 4),
            ("run-a", "complete", 4)]
    summary, aggregate = tables(path)
    assert summary == [*aggregate]


def test_a_hook_installed_later_is_caught_up_by_the_next_commit(tmp_path: Path) -> None:
    """Records written without the hook get their status once a writer with it commits."""
    path = tmp_path / "log.db"
    with open_store(path, durability="off") as store:  # no hook: statuses stay empty
        write_mixed_log(store)
        assert {run.status for run in store.runs(RunQuery(limit=0)).runs} == {None}
    with open_store(path, durability="off", run_status=[RULE]) as store:
        assert {run.status for run in store.runs(RunQuery(limit=0)).runs} == {None}, \
            "opening writes nothing"
        store.append("acct-e", [Deposited(account="e", amount=1)], correlation_id="run-e")
        statuses = {run.correlation_id: run.status
                    for run in store.runs(RunQuery(limit=0)).runs}
    assert statuses == {"run-a": "complete", "run-b": "fail", "run-c": None, "run-e": None}
