"""Thread-side subscriptions: pushed by the writer or scanned, never a gap or a duplicate."""

from __future__ import annotations

import threading

import pytest

import sagalog.store._signal as signal_module
from sagalog.store import SyncSubscription, open_store
from tests.support import Deposited, Withdrawn


def collect(subscription: SyncSubscription, count: int, out: list[int], kinds: list[str]) -> None:
    while len(out) < count:
        batch = subscription.next_batch(50, timeout=10)
        assert batch, "nothing arrived within the deadline"
        out.extend(record.position for record in batch)
        kinds.extend(record.type for record in batch)


def race(db_path: str) -> dict[str, list]:
    """4 writer threads append mixed types while 3 subscriptions follow; return what they saw."""
    with open_store(db_path, durability="off") as store:
        store.append("seed", [Deposited(account="s", amount=0)] * 20)
        everything = store.subscribe(from_position=0)
        late = store.subscribe(from_position=15)
        withdrawals = store.subscribe(types=[Withdrawn])
        seen_all: list[int] = []
        seen_late: list[int] = []
        seen_withdrawn: list[int] = []
        kinds: list[str] = []

        def write(index: int) -> None:
            for n in range(100):
                message = (Withdrawn if n % 3 == 0 else Deposited)(account=str(index), amount=n)
                store.append(f"t{index}", [message] * (1 + n % 4))

        writers = [threading.Thread(target=write, args=(i,)) for i in range(4)]
        for thread in writers:
            thread.start()
        total = 20 + 4 * sum(1 + n % 4 for n in range(100))
        withdrawn_total = 4 * sum(1 + n % 4 for n in range(100) if n % 3 == 0)
        readers = [
            threading.Thread(target=collect, args=(everything, total, seen_all, [])),
            threading.Thread(target=collect, args=(late, total - 14, seen_late, [])),
            threading.Thread(target=collect,
                             args=(withdrawals, withdrawn_total, seen_withdrawn, kinds)),
        ]
        for thread in readers:
            thread.start()
        for thread in writers + readers:
            thread.join(60)
        expected_withdrawn = [
            record.position for record in store.read_all(types=[Withdrawn])
        ]
        for subscription in (everything, late, withdrawals):
            subscription.close()
    return {
        "all": seen_all, "late": seen_late, "kinds": kinds,
        "withdrawn": seen_withdrawn, "expected_withdrawn": expected_withdrawn,
    }


def check(db_path: str) -> None:
    seen = race(db_path)
    total = len(seen["all"])
    assert total == 20 + 4 * sum(1 + n % 4 for n in range(100))
    assert seen["all"] == list(range(1, total + 1))
    assert seen["late"] == list(range(15, total + 1))
    assert seen["withdrawn"] == seen["expected_withdrawn"]
    assert set(seen["kinds"]) == {"test.Withdrawn"}


def test_subscriptions_racing_writer_threads_see_each_record_once_in_order(db_path: str) -> None:
    """Followers, from the start, mid-log and by type, see exactly the log, in order."""
    check(db_path)


def test_a_full_inbox_falls_back_to_scanning(db_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """With pushes refused past a tiny inbox, subscribers scan and still miss nothing."""
    monkeypatch.setattr(signal_module, "MAX_INBOX", 3)
    check(db_path)


def test_in_memory_store_serves_thread_subscriptions() -> None:
    """A thread-side subscription on an in-memory store reads through the writer thread."""
    with open_store(":memory:") as store:
        subscription = store.subscribe()
        store.append("s", [Deposited(account="a", amount=1)] * 3)
        batch = subscription.next_batch(10, timeout=5)
        assert [record.position for record in batch] == [1, 2, 3]
        subscription.close()
