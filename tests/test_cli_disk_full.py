"""The writing commands on a full disk: one line saying so, a non-zero exit, never a hang.

Real subprocesses on a real 512 KiB tmpfs (as root; skipped where mounting is refused),
each with a time limit: a command that hung on a full disk would fail the test, not
stall the suite.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import fill_disk, small_disk

ROOT = Path(__file__).resolve().parent.parent
RUN = str(ROOT / "run.py")
JOB = str(ROOT / "docs" / "examples" / "jobs" / "custom-job.json")
TIME_LIMIT_S = 120


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, RUN, "-q", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=TIME_LIMIT_S, check=False)


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A 512 KiB file system, unmounted when the test ends."""
    with small_disk(tmp_path / "disk") as folder:
        yield folder


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real log of two orders (and its ledger), made once on a disk with room."""
    folder = tmp_path_factory.mktemp("source")
    made = cli("order", "--count", "2", "--db", "source.db", cwd=folder)
    assert made.returncode == 0, made.stderr
    return folder / "source.db"


@pytest.fixture(scope="module")
def export_file(source: Path) -> Path:
    """The source log's export, for ``import``."""
    exported = cli("export", "--db", source.name, cwd=source.parent)
    assert exported.returncode == 0, exported.stderr
    (source.parent / "source.jsonl").write_text(exported.stdout, encoding="utf-8")
    return source.parent / "source.jsonl"


def existing_log(source: Path, disk: Path) -> Path:
    """A copy of the source log and its ledger on ``disk``, as ``app.db``."""
    shutil.copy(source, disk / "app.db")
    shutil.copy(f"{source}.ledger", disk / "app.db.ledger")
    return disk / "app.db"


WRITING = {
    "order": ["order"],
    "jobs submit": ["jobs", "submit", JOB],
    "import": ["import", "EXPORT"],
    "worker --until-idle": ["worker", "--until-idle"],
}
"""Each writing command, as run (``EXPORT`` stands for the export file)."""


def assert_one_line_disk_full(result: subprocess.CompletedProcess[str], log: Path) -> None:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("sagalog: error: "), lines
    assert "disk is full" in lines[0], lines
    assert str(log.name) in lines[0], lines


@pytest.mark.parametrize("command", WRITING)
def test_a_writing_command_on_a_full_disk_says_so_in_one_line(
        command: str, disk: Path, export_file: Path) -> None:
    """A new log where nothing fits: exit 2, ``sagalog: error: ... the disk is full``."""
    fill_disk(disk)
    arguments = [str(export_file) if part == "EXPORT" else part for part in WRITING[command]]
    result = cli(*arguments, "--db", "new.db", cwd=disk)
    assert_one_line_disk_full(result, disk / "new.db")
    assert result.returncode == 2


@pytest.mark.parametrize("command", WRITING)
def test_a_writing_command_on_an_existing_log_of_a_full_disk_says_so(
        command: str, disk: Path, source: Path, export_file: Path) -> None:
    """An existing log, the disk filled since: the disk is full (SQLite says "disk I/O
    error" here), one line, exit 2, and the log still verifies once space is freed."""
    existing_log(source, disk)
    filler = fill_disk(disk)
    arguments = [str(export_file) if part == "EXPORT" else part for part in WRITING[command]]
    result = cli(*arguments, "--db", "app.db", cwd=disk)
    assert_one_line_disk_full(result, disk / "app.db")
    assert result.returncode == 2
    filler.unlink()
    checked = cli("verify", "--db", "app.db", cwd=disk)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_orders_that_fill_the_disk_midway_end_with_one_line(disk: Path, source: Path) -> None:
    """The disk fills while 100 orders run: one line, a non-zero exit, within the limit."""
    existing_log(source, disk)
    fill_disk(disk, leave=160 * 1024)
    result = cli("order", "--count", "100", "--db", "app.db", cwd=disk)
    assert_one_line_disk_full(result, disk / "app.db")


def test_export_into_a_file_on_a_full_disk_says_the_disk_is_full(
        disk: Path, source: Path) -> None:
    """stdout redirected to a full disk: one line saying so (the system names no file)."""
    fill_disk(disk)
    with (disk / "out.jsonl").open("w") as out:
        result = subprocess.run([sys.executable, RUN, "-q", "export", "--db", str(source)],
                                stdout=out, stderr=subprocess.PIPE, text=True,
                                timeout=TIME_LIMIT_S, check=False)
    assert result.returncode == 2, result.stderr
    assert result.stderr == "sagalog: error: the disk is full (No space left on device)\n"
