"""Group commit: many concurrent appends, one transaction, each answered after COMMIT."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from sagalog.store import NO_STREAM, AsyncEventStore, StoreError, WrongExpectedVersionError
from tests.support import Deposited, run


def test_concurrent_appends_share_transactions(db_path: str) -> None:
    """64 concurrent single appends are committed in far fewer transactions than appends."""

    async def scenario() -> None:
        async with AsyncEventStore.open(db_path) as store:
            await asyncio.gather(
                *[store.append(f"s{i}", [Deposited(account="a", amount=i)]) for i in range(64)]
            )
            assert store.stats.appends == 64
            assert store.stats.transactions < 64
            assert store.stats.largest_batch > 1
            assert await store.last_position() == 64

    run(scenario())


def test_each_caller_is_answered_only_after_commit(db_path: str) -> None:
    """When an append returns, another connection already sees its rows."""

    async def one(store: AsyncEventStore, index: int) -> None:
        records = await store.append(f"s{index}", [Deposited(account="a", amount=index)])
        with sqlite3.connect(db_path) as raw:
            seen = raw.execute(
                "SELECT count(*) FROM events WHERE position = ?", (records[0].position,)
            ).fetchone()[0]
        assert seen == 1

    async def scenario() -> None:
        async with AsyncEventStore.open(db_path) as store:
            await asyncio.gather(*[one(store, i) for i in range(32)])

    run(scenario())


def test_one_conflict_does_not_fail_the_others_in_its_batch(db_path: str) -> None:
    """A wrong expected version fails only its own append, not the batch it shared."""

    async def scenario() -> None:
        async with AsyncEventStore.open(db_path) as store:
            await store.append("taken", [Deposited(account="a", amount=0)])
            before = store.stats.transactions
            results = await asyncio.gather(
                *[store.append(f"free{i}", [Deposited(account="a", amount=i)]) for i in range(10)],
                store.append("taken", [Deposited(account="a", amount=1)],
                             expected_version=NO_STREAM),
                *[store.append(f"more{i}", [Deposited(account="a", amount=i)]) for i in range(10)],
                return_exceptions=True,
            )
            failures = [r for r in results if isinstance(r, BaseException)]
            assert len(failures) == 1
            assert isinstance(failures[0], WrongExpectedVersionError)
            assert await store.last_position() == 21
            assert store.stats.transactions - before < 20, "the appends were batched together"
            assert (await store.verify()).ok

    run(scenario())


def test_database_refusal_isolates_the_offending_append(db_path: str) -> None:
    """If SQLite itself refuses one append's rows, savepoints keep the others in the batch."""

    async def scenario() -> None:
        async with AsyncEventStore.open(db_path) as store:
            await store.append("warmup", [Deposited(account="a", amount=0)])
            # An operator's trigger the resolver cannot foresee refuses one stream's rows.
            with sqlite3.connect(db_path) as raw:
                raw.execute(
                    "CREATE TRIGGER no_poison BEFORE INSERT ON events "
                    "WHEN NEW.stream_id = 'poison' "
                    "BEGIN SELECT RAISE(ABORT, 'poison refused'); END"
                )
            results = await asyncio.gather(
                *[store.append(f"ok{i}", [Deposited(account="a", amount=i)]) for i in range(8)],
                store.append("poison", [Deposited(account="a", amount=1)]),
                *[store.append(f"ok{i}", [Deposited(account="a", amount=i)]) for i in range(8, 16)],
                return_exceptions=True,
            )
            failures = [r for r in results if isinstance(r, BaseException)]
            assert len(failures) == 1
            assert isinstance(failures[0], StoreError)
            assert "poison refused" in str(failures[0])
            assert not isinstance(failures[0], sqlite3.Error)
            assert await store.last_position() == 17
            report = await store.verify()
            assert report.ok, report

    run(scenario())


@pytest.mark.parametrize("durability", ["full", "normal", "off"])
def test_every_durability_setting_appends_and_reads(db_path: str, durability: str) -> None:
    """Each durability setting is accepted and sets SQLite's synchronous mode."""

    async def scenario() -> None:
        async with AsyncEventStore.open(db_path, durability=durability) as store:  # type: ignore[arg-type]
            await store.append("s", [Deposited(account="a", amount=1)])
            assert store.durability == durability

    run(scenario())


def test_unknown_durability_is_refused(db_path: str) -> None:
    """A durability other than full/normal/off is a clear error."""

    async def scenario() -> None:
        with pytest.raises(StoreError, match="durability must be"):
            async with AsyncEventStore.open(db_path, durability="fast"):  # type: ignore[arg-type]
                pass

    run(scenario())
