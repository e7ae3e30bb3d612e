"""``newest_runs`` and ``list_runs`` (what ``list`` shows): the store's runs, every filter.

A current log is listed from the store's runs table, its statuses given by the catalog's
hooks as the records were written. A log an older sagalog wrote (schema version 1: no
runs table; 2: a runs table that kept the last decision's rule), opened read-only and so
not upgraded, is summarised by the store from its records, its statuses from the hooks
given at open: both must list exactly what the current log lists.
"""

from __future__ import annotations

import itertools
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest

from sagalog.events import SagalogError
from sagalog.events.jobs import JobRejected
from sagalog.events.sagas import SagaDecided
from sagalog.sagas.catalog import RUN_STATUS_HOOKS
from sagalog.sagas.history import STATUSES, RunSummary, list_runs, newest_runs, render_runs
from sagalog.sagas.kinds import run_status_hooks
from sagalog.store import open_store
from tests.support import Deposited, Note, Withdrawn

RUN = Path(__file__).resolve().parents[3] / "run.py"
KINDS = {"test.Deposited": "account", "test.Note": "note"}
RULES = ["start-stage", "complete", "fail", "end", "escalate", "compensate"]
LISTED = [  # run, kind, status: what every version of the log must list, oldest first
    ("run-0", "account", "completed"),  # decided "start-stage", then "complete" at the end
    ("run-1", "account", "completed"),
    ("run-2", "account", "failed"),
    ("run-3", "account", "ended"),
    ("run-4", "account", "manual_review"),
    ("run-5", "account", "running"),  # compensating: not ended
    ("run-x", "account", "recorded"),  # no saga decided on it
    ("run-note", "note", "recorded"),
    ("run-w", "test.Withdrawn", "recorded"),  # no saga starts it: listed under its type
    ("run-job", "note", "rejected"),  # a refused submission (no decision)
]
VERSIONS = ["current", "version 2", "version 1"]

RUNS_V2 = """
CREATE TABLE runs (
    first_position INTEGER PRIMARY KEY,
    correlation_id TEXT    NOT NULL UNIQUE,
    first_type     TEXT    NOT NULL,
    started        TEXT    NOT NULL,
    last_position  INTEGER NOT NULL,
    last_type      TEXT    NOT NULL,
    ended          TEXT    NOT NULL,
    events         INTEGER NOT NULL,
    decided        INTEGER,
    rule           TEXT
);
INSERT INTO runs (first_position, correlation_id, first_type, started, last_position,
                  last_type, ended, events, decided, rule)
SELECT g.first, g.correlation_id, f.type, f.recorded_at, g.last, l.type, l.recorded_at, g.n,
       g.decided, (SELECT json_extract(data, '$.rule') FROM events WHERE position = g.decided)
FROM (SELECT correlation_id, min(position) AS first, max(position) AS last, count(*) AS n,
             max(CASE WHEN type = 'SagaDecided' THEN position END) AS decided
      FROM events WHERE correlation_id IS NOT NULL GROUP BY correlation_id) AS g
JOIN events AS f ON f.position = g.first
JOIN events AS l ON l.position = g.last;
PRAGMA user_version = 2;
"""
"""Schema version 2's runs table (sagalog 0.1), filled as its upgrade filled it."""


class Clock:
    """Each commit a second after the last, so ``since`` splits the runs."""

    def __init__(self) -> None:
        self.ticks = 0

    def __call__(self) -> datetime:
        self.ticks += 1
        return datetime(2026, 1, 1, tzinfo=UTC).replace(second=self.ticks % 60,
                                                        minute=self.ticks // 60)


def decided(run: str, rule: str) -> SagaDecided:
    return SagaDecided(saga="order", saga_id=run, rule=rule, reason=rule,
                       trigger_type="test.Deposited", trigger_position=1,
                       trigger_event_id=str(uuid4()), commands=[])


def older(current: Path, version: int) -> Path:
    """A copy of ``current`` as sagalog 0.1 wrote it: schema ``version`` (1 or 2)."""
    old = current.with_name(f"v{version}.db")
    with sqlite3.connect(current) as source, sqlite3.connect(old) as target:
        source.backup(target)
        target.executescript("DROP TABLE runs; DROP TABLE status_scans; DROP TABLE metadata; "
                             "PRAGMA user_version = 1;")
        if version == 2:
            target.executescript(RUNS_V2)
    source.close()
    target.close()
    return old


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Runs of every status and kind, interleaved; and the same log as versions 2 and 1."""
    path = tmp_path_factory.mktemp("listing") / "runs.db"
    with open_store(path, durability="off", clock=Clock(), run_status=RUN_STATUS_HOOKS) as store:
        for index, rule in enumerate(RULES):
            store.append(f"acct-{index}", [Deposited(account=str(index), amount=1)],
                         correlation_id=f"run-{index}")
            store.append(f"saga-{index}", [decided(f"run-{index}", rule)],
                         correlation_id=f"run-{index}")
        store.append("acct-x", [Deposited(account="x", amount=1)], correlation_id="run-x")
        store.append("notes", [Note(text="n")], correlation_id="run-note")
        store.append("acct-w", [Withdrawn(account="w", amount=1)], correlation_id="run-w")
        store.append("jobs", [Note(text="j"), JobRejected(reason="bad", errors=[], raw="{",
                                                            source="f", submitted_position=1)],
                     correlation_id="run-job")
        store.append("saga-0", [decided("run-0", "complete")], correlation_id="run-0")
    return {"current": path, "version 2": older(path, 2), "version 1": older(path, 1)}


def matches(run: RunSummary, status: str | None, kind: str | None,
            since: datetime | None) -> bool:
    return ((status is None or run.status == status) and (kind is None or run.kind == kind)
            and (since is None or run.started >= since))


@pytest.mark.parametrize("which", VERSIONS)
def test_every_version_lists_each_run_with_its_kind_and_status(
    logs: dict[str, Path], which: str
) -> None:
    """The statuses the hooks gave as the log was written, or give it now, read-only."""
    everything = list_runs(logs[which], KINDS, run_status=run_status_hooks())
    assert [(run.run_id, run.kind, run.status) for run in everything] == LISTED
    assert everything == list_runs(logs["current"], KINDS)
    assert [run.events for run in everything] == [3, 2, 2, 2, 2, 2, 1, 1, 1, 2]
    assert everything[0].first_position == 1
    assert everything[0].duration > 0  # its last decision came at the end


@pytest.mark.parametrize("which", VERSIONS)
def test_every_filter_and_limit_gives_what_filtering_all_runs_gives(
    logs: dict[str, Path], which: str
) -> None:
    """Status x kind x since x limit: the same runs, in the same order, and the same count."""
    with open_store(logs[which], read_only=True, run_status=run_status_hooks()) as store:
        everything = list_runs(store, KINDS)
        middle = everything[4].started
        kinds = [None, "account", "note", "test.Withdrawn"]
        for status, kind, since, limit in itertools.product(
            [None, *STATUSES], kinds, [None, middle], [0, 1, 3, 100]
        ):
            expected = [run for run in everything if matches(run, status, kind, since)]
            runs, total = newest_runs(store, KINDS, limit, status=status, kind=kind,
                                      since=since)
            assert (runs, total) == ((expected[-limit:] if limit else expected), len(expected))
            assert render_runs(runs, limit, total=total) == render_runs(expected, limit)
            assert list_runs(store, KINDS, status=status, kind=kind, since=since) == expected


@pytest.mark.parametrize("which", VERSIONS)
@pytest.mark.parametrize("kind", ["accounts", "test.Note", "SagaDecided", ""])
def test_a_kind_neither_a_saga_nor_in_the_log_names_the_valid_kinds(
    logs: dict[str, Path], which: str, kind: str
) -> None:
    """A start type is listed under its saga's kind, so it is not a kind of its own."""
    path = logs[which]
    for listing in (lambda: list_runs(path, KINDS, kind=kind),
                    lambda: newest_runs(path, KINDS, 10, kind=kind)):
        with pytest.raises(SagalogError) as refused:
            listing()
        assert str(refused.value) == f"--kind must be one of account, note, not {kind!r}"


def test_a_log_written_without_hooks_lists_its_runs_as_recorded(tmp_path: Path) -> None:
    """The store knows no sagas: a run's status is what a hook said, or nothing."""
    path = tmp_path / "plain.db"
    with open_store(path) as store:
        store.append("acct", [Deposited(account="a", amount=1)], correlation_id="run-a")
        store.append("saga", [decided("run-a", "fail")], correlation_id="run-a")
    assert [run.status for run in list_runs(path, KINDS)] == ["recorded"]
    assert [run.run_id for run in list_runs(path, KINDS, status="recorded")] == ["run-a"]
    assert list_runs(path, KINDS, status="failed") == []


@pytest.mark.parametrize("which", ["version 2", "version 1"])
def test_the_command_lists_an_older_log_as_the_current_one_without_changing_it(
    logs: dict[str, Path], which: str
) -> None:
    """``sagalog list`` loads the workflows for an old log only, and writes nothing to it."""
    before = logs[which].read_bytes()

    def listed(path: Path, *flags: str) -> str:
        result = subprocess.run([sys.executable, str(RUN), "-q", "list", *flags, "--db",
                                 str(path)], capture_output=True, text=True, timeout=60,
                                check=False)
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert listed(logs[which]) == listed(logs["current"])
    assert "run-2" in listed(logs[which], "--status", "failed")
    assert listed(logs[which], "--status", "rejected").splitlines()[-1] == "1 runs"
    assert logs[which].read_bytes() == before
