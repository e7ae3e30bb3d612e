"""The worker lock: one handler-running runtime per log; a second is refused by name."""

from __future__ import annotations

import os

import pytest

from sagalog.store import EventStoreProtocol, WorkerBusyError
from tests.store.contract.conftest import LogHandle


def test_a_second_holder_is_refused_naming_the_first_and_its_pid(
        store: EventStoreProtocol) -> None:
    with store.worker_lock("runtime-one"):
        with pytest.raises(WorkerBusyError) as caught, store.worker_lock("runtime-two"):
            pytest.fail("two holders of one worker lock")
        message = str(caught.value)
        assert "runtime-one" in message
        assert str(os.getpid()) in message


def test_another_store_on_the_same_log_is_refused_too(log: LogHandle) -> None:
    first, second = log.open(), log.open()
    with (first.worker_lock("first"), pytest.raises(WorkerBusyError, match="first"),
          second.worker_lock("second")):
        pytest.fail("two stores held one log's worker lock")


def test_the_lock_is_free_again_after_the_with_block(log: LogHandle) -> None:
    first, second = log.open(), log.open()
    with first.worker_lock("first"):
        pass
    with second.worker_lock("second"):
        pass
    with first.worker_lock("first again"):
        pass


def test_the_lock_is_released_when_its_block_raises(store: EventStoreProtocol) -> None:
    with pytest.raises(RuntimeError, match="handler failed"), store.worker_lock("one"):
        raise RuntimeError("handler failed")
    with store.worker_lock("two"):
        pass
