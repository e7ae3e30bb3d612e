"""Subscriptions: the past, then live appends, in order, with no gap and no duplicate."""

from __future__ import annotations

from sagalog.store import EventStoreProtocol, SubscriptionProtocol
from tests.store.contract.conftest import LogHandle
from tests.store.contract.support import Background, deposits
from tests.support import Deposited, Withdrawn

DEADLINE_S = 20.0
"""Longest wait for something the test knows is coming (it comes in milliseconds)."""


def collect(subscription: SubscriptionProtocol, count: int) -> list[int]:
    """The positions of the next ``count`` records, each batch within the deadline."""
    seen: list[int] = []
    while len(seen) < count:
        batch = subscription.next_batch(50, timeout=DEADLINE_S)
        assert batch, f"nothing arrived within {DEADLINE_S} s after {len(seen)} records"
        seen += [record.position for record in batch]
    return seen


def test_a_subscription_delivers_the_past_then_live_appends(store: EventStoreProtocol) -> None:
    # Step 1: three records before subscribing are delivered first.
    store.append("s", deposits(3))
    subscription = store.subscribe()
    assert isinstance(subscription, SubscriptionProtocol)
    assert collect(subscription, 3) == [1, 2, 3]
    assert subscription.next_position == 4
    # Step 2: caught up, it waits; a timeout gives [].
    assert subscription.next_batch(10, timeout=0.01) == []
    # Step 3: an append from another thread arrives, while the subscriber waits.
    writer = Background(store.append, "s", deposits(2, start=3))
    assert collect(subscription, 2) == [4, 5]
    writer.result(DEADLINE_S)
    subscription.close()


def test_a_subscription_from_a_position_starts_there_inclusively(
        store: EventStoreProtocol) -> None:
    store.append("s", deposits(10))
    subscription = store.subscribe(7)
    assert collect(subscription, 4) == [7, 8, 9, 10]
    subscription.close()


def test_a_subscription_with_types_delivers_only_those(store: EventStoreProtocol) -> None:
    store.append("s", [Deposited(account="a", amount=1), Withdrawn(account="a", amount=1)] * 3)
    subscription = store.subscribe(types=[Withdrawn])
    assert collect(subscription, 3) == [2, 4, 6]
    # Records of other types move it along without being delivered.
    store.append("s", deposits(5))
    store.append("s", [Withdrawn(account="a", amount=2)])
    batch = subscription.next_batch(10, timeout=DEADLINE_S)
    assert [(r.position, r.type) for r in batch] == [(12, "test.Withdrawn")]
    subscription.close()


def test_iterating_a_subscription_yields_records_until_it_is_closed(
        store: EventStoreProtocol) -> None:
    store.append("s", deposits(3))
    subscription = store.subscribe()
    seen = []
    for record in subscription:
        seen.append(record.position)
        if record.position == 3:
            subscription.close()
    assert seen == [1, 2, 3]


def test_racing_appends_reach_every_subscriber_once_in_order(store: EventStoreProtocol) -> None:
    # Step 1: twenty records, then three subscribers: from the start, from position 15,
    # and withdrawals only.
    store.append("seed", deposits(20))
    subscribers = {
        "all": store.subscribe(),
        "late": store.subscribe(15),
        "withdrawn": store.subscribe(types=[Withdrawn]),
    }

    # Step 2: four threads append batches of 1-4 mixed records while they follow.
    def write(index: int) -> None:
        for n in range(60):
            kind = Withdrawn if n % 3 == 0 else Deposited
            store.append(f"t{index}", [kind(account=str(index), amount=n)] * (1 + n % 4))

    total = 20 + 4 * sum(1 + n % 4 for n in range(60))
    withdrawn = 4 * sum(1 + n % 4 for n in range(60) if n % 3 == 0)
    wanted = {"all": total, "late": total - 14, "withdrawn": withdrawn}
    writers = [Background(write, index) for index in range(4)]
    followers = {name: Background(collect, subscription, wanted[name])
                 for name, subscription in subscribers.items()}
    for writer in writers:
        writer.result(60)
    seen = {name: follower.result(60) for name, follower in followers.items()}
    # Step 3: each saw exactly what the log holds, in order.
    assert seen["all"] == [r.position for r in store.read_all()]
    assert seen["all"] == list(range(1, total + 1))
    assert seen["late"] == list(range(15, total + 1))
    assert seen["withdrawn"] == [r.position for r in store.read_all(types=[Withdrawn])]
    # Step 4: nothing more is waiting for any of them.
    for subscription in subscribers.values():
        assert subscription.next_batch(10, timeout=0.01) == []
        subscription.close()


def test_closing_a_subscription_unblocks_a_waiting_next_batch(store: EventStoreProtocol) -> None:
    subscription = store.subscribe()
    waiting = Background(subscription.next_batch, 10, DEADLINE_S)
    subscription.close()
    assert waiting.result(DEADLINE_S / 2) == []  # well before its own timeout


def test_closing_the_store_ends_its_subscriptions(log: LogHandle) -> None:
    store = log.open()
    subscription = store.subscribe()
    waiting = Background(subscription.next_batch, 10, DEADLINE_S)
    store.close()
    assert waiting.result(DEADLINE_S / 2) == []
    assert subscription.next_batch(10, timeout=0.01) == []


def test_wait_for_commit_returns_true_after_a_commit(store: EventStoreProtocol) -> None:
    # The waiter may start waiting after an append: keep appending until it has seen one.
    waiter = Background(store.wait_for_commit, DEADLINE_S)
    appended = 0
    while waiter.is_alive() and appended < 10_000:
        store.append("s", deposits(1))
        appended += 1
        waiter.join(0.001)
    assert waiter.result(DEADLINE_S) is True


def test_wait_for_commit_returns_false_when_nothing_is_committed(
        store: EventStoreProtocol) -> None:
    store.append("s", deposits(1))  # before the wait: not waited for
    assert store.wait_for_commit(0.02) is False
