"""Checkpoints: moved in the same transaction as the outputs they go with, never backwards."""

from __future__ import annotations

from uuid import uuid4

import pytest

from sagalog.store import (
    NO_STREAM,
    AppendRequest,
    Checkpoint,
    EventStoreProtocol,
    StoreError,
    WrongExpectedVersionError,
)
from tests.store.contract.support import deposits


def test_a_checkpoint_moves_with_the_append_it_is_given_with(store: EventStoreProtocol) -> None:
    assert store.checkpoint("handler") == 0
    store.append("in", deposits(3))
    store.append("out", deposits(1), checkpoint=Checkpoint("handler", 3))
    assert store.checkpoint("handler") == 3
    store.append_all([AppendRequest("out", deposits(1))], checkpoint=Checkpoint("handler", 4))
    assert store.checkpoint("handler") == 4


def test_a_failed_append_leaves_its_checkpoint_where_it_was(store: EventStoreProtocol) -> None:
    store.append("out", deposits(1), checkpoint=Checkpoint("handler", 1))
    with pytest.raises(WrongExpectedVersionError):
        store.append("out", deposits(1), expected_version=NO_STREAM,
                     checkpoint=Checkpoint("handler", 9))
    assert store.checkpoint("handler") == 1
    assert store.last_position() == 1


def test_a_checkpoint_moves_with_a_repeated_append_that_writes_nothing(
        store: EventStoreProtocol) -> None:
    # A handler that crashed after its commit redoes the work: its outputs are a repeat
    # (same derived ids), and its checkpoint still moves.
    event_id = uuid4()
    store.append("out", deposits(1), event_ids=[event_id])
    store.append("out", deposits(1), event_ids=[event_id], checkpoint=Checkpoint("handler", 7))
    assert store.last_position() == 1
    assert store.checkpoint("handler") == 7


def test_a_checkpoint_never_moves_backwards(store: EventStoreProtocol) -> None:
    store.set_checkpoint("handler", 5)
    store.set_checkpoint("handler", 3)
    assert store.checkpoint("handler") == 5
    store.append("out", deposits(1), checkpoint=Checkpoint("handler", 2))
    assert store.checkpoint("handler") == 5
    assert store.last_position() == 1  # the append itself was written
    store.set_checkpoint("handler", 6)
    assert store.checkpoint("handler") == 6


def test_checkpoints_lists_every_subscriber_by_name(store: EventStoreProtocol) -> None:
    assert store.checkpoints() == {}
    store.set_checkpoint("b-handler", 2)
    store.set_checkpoint("a-handler", 1)
    store.set_checkpoint("zero", 0)
    assert store.checkpoints() == {"a-handler": 1, "b-handler": 2, "zero": 0}
    assert list(store.checkpoints()) == ["a-handler", "b-handler", "zero"]


@pytest.mark.parametrize(("name", "position", "wrong"), [
    ("", 1, "name"), (None, 1, "name"), ("h", -1, "position"), ("h", "3", "position"),
    ("h", True, "position"),
])
def test_a_bad_checkpoint_is_refused_and_moves_nothing(
        store: EventStoreProtocol, name: object, position: object, wrong: str) -> None:
    store.set_checkpoint("h", 1)
    with pytest.raises(StoreError, match=f"checkpoint {wrong}"):
        store.append("out", deposits(1), checkpoint=Checkpoint(name, position))  # type: ignore[arg-type]
    assert store.checkpoints() == {"h": 1}
    assert store.last_position() == 0
