"""The demo adapters' ledger of effects: idempotent answers, and double effects made visible.

The concurrency tests start their workers together (a barrier for threads, a "go" line
for processes) and wait on joins and pipes, never on sleeps.
"""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sagalog.actors._ledger import Ledger, LedgerEntry, LedgerError

WHEN = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)
KEYS = [f"order-{i}" for i in range(100)]

CHILD = """
import json, sys
from sagalog.actors._ledger import Ledger

path, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
with Ledger(path) as ledger:
    print("ready", flush=True)
    sys.stdin.readline()
    won = [
        key for key in (f"order-{i}" for i in range(count))
        if ledger.apply("payments", key, "charged", {"by": name})[0]
    ]
print(json.dumps(won), flush=True)
"""


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.db"


@pytest.fixture
def ledger(ledger_path: Path) -> Iterator[Ledger]:
    with Ledger(ledger_path, clock=lambda: WHEN) as opened:
        yield opened


def test_first_apply_records_and_repeats_answer_with_the_first_detail(ledger: Ledger) -> None:
    """A repeated (adapter, key) returns False and the first detail, and records nothing more."""
    assert ledger.apply("payments", "order-1", "charged", {"cents": 500}) == (
        True,
        {"cents": 500},
    )
    assert ledger.apply("payments", "order-1", "charged", {"cents": 999}) == (
        False,
        {"cents": 500},
    )
    assert ledger.apply("payments", "order-1", "refunded") == (False, {"cents": 500})
    assert ledger.count() == 1
    assert ledger.duplicates() == []


def test_keys_are_per_adapter(ledger: Ledger) -> None:
    """The same key under two adapters is two effects, not a repeat."""
    assert ledger.apply("payments", "k", "charged")[0] is True
    assert ledger.apply("stock", "k", "reserved")[0] is True
    assert ledger.count() == 2
    assert ledger.count(adapter="stock") == 1


def test_detail_comes_back_as_stored_json(ledger: Ledger) -> None:
    """The detail returned is the JSON round trip of what was given, and None means {}."""
    assert ledger.apply("mail", "m1", "sent", {"to": ("a", "b")}) == (True, {"to": ["a", "b"]})
    assert ledger.apply("mail", "m2", "sent") == (True, {})


def test_a_detail_that_is_not_json_is_refused_and_nothing_recorded(ledger: Ledger) -> None:
    """A detail holding a non-JSON value (or NaN) raises LedgerError and records no effect."""
    with pytest.raises(LedgerError, match="JSON"):
        ledger.apply("payments", "k", "charged", {"at": datetime.now(UTC)})
    with pytest.raises(LedgerError, match="JSON"):
        ledger.apply("payments", "k", "charged", {"cents": float("nan")})
    assert ledger.count() == 0


def test_effects_lists_entries_oldest_first_and_by_adapter(ledger: Ledger) -> None:
    """effects() returns every entry in order with its detail and time, or one adapter's only."""
    ledger.apply("payments", "a", "charged", {"cents": 1})
    ledger.apply("stock", "b", "reserved")
    ledger.apply("payments", "c", "refunded", {"cents": 1})
    entries = ledger.effects()
    assert [(e.adapter, e.idempotency_key, e.effect) for e in entries] == [
        ("payments", "a", "charged"),
        ("stock", "b", "reserved"),
        ("payments", "c", "refunded"),
    ]
    assert entries[0] == LedgerEntry(entries[0].id, "payments", "a", "charged", {"cents": 1}, WHEN)
    assert [e.idempotency_key for e in ledger.effects("payments")] == ["a", "c"]
    assert ledger.effects("mail") == []


def test_count_filters_by_adapter_and_effect(ledger: Ledger) -> None:
    """count() narrows by adapter, by effect, or both."""
    ledger.apply("payments", "a", "charged")
    ledger.apply("payments", "b", "refunded")
    ledger.apply("stock", "c", "charged")
    assert ledger.count() == 3
    assert ledger.count(effect="charged") == 2
    assert ledger.count(adapter="payments", effect="refunded") == 1
    assert ledger.count(adapter="mail") == 0


def test_duplicates_finds_a_double_effect_written_behind_the_ledgers_back(
    ledger: Ledger, ledger_path: Path
) -> None:
    """A second row for one key, inserted by raw sqlite3 like a buggy adapter, is reported."""
    ledger.apply("payments", "order-7", "charged", {"cents": 500})
    ledger.apply("payments", "order-8", "charged")
    raw = sqlite3.connect(ledger_path)
    with raw:
        raw.execute(
            "INSERT INTO effects (adapter, idempotency_key, effect, detail, recorded_at) "
            "VALUES ('payments', 'order-7', 'charged', NULL, NULL)"
        )
    raw.close()
    assert ledger.duplicates() == [("payments", "order-7", 2)]
    assert ledger.count(adapter="payments") == 3
    assert ledger.effects()[-1].detail == {}
    assert ledger.effects()[-1].recorded_at is None
    # The idempotent answer is still the first effect's detail.
    assert ledger.apply("payments", "order-7", "charged") == (False, {"cents": 500})


def test_file_is_wal_with_a_non_unique_key_index(ledger: Ledger, ledger_path: Path) -> None:
    """The ledger's own file is in WAL mode and its key index does not enforce uniqueness."""
    raw = sqlite3.connect(ledger_path)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        rows = raw.execute("PRAGMA index_list(effects)").fetchall()
        indexes = {name: unique for _, name, unique, *_ in rows}
    finally:
        raw.close()
    assert indexes == {"effects_by_key": 0}


def test_a_closed_ledger_refuses_use_and_closing_twice_is_fine(ledger_path: Path) -> None:
    """After close (or its with block) every call raises LedgerError; closing twice is fine."""
    with Ledger(ledger_path) as ledger:
        ledger.apply("payments", "a", "charged")
    with pytest.raises(LedgerError, match="closed"):
        ledger.apply("payments", "b", "charged")
    with pytest.raises(LedgerError, match="closed"):
        ledger.count()
    ledger.close()
    with Ledger(ledger_path) as reopened:
        assert reopened.count() == 1


def test_a_file_that_is_not_a_database_raises_ledger_error(tmp_path: Path) -> None:
    """Opening something that is not SQLite raises LedgerError with the sqlite3 error chained."""
    bogus = tmp_path / "bogus.db"
    bogus.write_bytes(b"this is not a database, not even close" * 100)
    with pytest.raises(LedgerError, match=r"bogus\.db") as caught:
        Ledger(bogus)
    assert isinstance(caught.value.__cause__, sqlite3.Error)


@pytest.mark.parametrize("sharing", ["one shared ledger", "a ledger per thread"])
def test_8_threads_with_overlapping_keys_record_each_key_once(
    ledger_path: Path, sharing: str
) -> None:
    """8 threads applying the same 100 keys in different orders record each key exactly once."""
    shared = Ledger(ledger_path)
    barrier = threading.Barrier(8)
    answers: list[tuple[str, int, bool, dict[str, object]]] = []
    lock = threading.Lock()

    def work(worker: int) -> None:
        own = shared if sharing == "one shared ledger" else Ledger(ledger_path)
        keys = KEYS.copy()
        random.Random(worker).shuffle(keys)
        barrier.wait()
        for key in keys:
            applied, detail = own.apply("payments", key, "charged", {"worker": worker})
            with lock:
                answers.append((key, worker, applied, detail))
        if own is not shared:
            own.close()

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        winners = {key: worker for key, worker, applied, _ in answers if applied}
        assert len(answers) == 800
        assert Counter(key for key, _, applied, _ in answers if applied) == Counter(KEYS)
        # Every answer, won or repeated, carries the winner's detail.
        assert all(detail == {"worker": winners[key]} for key, _, _, detail in answers)
        assert shared.count() == 100
        assert shared.duplicates() == []
    finally:
        shared.close()


def test_2_processes_with_overlapping_keys_record_each_key_once(ledger_path: Path) -> None:
    """Two real processes applying the same 200 keys at once record each key exactly once."""
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(ledger_path), name, "200"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("left", "right")
    ]
    try:
        for child in children:  # both have opened the (new) file and wait for "go"
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "ready"
        outputs = []
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        for child in children:
            out, err = child.communicate(timeout=60)
            assert child.returncode == 0, err
            outputs.append(json.loads(out))
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    left, right = (set(won) for won in outputs)
    assert not left & right
    assert left | right == {f"order-{i}" for i in range(200)}
    with Ledger(ledger_path) as ledger:
        assert ledger.count() == 200
        assert ledger.duplicates() == []
        by = {e.idempotency_key: e.detail["by"] for e in ledger.effects()}
    assert {key for key, name in by.items() if name == "left"} == left
