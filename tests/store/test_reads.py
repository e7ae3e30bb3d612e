"""Reading: streams and the whole log in pages, subscriptions, upcasting, in-memory stores."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

from sagalog.events import Event, upcaster
from sagalog.store import AsyncEventStore
from tests.support import Deposited, Withdrawn, run


def test_read_all_crosses_page_boundaries_in_order(db_path: str) -> None:
    """read_all returns every record once, in position order, across several pages."""

    async def scenario() -> None:
        async with AsyncEventStore.open(db_path, durability="off") as store:
            for start in range(0, 5000, 1000):
                await store.append(
                    "s", [Deposited(account="a", amount=i) for i in range(start, start + 1000)]
                )
            positions = [r.position async for r in store.read_all()]
            assert positions == list(range(1, 5001))
            tail = [r.position async for r in store.read_all(from_position=4990)]
            assert tail == list(range(4990, 5001))

    run(scenario())


def test_read_stream_from_a_version_is_inclusive_and_stream_only(db_path: str) -> None:
    """read_stream returns one stream's records from the given version on."""

    async def scenario() -> None:
        async with AsyncEventStore.open(db_path, durability="off") as store:
            for index in range(30):
                await store.append(f"s{index % 3}", [Deposited(account="a", amount=index)])
            records = [r async for r in store.read_stream("s1", from_version=4)]
            assert [r.stream_version for r in records] == list(range(4, 11))
            assert {r.stream_id for r in records} == {"s1"}
            assert [r async for r in store.read_stream("nothing-here")] == []

    run(scenario())


def test_read_all_filters_by_type(db_path: str) -> None:
    """read_all with types returns only those message types, in order."""

    async def scenario() -> None:
        async with AsyncEventStore.open(db_path, durability="off") as store:
            await store.append(
                "s", [Deposited(account="a", amount=1), Withdrawn(account="a", amount=1)] * 3
            )
            kinds = [r.type async for r in store.read_all(types=[Withdrawn])]
            assert kinds == ["test.Withdrawn"] * 3
            by_name = [r.position async for r in store.read_all(types=["test.Deposited"])]
            assert by_name == [1, 3, 5]

    run(scenario())


def test_subscription_catches_up_then_follows_live_appends(db_path: str) -> None:
    """A subscription yields the past, then appends racing it, with no gap or duplicate."""

    async def writer(store: AsyncEventStore) -> None:
        for index in range(200):
            await store.append(f"w{index % 4}", [Deposited(account="a", amount=index)])

    async def scenario() -> None:
        async with AsyncEventStore.open(db_path, durability="off") as store:
            await store.append("past", [Withdrawn(account="a", amount=i) for i in range(50)])
            subscription = store.subscribe(from_position=0)
            task = asyncio.create_task(writer(store))
            seen = []
            async for record in subscription:
                seen.append(record.position)
                if len(seen) == 250:
                    break
            await task
            assert seen == list(range(1, 251))

    run(scenario())


def test_subscription_with_types_skips_others(db_path: str) -> None:
    """A typed subscription delivers only its types, live as well as past."""

    async def scenario() -> None:
        async with AsyncEventStore.open(db_path, durability="off") as store:
            await store.append("s", [Deposited(account="a", amount=1)])
            subscription = store.subscribe(types=[Withdrawn])
            await store.append("s", [Withdrawn(account="a", amount=2)])
            batch = await subscription.next_batch(10, timeout=5)
            assert [r.type for r in batch] == ["test.Withdrawn"]
            assert await subscription.next_batch(10, timeout=0.01) == []

    run(scenario())


def test_subscription_ends_when_the_store_closes(db_path: str) -> None:
    """An iterating subscription stops cleanly when its store is closed."""

    async def scenario() -> None:
        store = await AsyncEventStore.connect(db_path, durability="off")
        subscription = store.subscribe()

        delivered = asyncio.Event()

        async def consume() -> list[int]:
            positions = []
            async for record in subscription:
                positions.append(record.position)
                delivered.set()
            return positions

        task = asyncio.create_task(consume())
        await store.append("s", [Deposited(account="a", amount=1)])
        await asyncio.wait_for(delivered.wait(), 5)
        await store.close()
        assert await asyncio.wait_for(task, 5) == [1]

    run(scenario())


def test_in_memory_store_reads_only_committed_records() -> None:
    """An in-memory store works end to end and never shows a half-written batch."""

    async def scenario() -> None:
        async with AsyncEventStore.open(":memory:") as store:
            appends = [
                store.append(f"s{i}", [Deposited(account="a", amount=i)] * 5) for i in range(20)
            ]
            reads = [store.last_position() for _ in range(20)]
            results = await asyncio.gather(*appends, *reads)
            for last in results[20:]:
                assert isinstance(last, int)
                assert last % 5 == 0, "a reader saw part of an append"
            assert await store.last_position() == 100
            assert (await store.verify()).ok

    run(scenario())


def test_old_record_written_by_an_earlier_class_is_upcast(db_path: str) -> None:
    """A record written by a v1 class is read as v3 through chained upcasters."""

    class ParcelSent(Event, name="test.ParcelSent", version=1):
        parcel: str

    async def write_old() -> None:
        async with AsyncEventStore.open(db_path) as store:
            await store.append("parcel-1", [ParcelSent(parcel="p-1")])

    run(write_old())

    # Later, the code changes twice; the old record stays as it was written.
    class ParcelSentV2(Event, name="test.ParcelSent", version=2):
        parcel: str
        carrier: str

    class ParcelSentV3(Event, name="test.ParcelSent", version=3):
        parcel: str
        carrier: str
        weight_grams: int

    @upcaster("test.ParcelSent", from_version=1)
    def add_carrier(data: dict[str, Any]) -> dict[str, Any]:
        return {**data, "carrier": "post"}

    @upcaster("test.ParcelSent", from_version=2)
    def add_weight(data: dict[str, Any]) -> dict[str, Any]:
        return {**data, "weight_grams": 0}

    async def read_new() -> None:
        async with AsyncEventStore.open(db_path) as store:
            await store.append("parcel-2", [ParcelSentV3(parcel="p-2", carrier="dhl",
                                                         weight_grams=5)])
            records = [r async for r in store.read_all()]
            assert records[0].data == ParcelSentV3(parcel="p-1", carrier="post", weight_grams=0)
            assert records[0].version == 1, "the envelope keeps the stored version"
            assert records[1].version == 3

    run(read_new())
    with sqlite3.connect(db_path) as raw:
        assert raw.execute("SELECT data FROM events WHERE position = 1").fetchone() == (
            '{"parcel":"p-1"}',
        )
    assert ParcelSentV2.message_version == 2


def test_read_correlation_returns_one_saga_across_streams_using_the_index(db_path: str) -> None:
    """All records of one correlation id, from every stream, in order, via its index."""
    import sqlite3

    from sagalog.store import open_store

    with open_store(db_path, durability="off") as store:
        for n in range(30):
            store.append(f"s{n % 3}", [Deposited(account="a", amount=n)],
                         correlation_id=f"run-{n % 5}")
        records = list(store.read_correlation("run-2"))
        assert [r.data.amount for r in records] == [2, 7, 12, 17, 22, 27]  # type: ignore[attr-defined]
        assert {r.stream_id for r in records} == {"s0", "s1", "s2"}
        assert list(store.read_correlation("nobody")) == []
    with sqlite3.connect(db_path) as raw:
        plan = raw.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM events WHERE correlation_id = 'run-2' "
            "AND position >= 0 ORDER BY position LIMIT 10"
        ).fetchall()
    assert any("events_correlation" in str(step) for step in plan)
