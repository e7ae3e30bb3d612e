"""Opening and closing: the protocol's shape, what a store says it is, closing twice."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest

from sagalog.events import registry
from sagalog.store import (
    AppendRequest,
    EventStoreProtocol,
    LogReaderProtocol,
    RunQuery,
    StoreClosedError,
)
from tests.store.contract.conftest import LogHandle
from tests.store.contract.support import deposits

CALLS: dict[str, Callable[[Any], object]] = {
    "append": lambda store: store.append("s", deposits(1)),
    "append_all": lambda store: store.append_all([AppendRequest("s", deposits(1))]),
    "append_stream": lambda store: store.append_stream([[AppendRequest("s", deposits(1))]]),
    "set_checkpoint": lambda store: store.set_checkpoint("h", 1),
    "set_metadata": lambda store: store.set_metadata("k", "v"),
    "last_position": lambda store: store.last_position(),
    "stream_version": lambda store: store.stream_version("s"),
    "read_all": lambda store: list(store.read_all()),
    "read_page": lambda store: store.read_page(1, 10),
    "read_raw": lambda store: store.read_raw(1, 10),
    "read_stream": lambda store: list(store.read_stream("s")),
    "read_correlation": lambda store: list(store.read_correlation("run")),
    "read_position": lambda store: store.read_position(1),
    "read_event": lambda store: store.read_event(uuid4()),
    "position_at": lambda store: store.position_at(datetime.now(UTC)),
    "checkpoint": lambda store: store.checkpoint("h"),
    "checkpoints": lambda store: store.checkpoints(),
    "runs": lambda store: store.runs(RunQuery()),
    "run": lambda store: store.run("run"),
    "metadata": lambda store: store.metadata(),
    "subscribe": lambda store: store.subscribe(),
    "wait_for_commit": lambda store: store.wait_for_commit(0.01),
    "verify": lambda store: store.verify(),
}
"""A call of each contract method a closed store must refuse."""


def test_a_store_is_an_event_store_and_a_reader(store: EventStoreProtocol) -> None:
    assert isinstance(store, EventStoreProtocol)
    assert isinstance(store, LogReaderProtocol)


def test_a_store_says_what_it_was_opened_from_and_how(log: LogHandle) -> None:
    writer = log.open()
    assert writer.target == log.target
    assert writer.read_only is False
    assert writer.registry is registry
    reader = log.open_read_only()
    assert reader.read_only is True


def test_a_with_block_closes_the_store(log: LogHandle) -> None:
    with log.open() as store:
        store.append("s", deposits(1))
    with pytest.raises(StoreClosedError):
        store.last_position()


def test_closing_twice_is_harmless(log: LogHandle) -> None:
    store = log.open()
    store.close()
    store.close()


@pytest.mark.parametrize("call", list(CALLS))
def test_a_closed_store_refuses_every_call(log: LogHandle, call: str) -> None:
    keeper = log.open()  # keeps an in-memory log alive: only the store is closed
    store = log.open()
    store.append("s", deposits(1))
    store.close()
    with pytest.raises(StoreClosedError):
        CALLS[call](store)
    assert keeper.last_position() == 1
