"""What only the in-memory backend has: logs named in this process, and their lifetime."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import uuid4

import pytest

from sagalog.events import Envelope, Message, Registry, UnknownMessageTypeError
from sagalog.store import (
    InvalidStreamIdError,
    NotADatabaseError,
    RunStatusHook,
    StoreError,
    WorkerBusyError,
    open_store,
)
from sagalog.store.memory import MemoryEventStore
from tests.store.contract.support import deposits
from tests.support import Note


@pytest.fixture
def name() -> str:
    """A log name no other test uses."""
    return f"test-{uuid4().hex}"


@pytest.fixture
def shared(name: str) -> Iterator[MemoryEventStore]:
    """A store that keeps the log ``name`` open for the whole test."""
    with MemoryEventStore.open(name) as store:
        yield store


def test_open_store_reaches_the_memory_backend_by_its_scheme(name: str) -> None:
    with open_store(f"memory:{name}") as store:
        assert isinstance(store, MemoryEventStore)
        assert store.target == f"memory:{name}"
    with open_store("memory:") as private:
        assert private.target == "memory:"


def test_a_private_log_is_seen_by_its_own_store_only() -> None:
    with open_store("memory:") as one, open_store("memory:") as two:
        one.append("s", deposits(2))
        assert one.last_position() == 2
        assert two.last_position() == 0


def test_a_named_log_is_one_log_for_every_store_that_has_it_open(
        shared: MemoryEventStore, name: str) -> None:
    with open_store(f"memory:{name}") as other:
        other.append("s", deposits(2))
        shared.append("s", deposits(1), expected_version=2)
        assert other.stream_version("s") == 3
    assert shared.last_position() == 3  # the other store's closing kept it


def test_a_named_log_is_forgotten_when_its_last_store_closes(name: str) -> None:
    with open_store(f"memory:{name}") as store:
        store.append("s", deposits(2))
    with open_store(f"memory:{name}") as again:
        assert again.last_position() == 0


def test_a_read_only_store_needs_a_named_log_that_some_store_has_open(name: str) -> None:
    with pytest.raises(NotADatabaseError, match=f"memory:{name}: no store of this process"):
        open_store(f"memory:{name}", read_only=True)
    with pytest.raises(StoreError, match="needs a named in-memory log"):
        open_store("memory:", read_only=True)
    with open_store(f"memory:{name}"), open_store(f"memory:{name}", read_only=True) as reader:
        assert reader.read_only


@pytest.mark.parametrize("durability", ["full", "normal", "off"])
def test_durability_is_accepted_and_changes_nothing(durability: str) -> None:
    with open_store("memory:", durability=durability) as store:  # type: ignore[arg-type]
        store.append("s", deposits(1))
        assert store.last_position() == 1


def test_a_log_name_with_a_control_character_is_refused() -> None:
    with pytest.raises(InvalidStreamIdError, match="in-memory log name"):
        open_store("memory:bad\nname")


def test_each_store_decodes_with_its_own_registry(shared: MemoryEventStore, name: str) -> None:
    # Records are kept as stored text, not as objects: a store whose registry lacks a
    # type cannot read it, exactly as a SQLite reader without the class cannot.
    shared.append("s", deposits(1))
    with open_store(f"memory:{name}", registry=Registry()) as stranger:
        with pytest.raises(UnknownMessageTypeError, match=r"test\.Deposited"):
            list(stranger.read_all())
        assert stranger.read_raw(1, 1)[0].type == "test.Deposited"


def test_appends_through_one_store_reach_subscribers_of_another(
        shared: MemoryEventStore, name: str) -> None:
    with open_store(f"memory:{name}") as other:
        subscription = other.subscribe()
        shared.append("s", deposits(2))
        batch = subscription.next_batch(10, timeout=10)
        assert [r.position for r in batch] == [1, 2]
        subscription.close()


def test_closing_one_store_leaves_the_other_stores_subscriptions_running(
        shared: MemoryEventStore, name: str) -> None:
    subscription = shared.subscribe()
    with open_store(f"memory:{name}") as other:
        other.append("s", deposits(1))
    shared.append("s", deposits(1))
    seen: list[int] = []
    while len(seen) < 2:
        batch = subscription.next_batch(10, timeout=10)
        assert batch, "the subscription ended with the other store"
        seen += [r.position for r in batch]
    assert seen == [1, 2]
    subscription.close()


def test_a_worker_lock_held_through_a_closed_store_is_released(
        shared: MemoryEventStore, name: str) -> None:
    other = MemoryEventStore.open(name)
    lock = other.worker_lock("crashed runtime")
    lock.__enter__()
    with pytest.raises(WorkerBusyError, match="crashed runtime"), shared.worker_lock("next"):
        pytest.fail("two holders")
    other.close()
    with shared.worker_lock("next"):
        pass
    lock.__exit__(None, None, None)  # the crashed runtime's block ends late: harmlessly
    with pytest.raises(WorkerBusyError), shared.worker_lock("next"), shared.worker_lock("2"):
        pytest.fail("its late end released a lock it no longer held")


def test_a_hook_that_uses_the_store_gets_an_error_not_a_deadlock(logs) -> None:
    """Asked while the log's lock is held, a nosy hook fails (logged), not the append."""
    store = MemoryEventStore.open()

    def nosy(record: Envelope[Message]) -> str | None:
        return str(store.last_position())

    store.add_run_status(RunStatusHook(frozenset({"test.Note"}), nosy, name="nosy"))
    store.append("s", [Note(text="x")], correlation_id="run")
    assert store.last_position() == 1
    assert store.run("run").status is None  # type: ignore[union-attr]
    assert any("nosy" in record["message"] for record in logs.records)
    store.close()


def test_add_run_status_fills_the_past_before_it_returns() -> None:
    hook = RunStatusHook(frozenset({"test.Note"}), lambda record: "seen", name="seen")
    with open_store("memory:") as store:
        store.append("s", [Note(text="old")], correlation_id="run")
        store.add_run_status(hook)
        assert store.run("run").status == "seen"  # type: ignore[union-attr]
