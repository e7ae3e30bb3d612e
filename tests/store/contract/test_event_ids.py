"""Explicit event ids make appends idempotent: a repeat writes nothing, a clash is refused."""

from __future__ import annotations

import threading
from uuid import uuid4

import pytest

from sagalog.events import derived_event_id
from sagalog.store import NO_STREAM, EventIdConflictError, EventStoreProtocol, StoreError
from tests.store.contract.support import Background, deposits
from tests.support import Deposited


def test_repeating_an_append_with_its_event_ids_returns_the_stored_records(
        store: EventStoreProtocol) -> None:
    ids = [uuid4(), uuid4()]
    first = store.append("acct", deposits(2), event_ids=ids, correlation_id="run")
    store.append("other", deposits(1))
    # The repeat expects NO_STREAM, which the stream no longer is: a repeat is answered
    # with what is stored, not checked again.
    again = store.append("acct", deposits(2), event_ids=ids, correlation_id="run",
                         expected_version=NO_STREAM)
    assert again == first
    assert store.last_position() == 3
    assert [r.event_id for r in store.read_stream("acct")] == ids


def test_an_event_id_recorded_with_other_content_is_refused_naming_it_and_its_position(
        store: EventStoreProtocol) -> None:
    event_id = uuid4()
    store.append("acct", deposits(1), event_ids=[event_id])
    changed = [
        {"stream_id": "acct", "messages": [Deposited(account="a", amount=999)]},
        {"stream_id": "elsewhere", "messages": deposits(1)},
        {"stream_id": "acct", "messages": deposits(1), "correlation_id": "run"},
        {"stream_id": "acct", "messages": deposits(1), "causation_id": uuid4()},
    ]
    for change in changed:
        with pytest.raises(EventIdConflictError) as caught:
            store.append(**change, event_ids=[event_id])  # type: ignore[arg-type]
        assert caught.value.event_id == event_id
        assert caught.value.position == 1
        assert str(event_id) in str(caught.value)
    assert store.last_position() == 1


def test_a_partly_recorded_append_gets_only_its_missing_records(
        store: EventStoreProtocol) -> None:
    # Step 1: only the first message of an append is recorded (an import of an export
    # cut inside that append leaves this).
    ids = [uuid4(), uuid4(), uuid4()]
    messages = deposits(3)
    store.append("acct", messages[:1], event_ids=ids[:1])
    # Step 2: the whole append again: the two missing records follow the stored one.
    records = store.append("acct", messages, event_ids=ids, expected_version=NO_STREAM)
    assert [r.event_id for r in records] == ids
    assert [r.stream_version for r in records] == [1, 2, 3]
    assert store.last_position() == 3
    # Step 3: once complete, it is a plain repeat.
    assert store.append("acct", messages, event_ids=ids) == records
    # Step 4: a recorded part that differs is a conflict, and writes nothing.
    with pytest.raises(EventIdConflictError, match="different content"):
        store.append("acct", [Deposited(account="a", amount=9), messages[1]],
                     event_ids=[ids[0], uuid4()])
    assert store.last_position() == 3


def test_an_event_id_given_twice_in_one_append_is_refused(store: EventStoreProtocol) -> None:
    event_id = uuid4()
    with pytest.raises(EventIdConflictError, match="twice"):
        store.append("acct", deposits(2), event_ids=[event_id, event_id])
    assert store.last_position() == 0


def test_event_ids_must_be_one_uuid_per_message(store: EventStoreProtocol) -> None:
    with pytest.raises(StoreError, match="2 event_ids given for 1 messages"):
        store.append("acct", deposits(1), event_ids=[uuid4(), uuid4()])
    with pytest.raises(StoreError, match="UUID"):
        store.append("acct", deposits(1), event_ids=["not-a-uuid"])  # type: ignore[list-item]
    assert store.last_position() == 0


def test_racing_identical_appends_with_derived_ids_record_once(
        store: EventStoreProtocol) -> None:
    # Handlers that redo the same work derive the same ids: racing repeats record it once
    # and every caller gets the same records back.
    cause = uuid4()
    ids = [derived_event_id(cause, "handler", n) for n in range(3)]
    start = threading.Barrier(6)

    def repeat() -> list[int]:
        start.wait()
        records = store.append("out", deposits(3), event_ids=ids, causation_id=cause)
        return [r.position for r in records]

    repeats = [Background(repeat) for _ in range(6)]
    answers = [each.result(60) for each in repeats]
    assert answers == [[1, 2, 3]] * 6
    assert store.last_position() == 3


def test_read_event_finds_a_record_by_its_id(store: EventStoreProtocol) -> None:
    event_id = uuid4()
    store.append("a", deposits(2))
    (record,) = store.append("b", deposits(1), event_ids=[event_id])
    assert store.read_event(event_id) == record
    assert store.read_event(uuid4()) is None
