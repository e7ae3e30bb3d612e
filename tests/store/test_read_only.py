"""Opening a log read-only: everything reads, nothing writes, the file is left as it was."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from sagalog.store import NotADatabaseError, ReadOnlyStoreError, StoreError, open_store
from tests.support import Deposited


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _snapshot_while_open(db_path: str, into: Path) -> Path:
    """A copy of a log and its WAL taken while a writer has it open: a crashed worker's files.

    The records appended last are only in the WAL; a read-write open and close would fold
    them into the database file and delete the WAL.
    """
    with open_store(db_path) as store:
        store.append("a", [Deposited(account="a", amount=n) for n in range(5)])
        store.set_checkpoint("reader", 3)
        copy = into / "copy.db"
        shutil.copyfile(db_path, copy)
        shutil.copyfile(f"{db_path}-wal", f"{copy}-wal")
    return copy


def test_read_only_store_reads_everything_and_leaves_the_files_unchanged(
    db_path: str, tmp_path: Path
) -> None:
    """Records only in the WAL are read, and neither the database nor its WAL changes."""
    copy = _snapshot_while_open(db_path, tmp_path)
    wal = Path(f"{copy}-wal")
    before = (_digest(copy), _digest(wal))
    assert wal.stat().st_size > 0
    with open_store(copy, read_only=True) as store:
        assert store.read_only
        assert store.last_position() == 5
        assert [record.data.amount for record in store.read_all()] == [0, 1, 2, 3, 4]
        assert store.checkpoint("reader") == 3
        assert store.verify().ok
        subscription = store.subscribe(from_position=1)
        assert len(subscription.next_batch(10, timeout=0)) == 5
        subscription.close()
    assert (_digest(copy), _digest(wal)) == before


def test_a_read_write_open_would_have_changed_the_same_files(
    db_path: str, tmp_path: Path
) -> None:
    """The control: the same snapshot opened read-write loses its WAL into the database."""
    copy = _snapshot_while_open(db_path, tmp_path)
    before = _digest(copy)
    with open_store(copy) as store:
        assert store.last_position() == 5
    assert _digest(copy) != before
    assert not Path(f"{copy}-wal").exists()


def test_read_only_store_refuses_appends_and_checkpoints(db_path: str) -> None:
    """Writes raise a typed error naming the file; what is recorded stays as it was."""
    with open_store(db_path) as store:
        store.append("a", [Deposited(account="a", amount=1)])
    with open_store(db_path, read_only=True) as store:
        with pytest.raises(ReadOnlyStoreError, match="read-only; nothing was written"):
            store.append("a", [Deposited(account="a", amount=2)])
        with pytest.raises(ReadOnlyStoreError, match=db_path):
            store.set_checkpoint("reader", 1)
        assert store.last_position() == 1
    with open_store(db_path) as store:
        assert store.last_position() == 1
        assert store.checkpoint("reader") == 0


def test_read_only_store_reads_while_another_store_appends(db_path: str) -> None:
    """A read-only store sees what a live writer commits after it opened."""
    with open_store(db_path) as writer:
        writer.append("a", [Deposited(account="a", amount=1)])
        with open_store(db_path, read_only=True) as reader:
            assert reader.last_position() == 1
            writer.append("a", [Deposited(account="a", amount=2)])
            assert reader.last_position() == 2
            assert [record.position for record in reader.read_stream("a")] == [1, 2]


def test_read_only_store_creates_nothing(tmp_path: Path) -> None:
    """A missing file is not created, an empty one gets no schema, memory is refused."""
    missing = tmp_path / "missing.db"
    with pytest.raises(NotADatabaseError, match="no such log file"):
        open_store(missing, read_only=True)
    assert not missing.exists()
    empty = tmp_path / "empty.db"
    empty.touch()
    with pytest.raises(NotADatabaseError, match="holds no sagalog log"):
        open_store(empty, read_only=True)
    assert empty.stat().st_size == 0
    with pytest.raises(StoreError, match="needs a file"):
        open_store(":memory:", read_only=True)


def test_read_only_store_refuses_a_file_that_is_not_a_log(tmp_path: Path) -> None:
    """A text file is refused as before, byte for byte unchanged."""
    text = tmp_path / "notes.db"
    text.write_text("not a database\n" * 20)
    with pytest.raises(NotADatabaseError, match="not an SQLite database"):
        open_store(text, read_only=True)
    assert text.read_text() == "not a database\n" * 20
