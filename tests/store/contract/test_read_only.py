"""Read-only stores: read everything, live too; refuse every write; write nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sagalog.store import (
    AppendRequest,
    Checkpoint,
    ReadOnlyStoreError,
    RunStatusHook,
)
from tests.store.contract.conftest import LogHandle
from tests.store.contract.support import deposits


def _worker_lock(reader: Any) -> None:
    with reader.worker_lock("reader"):
        pytest.fail("a read-only store took the worker lock")


WRITES: dict[str, Callable[[Any], object]] = {
    "append": lambda reader: reader.append("s", deposits(1)),
    "append with checkpoint": lambda reader: reader.append(
        "s", deposits(1), checkpoint=Checkpoint("h", 9)),
    "append_all": lambda reader: reader.append_all([AppendRequest("s", deposits(1))]),
    "append_stream": lambda reader: reader.append_stream([[AppendRequest("s", deposits(1))]]),
    "set_checkpoint": lambda reader: reader.set_checkpoint("h", 9),
    "set_metadata": lambda reader: reader.set_metadata("k", "changed"),
    "add_run_status": lambda reader: reader.add_run_status(
        RunStatusHook(frozenset({"test.Note"}), lambda record: "x", name="reader")),
    "worker_lock": _worker_lock,
}
"""Every write of the contract, as a read-only store would be asked to make it."""


def test_a_read_only_store_reads_what_the_writer_wrote(log: LogHandle) -> None:
    writer = log.open()
    records = writer.append("s", deposits(3), correlation_id="run")
    writer.set_checkpoint("h", 2)
    reader = log.open_read_only()
    assert reader.read_only is True
    assert writer.read_only is False
    assert list(reader.read_all()) == records
    assert reader.last_position() == 3
    assert reader.checkpoints() == {"h": 2}
    assert [r.position for r in reader.read_correlation("run")] == [1, 2, 3]
    assert reader.verify().ok


def test_a_read_only_store_sees_appends_made_after_it_opened(log: LogHandle) -> None:
    writer = log.open()
    writer.append("s", deposits(1))
    reader = log.open_read_only()
    subscription = reader.subscribe()
    assert [r.position for r in subscription.next_batch(10, timeout=10)] == [1]
    writer.append("s", deposits(2))
    seen: list[int] = []
    while len(seen) < 2:
        batch = subscription.next_batch(10, timeout=10)
        assert batch, "the reader's subscription missed the writer's append"
        seen += [r.position for r in batch]
    assert seen == [2, 3]
    assert reader.last_position() == 3
    subscription.close()


@pytest.mark.parametrize("write", list(WRITES))
def test_a_read_only_store_refuses_every_write_and_writes_nothing(
        log: LogHandle, write: str) -> None:
    writer = log.open()
    writer.append("s", deposits(2))
    writer.set_checkpoint("h", 1)
    reader = log.open_read_only()
    with pytest.raises(ReadOnlyStoreError):
        WRITES[write](reader)
    assert writer.last_position() == 2
    assert writer.checkpoints() == {"h": 1}


def test_a_read_only_store_leaves_metadata_and_the_worker_lock_alone(log: LogHandle) -> None:
    writer = log.open()
    writer.set_metadata("k", "v")
    reader = log.open_read_only()
    for write in ("set_metadata", "worker_lock"):
        with pytest.raises(ReadOnlyStoreError):
            WRITES[write](reader)
    assert writer.metadata() == {"k": "v"}
    with writer.worker_lock("the writer"):  # the reader holds no lock
        pass
