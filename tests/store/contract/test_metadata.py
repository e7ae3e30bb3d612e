"""The log's own notes: text keys to text values, kept with the log."""

from __future__ import annotations

import pytest

from sagalog.store import EventStoreProtocol, StoreError
from tests.store.contract.conftest import LogHandle


def test_metadata_is_empty_on_a_new_log(store: EventStoreProtocol) -> None:
    assert store.metadata() == {}


def test_metadata_keeps_each_key_and_its_latest_value(store: EventStoreProtocol) -> None:
    store.set_metadata("source", "bundle-1.jsonl")
    store.set_metadata("note", "line one\nline two ü")
    store.set_metadata("source", "bundle-2.jsonl")
    assert store.metadata() == {"note": "line one\nline two ü", "source": "bundle-2.jsonl"}


def test_metadata_is_seen_by_another_store_on_the_same_log(log: LogHandle) -> None:
    writer = log.open()
    writer.set_metadata("source", "import")
    assert log.open_read_only().metadata() == {"source": "import"}


@pytest.mark.parametrize(("key", "value"), [
    ("", "v"), (None, "v"), ("k", None), ("k", 3), ("bad\x00key", "v"),
])
def test_a_bad_metadata_entry_is_refused_and_nothing_is_kept(
        store: EventStoreProtocol, key: object, value: object) -> None:
    store.set_metadata("kept", "yes")
    with pytest.raises(StoreError):
        store.set_metadata(key, value)  # type: ignore[arg-type]
    assert store.metadata() == {"kept": "yes"}
