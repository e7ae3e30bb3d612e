"""``tail``: following a real log while another process writes it, read-only."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest

from sagalog.actors import Ledger, Runtime
from sagalog.events import Envelope, SagalogError
from sagalog.events.orders import OrderPlaced, ShippingFailed
from sagalog.sagas.history import (
    LogFollower,
    TailOptions,
    check_types,
    fit_width,
    tail,
    tail_line,
)
from sagalog.sagas.orders import FailurePlan, add_order_workflow, place_order
from sagalog.store import open_store
from tests.support import log_bytes, on_a_terminal

RUN = Path(__file__).resolve().parents[3] / "run.py"


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One order whose payment fails, so the log holds a compensation decision."""
    path = tmp_path_factory.mktemp("tail") / "log.db"
    with Ledger(f"{path}.ledger") as ledger, Runtime(str(path)) as runtime:
        add_order_workflow(runtime, ledger, FailurePlan(always=frozenset({"payment"})))
        place_order(runtime, "o-1")
        runtime.wait_until_idle(timeout=30)
    return path


def sagalog(*arguments: str) -> list[str]:
    return [sys.executable, str(RUN), "-q", *arguments]


def started_tail(*arguments: str) -> tuple[subprocess.Popen[str], int]:
    """A ``tail`` process, once it has fixed its first position (which it returns)."""
    process = subprocess.Popen(sagalog("tail", *arguments), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    header = process.stderr.readline()
    assert header.startswith("sagalog: following "), header
    return process, int(header.rsplit(" ", 1)[1])


def types_at(path: Path, first: int, last: int) -> list[tuple[int, str]]:
    with open_store(path, read_only=True) as store:
        return [(record.position, record.type)
                for record in store.read_raw(first, max(last - first + 1, 0))]


def test_tail_prints_what_another_process_writes(tmp_path: Path) -> None:
    """From the end, in order, with positions, while ``order`` runs in another process."""
    path = tmp_path / "live.db"
    subprocess.run(sagalog("order", "--db", str(path)), check=True, capture_output=True,
                   timeout=60)
    head = len(types_at(path, 1, 1_000_000))
    follower, first = started_tail("--count", "30", "--idle-exit", "30", "--db", str(path))
    writer = subprocess.run(sagalog("order", "--count", "5", "--db", str(path)),
                            capture_output=True, text=True, timeout=60, check=False)
    assert writer.returncode == 0, writer.stderr
    out, err = follower.communicate(timeout=60)
    assert follower.returncode == 0, err
    lines = out.splitlines()
    assert len(lines) == 30
    printed = [(int(line.split()[0]), line.split()[5].rstrip(":")) for line in lines]
    assert printed == types_at(path, first, first + 29)
    assert first == head + 1  # from the end, like tail -f
    placed = next(line for line in lines if " OrderPlaced: " in line)
    assert f" external  OrderPlaced: order_id=o{first}-" in placed
    assert any(" saga:order  SagaDecided: [start-stage] started product" in line
               for line in lines)


def test_tail_from_1_replays_history_and_writes_nothing(log: Path) -> None:
    """--from 1 prints the records already there; the log's bytes stay as they were."""
    before = log_bytes(log)
    result = subprocess.run(sagalog("tail", "--from", "1", "--count", "12", "--db", str(log)),
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [int(line.split()[0]) for line in lines] == list(range(1, 13))
    assert lines[0].split()[3:6] == ["order-o-1", "external", "OrderPlaced:"]
    assert log_bytes(log) == before


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_tail_cleanly(log: Path, number: signal.Signals) -> None:
    """SIGINT or SIGTERM while waiting for records: exit 0, no traceback."""
    follower, _ = started_tail("--db", str(log))
    follower.send_signal(number)
    out, err = follower.communicate(timeout=30)
    assert follower.returncode == 0, err
    assert out == ""
    assert "Traceback" not in err


def test_types_filter_and_decisions_with_their_reasons(log: Path) -> None:
    """--types keeps only the named types; a decision's line carries its rule and reason."""
    lines: list[str] = []
    options = TailOptions(from_position=1, types=check_types(["SagaDecided"]), idle_exit=0)
    written = tail(log, lines.append, options, threading.Event())
    assert written == len(lines) > 0
    assert all(" saga:order  SagaDecided: [" in line for line in lines)
    assert any("[compensate] undo " in line or "[fail] failed because payment" in line
               for line in lines)


def test_a_follower_reads_a_store_it_is_given_and_leaves_it_open(tmp_path: Path) -> None:
    """What a writer appends after the follower caught up comes next; close() keeps the store."""
    log = tmp_path / "log.db"
    placed = OrderPlaced(order_id="early", product_id="p", amount_cents=1)
    with open_store(log) as writer:
        writer.append("order-early", [placed], correlation_id="early")
        with open_store(log, read_only=True) as store:
            follower = LogFollower(store, types=["OrderPlaced"])
            assert follower.next_position == 2  # from the end, like tail -f
            assert follower.read() == []
            writer.append("order-late", [placed.model_copy(update={"order_id": "late"})],
                          correlation_id="late")
            writer.append("notes", [ShippingFailed(order_id="late", reason="no")])
            late = follower.read(timeout=30)
            assert [(record.type, record.correlation_id) for record in late] == [
                ("OrderPlaced", "late")]
            follower.close()
            assert store.read_position(late[0].position) == late[0]  # still open


def test_an_unknown_type_is_refused_with_a_suggestion() -> None:
    """A misspelt type would print nothing forever; it is refused instead."""
    with pytest.raises(SagalogError, match="no message type 'SagaDecide' \\(did you mean"):
        check_types(["SagaDecide"])


def test_a_record_is_one_line_even_when_its_data_has_line_breaks() -> None:
    """A reason with a line break is escaped: one record, one line, for grep and pipes."""
    record = Envelope(7, "order-o-1", 3, uuid4(), "ShippingFailed", 1,
                      datetime(2026, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC), "o-1", uuid4(),
                      ShippingFailed(order_id="o-1", reason="no\ncarrier"))
    line = tail_line(record, "ShippingService")
    assert line == ("       7  2026-01-02 03:04:05.678  order-o-1  ShippingService  "
                    "ShippingFailed: order_id=o-1, reason=no\\ncarrier")


def test_on_a_terminal_each_line_is_cut_to_its_width_and_a_pipe_gets_it_whole(log: Path) -> None:
    """A 60-column terminal: no line wraps, each cut ends in an ellipsis; piped, none is cut."""
    command = sagalog("tail", "--from", "1", "--count", "12", "--db", str(log))
    code, terminal, _ = on_a_terminal(command, stdout=True, columns=60)
    assert code == 0, terminal
    shown = [line for line in terminal.split("\r\n") if line[:8].strip().isdigit()]
    piped = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    whole = piped.stdout.split("\n")[:-1]
    assert len(shown) == len(whole) == 12
    assert any(len(line) > 60 for line in whole), "piped, a line wider than 60 is whole"
    for line, full in zip(shown, whole, strict=True):
        if len(full) <= 60:
            assert line == full
        else:
            assert len(line) == 60
            assert line == full[:59] + "…"


def test_a_line_is_cut_by_terminal_cells() -> None:
    """Wide characters take two cells and combining marks none; a fitting line is kept whole."""
    assert fit_width("abcdef", 6) == "abcdef"
    assert fit_width("abcdefg", 6) == "abcde…"
    assert fit_width("日本語テキスト", 6) == "日本…"  # 5 cells: a third wide one would make 7
    assert fit_width("日本語", 6) == "日本語"
    assert fit_width("e\u0301" * 4, 3) == "e\u0301e\u0301…"
    assert fit_width("abc", 0) == "abc"  # a terminal that reports no width
