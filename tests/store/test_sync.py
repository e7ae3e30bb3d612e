"""The blocking facade, used from plain threads as the actors will."""

from __future__ import annotations

import threading

import pytest

from sagalog.store import NO_STREAM, StoreClosedError, WrongExpectedVersionError, open_store
from tests.support import Deposited


def test_sync_store_appends_and_reads_from_many_threads(db_path: str) -> None:
    """Threads appending through the facade are all recorded, and reads see them all."""
    with open_store(db_path) as store:

        def work(index: int) -> None:
            for n in range(20):
                store.append(f"t{index}", [Deposited(account=str(index), amount=n)])

        threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert store.last_position() == 160
        assert [r.stream_version for r in store.read_stream("t3")] == list(range(1, 21))
        assert len(list(store.read_all())) == 160
        assert store.stats.appends == 160
        assert store.verify().ok


def test_sync_store_raises_typed_errors_in_the_caller(db_path: str) -> None:
    """Errors raised on the store's thread reach the calling thread as the same types."""
    with open_store(db_path) as store:
        store.append("s", [Deposited(account="a", amount=1)])
        with pytest.raises(WrongExpectedVersionError):
            store.append("s", [Deposited(account="a", amount=1)], expected_version=NO_STREAM)
    with pytest.raises(StoreClosedError):
        store.last_position()


def test_sync_subscription_delivers_appends_from_another_thread(db_path: str) -> None:
    """A blocking subscription receives what another thread appends, in order."""
    with open_store(db_path) as store:
        subscription = store.subscribe(from_position=1)
        writer = threading.Thread(
            target=lambda: [
                store.append("s", [Deposited(account="a", amount=i)]) for i in range(30)
            ]
        )
        writer.start()
        seen: list[int] = []
        while len(seen) < 30:
            batch = subscription.next_batch(100, timeout=5)
            assert batch, "nothing arrived within the deadline"
            seen.extend(r.position for r in batch)
        writer.join()
        assert seen == list(range(1, 31))
        subscription.close()
        assert subscription.next_batch(10, timeout=5) == []


def test_sync_checkpoints(db_path: str) -> None:
    """Checkpoints set through the facade read back and never move backwards."""
    with open_store(db_path) as store:
        assert store.checkpoint("w") == 0
        store.set_checkpoint("w", 7)
        store.set_checkpoint("w", 3)
        assert store.checkpoint("w") == 7
