"""Appending: expected versions, atomicity, idempotent event ids, checkpoints."""

from __future__ import annotations

import sqlite3
from uuid import uuid4

import pytest

from sagalog.events import derived_event_id
from sagalog.store import (
    ANY,
    NO_STREAM,
    STREAM_EXISTS,
    AppendRequest,
    AsyncEventStore,
    Checkpoint,
    EventIdConflictError,
    StoreError,
    WrongExpectedVersionError,
)
from tests.support import Deposited, Withdrawn, run


def count_rows(path: str) -> int:
    with sqlite3.connect(path) as raw:
        return int(raw.execute("SELECT count(*) FROM events").fetchone()[0])


def test_append_returns_records_with_the_full_envelope(db_path: str) -> None:
    """An append returns one envelope per message with position, versions, ids and links."""

    async def scenario() -> None:
        async with AsyncEventStore.open(db_path) as store:
            cause = uuid4()
            records = await store.append(
                "acct-1",
                [Deposited(account="1", amount=5), Withdrawn(account="1", amount=2)],
                correlation_id="run-1",
                causation_id=cause,
            )
            assert [r.position for r in records] == [1, 2]
            assert [r.stream_version for r in records] == [1, 2]
            assert [r.type for r in records] == ["test.Deposited", "test.Withdrawn"]
            assert {r.correlation_id for r in records} == {"run-1"}
            assert {r.causation_id for r in records} == {cause}
            assert records[0].recorded_at.tzinfo is not None
            assert records[0].event_id != records[1].event_id
            stored = [r async for r in store.read_stream("acct-1")]
            assert stored == records

    run(scenario())


@pytest.mark.parametrize(
    ("expected", "existing", "ok"),
    [
        (ANY, 0, True),
        (ANY, 2, True),
        (NO_STREAM, 0, True),
        (NO_STREAM, 2, False),
        (STREAM_EXISTS, 0, False),
        (STREAM_EXISTS, 2, True),
        (0, 0, True),
        (2, 2, True),
        (1, 2, False),
        (3, 2, False),
    ],
)
def test_expected_version_kinds(db_path: str, expected: object, existing: int, ok: bool) -> None:
    """Each kind of expected version accepts exactly the stream states it names."""

    async def scenario() -> None:
        async with AsyncEventStore.open(db_path, durability="off") as store:
            if existing:
                await store.append("s", [Deposited(account="a", amount=i) for i in range(existing)])
            append = store.append(
                "s", [Deposited(account="a", amount=99)], expected_version=expected  # type: ignore[arg-type]
            )
            if ok:
                records = await append
                assert records[0].stream_version == existing + 1
            else:
                with pytest.raises(WrongExpectedVersionError) as caught:
                    await append
                assert caught.value.stream_id == "s"
                assert caught.value.actual == existing
                assert await store.stream_version("s") == existing

    run(scenario())


def test_conflict_carries_stream_expected_actual_and_writes_nothing(db_path: str) -> None:
    """A version conflict names stream, expected and actual, and leaves the log as it was."""

    async def scenario() -> None:
        async with AsyncEventStore.open(db_path) as store:
            await store.append("acct", [Deposited(account="a", amount=1)])
            with pytest.raises(WrongExpectedVersionError) as caught:
                await store.append(
                    "acct",
                    [Deposited(account="a", amount=2), Deposited(account="a", amount=3)],
                    expected_version=5,
                )
            assert "'acct'" in str(caught.value)
            assert "version 5" in str(caught.value)
            assert "version 1" in str(caught.value)
            assert await store.last_position() == 1

    run(scenario())
    assert count_rows(db_path) == 1


def test_identical_repeat_of_event_ids_returns_stored_records(db_path: str) -> None:
    """Appending ids already stored with identical content appends nothing and returns them."""

    async def scenario() -> None:
        async with AsyncEventStore.open(db_path) as store:
            ids = [uuid4(), uuid4()]
            messages = [Deposited(account="a", amount=1), Deposited(account="a", amount=2)]
            first = await store.append("acct", messages, event_ids=ids, correlation_id="c")
            again = await store.append(
                "acct", messages, event_ids=ids, correlation_id="c", expected_version=NO_STREAM
            )
            assert again == first
            assert await store.last_position() == 2

    run(scenario())


def test_repeat_of_event_id_with_other_content_is_refused(db_path: str) -> None:
    """An event id already stored with different content raises and writes nothing."""

    async def scenario() -> None:
        async with AsyncEventStore.open(db_path) as store:
            event_id = uuid4()
            await store.append("acct", [Deposited(account="a", amount=1)], event_ids=[event_id])
            with pytest.raises(EventIdConflictError, match="different content") as caught:
                await store.append(
                    "acct", [Deposited(account="a", amount=999)], event_ids=[event_id]
                )
            assert caught.value.event_id == event_id
            assert caught.value.position == 1
            assert await store.last_position() == 1

    run(scenario())


def test_partly_recorded_append_is_completed(db_path: str) -> None:
    """An append whose first ids are recorded identically gets only its missing records."""

    async def scenario() -> None:
        async with AsyncEventStore.open(db_path) as store:
            ids = [uuid4(), uuid4(), uuid4()]
            messages = [Deposited(account="a", amount=n) for n in range(3)]
            # As an import of an export cut inside this append leaves it:
            await store.append("acct", messages[:1], event_ids=ids[:1])
            records = await store.append("acct", messages, event_ids=ids,
                                         expected_version=NO_STREAM)
            assert [r.event_id for r in records] == ids
            assert [r.stream_version for r in records] == [1, 2, 3]
            assert await store.last_position() == 3
            again = await store.append("acct", messages, event_ids=ids)
            assert again == records
            with pytest.raises(EventIdConflictError, match="different content"):
                await store.append("acct", [Deposited(account="a", amount=9), messages[1]],
                                   event_ids=[ids[0], uuid4()])
            assert await store.last_position() == 3

    run(scenario())


def test_concurrent_identical_appends_with_derived_ids_record_once(db_path: str) -> None:
    """Two racing appends of the same derived ids in one batch record the messages once."""

    async def scenario() -> None:
        import asyncio

        async with AsyncEventStore.open(db_path) as store:
            cause = uuid4()
            ids = [derived_event_id(cause, "handler", i) for i in range(3)]
            messages = [Deposited(account="a", amount=i) for i in range(3)]
            results = await asyncio.gather(
                *[store.append("acct", messages, event_ids=ids) for _ in range(5)]
            )
            assert all(result == results[0] for result in results)
            assert await store.last_position() == 3

    run(scenario())


def test_append_all_is_atomic_across_streams(db_path: str) -> None:
    """If one request of an append_all fails its check, no stream of it is written."""

    async def scenario() -> None:
        async with AsyncEventStore.open(db_path) as store:
            await store.append("b", [Deposited(account="b", amount=1)])
            with pytest.raises(WrongExpectedVersionError):
                await store.append_all(
                    [
                        AppendRequest("a", [Deposited(account="a", amount=1)]),
                        AppendRequest("b", [Deposited(account="b", amount=2)], NO_STREAM),
                    ],
                    checkpoint=Checkpoint("worker", 1),
                )
            assert await store.stream_version("a") == 0
            assert await store.checkpoint("worker") == 0
            written = await store.append_all(
                [
                    AppendRequest("a", [Deposited(account="a", amount=1)]),
                    AppendRequest("b", [Deposited(account="b", amount=2)], 1),
                ],
                checkpoint=Checkpoint("worker", 1),
            )
            assert [[r.position for r in part] for part in written] == [[2], [3]]
            assert await store.checkpoint("worker") == 1

    run(scenario())


def test_checkpoint_moves_in_the_same_transaction_as_the_append(db_path: str) -> None:
    """A refused append leaves its checkpoint unmoved; a committed one moves it."""

    async def scenario() -> None:
        async with AsyncEventStore.open(db_path) as store:
            await store.append("in", [Deposited(account="a", amount=1)])
            with pytest.raises(WrongExpectedVersionError):
                await store.append(
                    "out", [Withdrawn(account="a", amount=1)], expected_version=STREAM_EXISTS,
                    checkpoint=Checkpoint("h", 1),
                )
            assert await store.checkpoint("h") == 0
            await store.append("out", [Withdrawn(account="a", amount=1)],
                               checkpoint=Checkpoint("h", 1))
            assert await store.checkpoint("h") == 1
            await store.set_checkpoint("h", 0)
            assert await store.checkpoint("h") == 1, "a checkpoint never moves backwards"

    run(scenario())
    with sqlite3.connect(db_path) as raw:
        assert raw.execute("SELECT position FROM checkpoints WHERE name='h'").fetchone() == (1,)


def test_append_of_an_unregistered_object_is_refused(db_path: str) -> None:
    """Only registered messages can be appended; the error says what was given."""

    async def scenario() -> None:
        async with AsyncEventStore.open(db_path) as store:
            with pytest.raises(StoreError, match="dict"):
                await store.append("s", [{"amount": 1}])  # type: ignore[list-item]
            with pytest.raises(StoreError, match="expected_version"):
                await store.append("s", [Deposited(account="a", amount=1)],
                                   expected_version=-1)
            with pytest.raises(StoreError, match="event_ids given for"):
                await store.append("s", [Deposited(account="a", amount=1)], event_ids=[])
            assert await store.last_position() == 0

    run(scenario())


def test_store_survives_reopen(db_path: str) -> None:
    """Records and stream versions are there after closing and reopening the file."""

    async def write() -> None:
        async with AsyncEventStore.open(db_path) as store:
            await store.append("s", [Deposited(account="a", amount=1)])

    async def reopen() -> None:
        async with AsyncEventStore.open(db_path) as store:
            await store.append("s", [Deposited(account="a", amount=2)], expected_version=1)
            assert [r.data.amount async for r in store.read_stream("s")] == [1, 2]  # type: ignore[attr-defined]

    run(write())
    run(reopen())
