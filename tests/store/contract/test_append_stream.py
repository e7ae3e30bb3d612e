"""append_stream: an import's many batches in ONE transaction, checkpoints included."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator, Sequence
from uuid import uuid4

import pytest

from sagalog.store import (
    NO_STREAM,
    AppendRequest,
    EventIdConflictError,
    EventStoreProtocol,
    StoreError,
    WrongExpectedPositionError,
    WrongExpectedVersionError,
)
from tests.store.contract.support import deposits


def batches(count: int, size: int) -> Iterator[list[AppendRequest]]:
    """``count`` batches of ``size`` one-record appends, each to a stream of its own."""
    for batch in range(count):
        yield [AppendRequest(f"s{batch}-{n}", deposits(1, start=n)) for n in range(size)]


def test_append_stream_writes_every_batch_and_counts_the_new_records(
        store: EventStoreProtocol) -> None:
    store.append("before", deposits(1))
    assert store.append_stream(batches(5, 40)) == 200
    assert store.last_position() == 201
    assert store.stream_version("s4-39") == 1
    assert store.verify().ok


def test_a_conflict_in_a_late_batch_leaves_nothing_written(store: EventStoreProtocol) -> None:
    # Step 1: a stream the import will expect not to exist.
    store.append("taken", deposits(1))

    # Step 2: four good batches, then one whose append expects NO_STREAM of "taken".
    def with_a_late_conflict() -> Iterator[Sequence[AppendRequest]]:
        yield from batches(4, 25)
        yield [AppendRequest("late", deposits(1)),
               AppendRequest("taken", deposits(1), expected_version=NO_STREAM)]

    with pytest.raises(WrongExpectedVersionError) as caught:
        store.append_stream(with_a_late_conflict(), checkpoints={"import": 100})
    assert caught.value.stream_id == "taken"
    # Step 3: nothing of any batch was written, and the checkpoint did not move.
    assert store.last_position() == 1
    assert store.stream_version("s0-0") == 0
    assert store.checkpoints() == {}


def test_an_error_raised_by_the_batches_leaves_nothing_written(
        store: EventStoreProtocol) -> None:
    def broken() -> Iterator[Sequence[AppendRequest]]:
        yield from batches(3, 10)
        raise StoreError("the import file ends mid-line")

    with pytest.raises(StoreError, match="mid-line"):
        store.append_stream(broken())
    assert store.last_position() == 0


def test_an_interrupt_while_the_batches_are_read_leaves_nothing_written(
        store: EventStoreProtocol) -> None:
    """Ctrl-C lands on the caller's thread, where the batches are read; it rolls back."""
    reader = threading.get_ident()

    def interrupted() -> Iterator[Sequence[AppendRequest]]:
        for batch in batches(6, 10):
            assert threading.get_ident() == reader  # read where the caller iterates
            yield batch
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.append_stream(interrupted())
    assert store.last_position() == 0
    store.append("after", deposits(1))  # the store goes on
    assert store.last_position() == 1


def test_a_failed_batch_stops_the_reading_of_the_rest(store: EventStoreProtocol) -> None:
    """A conflict in the first batch: the stream is not read to its end for nothing."""
    store.append("taken", deposits(1))
    taken = []

    def endless() -> Iterator[Sequence[AppendRequest]]:
        yield [AppendRequest("taken", deposits(1), expected_version=NO_STREAM)]
        for batch in itertools.count():
            taken.append(batch)
            yield [AppendRequest(f"more-{batch}", deposits(1))]

    with pytest.raises(WrongExpectedVersionError):
        store.append_stream(endless())
    assert len(taken) < 1_000
    assert store.last_position() == 1


def test_append_stream_moves_checkpoints_with_its_records_never_backwards(
        store: EventStoreProtocol) -> None:
    store.set_checkpoint("ahead", 50)
    written = store.append_stream(batches(2, 5), checkpoints={"ahead": 3, "import": 10})
    assert written == 10
    assert store.checkpoints() == {"ahead": 50, "import": 10}


def test_append_stream_counts_only_records_not_already_stored(
        store: EventStoreProtocol) -> None:
    # An import run twice: the second run finds every event id recorded identically.
    ids = [uuid4() for _ in range(6)]
    requests = [AppendRequest("a", deposits(3), event_ids=ids[:3]),
                AppendRequest("b", deposits(3), event_ids=ids[3:])]
    assert store.append_stream([requests[:1], requests[1:]]) == 6
    assert store.append_stream([requests]) == 0
    assert store.last_position() == 6
    changed = [AppendRequest("a", deposits(3, start=5), event_ids=ids[:3])]
    with pytest.raises(EventIdConflictError):
        store.append_stream([changed])
    assert store.last_position() == 6


def test_later_batches_see_the_streams_earlier_batches_wrote(store: EventStoreProtocol) -> None:
    assert store.append_stream([
        [AppendRequest("s", deposits(2), expected_version=NO_STREAM)],
        [AppendRequest("s", deposits(1), expected_version=2)],
    ]) == 3
    assert [r.stream_version for r in store.read_stream("s")] == [1, 2, 3]


def test_append_stream_with_an_expected_position_writes_only_where_the_log_ends_there(
        store: EventStoreProtocol) -> None:
    """An import whose checkpoints were computed for an empty log expects position 0:
    one record appended meanwhile, and nothing of it is written, checkpoints included."""
    store.append("meanwhile", deposits(1))

    with pytest.raises(WrongExpectedPositionError) as caught:
        store.append_stream(batches(2, 5), checkpoints={"import": 10}, expected_position=0)

    assert (caught.value.expected, caught.value.actual) == (0, 1)
    assert store.last_position() == 1
    assert store.checkpoints() == {}
    assert store.append_stream(batches(2, 5), checkpoints={"import": 11},
                               expected_position=1) == 10
    assert store.checkpoints() == {"import": 11}


@pytest.mark.parametrize("position", [-1, True, "0", 1.0])
def test_append_stream_refuses_an_expected_position_that_is_not_a_count(
        store: EventStoreProtocol, position: object) -> None:
    with pytest.raises(StoreError, match="expected_position must be None or an int >= 0"):
        store.append_stream(batches(1, 1), expected_position=position)  # type: ignore[arg-type]
    assert store.last_position() == 0
