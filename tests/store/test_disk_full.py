"""The store on a disk that fills up: a real tmpfs of 512 KiB, real SQLite files.

A full disk is a fault of the machine, not of the log: the store says so with
:class:`DiskFullError` naming the file, loses nothing it acknowledged, and goes on once
space is freed. These tests mount a tmpfs (as root; skipped where mounting is refused).
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from pathlib import Path

import pytest

from sagalog.store import (
    DiskFullError,
    EventStoreProtocol,
    StorageFaultError,
    StorageIOError,
    open_store,
    storage_fault,
)
from tests.support import Note, fill_disk, free_bytes, small_disk


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A 512 KiB file system, unmounted when the test ends."""
    with small_disk(tmp_path / "disk") as folder:
        yield folder


def append_until_full(store: EventStoreProtocol) -> tuple[list[str], DiskFullError]:
    """Append 2 KB records until the disk is full: the acknowledged ones, and the error."""
    acknowledged: list[str] = []
    for number in range(10_000):
        try:
            store.append(f"s-{number % 7}", [Note(text=f"{number:05}" + "x" * 2000)])
        except DiskFullError as error:
            return acknowledged, error
        acknowledged.append(f"{number:05}")
    pytest.fail("10,000 appends of 2 KB did not fill a 512 KiB disk")


def test_appending_until_the_disk_is_full_loses_nothing_acknowledged(disk: Path) -> None:
    """Appends fill the disk: DiskFullError naming the log; every acknowledged record
    stays; once space is freed the log verifies and appends go on."""
    log = disk / "log.db"
    filler = fill_disk(disk, leave=160 * 1024)  # room for a log and a few records
    with open_store(log) as store:
        acknowledged, full = append_until_full(store)
        assert acknowledged, "the disk filled before the first append: leave more room"
        assert str(log) in str(full)
        assert "the disk is full" in str(full)
        assert full.path == str(log)
        kept = [record.data.text[:5] for record in store.read_all()]  # type: ignore[attr-defined]
        assert kept == acknowledged
        filler.unlink()
        report = store.verify()
        assert report.ok, report
        assert report.records == len(acknowledged)
        store.append("after", [Note(text="space freed")])
        assert store.last_position() == len(acknowledged) + 1
    with open_store(log, read_only=True) as reopened:
        assert reopened.verify().ok


def test_opening_a_new_log_on_a_full_disk_says_the_disk_is_full(disk: Path) -> None:
    """Not a traceback, not "not a sagalog log": the disk is full, naming the file."""
    fill_disk(disk)
    with pytest.raises(DiskFullError, match="the disk is full") as raised:
        open_store(disk / "new.db")
    assert raised.value.path == str(disk / "new.db")


def test_opening_an_existing_log_on_a_full_disk_says_the_disk_is_full(disk: Path) -> None:
    """SQLite answers "disk I/O error" (SQLITE_IOERR_SHMSIZE) when it cannot make the WAL
    index on a full disk: that is a full disk too, and the log is left as it was."""
    log = disk / "log.db"
    with open_store(log) as store:
        store.append("s", [Note(text="kept")])
    before = log.read_bytes()
    filler = fill_disk(disk)
    with pytest.raises(DiskFullError, match="the disk is full") as raised:
        open_store(log)
    assert raised.value.path == str(log)
    assert log.read_bytes() == before
    filler.unlink()
    with open_store(log) as store:
        assert [record.data.text for record in store.read_all()] == ["kept"]  # type: ignore[attr-defined]


def test_the_worker_lock_on_a_full_disk_is_a_disk_full_error_naming_it(disk: Path) -> None:
    """The lock file beside the log holds the holder's PID: writing it can fill the disk."""
    log = disk / "log.db"
    with open_store(log) as store:
        fill_disk(disk)
        assert free_bytes(disk) == 0
        with pytest.raises(DiskFullError) as raised, store.worker_lock("test"):
            pass
    assert raised.value.path == f"{log}.worker.lock"


def test_a_system_error_is_classified_by_its_errno(disk: Path) -> None:
    """ENOSPC is a full disk, EIO an I/O error, anything else not a fault at all."""
    fill_disk(disk)
    with pytest.raises(OSError) as no_space:
        (disk / "more").write_bytes(b"x" * 8192)
    assert no_space.value.errno == errno.ENOSPC
    full = storage_fault(no_space.value, "writing", path=disk / "more")  # write() names none
    assert isinstance(full, DiskFullError)
    assert str(full).startswith(f"{disk / 'more'}: writing: the disk is full")
    io = storage_fault(OSError(errno.EIO, "Input/output error", "/elsewhere/f"), "reading",
                       path="/given")
    assert isinstance(io, StorageIOError)
    assert io.path == "/elsewhere/f"  # the file the system named wins over the caller's
    assert storage_fault(FileNotFoundError(errno.ENOENT, "gone", "f"), "reading") is None
    assert storage_fault(ValueError("not a fault"), "reading") is None
    assert isinstance(full, StorageFaultError)
