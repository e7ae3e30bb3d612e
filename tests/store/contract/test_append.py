"""Appends: positions, stream versions, expected versions, atomicity, many threads."""

from __future__ import annotations

import threading
from uuid import uuid4

import pytest

from sagalog.store import (
    ANY,
    NO_STREAM,
    STREAM_EXISTS,
    AppendRequest,
    EventStoreProtocol,
    ExpectedVersion,
    WrongExpectedVersionError,
)
from tests.store.contract.support import Background, deposits
from tests.support import Deposited, OpenAccount, Withdrawn


def test_an_append_returns_one_record_per_message_with_its_place_and_links(
        store: EventStoreProtocol) -> None:
    cause = uuid4()
    messages = [Deposited(account="1", amount=5), Withdrawn(account="1", amount=2)]
    records = store.append("acct-1", messages, correlation_id="run-1", causation_id=cause)
    assert [r.position for r in records] == [1, 2]
    assert [r.stream_id for r in records] == ["acct-1", "acct-1"]
    assert [r.stream_version for r in records] == [1, 2]
    assert [r.type for r in records] == ["test.Deposited", "test.Withdrawn"]
    assert [r.version for r in records] == [1, 1]
    assert [r.data for r in records] == messages
    assert {r.correlation_id for r in records} == {"run-1"}
    assert {r.causation_id for r in records} == {cause}
    assert records[0].event_id != records[1].event_id
    assert records[0].recorded_at.utcoffset() is not None
    assert records[0].recorded_at == records[1].recorded_at  # one transaction, one time
    assert list(store.read_stream("acct-1")) == records


def test_positions_are_global_and_gapless_from_one_across_streams(
        store: EventStoreProtocol) -> None:
    store.append("a", deposits(2))
    store.append("b", [OpenAccount(account="b")])
    store.append("a", deposits(1, start=9))
    assert [r.position for r in store.read_all()] == [1, 2, 3, 4]
    assert [(r.stream_id, r.stream_version) for r in store.read_all()] == [
        ("a", 1), ("a", 2), ("b", 1), ("a", 3)]
    assert store.last_position() == 4


def test_a_stream_version_counts_its_own_records_and_is_zero_without_any(
        store: EventStoreProtocol) -> None:
    assert store.stream_version("a") == 0
    store.append("a", deposits(3))
    store.append("b", deposits(1))
    assert store.stream_version("a") == 3
    assert store.stream_version("b") == 1
    assert store.stream_version("never") == 0


@pytest.mark.parametrize(
    ("expected", "existing", "accepted"),
    [
        (ANY, 0, True), (ANY, 2, True),
        (NO_STREAM, 0, True), (NO_STREAM, 2, False),
        (STREAM_EXISTS, 0, False), (STREAM_EXISTS, 2, True),
        (0, 0, True), (2, 2, True), (1, 2, False), (3, 2, False), (0, 2, False),
    ],
)
def test_an_expected_version_accepts_exactly_the_stream_states_it_names(
        store: EventStoreProtocol, expected: ExpectedVersion, existing: int,
        accepted: bool) -> None:
    if existing:
        store.append("s", deposits(existing))
    if accepted:
        (record,) = store.append("s", deposits(1, start=99), expected_version=expected)
        assert record.stream_version == existing + 1
    else:
        with pytest.raises(WrongExpectedVersionError):
            store.append("s", deposits(1, start=99), expected_version=expected)
        assert store.last_position() == existing


def test_a_wrong_expected_version_names_stream_expected_and_actual_and_writes_nothing(
        store: EventStoreProtocol) -> None:
    store.append("acct", deposits(2))
    with pytest.raises(WrongExpectedVersionError) as caught:
        store.append("acct", deposits(1), expected_version=5)
    error = caught.value
    assert (error.stream_id, error.actual) == ("acct", 2)
    assert "version 5" in str(error.expected)
    assert "'acct'" in str(error)
    assert "nothing was written" in str(error)
    with pytest.raises(WrongExpectedVersionError) as caught:
        store.append("new", deposits(1), expected_version=STREAM_EXISTS)
    assert (caught.value.stream_id, caught.value.actual) == ("new", 0)
    assert "does not exist" in str(caught.value)
    assert store.last_position() == 2


def test_append_all_writes_every_stream_or_none(store: EventStoreProtocol) -> None:
    # Step 1: the second request expects a stream that does not exist: nothing of the
    # first request is written either, and the error says which request failed.
    store.append("taken", deposits(1))
    requests = [
        AppendRequest("fresh", deposits(2)),
        AppendRequest("taken", deposits(1), expected_version=NO_STREAM),
    ]
    with pytest.raises(WrongExpectedVersionError) as caught:
        store.append_all(requests)
    assert caught.value.write_index == 1
    assert store.last_position() == 1
    assert store.stream_version("fresh") == 0
    # Step 2: with the bad request fixed, both are written in request order.
    requests[1] = AppendRequest("taken", deposits(1, start=7), expected_version=1)
    fresh, taken = store.append_all(requests)
    assert [r.position for r in fresh] == [2, 3]
    assert [(r.position, r.stream_version) for r in taken] == [(4, 2)]


def test_append_all_sees_its_own_earlier_requests_to_the_same_stream(
        store: EventStoreProtocol) -> None:
    first, second = store.append_all([
        AppendRequest("s", deposits(1), expected_version=NO_STREAM),
        AppendRequest("s", deposits(1, start=5), expected_version=1),
    ])
    assert [r.stream_version for r in first + second] == [1, 2]


def test_append_all_without_records_still_writes_them(store: EventStoreProtocol) -> None:
    answer = store.append_all([AppendRequest("s", deposits(3))], want_records=False)
    assert len(answer) == 1
    assert store.last_position() == 3


def test_an_empty_append_writes_nothing_but_checks_its_expected_version(
        store: EventStoreProtocol) -> None:
    assert store.append("s", []) == []
    assert store.last_position() == 0
    with pytest.raises(WrongExpectedVersionError):
        store.append("s", [], expected_version=STREAM_EXISTS)


def test_appends_from_many_threads_are_all_recorded_gapless(store: EventStoreProtocol) -> None:
    def work(index: int) -> None:
        for n in range(25):
            store.append(f"t{index}", [Deposited(account=str(index), amount=n)],
                         expected_version=n)

    for worker in [Background(work, index) for index in range(8)]:
        worker.result(60)
    assert [r.position for r in store.read_all()] == list(range(1, 201))
    for index in range(8):
        amounts = [r.data.amount for r in store.read_stream(f"t{index}")]  # type: ignore[attr-defined]
        assert amounts == list(range(25))
    assert store.verify().ok


def test_a_callers_conflict_does_not_fail_others_appending_at_the_same_time(
        store: EventStoreProtocol) -> None:
    # 8 threads race for one stream with NO_STREAM: exactly one wins; the others get the
    # typed error; 8 more threads appending to their own streams are not disturbed.
    start = threading.Barrier(16)

    def contend(index: int) -> str:
        start.wait()
        try:
            store.append("contended", deposits(1, start=index), expected_version=NO_STREAM)
        except WrongExpectedVersionError:
            return "conflict"
        return "won"

    def bystander(index: int) -> str:
        start.wait()
        store.append(f"own{index}", deposits(2))
        return "written"

    contenders = [Background(contend, index) for index in range(8)]
    bystanders = [Background(bystander, index) for index in range(8)]
    outcomes = [contender.result(60) for contender in contenders]
    assert outcomes.count("won") == 1
    assert outcomes.count("conflict") == 7
    assert [bystander.result(60) for bystander in bystanders] == ["written"] * 8
    assert store.stream_version("contended") == 1
    assert store.last_position() == 1 + 8 * 2
