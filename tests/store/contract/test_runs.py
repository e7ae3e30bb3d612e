"""Runs: neutral facts per correlation id, kept with every commit; statuses from hooks."""

from __future__ import annotations

from typing import Any

import pytest

from sagalog.events import Envelope, Message
from sagalog.store import AppendRequest, EventStoreProtocol, RunQuery, RunStatusHook, StoreError
from tests.store.contract.conftest import LogHandle
from tests.store.contract.support import START, ManualClock, deposits
from tests.support import Deposited, Note, OpenAccount, Withdrawn


def note_status(record: Envelope[Message]) -> str | None:
    """``status:X`` notes give their run status X; other notes say nothing."""
    text: str = record.data.text  # type: ignore[attr-defined]
    return text.removeprefix("status:") if text.startswith("status:") else None


NOTES = RunStatusHook(frozenset({"test.Note"}), note_status, name="notes")


def stamp(clock: ManualClock) -> str:
    """``recorded_at`` as stored for a commit at the clock's time."""
    return clock.now.isoformat(timespec="microseconds")


def test_runs_hold_neutral_facts_for_each_correlation_id(log: LogHandle) -> None:
    clock = ManualClock()
    store = log.open(clock=clock)
    store.append("order-1", [OpenAccount(account="1")], correlation_id="run-1")
    started = stamp(clock)
    clock.advance(10)
    store.append("other", deposits(1), correlation_id="run-2")
    store.append("no-run", deposits(2))  # no correlation id: no run
    clock.advance(10)
    store.append("payment-1", [Withdrawn(account="1", amount=3)], correlation_id="run-1")
    facts = store.run("run-1")
    assert facts is not None
    assert facts.correlation_id == "run-1"
    assert (facts.first_position, facts.first_type, facts.started) == (
        1, "test.OpenAccount", started)
    assert (facts.last_position, facts.last_type, facts.ended) == (
        5, "test.Withdrawn", stamp(clock))
    assert facts.events == 2
    assert (facts.status, facts.status_position) == (None, None)
    assert store.run("missing") is None
    assert store.runs(RunQuery()).total == 2


def test_a_hook_gives_a_run_the_status_of_its_last_record_that_has_one(log: LogHandle) -> None:
    # Step 1: a store with the notes hook; a run's notes say "started", then nothing.
    store = log.open(run_status=[NOTES])
    store.append("s", [Note(text="status:started")], correlation_id="run")
    store.append("s", [Note(text="just a note")], correlation_id="run")
    facts = store.run("run")
    assert facts is not None
    assert (facts.status, facts.status_position, facts.events) == ("started", 1, 2)
    # Step 2: a later note with a status replaces it, in the same append as other records.
    store.append("s", [Note(text="status:done"), Note(text="after")], correlation_id="run")
    facts = store.run("run")
    assert facts is not None
    assert (facts.status, facts.status_position, facts.last_position) == ("done", 3, 4)
    # Step 3: a record without a correlation id gives no run a status.
    store.append("s", [Note(text="status:orphan")])
    assert [run.status for run in store.runs(RunQuery()).runs] == ["done"]


def test_each_run_in_one_append_all_gets_its_own_status(log: LogHandle) -> None:
    store = log.open(run_status=[NOTES])
    store.append_all([
        AppendRequest("a", [Note(text="status:one")], correlation_id="run-a"),
        AppendRequest("b", [Note(text="status:two")], correlation_id="run-b"),
    ])
    statuses = {(run.correlation_id, run.status) for run in store.runs(RunQuery()).runs}
    assert statuses == {("run-a", "one"), ("run-b", "two")}


def test_the_first_installed_hook_that_answers_wins(log: LogHandle) -> None:
    def urgent(record: Envelope[Message]) -> str | None:
        text: str = record.data.text  # type: ignore[attr-defined]
        return "urgent" if "!" in text else None

    def anything(record: Envelope[Message]) -> str | None:
        return "noted"

    store = log.open(run_status=[
        RunStatusHook(frozenset({"test.Note"}), urgent, name="urgent"),
        RunStatusHook(frozenset({"test.Note"}), anything, name="anything"),
    ])
    store.append("s", [Note(text="calm")], correlation_id="calm")
    store.append("s", [Note(text="fire!")], correlation_id="fire")
    assert store.run("calm").status == "noted"  # type: ignore[union-attr]
    assert store.run("fire").status == "urgent"  # type: ignore[union-attr]


def test_a_hook_is_asked_only_about_the_types_it_reads(log: LogHandle) -> None:
    asked: list[str] = []

    def record_type(record: Envelope[Message]) -> str | None:
        asked.append(record.type)
        return "seen"

    store = log.open(run_status=[RunStatusHook(frozenset({"test.Withdrawn"}), record_type,
                                               name="withdrawals")])
    store.append("s", [Deposited(account="a", amount=1), Withdrawn(account="a", amount=1),
                       Deposited(account="a", amount=2)], correlation_id="run")
    assert asked == ["test.Withdrawn"]
    assert store.run("run").status_position == 2  # type: ignore[union-attr]


def test_add_run_status_gives_runs_written_before_their_status(store: EventStoreProtocol) -> None:
    # Step 1: two runs written with no hook installed have no status.
    store.append("s", [Note(text="status:old"), Note(text="plain")], correlation_id="run-1")
    store.append("s", [Note(text="status:other")], correlation_id="run-2")
    assert store.run("run-1").status is None  # type: ignore[union-attr]
    # Step 2: the hook is installed; by the next write (the contract's latest moment)
    # the runs written before have the status their records give.
    store.add_run_status(NOTES)
    store.append("unrelated", deposits(1))
    one, two = store.run("run-1"), store.run("run-2")
    assert (one.status, one.status_position) == ("old", 1)  # type: ignore[union-attr]
    assert (two.status, two.status_position) == ("other", 3)  # type: ignore[union-attr]
    # Step 3: and records written afterwards are read by it as they are appended.
    store.append("s", [Note(text="status:new")], correlation_id="run-1")
    assert store.run("run-1").status == "new"  # type: ignore[union-attr]


def test_hooks_given_when_a_store_opens_fill_runs_written_before(log: LogHandle) -> None:
    # Step 1: a store without hooks writes a run.
    first = log.open()
    first.append("s", [Note(text="status:written earlier")], correlation_id="run")
    # Step 2: a store opened on the same log with the hook: by its first write the run
    # has its status.
    second = log.open(run_status=[NOTES])
    second.append("unrelated", deposits(1))
    facts = second.run("run")
    assert facts is not None
    assert (facts.status, facts.status_position) == ("written earlier", 1)


def test_add_run_status_installs_one_hook_per_name(store: EventStoreProtocol) -> None:
    store.add_run_status(NOTES)
    store.add_run_status(RunStatusHook(frozenset({"test.Note"}), lambda record: "impostor",
                                       name="notes"))
    store.append("s", [Note(text="status:real")], correlation_id="run")
    assert store.run("run").status == "real"  # type: ignore[union-attr]


def test_add_run_status_refuses_what_is_not_a_hook(store: EventStoreProtocol) -> None:
    with pytest.raises(StoreError):
        store.add_run_status(note_status)  # type: ignore[arg-type]


def test_run_queries_filter_by_status_first_type_and_start_and_count_them_all(
        log: LogHandle) -> None:
    # Five runs, a minute apart: statuses done, failed, none, done, none; two kinds.
    clock = ManualClock()
    store = log.open(clock=clock, run_status=[NOTES])
    plan: list[tuple[str, Any, str | None]] = [
        ("r1", OpenAccount(account="1"), "done"),
        ("r2", OpenAccount(account="2"), "failed"),
        ("r3", Deposited(account="3", amount=1), None),
        ("r4", OpenAccount(account="4"), "done"),
        ("r5", Deposited(account="5", amount=1), None),
    ]
    for run_id, start, status in plan:
        messages = [start] + ([Note(text=f"status:{status}")] if status else [])
        store.append(run_id, messages, correlation_id=run_id)
        clock.advance(60)

    def ids(query: RunQuery) -> list[str]:
        return [run.correlation_id for run in store.runs(query).runs]

    assert ids(RunQuery()) == ["r5", "r4", "r3", "r2", "r1"]  # newest first
    assert ids(RunQuery(statuses=frozenset({"done"}))) == ["r4", "r1"]
    assert ids(RunQuery(statuses=frozenset({None}))) == ["r5", "r3"]
    assert ids(RunQuery(statuses=frozenset({None, "failed"}))) == ["r5", "r3", "r2"]
    assert ids(RunQuery(first_types=frozenset({"test.OpenAccount"}))) == ["r4", "r2", "r1"]
    third = (START.replace(minute=2)).isoformat(timespec="microseconds")
    assert ids(RunQuery(since=third)) == ["r5", "r4", "r3"]
    assert ids(RunQuery(since=third, first_types=frozenset({"test.Deposited"}))) == [
        "r5", "r3"]
    page = store.runs(RunQuery(limit=2))
    assert [run.correlation_id for run in page.runs] == ["r5", "r4"]
    assert page.total == 5
    limited = store.runs(RunQuery(statuses=frozenset({"done", None}), limit=1))
    assert ([run.correlation_id for run in limited.runs], limited.total) == (["r5"], 4)
    assert len(store.runs(RunQuery(limit=0)).runs) == 5  # 0: all
    assert store.runs(RunQuery(statuses=frozenset({"unknown"}))) == ([], 0)


def test_a_hook_that_raises_gives_no_status_and_fails_no_append(
    store: EventStoreProtocol, logs: Any
) -> None:
    """A status is a summary: a broken hook is logged, and the record is kept all the same."""
    def broken(record: Envelope[Message]) -> str | None:
        amount: int = record.data.amount  # type: ignore[attr-defined]
        if amount == 2:
            raise ValueError("no status for you")
        return "seen" if amount == 1 else 7  # type: ignore[return-value]

    store.add_run_status(RunStatusHook(frozenset({"test.Deposited"}), broken, name="broken"))
    store.append("a", [Deposited(account="a", amount=1)], correlation_id="run")
    store.append("a", [Deposited(account="a", amount=2)], correlation_id="run")  # raises
    store.append("a", [Deposited(account="a", amount=3)], correlation_id="run")  # not a str
    assert store.last_position() == 3
    run = store.run("run")
    assert run is not None
    assert (run.events, run.status, run.status_position) == (3, "seen", 1)
    said = " ".join(record["message"] for record in logs.records)
    assert "'broken'" in said
