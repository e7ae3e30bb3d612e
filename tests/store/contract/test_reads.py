"""Reading: order, inclusive starting points, type filters, pages, raw records, time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from sagalog.events import encode
from sagalog.store import EventStoreProtocol, RawRecord, StoreError
from tests.store.contract.conftest import LogHandle
from tests.store.contract.support import START, ManualClock, deposits, mixed
from tests.support import Deposited, Withdrawn

MORE_THAN_A_PAGE = 2_345
"""Records enough to cross a reading page (1,000 or 2,000 a page) at least once."""


def test_read_all_crosses_page_boundaries_in_order(store: EventStoreProtocol) -> None:
    for start in range(0, MORE_THAN_A_PAGE, 500):
        store.append("s", deposits(min(500, MORE_THAN_A_PAGE - start), start=start))
    records = list(store.read_all())
    assert [r.position for r in records] == list(range(1, MORE_THAN_A_PAGE + 1))
    assert [r.data.amount for r in records] == list(range(MORE_THAN_A_PAGE))  # type: ignore[attr-defined]


def test_read_all_from_a_position_starts_there_inclusively(store: EventStoreProtocol) -> None:
    store.append("s", deposits(10))
    assert [r.position for r in store.read_all(7)] == [7, 8, 9, 10]
    assert list(store.read_all(11)) == []
    assert [r.position for r in store.read_all(1)] == list(range(1, 11))


def test_read_all_filters_by_type_class_or_registered_name(store: EventStoreProtocol) -> None:
    store.append("s", mixed(30))
    withdrawals = [r.position for r in store.read_all() if r.type == "test.Withdrawn"]
    assert [r.position for r in store.read_all(types=[Withdrawn])] == withdrawals
    assert [r.position for r in store.read_all(types=["test.Withdrawn"])] == withdrawals
    assert [r.position for r in store.read_all(5, types=[Withdrawn])] == [
        p for p in withdrawals if p >= 5]
    both = store.read_all(types=[Withdrawn, "test.Deposited"])
    assert [r.position for r in both] == list(range(1, 31))
    assert list(store.read_all(types=["test.NeverWritten"])) == []
    assert list(store.read_all(types=[])) == []  # no type: no record


def test_a_type_filtered_read_all_crosses_pages_of_other_types(
        store: EventStoreProtocol) -> None:
    messages = mixed(MORE_THAN_A_PAGE * 2)
    for start in range(0, len(messages), 1000):
        store.append("s", messages[start : start + 1000])
    expected = [n + 1 for n, m in enumerate(messages) if isinstance(m, Withdrawn)]
    assert len(expected) > MORE_THAN_A_PAGE / 2
    assert [r.position for r in store.read_all(types=[Withdrawn])] == expected


def test_read_page_returns_at_most_limit_records_from_a_position(
        store: EventStoreProtocol) -> None:
    store.append("s", mixed(20))
    assert [r.position for r in store.read_page(3, 5)] == [3, 4, 5, 6, 7]
    assert [r.position for r in store.read_page(18, 5)] == [18, 19, 20]
    assert store.read_page(21, 5) == []
    assert [r.position for r in store.read_page(2, 3, types=[Withdrawn])] == [4, 7, 10]


def test_paging_with_read_page_sees_every_record_once(store: EventStoreProtocol) -> None:
    store.append("s", mixed(95))
    seen: list[int] = []
    position = 1
    while page := store.read_page(position, 10):
        seen += [r.position for r in page]
        position = page[-1].position + 1
    assert seen == list(range(1, 96))


def test_read_stream_from_a_version_is_inclusive_and_reads_only_that_stream(
        store: EventStoreProtocol) -> None:
    for n in range(5):
        store.append("a", deposits(1, account="a", start=n))
        store.append("b", deposits(1, account="b", start=n))
    assert [r.stream_version for r in store.read_stream("a")] == [1, 2, 3, 4, 5]
    assert {r.stream_id for r in store.read_stream("a")} == {"a"}
    assert [r.stream_version for r in store.read_stream("a", 4)] == [4, 5]
    assert [r.position for r in store.read_stream("b", 5)] == [10]
    assert list(store.read_stream("a", 6)) == []
    assert list(store.read_stream("missing")) == []


def test_read_stream_crosses_page_boundaries(store: EventStoreProtocol) -> None:
    for start in range(0, MORE_THAN_A_PAGE, 1000):
        store.append("long", deposits(min(1000, MORE_THAN_A_PAGE - start), start=start))
        store.append("noise", deposits(1))
    versions = [r.stream_version for r in store.read_stream("long")]
    assert versions == list(range(1, MORE_THAN_A_PAGE + 1))
    assert next(r.stream_version for r in store.read_stream("long", 2001)) == 2001


def test_read_correlation_returns_one_run_across_its_streams_in_order(
        store: EventStoreProtocol) -> None:
    store.append("order-1", deposits(2), correlation_id="run-1")
    store.append("payment-1", deposits(1), correlation_id="run-1")
    store.append("order-2", deposits(1), correlation_id="run-2")
    store.append("order-1", deposits(1), correlation_id="run-1")
    store.append("unrelated", deposits(1))
    run = list(store.read_correlation("run-1"))
    assert [r.position for r in run] == [1, 2, 3, 5]
    assert [r.stream_id for r in run] == ["order-1", "order-1", "payment-1", "order-1"]
    assert [r.position for r in store.read_correlation("run-1", 3)] == [3, 5]
    assert list(store.read_correlation("nobody")) == []


def test_read_correlation_crosses_page_boundaries(store: EventStoreProtocol) -> None:
    for start in range(0, MORE_THAN_A_PAGE, 1000):
        store.append("s", deposits(min(1000, MORE_THAN_A_PAGE - start)), correlation_id="big")
        store.append("t", deposits(1), correlation_id="other")
    positions = [r.position for r in store.read_correlation("big")]
    assert len(positions) == MORE_THAN_A_PAGE
    assert positions == sorted(positions)
    assert len(set(positions)) == MORE_THAN_A_PAGE


def test_read_position_finds_one_record_or_none(store: EventStoreProtocol) -> None:
    records = store.append("s", mixed(3))
    assert store.read_position(2) == records[1]
    assert store.read_position(0) is None
    assert store.read_position(4) is None


def test_last_position_is_zero_on_an_empty_log_and_follows_appends(
        store: EventStoreProtocol) -> None:
    assert store.last_position() == 0
    assert list(store.read_all()) == []
    store.append("s", deposits(3))
    assert store.last_position() == 3


def test_read_raw_returns_records_exactly_as_stored(store: EventStoreProtocol) -> None:
    message = Deposited(account='ü "quoted" 50%', amount=1)
    (record,) = store.append("s", [message], correlation_id="run",
                             causation_id=UUID(int=7))
    store.append("s", deposits(4))
    (raw,) = store.read_raw(1, 1)
    assert isinstance(raw, RawRecord)
    assert raw.position == 1
    assert (raw.stream_id, raw.stream_version) == ("s", 1)
    assert raw.event_id == record.event_id.bytes
    assert (raw.type, raw.version) == ("test.Deposited", 1)
    assert datetime.fromisoformat(raw.recorded_at) == record.recorded_at
    assert raw.recorded_at == record.recorded_at.isoformat(timespec="microseconds")
    assert raw.correlation_id == "run"
    assert raw.causation_id == UUID(int=7).bytes
    assert raw.data == encode(message)
    assert len(raw.hash) == 32
    assert [r.position for r in store.read_raw(3, 10)] == [3, 4, 5]
    assert store.read_raw(6, 10) == []


def test_position_at_is_the_last_record_at_or_before_a_moment(log: LogHandle) -> None:
    # Three commits a minute apart, on a clock the test moves.
    clock = ManualClock()
    store = log.open(clock=clock)
    store.append("s", deposits(2))           # positions 1-2 at START
    clock.advance(60)
    store.append("s", deposits(1))           # position 3 at START + 1 min
    clock.advance(60)
    store.append("s", deposits(2))           # positions 4-5 at START + 2 min
    minute = timedelta(minutes=1)
    assert store.position_at(START - timedelta(microseconds=1)) == 0
    assert store.position_at(START) == 2
    assert store.position_at(START + minute - timedelta(microseconds=1)) == 2
    assert store.position_at(START + minute) == 3
    assert store.position_at(START + 10 * minute) == 5
    # The same moment in another time zone is the same moment.
    assert store.position_at((START + minute).astimezone(
        datetime.now().astimezone().tzinfo)) == 3
    assert store.position_at(datetime(2030, 1, 1, tzinfo=UTC)) == 5


def test_position_at_still_answers_when_the_clock_went_back(log: LogHandle) -> None:
    # A clock set back between commits: the answer is still the LAST position recorded
    # at or before the moment, not the first.
    clock = ManualClock()
    store = log.open(clock=clock)
    store.append("s", deposits(1))           # position 1 at START
    clock.advance(60)
    store.append("s", deposits(1))           # position 2 at START + 1 min
    clock.advance(-120)
    store.append("s", deposits(1))           # position 3 at START - 1 min
    clock.advance(30)
    store.append("s", deposits(1))           # position 4 at START - 30 s
    assert store.position_at(START - timedelta(seconds=45)) == 3
    assert store.position_at(START) == 4
    assert store.position_at(START + timedelta(minutes=1)) == 4
    assert store.position_at(START - timedelta(minutes=2)) == 0


def test_position_at_on_an_empty_log_is_zero(store: EventStoreProtocol) -> None:
    assert store.position_at(datetime.now(UTC)) == 0


def test_a_type_filter_that_names_no_message_type_is_refused(store: EventStoreProtocol) -> None:
    with pytest.raises(StoreError, match="types must hold"):
        list(store.read_all(types=[object()]))  # type: ignore[list-item]
    with pytest.raises(StoreError, match="types must hold"):
        store.read_page(1, 10, types=[42])  # type: ignore[list-item]
