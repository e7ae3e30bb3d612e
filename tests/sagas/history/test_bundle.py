"""``bundle``: one run of a real log as a log of its own, which every history command reads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sagalog.actors import Ledger, Runtime
from sagalog.events import SagalogError
from sagalog.sagas.history import (
    BundleExistsError,
    SourcePositions,
    UnknownRunError,
    bundle,
    source_positions,
)
from sagalog.sagas.orders import FailurePlan, add_order_workflow, place_order
from sagalog.store import open_store
from tests.support import log_bytes

RUN = Path(__file__).resolve().parents[3] / "run.py"


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two orders whose shipping fails: the bundle of one must leave the other out."""
    path = tmp_path_factory.mktemp("bundle") / "log.db"
    with Ledger(f"{path}.ledger") as ledger, Runtime(str(path)) as runtime:
        add_order_workflow(runtime, ledger, FailurePlan(always=frozenset({"shipping"})))
        place_order(runtime, "o-1")
        place_order(runtime, "o-2")
        runtime.wait_until_idle(timeout=30)
    return path


def sagalog(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(RUN), "-q", *arguments], capture_output=True,
                          text=True, timeout=60, check=False)


def rows(path: Path, correlation_id: str | None = None) -> list[tuple[object, ...]]:
    """Every stored column but the hash, of the run or of the whole log."""
    with open_store(path, read_only=True) as store:
        return [tuple(record[:-1]) for record in store.read_raw(1, store.last_position())
                if correlation_id is None or record.correlation_id == correlation_id]


def comparable(entry: dict[str, object]) -> tuple[object, ...]:
    """A timeline entry without its position (the bundle renumbers)."""
    return (entry["recorded_at"], entry["actor"], entry["stream_id"], entry["type"],
            entry["rule"], entry["reason"], json.dumps(entry["data"]))


def test_bundle_of_a_failed_order_reads_like_the_original(log: Path, tmp_path: Path) -> None:
    """verify passes; list shows one run; timeline, explain and show read as in the log."""
    before = log_bytes(log)
    target = tmp_path / "incident.db"
    made = sagalog("bundle", "o-1", "-o", str(target), "--db", str(log))
    assert made.returncode == 0, made.stderr
    count = len(rows(log, "o-1"))
    assert made.stdout.startswith(f"bundled {count} records of run o-1 (positions 1-")
    assert not Path(f"{target}-wal").exists()  # one file, ready to attach to a ticket

    verified = sagalog("verify", "--db", str(target))
    assert verified.returncode == 0, verified.stdout
    assert verified.stdout.startswith(f"ok: {count} records, hash chain intact")
    listing = sagalog("list", "--db", str(target)).stdout.splitlines()
    assert listing[1].split()[:3] == ["o-1", "order", "failed"]
    assert listing[-1] == "1 runs"

    original = json.loads(sagalog("timeline", "o-1", "--db", str(log), "--format", "json")
                          .stdout)["entries"]
    bundled = json.loads(sagalog("timeline", "o-1", "--db", str(target), "--format", "json")
                         .stdout)["entries"]
    assert [comparable(e) for e in bundled] == [comparable(e) for e in original]
    assert [e["position"] for e in bundled] == list(range(1, count + 1))
    assert "unknown" not in {e["actor"] for e in bundled}

    explained = sagalog("explain", "o-1", "--db", str(target))
    assert explained.stdout.startswith("order o-1: failed (shipping failed"), explained.stderr
    assert "-> RefundPayment (pos " in explained.stdout
    refund = next(e["position"] for e in bundled if e["type"] == "PaymentRefunded")
    shown = sagalog("show", str(refund), "--db", str(target))
    assert shown.stdout.startswith(f"position     {refund}\ntype         PaymentRefunded")
    assert "RefundPayment" in shown.stdout.split("causal chain (root last)")[1]
    assert log_bytes(log) == before


def test_bundle_keeps_every_field_but_the_position(log: Path, tmp_path: Path) -> None:
    """Event ids, streams, versions, ids, data and the original recorded_at survive."""
    target = tmp_path / "o-2.db"
    result = bundle(log, "o-2", target)
    source = rows(log, "o-2")
    copied = rows(target)
    assert [row[1:] for row in copied] == [row[1:] for row in source]
    assert result.first_position == source[0][0]
    assert result.last_position == source[-1][0]
    with open_store(target, read_only=True) as store:
        positions = source_positions(store)
        metadata = store.metadata()
        names = set(store.checkpoints())
    assert positions is not None
    assert [(row[0], positions.source(row[0])) for row in copied] == [
        (row[0], original[0]) for row, original in zip(copied, source, strict=True)]
    assert positions.range == (source[0][0], source[-1][0])
    assert metadata["bundle.run_id"] == "o-2"
    assert {"saga:order", "PaymentService", "ShippingService"} <= names
    with open_store(log, read_only=True) as store:
        assert source_positions(store) is None  # not a bundle


def test_an_existing_file_is_refused_unless_forced(log: Path, tmp_path: Path) -> None:
    """exit 2 and one line, the file untouched; --force replaces it; the log never."""
    target = tmp_path / "taken.db"
    target.write_bytes(b"someone else's file")
    refused = sagalog("bundle", "o-1", "-o", str(target), "--db", str(log))
    assert refused.returncode == 2
    assert refused.stderr == f"sagalog: error: {target} exists already (--force replaces it)\n"
    assert target.read_bytes() == b"someone else's file"
    forced = sagalog("bundle", "o-1", "-o", str(target), "--force", "--db", str(log))
    assert forced.returncode == 0, forced.stderr
    assert rows(target)[0][4] == "OrderPlaced"
    itself = sagalog("bundle", "o-1", "-o", str(log), "--force", "--db", str(log))
    assert itself.returncode == 2
    assert "is the log being bundled" in itself.stderr


def test_an_unknown_id_is_an_error_and_writes_nothing(log: Path, tmp_path: Path) -> None:
    """exit 2 naming the id; neither the file nor a partial one is left behind."""
    target = tmp_path / "none.db"
    result = sagalog("bundle", "nope", "-o", str(target), "--db", str(log))
    assert result.returncode == 2
    assert result.stderr.startswith("sagalog: error: no saga or run 'nope' in this log")
    assert result.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(UnknownRunError):
        bundle(log, "nope", target)
    target.write_bytes(b"")
    with pytest.raises(BundleExistsError):
        bundle(log, "o-1", target)


def test_source_positions_are_written_as_spans_and_read_back() -> None:
    """Consecutive positions are one span; what is written reads back the same."""
    positions = SourcePositions((3, 4, 5, 9, 12, 13))
    assert positions.text() == "3-5,9,12-13"
    assert SourcePositions.parse(positions.text()) == positions
    assert (positions.source(1), positions.source(4), positions.source(6)) == (3, 9, 13)
    assert positions.source(0) == 0  # no record: the position stays
    assert positions.range == (3, 13)


@pytest.mark.parametrize("text", ["", "a", "5-3", "3,3", "2,1", "0-2", "1-", "-1"])
def test_a_damaged_source_positions_value_is_named(text: str) -> None:
    with pytest.raises(SagalogError, match=r"bundle's bundle\.source_positions is not "):
        SourcePositions.parse(text)
