"""Every command on every kind of damaged or foreign file: one line, exit 2, file unchanged.

The matrix: each command that opens the log (the reading ones and the writing ones) x each
damage a log file meets in the wild (cut short, its header zeroed, random bytes in the
middle, another program's SQLite database, a text file, an empty file, a newer sagalog's
schema, a directory). Each case must print one ``sagalog: error:`` line naming the file,
exit 2, print no traceback, and leave the file byte-for-byte as it was: a CI gate such as
``what-if`` must never pass on a log it could not read.

Most cases call :func:`sagalog.cli.main` in this process (about 0.05 s each); one command
per damage runs as a real subprocess, as a user runs it, to hold the same for the program.
"""

from __future__ import annotations

import hashlib
import random
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from sagalog.cli import main
from tests.sagas.pipeline_support import EXAMPLE

ROOT = Path(__file__).resolve().parent.parent
RUN = str(ROOT / "run.py")
JOB = str(ROOT / "docs" / "examples" / "jobs" / "custom-job.json")


def _truncated(good: bytes, path: Path) -> None:
    path.write_bytes(good[: len(good) // 2])


def _zeroed_header(good: bytes, path: Path) -> None:
    path.write_bytes(bytes(100) + good[100:])


def _random_records(good: bytes, path: Path) -> None:
    """The page holding the log's first record overwritten with (seeded) random bytes.

    Found by the first record's data, which only the table's own page holds (the indexes
    hold ids), so every command that reads that record meets the damage.
    """
    page = int.from_bytes(good[16:18], "big")
    path.write_bytes(good)
    with closing(sqlite3.connect(path)) as db:
        (data,) = db.execute("SELECT data FROM events WHERE position = 1").fetchone()
    start = good.index(data.encode()) // page * page
    noise = random.Random(9).randbytes(page)
    path.write_bytes(good[:start] + noise + good[start + page:])


def _foreign(_good: bytes, path: Path) -> None:
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        db.execute("INSERT INTO customers (name) VALUES ('Ada')")


def _text(_good: bytes, path: Path) -> None:
    path.write_text("position,type\n1,OrderPlaced\n", encoding="utf-8")


def _empty(_good: bytes, path: Path) -> None:
    path.write_bytes(b"")


def _newer_schema(good: bytes, path: Path) -> None:
    path.write_bytes(good)
    with closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA journal_mode = DELETE")  # no -wal left beside it
        db.execute("PRAGMA user_version = 99")


def _directory(_good: bytes, path: Path) -> None:
    path.mkdir()
    (path / "inside.txt").write_text("a folder, not a log", encoding="utf-8")


DAMAGES: dict[str, Callable[[bytes, Path], None]] = {
    "truncated": _truncated,
    "zeroed header": _zeroed_header,
    "random bytes over records": _random_records,
    "foreign SQLite db": _foreign,
    "text file": _text,
    "empty file": _empty,
    "newer schema": _newer_schema,
    "directory": _directory,
}
"""Each damage: writes the damaged file at a path from the bytes of a good log."""

SAYS = {
    "truncated": "truncated",
    "zeroed header": "not an SQLite database",
    "random bytes over records": "damaged",
    "foreign SQLite db": "not a sagalog one",
    "text file": "not an SQLite database",
    "empty file": "empty",
    "newer schema": "newer sagalog",
    "directory": "directory",
}
"""What the error line says of each damage: what is wrong, not only that something is."""

READING = {
    "list": ["list"],
    "at": ["at", "1"],
    "what-if": ["what-if"],
    "show": ["show", "1"],
    "timeline": ["timeline", "o1-1"],
    "explain": ["explain", "o1-1"],
    "verify": ["verify"],
    "export": ["export"],
    "tail": ["tail", "--from", "1", "--count", "1", "--idle-exit", "1"],
    "report": ["report", "o1-1", "--html", "OUT/report.html"],
    "bundle": ["bundle", "o1-1", "-o", "OUT/bundle.db"],
    "etl --manifest": ["etl", "--manifest"],
}
"""The commands that only read the log (``graph`` reads no log: it draws a definition)."""

WRITING = {
    "order": ["order"],
    "resume": ["resume"],
    "import": ["import", "OUT/export.jsonl"],
    "jobs submit": ["jobs", "submit", JOB],
    "worker --until-idle": ["worker", "--until-idle"],
    "master-pipeline --resume": ["master-pipeline", "--resume"],
    "etl --resume": ["etl", "--resume"],
    "data-pipeline": ["data-pipeline", "--config", "OUT/project/config.json"],
}
"""The commands that append to the log."""

NEW_LOG_IN_EMPTY_FILE = "empty file"
"""A writing command makes a new log in an empty file, as SQLite does (``mktemp`` then
``sagalog order --db``): that is not damage to it. Checked on its own below."""

LIST_READS_ONLY_THE_RUNS_TABLE = ("list", "random bytes over records")
"""``list`` reads one small table (0.07 s on any log); a damaged page elsewhere is not
read, so not seen: ``verify`` is the command that reads every page. Checked on its own."""


@pytest.fixture(scope="module")
def good_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, str]:
    """The bytes of a real log (one order, closed: no -wal), and its export."""
    folder = tmp_path_factory.mktemp("good")
    made = subprocess.run([sys.executable, RUN, "-q", "order", "--db", "good.db"], cwd=folder,
                          capture_output=True, text=True, timeout=120, check=False)
    assert made.returncode == 0, made.stderr
    exported = subprocess.run([sys.executable, RUN, "-q", "export", "--db", "good.db"],
                              cwd=folder, capture_output=True, text=True, timeout=120,
                              check=False)
    assert exported.returncode == 0, exported.stderr
    assert not Path(folder / "good.db-wal").exists() or not (folder / "good.db-wal").stat().st_size
    return (folder / "good.db").read_bytes(), exported.stdout


def fingerprint(path: Path) -> str:
    """The file's bytes (and a -wal beside it holding any), or a folder's listing."""
    if path.is_dir():
        return repr(sorted((p.name, p.read_bytes()) for p in path.iterdir()))
    wal = Path(f"{path}-wal")
    held = wal.read_bytes() if wal.exists() else b""
    return hashlib.sha256(path.read_bytes()).hexdigest() + hashlib.sha256(held).hexdigest()


def damaged(tmp_path: Path, damage: str, good: tuple[bytes, str]) -> Path:
    """The damaged log in ``tmp_path``, and an ``OUT`` folder for what commands write."""
    (tmp_path / "OUT").mkdir()
    (tmp_path / "OUT" / "export.jsonl").write_text(good[1], encoding="utf-8")
    shutil.copytree(EXAMPLE, tmp_path / "OUT" / "project")  # data-pipeline's config
    log = tmp_path / "app.db"
    DAMAGES[damage](good[0], log)
    return log


def arguments(command: list[str], tmp_path: Path, log: Path) -> list[str]:
    return [*(str(tmp_path / part) if part.startswith("OUT/") else part for part in command),
            "--db", str(log)]


def assert_refused(code: int, stderr: str, log: Path, before: str, damage: str) -> None:
    """Exit 2, one ``sagalog: error:`` line naming the file and what is wrong with it
    (the last line), no traceback, the file unchanged."""
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("sagalog: error:")]
    assert len(errors) == 1, stderr
    assert stderr.splitlines()[-1] == errors[0], stderr
    assert str(log) in errors[0], errors
    assert SAYS[damage] in errors[0], errors
    assert code == 2, stderr
    assert fingerprint(log) == before


CASES = [
    pytest.param(command, damage, id=f"{command}-{damage}")
    for command in [*READING, *WRITING] for damage in DAMAGES
    if (command, damage) != LIST_READS_ONLY_THE_RUNS_TABLE
    and not (command in WRITING and damage == NEW_LOG_IN_EMPTY_FILE)
]


@pytest.mark.parametrize(("command", "damage"), CASES)
def test_a_command_on_a_damaged_file_is_one_error_and_changes_nothing(
        command: str, damage: str, tmp_path: Path, good_log: tuple[bytes, str],
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Exit 2, ``sagalog: error: <file>: ...`` once, no traceback, the file as it was."""
    monkeypatch.chdir(tmp_path)
    log = damaged(tmp_path, damage, good_log)
    before = fingerprint(log)
    code = main(arguments({**READING, **WRITING}[command], tmp_path, log))
    assert_refused(code, capsys.readouterr().err, log, before, damage)


@pytest.mark.parametrize("damage", DAMAGES)
def test_what_if_as_a_program_fails_on_every_damaged_file(
        damage: str, tmp_path: Path, good_log: tuple[bytes, str]) -> None:
    """The CI gate, run as a user runs it: never exit 0 on a log it could not read."""
    log = damaged(tmp_path, damage, good_log)
    before = fingerprint(log)
    result = subprocess.run([sys.executable, RUN, "-q", "what-if", "--db", str(log)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120,
                            check=False)
    assert_refused(result.returncode, result.stderr, log, before, damage)


def test_list_on_a_log_damaged_where_it_does_not_read_lists_and_changes_nothing(
        tmp_path: Path, good_log: tuple[bytes, str],
        capsys: pytest.CaptureFixture[str]) -> None:
    """``list`` reads the runs table only; verify, which reads every page, finds it."""
    log = damaged(tmp_path, "random bytes over records", good_log)
    before = fingerprint(log)
    assert main(["list", "--db", str(log)]) == 0
    assert "o1-1" in capsys.readouterr().out
    assert fingerprint(log) == before
    assert main(["verify", "--db", str(log)]) != 0
    assert "sagalog: error:" in capsys.readouterr().err


def test_a_writing_command_makes_a_new_log_in_an_empty_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An empty file is where a new log goes (``mktemp``), not a damaged log."""
    log = tmp_path / "app.db"
    log.write_bytes(b"")
    assert main(["jobs", "submit", JOB, "--db", str(log)]) == 0
    assert "submitted" in capsys.readouterr().out
    assert main(["verify", "--db", str(log)]) == 0


def test_the_matrix_covers_every_command_that_opens_a_log() -> None:
    """A command added to the command line without a row here fails this test."""
    from sagalog.cli import COMMANDS

    covered = {name.split()[0] for name in [*READING, *WRITING]}
    assert set(COMMANDS) - covered == {"graph"}
