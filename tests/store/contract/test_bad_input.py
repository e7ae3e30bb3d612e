"""Bad input: refused with a typed error that names it, and nothing recorded is lost."""

from __future__ import annotations

import pytest

from sagalog.events import SagalogError, UnportableValueError
from sagalog.store import (
    MAX_ID_LENGTH,
    AppendRequest,
    EventStoreProtocol,
    InvalidStreamIdError,
    StoreError,
)
from tests.store.contract.support import deposits
from tests.support import Deposited, Note

HOSTILE_IDS = {
    "empty": ("", "must not be empty"),
    "too long": ("x" * (MAX_ID_LENGTH + 1), "the limit is"),
    "newline": ("order\n1", "control character"),
    "NUL": ("order\x001", "control character"),
    "escape": ("\x1b[31mred", "control character"),
    "C1 control": ("a\x85b", "control character"),
    "lone surrogate": ("a\ud800b", "lone surrogate"),
    "not a str": (42, "must be a str"),
}
"""Stream ids no backend may store, and what the refusal says."""

ODD_BUT_VALID_IDS = ["o'brien", 'say "hi"', "100%_done", "emoji 🎉", "x" * MAX_ID_LENGTH,
                     "  spaced  ", "-- DROP TABLE events;", "路径/名"]
"""Ids that look dangerous to a database and must be stored exactly as given."""


def assert_nothing_lost(store: EventStoreProtocol) -> None:
    """The three records written before the bad input are still there, intact."""
    assert [r.data for r in store.read_all()] == deposits(3)
    assert store.verify().ok


@pytest.mark.parametrize("case", list(HOSTILE_IDS))
def test_a_hostile_stream_id_is_refused_naming_it_and_nothing_is_lost(
        store: EventStoreProtocol, case: str) -> None:
    stream_id, reason = HOSTILE_IDS[case]
    store.append("good", deposits(3))
    with pytest.raises(InvalidStreamIdError, match=reason) as caught:
        store.append(stream_id, deposits(1))  # type: ignore[arg-type]
    assert "stream id" in str(caught.value)
    with pytest.raises(InvalidStreamIdError):
        store.append_all([AppendRequest("fine", deposits(1)),
                          AppendRequest(stream_id, deposits(1))])  # type: ignore[arg-type]
    assert_nothing_lost(store)


@pytest.mark.parametrize("case", list(HOSTILE_IDS))
def test_a_hostile_correlation_id_is_refused_naming_it(
        store: EventStoreProtocol, case: str) -> None:
    correlation_id, reason = HOSTILE_IDS[case]
    store.append("good", deposits(3))
    with pytest.raises(InvalidStreamIdError, match=reason) as caught:
        store.append("s", deposits(1), correlation_id=correlation_id)  # type: ignore[arg-type]
    assert "correlation id" in str(caught.value)
    assert_nothing_lost(store)


@pytest.mark.parametrize("stream_id", ODD_BUT_VALID_IDS)
def test_odd_but_valid_ids_are_stored_exactly_as_given(
        store: EventStoreProtocol, stream_id: str) -> None:
    store.append("decoy", deposits(1))
    store.append(stream_id, deposits(2), correlation_id=stream_id)
    assert store.stream_version(stream_id) == 2
    assert [r.stream_id for r in store.read_stream(stream_id)] == [stream_id] * 2
    assert [r.position for r in store.read_correlation(stream_id)] == [2, 3]
    assert store.verify().ok


def test_reading_a_hostile_stream_id_is_refused_too(store: EventStoreProtocol) -> None:
    with pytest.raises(InvalidStreamIdError):
        store.stream_version("bad\nid")
    with pytest.raises(InvalidStreamIdError):
        list(store.read_stream(""))


def test_an_object_that_is_not_a_registered_message_is_refused(
        store: EventStoreProtocol) -> None:
    store.append("good", deposits(3))
    for thing in ({"account": "a", "amount": 1}, "Deposited", object()):
        with pytest.raises(StoreError, match="not a registered Event or Command"):
            store.append("s", [Deposited(account="a", amount=1), thing])  # type: ignore[list-item]
    assert_nothing_lost(store)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "nul\x00inside"])
def test_an_unportable_value_is_refused_before_anything_is_written(
        store: EventStoreProtocol, value: object) -> None:
    store.append("good", deposits(3))
    with pytest.raises(UnportableValueError):
        store.append("s", [Note(text="fine"), Note(text="x", extra={"value": value})])
    assert_nothing_lost(store)


@pytest.mark.parametrize("expected", [-1, "1", 1.0, None, True])
def test_a_bad_expected_version_is_refused(store: EventStoreProtocol, expected: object) -> None:
    store.append("good", deposits(3))
    with pytest.raises(StoreError, match="expected_version"):
        store.append("good", deposits(1), expected_version=expected)  # type: ignore[arg-type]
    assert_nothing_lost(store)


def test_a_causation_id_that_is_not_a_uuid_is_refused(store: EventStoreProtocol) -> None:
    store.append("good", deposits(3))
    with pytest.raises(StoreError, match="causation_id"):
        store.append("s", deposits(1), causation_id="not-a-uuid")  # type: ignore[arg-type]
    assert_nothing_lost(store)


def test_every_refusal_is_a_sagalog_error(store: EventStoreProtocol) -> None:
    for bad in (lambda: store.append("", deposits(1)),
                lambda: store.append("s", [object()]),  # type: ignore[list-item]
                lambda: store.append("s", deposits(1), expected_version=-1)):
        with pytest.raises(SagalogError):
            bad()


READS_AT = {
    "read_position": lambda store: store.read_position("1"),
    "read_all": lambda store: list(store.read_all("1")),
    "read_page": lambda store: store.read_page(1.0, 10),
    "read_stream": lambda store: list(store.read_stream("good", "2")),
    "read_correlation": lambda store: list(store.read_correlation("run", None)),
    "subscribe": lambda store: store.subscribe("1"),
}
"""Reads given a position or version that is not an int."""


@pytest.mark.parametrize("read", list(READS_AT))
def test_a_position_or_version_that_is_not_an_int_is_refused(
        store: EventStoreProtocol, read: str) -> None:
    store.append("good", deposits(3), correlation_id="run")
    with pytest.raises(StoreError, match="must be an int"):
        READS_AT[read](store)


def test_reading_an_event_id_that_is_not_a_uuid_is_refused(store: EventStoreProtocol) -> None:
    store.append("good", deposits(3))
    with pytest.raises(StoreError, match="UUID"):
        store.read_event("0190c5a8-0000-7000-8000-000000000000")  # type: ignore[arg-type]
