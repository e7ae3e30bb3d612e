"""Every reading command on a log in a read-only folder: a backup, a CI artifact, a ticket.

The log is real (orders run through ``run.py order``), the folder is made read-only for
real (a read-only bind mount as root, chmod otherwise: ``tests.support.read_only``), and
each command runs as a user runs it, in a subprocess. Three folders: the log alone (its
writer closed), the log with the ``-wal`` and ``-shm`` of a copy taken while a writer had
it open (the last orders only in the WAL), and the same without the ``-shm``, which
cannot be read there and must say so in one line.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sagalog.store import open_store
from tests.support import folder_bytes, read_only

RUN = str(Path(__file__).resolve().parent.parent / "run.py")


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, RUN, "-q", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, check=False)


@dataclass(frozen=True)
class Log:
    """What the built log holds, read from its writable original."""

    records: int
    last_type: str
    runs: int
    wal_run: str  # a run whose records are only in the WAL of the live copy


@dataclass(frozen=True)
class Logs:
    folded: Path  # a folder with log.db alone
    live: Path  # a folder with log.db, log.db-wal and log.db-shm copied while open
    facts: Log


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Logs:
    """Three orders, then two more while a connection holds the log open (so they stay in
    its WAL), copied both ways."""
    base = tmp_path_factory.mktemp("read-only-logs")
    source = base / "source"
    source.mkdir()
    first = cli("order", "--count", "3", "--db", "log.db", cwd=source)
    assert first.returncode == 0, first.stderr
    live = base / "live"
    live.mkdir()
    hold = sqlite3.connect(source / "log.db")  # not the last connection: no checkpoint
    try:
        in_file = hold.execute("SELECT max(position) FROM events").fetchone()[0]
        second = cli("order", "--count", "2", "--db", "log.db", cwd=source)
        assert second.returncode == 0, second.stderr
        for name in ("log.db", "log.db-wal", "log.db-shm"):
            shutil.copyfile(source / name, live / name)
    finally:
        hold.close()
    assert (live / "log.db-wal").stat().st_size > 0
    folded = base / "folded"
    folded.mkdir()
    assert not (source / "log.db-wal").exists()
    shutil.copyfile(source / "log.db", folded / "log.db")
    with sqlite3.connect(source / "log.db") as connection:
        records, last_type = connection.execute(
            "SELECT position, type FROM events ORDER BY position DESC LIMIT 1").fetchone()
        runs = connection.execute("SELECT count(*) FROM runs").fetchone()[0]
        wal_run = connection.execute("SELECT correlation_id FROM runs WHERE first_position > ? "
                                     "ORDER BY first_position LIMIT 1", (in_file,)).fetchone()[0]
    connection.close()
    return Logs(folded, live, Log(records, last_type, runs, wal_run))


def _lines(text: str) -> list[str]:
    return text.strip().splitlines()


Check = Callable[[str, Path, Log], None]


def _listed(out: str, _outputs: Path, log: Log) -> None:
    assert _lines(out)[-1] == f"{log.runs} runs"
    assert log.wal_run in out


def _timeline(out: str, _outputs: Path, log: Log) -> None:
    assert log.wal_run in out
    assert "SagaDecided" in out


def _explained(out: str, _outputs: Path, log: Log) -> None:
    assert out.startswith(f"order {log.wal_run}")
    assert "completed" in out


def _shown(out: str, _outputs: Path, log: Log) -> None:
    assert _lines(out)[:2] == [f"position     {log.records}",
                               f"type         {log.last_type} (version 1)"]


def _exported(out: str, _outputs: Path, log: Log) -> None:
    lines = [json.loads(line) for line in _lines(out)]
    records = [line for line in lines if "kind" not in line]  # then the checkpoint lines
    assert len(records) == log.records
    assert records[-1]["position"] == log.records
    marks = lines[len(records):]
    assert marks
    assert all(line["kind"] == "checkpoint" for line in marks)


def _verified(out: str, _outputs: Path, log: Log) -> None:
    assert out.startswith(f"ok: {log.records} records, hash chain intact")


def _tailed(out: str, _outputs: Path, _log: Log) -> None:
    lines = _lines(out)
    assert len(lines) == 3
    assert [line.split()[0] for line in lines] == ["1", "2", "3"]


def _reported(out: str, outputs: Path, log: Log) -> None:
    page = (outputs / "run.html").read_text(encoding="utf-8")
    assert out.strip() == str(outputs / "run.html")
    assert page.lstrip().lower().startswith("<!doctype html")
    assert log.wal_run in page


def _bundled(out: str, outputs: Path, log: Log) -> None:
    count, _, rest = out.removeprefix("bundled ").partition(" records of run ")
    assert rest.startswith(f"{log.wal_run} "), out
    with open_store(outputs / "run.db", read_only=True) as bundle:  # every record, all its own
        records = list(bundle.read_raw(1, 1000))
    assert len(records) == int(count) > 10
    assert {record.correlation_id for record in records} == {log.wal_run}


def _replayed(out: str, _outputs: Path, _log: Log) -> None:
    assert "no decision would differ: checked " in out


def _folded_at(out: str, _outputs: Path, log: Log) -> None:
    assert _lines(out)[-1].startswith(f"{log.runs} sagas as of position {log.records}: ")


def _commands(log: Log, outputs: Path) -> dict[str, tuple[list[str], Check]]:
    run = log.wal_run
    return {
        "list": (["list"], _listed),
        "timeline": (["timeline", run], _timeline),
        "explain": (["explain", run], _explained),
        "show": (["show", str(log.records)], _shown),
        "export": (["export"], _exported),
        "verify": (["verify"], _verified),
        "tail": (["tail", "--from", "1", "--count", "3"], _tailed),
        "report": (["report", run, "--html", str(outputs / "run.html")], _reported),
        "bundle": (["bundle", run, "-o", str(outputs / "run.db")], _bundled),
        "what-if": (["what-if"], _replayed),
        "at": (["at", str(log.records)], _folded_at),
    }


COMMANDS = ["list", "timeline", "explain", "show", "export", "verify", "tail", "report",
            "bundle", "what-if", "at"]


@pytest.fixture(scope="module", params=["log alone", "log, -wal and -shm"])
def readable(request: pytest.FixtureRequest, logs: Logs) -> Iterator[Path]:
    """A read-only folder SQLite can read: the log alone, or with its WAL and index."""
    folder = logs.folded if request.param == "log alone" else logs.live
    with read_only(folder):
        yield folder


@pytest.fixture(scope="module")
def unindexed(tmp_path_factory: pytest.TempPathFactory, logs: Logs) -> Iterator[Path]:
    """A read-only folder with the log and its WAL, but not the WAL's index."""
    folder = tmp_path_factory.mktemp("unindexed")
    for name in ("log.db", "log.db-wal"):
        shutil.copyfile(logs.live / name, folder / name)
    with read_only(folder):
        yield folder


@pytest.mark.parametrize("command", COMMANDS)
def test_every_reading_command_reads_a_log_in_a_read_only_folder(
    command: str, readable: Path, logs: Logs, tmp_path: Path,
) -> None:
    """Exit 0, the log's real content, and the folder's files byte for byte as they were."""
    arguments, check = _commands(logs.facts, tmp_path)[command]
    before = folder_bytes(readable)
    result = cli(*arguments, "--db", str(readable / "log.db"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    check(result.stdout, tmp_path, logs.facts)
    assert folder_bytes(readable) == before


@pytest.mark.parametrize("command", COMMANDS)
def test_a_wal_without_its_index_in_a_read_only_folder_is_one_line_saying_what_to_do(
    command: str, unindexed: Path, logs: Logs, tmp_path: Path,
) -> None:
    """Exit 2 and one line: why it cannot be read there, and what to do; nothing written."""
    arguments, _check = _commands(logs.facts, tmp_path)[command]
    before = folder_bytes(unindexed)
    result = cli(*arguments, "--db", str(unindexed / "log.db"), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"sagalog: error: {unindexed / 'log.db'} cannot be read "
                                    "here: its folder "), result.stderr
    assert result.stderr.endswith("copy log.db and log.db-wal to a writable folder, or open it "
                                  "where it was written\n"), result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "run.html").exists()
    assert not (tmp_path / "run.db").exists()
    assert folder_bytes(unindexed) == before


@pytest.mark.parametrize(("command", "refused"), [
    (["import", "records.jsonl"], "log.db"),
    (["worker", "--until-idle"], "log.db"),
    (["order"], "log.db.ledger"),  # the order demo opens its ledger beside the log first
])
def test_writing_commands_on_a_read_only_log_say_so_in_one_line(
    command: list[str], refused: str, logs: Logs, tmp_path: Path,
) -> None:
    """Exit 2 and "... is read-only: ...", not a traceback or a hang; nothing written."""
    folder = tmp_path / "logs"
    folder.mkdir()
    shutil.copyfile(logs.folded / "log.db", folder / "log.db")
    exported = cli("export", "--db", str(folder / "log.db"), cwd=tmp_path)
    (tmp_path / "records.jsonl").write_text(exported.stdout, encoding="utf-8")
    before = folder_bytes(folder)
    with read_only(folder):
        result = cli(*command, "--db", str(folder / "log.db"), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"sagalog: error: {folder / refused} is read-only: ")
    assert ("is on a read-only file system" in result.stderr
            or "is not writable by this user" in result.stderr), result.stderr
    assert folder_bytes(folder) == before
