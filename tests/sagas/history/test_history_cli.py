"""The history commands through the command line: output, errors, and no writes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sagalog.actors import Ledger, Runtime
from sagalog.sagas.orders import FailurePlan, add_order_workflow, place_order
from tests.support import log_bytes

RUN = Path(__file__).resolve().parents[3] / "run.py"


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "log.db"
    with Ledger(f"{path}.ledger") as ledger, Runtime(str(path)) as runtime:
        add_order_workflow(runtime, ledger, FailurePlan(always=frozenset({"shipping"})))
        place_order(runtime, "o-1")
        runtime.wait_until_idle(timeout=30)
    return path


def sagalog(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(RUN), "-q", *arguments], capture_output=True,
                          text=True, timeout=60, check=False)


def test_each_history_command_reads_without_writing(log: Path) -> None:
    before = log_bytes(log)
    listing = sagalog("list", "--db", str(log))
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.splitlines()[1].split()[:3] == ["o-1", "order", "failed"]
    timeline = sagalog("timeline", "o-1", "--db", str(log), "--format", "json")
    entries = json.loads(timeline.stdout)["entries"]
    assert entries[0]["type"] == "OrderPlaced"
    assert entries[-1]["type"] == "OrderFailed"
    mermaid = sagalog("timeline", "o-1", "--db", str(log), "--format", "mermaid")
    assert mermaid.stdout.startswith("sequenceDiagram\n")
    explained = sagalog("explain", "o-1", "--db", str(log))
    assert explained.stdout.startswith("order o-1: failed (shipping failed")
    assert "-> RefundPayment (pos " in explained.stdout
    shown = sagalog("show", "1", "--db", str(log))
    assert shown.stdout.startswith("position     1\ntype         OrderPlaced")
    assert log_bytes(log) == before


def test_json_formats_hold_what_the_text_says(log: Path) -> None:
    """list, explain and show as one JSON document each, stable keys, the text's facts."""
    before = log_bytes(log)
    listing = json.loads(sagalog("list", "--db", str(log), "--format", "json").stdout)
    assert list(listing) == ["runs", "shown", "total"]
    (run,) = listing["runs"]
    assert list(run) == ["run_id", "kind", "status", "started", "ended", "duration_s", "events",
                         "first_position"]
    assert (run["run_id"], run["kind"], run["status"], listing["shown"], listing["total"]) == (
        "o-1", "order", "failed", 1, 1)
    text = sagalog("list", "--db", str(log)).stdout.splitlines()[1].split()
    assert text[-1] == str(run["events"])
    assert run["started"].startswith(f"{text[3]}T{text[4]}")
    explained = sagalog("explain", "o-1", "--db", str(log), "--format", "json")
    assert explained.returncode == 0, explained.stderr
    document = json.loads(explained.stdout)
    assert list(document) == ["run_id", "saga", "status", "reason", "decisions", "never_started"]
    words = sagalog("explain", "o-1", "--db", str(log)).stdout
    assert words.startswith(f"{document['saga']} o-1: {document['status']} ({document['reason']})")
    assert [f"  pos {d['position']}: {d['reason']}" for d in document["decisions"]] == [
        line for line in words.splitlines() if line.startswith("  pos ")]
    refund = next(command for decision in document["decisions"]
                  for command in decision["commands"] if command["type"] == "RefundPayment")
    assert refund["answers"][0]["type"] == "PaymentRefunded"
    assert refund["expects_answer"] is True
    last = refund["answers"][0]["position"]
    shown = json.loads(sagalog("show", str(last), "--db", str(log), "--format", "json").stdout)
    assert list(shown) == ["record", "causes", "complete"]
    assert list(shown["record"]) == ["position", "stream_id", "stream_version", "event_id",
                                     "type", "version", "recorded_at", "correlation_id",
                                     "causation_id", "data"]
    assert (shown["record"]["position"], shown["record"]["type"]) == (last, "PaymentRefunded")
    assert shown["causes"][0]["position"] == refund["position"]
    chain = [line.split()[1:3] for line in sagalog("show", str(last), "--db", str(log))
             .stdout.splitlines() if line.startswith("  <- ")]
    assert chain == [[str(c["position"]), c["type"]] for c in shown["causes"]]
    assert shown["complete"] is True
    assert log_bytes(log) == before


@pytest.mark.parametrize(("arguments", "message"), [
    (["timeline", "nope"], "no saga or run 'nope' in this log"),
    (["explain", "nope"], "no saga or run 'nope' in this log"),
    (["show", "100000"], "position 100000 is not in the log (it holds 1 to"),
    (["list", "--status", "done"], "--status must be one of"),
    (["list", "--kind", "orders"], ("--kind must be one of order, job, data-pipeline, "
                                   "master-pipeline, etl-source, etl-run, not 'orders'")),
    (["list", "--since", "yesterday"], "--since takes an ISO 8601 time"),
])
def test_bad_input_is_one_line_and_exit_2(log: Path, arguments: list[str], message: str) -> None:
    result = sagalog(*arguments, "--db", str(log))
    assert result.returncode == 2
    assert result.stderr.startswith(f"sagalog: error: {message}")
    assert result.stderr.count("\n") == 1


def test_not_a_log_and_no_log_are_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"hello" * 100)
    for path, message in ((junk, "not"), (tmp_path / "none.db", "no such log")):
        for command in (["list"], ["timeline", "x"], ["show", "1"]):
            result = sagalog(*command, "--db", str(path))
            assert result.returncode == 2, (command, result.stderr)
            assert result.stderr.startswith("sagalog: error: ")
            assert message in result.stderr
            assert "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def crashed_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A log copied with its WAL while the runtime still had it open: a killed worker's files.

    Its newest records are only in the WAL; a read-write connection closing on it would
    fold them into the database file and delete the WAL.
    """
    folder = tmp_path_factory.mktemp("crashed")
    path, copy = folder / "live.db", folder / "log.db"
    with Ledger(f"{path}.ledger") as ledger, Runtime(str(path)) as runtime:
        add_order_workflow(runtime, ledger, FailurePlan(always=frozenset({"payment"})))
        place_order(runtime, "o-2")
        runtime.wait_until_idle(timeout=30)
        shutil.copyfile(path, copy)
        shutil.copyfile(f"{path}-wal", f"{copy}-wal")
    assert Path(f"{copy}-wal").stat().st_size > 0
    return copy


def test_read_only_commands_leave_a_log_with_a_full_wal_as_it_was(
    crashed_log: Path, tmp_path: Path
) -> None:
    """Every reading command on a WAL nobody has checkpointed: the files stay byte for byte."""
    before = log_bytes(crashed_log)
    db = ("--db", str(crashed_log))
    commands = [
        ["list"], ["timeline", "o-2"], ["timeline", "o-2", "--format", "mermaid"],
        ["explain", "o-2"], ["show", "1"], ["export"], ["verify"], ["at", "3"], ["what-if"],
        ["tail", "--from", "1", "--idle-exit", "0"], ["report", "o-2", "--html",
                                                      str(tmp_path / "r.html")],
        ["bundle", "o-2", "-o", str(tmp_path / "b.db")],
    ]
    for command in commands:
        result = sagalog(*command, *db)
        assert result.returncode == 0, (command, result.stderr)
        assert log_bytes(crashed_log) == before, command
    assert "OrderPlaced" in sagalog("export", *db).stdout


def test_an_empty_file_is_refused_and_stays_empty(tmp_path: Path) -> None:
    """A 0-byte file is not a log: each reading command says so and writes no schema into it."""
    empty = tmp_path / "empty.db"
    empty.touch()
    for command in (["timeline", "x"], ["explain", "x"], ["show", "1"], ["export"],
                    ["verify"], ["list"], ["at", "1"], ["what-if"]):
        result = sagalog(*command, "--db", str(empty))
        assert result.returncode == 2, (command, result.stderr)
        assert result.stderr.startswith("sagalog: error: ")
        assert result.stderr.count("\n") == 1, result.stderr
        assert empty.stat().st_size == 0, command
