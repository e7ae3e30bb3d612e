"""The hash chain: each record's hash covers the one before; verify() walks it."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

from sagalog.store import EventStoreProtocol, open_store
from sagalog.store._chain import GENESIS, record_hash
from tests.store.contract.conftest import BACKENDS
from tests.store.contract.support import ManualClock, deposits, mixed
from tests.support import Note


def test_verify_is_ok_on_a_written_log(store: EventStoreProtocol) -> None:
    store.append("a", mixed(30), correlation_id="run")
    store.append("b", [Note(text="line\nbreak ü")], causation_id=UUID(int=3))
    report = store.verify()
    assert report.ok, str(report)
    assert report.records == 31
    assert report.first_bad_position is None
    assert report.problem is None


def test_verify_of_an_empty_log_is_ok(store: EventStoreProtocol) -> None:
    report = store.verify()
    assert report.ok
    assert report.records == 0


def test_verify_reports_its_progress_in_records(store: EventStoreProtocol) -> None:
    store.append("a", deposits(25))
    counts: list[int] = []
    assert store.verify(counts.append).ok
    assert counts
    assert counts[-1] == 25
    assert counts == sorted(counts)


def test_each_raw_records_hash_chains_to_the_one_before(store: EventStoreProtocol) -> None:
    store.append("a", mixed(7), correlation_id="run", causation_id=UUID(int=9))
    store.append("b", deposits(3))
    previous = GENESIS
    for raw in store.read_raw(1, 100):
        expected = record_hash(previous, raw.position, raw.stream_id, raw.stream_version,
                               raw.event_id, raw.type, raw.version, raw.recorded_at,
                               raw.correlation_id, raw.causation_id, raw.data)
        assert raw.hash == expected, f"position {raw.position}"
        previous = raw.hash


def test_every_backend_stores_the_same_appends_identically(tmp_path: Path) -> None:
    # The same appends, at the same times, under the same event ids, give byte-identical
    # records on every backend: hashes included, so an export from any one verifies alike.
    stored = {}
    for backend in BACKENDS:
        target = str(tmp_path / "same.db") if backend == "sqlite" else "memory:same-records"
        options = {"durability": "off"} if backend == "sqlite" else {}
        clock = ManualClock()
        with open_store(target, clock=clock, **options) as store:  # type: ignore[arg-type]
            store.append("a", deposits(2), event_ids=[UUID(int=1), UUID(int=2)],
                         correlation_id="run")
            clock.advance(1.5)
            store.append("b", mixed(2), event_ids=[UUID(int=3), UUID(int=4)],
                         causation_id=UUID(int=1))
            stored[backend] = store.read_raw(1, 10)
    first, *others = stored.values()
    assert len(first) == 4
    for other in others:
        assert other == first
