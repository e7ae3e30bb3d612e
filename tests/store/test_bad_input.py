"""Bad input gets a clear, typed error and loses nothing already recorded."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from sagalog.events import Event, InvalidMessageError, UnknownMessageTypeError, UnportableValueError
from sagalog.store import (
    MAX_ID_LENGTH,
    AsyncEventStore,
    CorruptDatabaseError,
    InvalidStreamIdError,
    NotADatabaseError,
    SchemaVersionError,
    StoreError,
)
from tests.support import Deposited, Note, run

HOSTILE_IDS = [
    "it's \"quoted\"",
    "100%_like_%",
    "'; DROP TABLE events; --",
    "naïve-日本-🎉",
    " leading and trailing ",
    "x" * 5000,
    "%",
    "_",
]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def open_store(path: str | Path) -> None:
    async def scenario() -> None:
        async with AsyncEventStore.open(path):
            pass

    run(scenario())


@pytest.mark.parametrize("stream_id", HOSTILE_IDS, ids=range(len(HOSTILE_IDS)))
def test_hostile_stream_ids_round_trip_exactly(db_path: str, stream_id: str) -> None:
    """Quotes, %, _, unicode and 5,000 characters round-trip exactly and match only themselves."""

    async def scenario() -> None:
        async with AsyncEventStore.open(db_path, durability="off") as store:
            await store.append("100%_other", [Deposited(account="x", amount=0)])
            await store.append(stream_id, [Deposited(account="a", amount=1)],
                               correlation_id=stream_id)
            records = [r async for r in store.read_stream(stream_id)]
            assert [r.stream_id for r in records] == [stream_id]
            assert records[0].correlation_id == stream_id
            assert await store.stream_version(stream_id) == 1

    run(scenario())


@pytest.mark.parametrize(
    ("stream_id", "reason"),
    [
        ("", "empty"),
        ("line\nbreak", "control character"),
        ("nul\x00", "control character"),
        ("tab\there", "control character"),
        ("\ud800", "surrogate"),
        ("x" * (MAX_ID_LENGTH + 1), "limit"),
        (42, "must be a str"),
    ],
)
def test_bad_stream_ids_are_refused_clearly(db_path: str, stream_id: object, reason: str) -> None:
    """Empty ids, control characters, lone surrogates and overlong ids are refused."""

    async def scenario() -> None:
        async with AsyncEventStore.open(db_path) as store:
            with pytest.raises(InvalidStreamIdError, match=reason):
                await store.append(stream_id, [Deposited(account="a", amount=1)])  # type: ignore[arg-type]
            assert await store.last_position() == 0

    run(scenario())


@pytest.mark.parametrize(
    "message",
    [
        Note(text="nul \x00 inside"),
        Note(text="x", extra={"v": float("nan")}),
        Note(text="x", extra={"v": float("inf")}),
        Note(text="\udfff"),
    ],
    ids=["nul", "nan", "infinity", "surrogate"],
)
def test_unportable_values_are_refused_before_any_write(db_path: str, message: Note) -> None:
    """Values PostgreSQL would refuse are refused before writing, leaving the log unchanged."""

    async def scenario() -> None:
        async with AsyncEventStore.open(db_path) as store:
            await store.append("s", [Deposited(account="a", amount=1)])
            with pytest.raises(UnportableValueError):
                await store.append("s", [Deposited(account="a", amount=2), message])
            assert await store.last_position() == 1

    run(scenario())


def test_unknown_type_on_read_names_position_stream_and_type(db_path: str) -> None:
    """A stored type no class reads raises a typed error naming position, stream and type."""

    async def scenario() -> None:
        async with AsyncEventStore.open(db_path) as store:
            await store.append("known", [Deposited(account="a", amount=1)])
            await store.append("mystery", [Deposited(account="a", amount=2)])

    run(scenario())
    with sqlite3.connect(db_path) as raw:  # as if written by code that no longer exists
        raw.execute("DROP TRIGGER events_no_update")
        raw.execute("UPDATE events SET type = 'gone.Thing' WHERE position = 2")

    async def read() -> None:
        async with AsyncEventStore.open(db_path) as store:
            with pytest.raises(UnknownMessageTypeError) as caught:
                [r async for r in store.read_all()]
            assert (caught.value.position, caught.value.stream_id) == (2, "mystery")
            assert caught.value.type == "gone.Thing"
            raw_rows = await store.read_raw(1, 10)
            assert raw_rows[1][4] == "gone.Thing", "tools can still show the record raw"

    run(read())


def test_invalid_stored_data_names_the_field(db_path: str) -> None:
    """Stored data that no longer fits its class names the field; no pydantic error escapes."""

    async def scenario() -> None:
        async with AsyncEventStore.open(db_path) as store:
            await store.append("s", [Deposited(account="a", amount=1)])

    run(scenario())
    with sqlite3.connect(db_path) as raw:
        raw.execute("DROP TRIGGER events_no_update")
        raw.execute("""UPDATE events SET data = '{"account":"a"}' WHERE position = 1""")

    async def read() -> None:
        async with AsyncEventStore.open(db_path) as store:
            with pytest.raises(InvalidMessageError, match="amount: Field required") as caught:
                [r async for r in store.read_all()]
            assert caught.value.position == 1

    run(read())


def test_file_that_is_not_a_database_is_refused_and_unchanged(tmp_path: Path) -> None:
    """Opening a text file fails clearly and leaves it byte-for-byte unchanged."""
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n" * 20)
    before = digest(path)
    with pytest.raises(NotADatabaseError, match="not an SQLite database"):
        open_store(path)
    assert digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.db"]


def test_truncated_database_is_refused_and_unchanged(tmp_path: Path) -> None:
    """A database cut short fails at open with a clear error and is left unchanged."""
    path = tmp_path / "log.db"

    async def fill() -> None:
        async with AsyncEventStore.open(path) as store:
            for index in range(200):
                await store.append("s", [Note(text="x" * 500, extra={"i": index})])

    run(fill())
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    before = digest(path)
    with pytest.raises(CorruptDatabaseError, match="truncated"):
        open_store(path)
    assert digest(path) == before


def test_database_from_a_newer_schema_is_refused(db_path: str) -> None:
    """A file stamped with a newer schema version is refused with a clear error."""
    open_store(db_path)
    with sqlite3.connect(db_path) as raw:
        raw.execute("PRAGMA user_version = 99")
    with pytest.raises(SchemaVersionError, match="schema version 99"):
        open_store(db_path)


def test_other_sqlite_database_is_refused_and_unchanged(tmp_path: Path) -> None:
    """An SQLite database of another application is not taken over."""
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    raw.close()
    before = digest(path)
    with pytest.raises(NotADatabaseError, match="not a sagalog one"):
        open_store(path)
    assert digest(path) == before


def test_directory_path_is_refused(tmp_path: Path) -> None:
    """A directory given as the database path is a clear error."""
    with pytest.raises(NotADatabaseError, match="directory"):
        open_store(tmp_path)


def test_errors_share_one_root_and_are_not_sqlite_errors(tmp_path: Path) -> None:
    """Every store error is a StoreError; no sqlite3 exception reaches the caller."""
    path = tmp_path / "x.db"
    path.write_bytes(b"\x00" * 4096)
    with pytest.raises(StoreError) as caught:
        open_store(path)
    assert not isinstance(caught.value, sqlite3.Error)


def test_message_registered_after_a_store_opens_can_be_appended(db_path: str) -> None:
    """The registry is read at append time, so late-defined types work."""

    class LateComer(Event, name="test.LateComer"):
        n: int

    async def scenario() -> None:
        async with AsyncEventStore.open(db_path) as store:
            await store.append("s", [LateComer(n=1)])
            assert [r.data async for r in store.read_all()] == [LateComer(n=1)]

    run(scenario())
