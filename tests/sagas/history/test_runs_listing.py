"""``newest_runs`` (what ``list`` shows) agrees with ``list_runs`` for every filter.

On a current log its filters and count run in SQLite against the store's runs table;
on a log written before that table existed it falls back to aggregating the records.
Both must give exactly what filtering :func:`list_runs` in Python gives.
"""

from __future__ import annotations

import itertools
import sqlite3
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from uuid import uuid4

import pytest

from sagalog.events import SagalogError
from sagalog.events.jobs import JobRejected
from sagalog.events.sagas import SagaDecided
from sagalog.sagas.history import STATUSES, list_runs, newest_runs, render_runs
from sagalog.store import open_store
from tests.support import Deposited, Note, Withdrawn

if TYPE_CHECKING:
    from pathlib import Path

KINDS = {"test.Deposited": "account", "test.Note": "note"}
RULES = ["start-stage", "complete", "fail", "end", "escalate", "compensate"]


class Clock:
    """Each commit a second after the last, so ``since`` splits the runs."""

    def __init__(self) -> None:
        self.ticks = 0

    def __call__(self) -> datetime:
        self.ticks += 1
        return datetime(2026, 1, 1, tzinfo=UTC).replace(second=self.ticks % 60,
                                                        minute=self.ticks // 60)


def decided(run: str, rule: str) -> SagaDecided:
    return SagaDecided(saga="account", saga_id=run, rule=rule, reason=rule,
                       trigger_type="test.Deposited", trigger_position=1,
                       trigger_event_id=str(uuid4()), commands=[])


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Runs of every status and kind, interleaved; and the same log as schema version 1."""
    path = tmp_path_factory.mktemp("listing") / "runs.db"
    with open_store(path, durability="off", clock=Clock()) as store:
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
    old = path.with_name("old.db")
    with sqlite3.connect(path) as source, sqlite3.connect(old) as target:
        source.backup(target)
        target.execute("DROP TABLE runs")
        target.execute("PRAGMA user_version = 1")
    source.close()
    target.close()
    return path, old


@pytest.mark.parametrize("which", ["current", "version 1"])
def test_every_filter_and_limit_gives_what_filtering_all_runs_gives(
    logs: tuple[Path, Path], which: str
) -> None:
    """Status x kind x since x limit: the same runs, in the same order, and the same count."""
    path = logs[0] if which == "current" else logs[1]
    everything = list_runs(path, KINDS)
    assert len(everything) == 10
    assert {run.status for run in everything} >= {"completed", "failed", "ended",
                                                   "manual_review", "running", "rejected",
                                                   "recorded"}
    middle = everything[4].started
    kinds = [None, "account", "note", "test.Withdrawn"]  # no saga starts run-w: its type
    for status, kind, since, limit in itertools.product(
        [None, *STATUSES], kinds, [None, middle], [0, 1, 3, 100]
    ):
        expected = list_runs(path, KINDS, status=status, kind=kind, since=since)
        runs, total = newest_runs(path, KINDS, limit, status=status, kind=kind, since=since)
        assert (runs, total) == ((expected[-limit:] if limit else expected), len(expected))
        assert render_runs(runs, limit, total=total) == render_runs(expected, limit)


@pytest.mark.parametrize("which", ["current", "version 1"])
@pytest.mark.parametrize("kind", ["accounts", "test.Note", "SagaDecided", ""])
def test_a_kind_neither_a_saga_nor_in_the_log_names_the_valid_kinds(
    logs: tuple[Path, Path], which: str, kind: str
) -> None:
    """A start type is listed under its saga's kind, so it is not a kind of its own."""
    path = logs[0] if which == "current" else logs[1]
    for listing in (lambda: list_runs(path, KINDS, kind=kind),
                    lambda: newest_runs(path, KINDS, 10, kind=kind)):
        with pytest.raises(SagalogError) as refused:
            listing()
        assert str(refused.value) == f"--kind must be one of account, note, not {kind!r}"
