"""A batch that fails as a whole: each caller is raised its own exception.

Group commit answers every append of a batch at once. When the batch fails as a whole
(here: a full disk at COMMIT, on a real tmpfs), one exception object used to be raised on
every caller's thread, each raise adding that thread's frames to the one traceback, so
the callers' tracebacks came out mixed. Each caller now gets a copy of the same type and
message, chained to the original.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sagalog.store import DiskFullError, open_store
from tests.support import Note, fill_disk, small_disk

CALLERS = 4
DEADLINE_S = 10.0


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MB tmpfs, mounted for the test."""
    with small_disk(tmp_path / "small", "1m") as disk:
        yield disk


def test_each_caller_of_a_failed_batch_gets_its_own_exception(tiny_disk: Path) -> None:
    """Four threads in one failed batch: four DiskFullErrors, distinct objects, the same
    message and path, each caused by the one the writer met; the store works once freed."""
    with open_store(tiny_disk / "log.db", durability="off") as store:
        store.append("warm-up", [Note(text="the file and its WAL exist")])
        writer = store._writing()  # held: one batch gathers all
        release = threading.Event()
        held = writer.run(lambda _connection: release.wait(DEADLINE_S))
        filler = fill_disk(tiny_disk)
        raised: dict[int, BaseException] = {}

        def append(number: int) -> None:
            try:
                store.append(f"caller-{number}", [Note(text="x" * 2000)])
            except DiskFullError as error:
                raised[number] = error

        threads = [threading.Thread(target=append, args=(n,)) for n in range(CALLERS)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + DEADLINE_S
        while writer._queue.qsize() < CALLERS:
            assert time.monotonic() < deadline, "the callers did not queue their appends"
            release.wait(0.001)
        release.set()
        held.result(DEADLINE_S)
        for thread in threads:
            thread.join(DEADLINE_S)

        assert sorted(raised) == list(range(CALLERS))
        errors = list(raised.values())
        assert len({id(error) for error in errors}) == CALLERS, "one object per caller"
        assert len({str(error) for error in errors}) == 1
        assert {error.path for error in errors} == {str(tiny_disk / "log.db")}
        (original,) = {id(error.__cause__) for error in errors}
        assert original not in {id(error) for error in errors}
        assert all(isinstance(error.__cause__, DiskFullError) for error in errors)

        filler.unlink()
        store.append("after", [Note(text="room again")])
        assert store.last_position() == 2
