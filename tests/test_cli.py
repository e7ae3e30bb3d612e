"""The command line, run as a user runs it: a real subprocess."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

RUN = str(Path(__file__).resolve().parent.parent / "run.py")


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, RUN, *args], cwd=cwd, capture_output=True, text=True, timeout=60,
        check=False,
    )


def test_main_job_runs_on_the_default_database(tmp_path: Path) -> None:
    """`python run.py` with no arguments writes ./sagalog.db, reads it back and verifies it."""
    result = cli(cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "sagalog.db").exists()
    assert "verify: ok: 6 records" in result.stdout
    again = cli(cwd=tmp_path)
    assert "verify: ok: 12 records" in again.stdout


def test_verify_command_reports_tampering_with_exit_1(tmp_path: Path) -> None:
    """`run.py verify` exits 1 and names the first bad position of an edited log."""
    import sqlite3

    assert cli("--db", "x.db", "demo", cwd=tmp_path).returncode == 0
    with sqlite3.connect(tmp_path / "x.db") as raw:
        raw.execute("DROP TRIGGER events_no_update")
        raw.execute("UPDATE events SET data = replace(data, 'post', 'ship') WHERE position = 4")
    result = cli("verify", "--db", "x.db", cwd=tmp_path)
    assert result.returncode == 1
    assert "position 4" in result.stdout


def test_bad_database_file_gives_one_line_and_no_traceback(tmp_path: Path) -> None:
    """A file that is not a database: one clear line, non-zero exit, file untouched."""
    bad = tmp_path / "bad.db"
    bad.write_text("hello")
    before = hashlib.sha256(bad.read_bytes()).hexdigest()
    result = cli("verify", "--db", str(bad), cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "not an SQLite database" in result.stderr
    assert hashlib.sha256(bad.read_bytes()).hexdigest() == before
