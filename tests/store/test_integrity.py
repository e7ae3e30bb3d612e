"""The log's integrity: append-only triggers, the hash chain, SQLite's own check."""

from __future__ import annotations

import sqlite3

import pytest

from sagalog.store import AsyncEventStore
from tests.support import Deposited, run


def fill(path: str, count: int = 10) -> None:
    async def scenario() -> None:
        async with AsyncEventStore.open(path) as store:
            for index in range(count):
                await store.append(f"s{index % 3}", [Deposited(account="a", amount=index)])

    run(scenario())


def verify(path: str):
    async def scenario():
        async with AsyncEventStore.open(path) as store:
            return await store.verify()

    return run(scenario())


def test_update_is_refused_by_the_database(db_path: str) -> None:
    """A raw UPDATE on the events table is refused by a trigger."""
    fill(db_path)
    with (
        sqlite3.connect(db_path) as raw,
        pytest.raises(sqlite3.IntegrityError, match="append-only"),
    ):
        raw.execute("UPDATE events SET data = '{}' WHERE position = 3")


def test_delete_is_refused_by_the_database(db_path: str) -> None:
    """A raw DELETE on the events table is refused by a trigger."""
    fill(db_path)
    with (
        sqlite3.connect(db_path) as raw,
        pytest.raises(sqlite3.IntegrityError, match="append-only"),
    ):
        raw.execute("DELETE FROM events WHERE position = 3")
    assert verify(db_path).records == 10


def test_verify_passes_on_an_intact_log(db_path: str) -> None:
    """An untouched log verifies, with every record counted."""
    fill(db_path, 25)
    report = verify(db_path)
    assert report.ok
    assert report.records == 25
    assert report.quick_check == "ok"


def test_verify_finds_an_edited_payload_that_sqlite_does_not(db_path: str) -> None:
    """A flipped payload byte passes SQLite's integrity check but verify names its position."""
    fill(db_path)
    with sqlite3.connect(db_path) as raw:
        raw.execute("DROP TRIGGER events_no_update")
        raw.execute(
            "UPDATE events SET data = replace(data, '\"amount\":6', '\"amount\":9') "
            "WHERE position = 7"
        )
        assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    report = verify(db_path)
    assert not report.ok
    assert report.first_bad_position == 7
    assert "altered" in (report.problem or "")


def test_verify_finds_a_deleted_record(db_path: str) -> None:
    """A record removed from the middle breaks the positions, and verify names where."""
    fill(db_path)
    with sqlite3.connect(db_path) as raw:
        raw.execute("DROP TRIGGER events_no_delete")
        raw.execute("DELETE FROM events WHERE position = 4")
    report = verify(db_path)
    assert not report.ok
    assert report.first_bad_position == 4
    assert "missing" in (report.problem or "")


def test_verify_finds_a_rewritten_hash(db_path: str) -> None:
    """Recomputing one record's hash by hand is not enough: the next record's link breaks."""
    fill(db_path)
    with sqlite3.connect(db_path) as raw:
        raw.execute("DROP TRIGGER events_no_update")
        raw.execute("UPDATE events SET hash = zeroblob(32) WHERE position = 5")
    report = verify(db_path)
    assert report.first_bad_position == 5


def test_verify_of_an_empty_log_is_ok(db_path: str) -> None:
    """A new, empty log verifies with zero records."""
    report = verify(db_path)
    assert report.ok
    assert report.records == 0
