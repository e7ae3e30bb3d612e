"""Logs where nothing may be written: read-only folders, mounts, files and WALs.

Each folder or file is made read-only for real (a read-only bind mount as root, chmod
otherwise: see ``tests.support.read_only``). The controls show what SQLite does with the
plain ``mode=ro`` every reader used before, so the cases below stay honest if SQLite's
behaviour changes.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from sagalog.store import (
    EventStoreProtocol,
    ReadOnlyLogError,
    StoreError,
    UnreadableLogError,
    check_writable,
    open_store,
    read_only_uri,
)
from tests.support import Deposited, folder_bytes, log_bytes, read_only

FOLDED = 3  # records in the database file itself
IN_WAL = 2  # records appended after, only in the WAL of a copy taken while open


def _append(store: EventStoreProtocol, amounts: range) -> None:
    store.append("a", [Deposited(account="a", amount=n) for n in amounts])


def _folded_log(folder: Path) -> Path:
    """A log whose writer closed: its WAL folded into the file and deleted."""
    folder.mkdir()
    path = folder / "log.db"
    with open_store(path) as store:
        _append(store, range(FOLDED))
    assert sorted(file.name for file in folder.iterdir()) == ["log.db"]
    return path


def _log_with_wal(source: Path, folder: Path, *, index: bool) -> Path:
    """A copy taken while a writer had the log open: its last appends only in the WAL.

    What a crashed worker leaves, or a backup taken live; ``index`` keeps the ``-shm``.
    """
    path = _folded_log(source)
    folder.mkdir()
    with open_store(path) as store:
        _append(store, range(FOLDED, FOLDED + IN_WAL))
        names = ["log.db", "log.db-wal"] + (["log.db-shm"] if index else [])
        for name in names:
            shutil.copyfile(source / name, folder / name)
    assert (folder / "log.db-wal").stat().st_size > 0
    return folder / "log.db"


def _amounts(path: Path) -> list[int]:
    with open_store(path, read_only=True) as store:
        assert store.verify().ok
        subscription = store.subscribe(from_position=1)
        try:
            followed = len(subscription.next_batch(100, timeout=0))
        finally:
            subscription.close()
        amounts = [record.data.amount for record in store.read_all()]
        assert followed == len(amounts)
        return amounts


def _count(uri: str) -> int:
    connection = sqlite3.connect(uri, uri=True)
    try:
        return int(connection.execute("SELECT count(*) FROM events").fetchone()[0])
    finally:
        connection.close()


def test_a_log_without_a_wal_in_a_read_only_folder_reads_as_immutable(tmp_path: Path) -> None:
    """No -wal: the file is the whole log, opened with immutable=1, where mode=ro fails."""
    path = _folded_log(tmp_path / "logs")
    before = folder_bytes(path.parent)
    with read_only(path.parent):
        uri = read_only_uri(path)
        assert uri.endswith("?mode=ro&immutable=1")
        with pytest.raises(sqlite3.OperationalError, match="unable to open database file"):
            _count(f"{path.resolve().as_uri()}?mode=ro")  # the control: SQLite needs a -shm
        assert _amounts(path) == list(range(FOLDED))
        with open_store(path, read_only=True) as store:  # what the history tools read with
            assert store.last_position() == FOLDED
    assert folder_bytes(path.parent) == before


def test_an_empty_wal_in_a_read_only_folder_still_reads_as_immutable(tmp_path: Path) -> None:
    """An empty -wal holds no commit, so the file alone is still the whole log."""
    path = _folded_log(tmp_path / "logs")
    Path(f"{path}-wal").touch()
    with read_only(path.parent):
        assert read_only_uri(path).endswith("&immutable=1")
        assert _amounts(path) == list(range(FOLDED))


def test_a_wal_and_its_index_in_a_read_only_folder_are_read_as_they_are(
    tmp_path: Path,
) -> None:
    """With -wal and -shm beside it, mode=ro reads the WAL's records (SQLite >= 3.22)."""
    path = _log_with_wal(tmp_path / "source", tmp_path / "logs", index=True)
    before = folder_bytes(path.parent)
    with read_only(path.parent):
        uri = read_only_uri(path)
        assert uri.endswith("?mode=ro")
        assert _amounts(path) == list(range(FOLDED + IN_WAL))
        assert _count(f"{uri}&immutable=1") == FOLDED  # the control: immutable skips the WAL
    assert folder_bytes(path.parent) == before


def test_a_wal_without_its_index_in_a_read_only_folder_is_refused_saying_what_to_do(
    tmp_path: Path,
) -> None:
    """Its records cannot be read there: one typed error, never "not a sagalog log"."""
    path = _log_with_wal(tmp_path / "source", tmp_path / "logs", index=False)
    before = folder_bytes(path.parent)
    with read_only(path.parent):
        plain = f"{path.resolve().as_uri()}?mode=ro"
        with pytest.raises(sqlite3.OperationalError, match="unable to open database file"):
            _count(plain)  # the control: and immutable=1 would miss the WAL's records
        assert _count(f"{plain}&immutable=1") == FOLDED
        advice = (r"copy log\.db and log\.db-wal to a writable folder, "
                  r"or open it where it was written$")
        with pytest.raises(UnreadableLogError, match=advice) as refused:
            read_only_uri(path)
        message = str(refused.value)
        assert message.startswith(f"{path} cannot be read here: its folder ")
        assert "read-only file system" in message or "not writable" in message
        assert "\n" not in message
        with pytest.raises(UnreadableLogError, match=advice):
            open_store(path, read_only=True)
    assert folder_bytes(path.parent) == before


def test_a_rollback_journal_in_a_read_only_folder_is_refused_saying_what_to_do(
    tmp_path: Path,
) -> None:
    """A -journal beside the file is an interrupted write immutable=1 would read past."""
    path = _folded_log(tmp_path / "logs")
    Path(f"{path}-journal").write_bytes(b"\xd9\xd5\x05\xf9\x20\xa1\x63\xd7" * 64)
    with read_only(path.parent), pytest.raises(
        UnreadableLogError, match=r"log\.db-journal holds an interrupted write that SQLite must "
        r"roll back before reading; copy log\.db and log\.db-journal to a writable folder"):
        read_only_uri(path)


def test_a_read_only_file_in_a_writable_folder_reads_but_refuses_writers(
    tmp_path: Path,
) -> None:
    """chmod 444 (or a read-only mount of the file): readers as usual, writers refused."""
    path = _folded_log(tmp_path / "logs")
    before = log_bytes(path)
    with read_only(path):
        assert read_only_uri(path).endswith("?mode=ro")
        assert _amounts(path) == list(range(FOLDED))
        refused = rf"^{re.escape(str(path))} is read-only: the file is "
        with pytest.raises(ReadOnlyLogError, match=refused):
            open_store(path)
    assert log_bytes(path) == before


def test_a_read_only_wal_reads_but_refuses_writers(tmp_path: Path) -> None:
    """A -wal that may not be written (its index missing, so SQLite makes one) still reads."""
    path = _log_with_wal(tmp_path / "source", tmp_path / "logs", index=False)
    wal = Path(f"{path}-wal")
    before = log_bytes(path)
    with read_only(wal):
        assert _amounts(path) == list(range(FOLDED + IN_WAL))
        refused = rf"^{re.escape(str(path))} is read-only: log\.db-wal "
        with pytest.raises(ReadOnlyLogError, match=refused):
            open_store(path)
    assert log_bytes(path) == before


def test_writers_are_refused_a_read_only_folder_before_anything_opens(tmp_path: Path) -> None:
    """An existing log and a new one alike: one line that says why, nothing created."""
    path = _folded_log(tmp_path / "logs")
    before = folder_bytes(path.parent)
    with read_only(path.parent):
        # The file first when it cannot be written itself (a mount), else its folder.
        with pytest.raises(ReadOnlyLogError, match=rf"^{re.escape(str(path))} is read-only: "
                           r"(the file|its folder) .*; copy it to a writable folder to write "
                           r"to it \(it can still be read where it is\)$"):
            open_store(path)
        new = path.parent / "new.db"
        with pytest.raises(ReadOnlyLogError, match=r"new\.db is read-only: it does not exist"):
            check_writable(new)
        assert _amounts(path) == list(range(FOLDED))  # and it still reads
    assert folder_bytes(path.parent) == before
    check_writable(path)  # writable again once the folder is


def test_an_empty_path_is_refused_by_readers_and_writers(tmp_path: Path) -> None:
    """'' is no log: SQLite would quietly open a temporary database."""
    for attempt in (lambda: read_only_uri(""), lambda: check_writable(""),
                    lambda: open_store("")):
        with pytest.raises(StoreError, match="the log's path is empty; name its file"):
            attempt()
