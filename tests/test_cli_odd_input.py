"""Odd input at the command line: one line ``sagalog: error: ...``, exit 2, never a traceback.

Each case once ended in a Python traceback (RecursionError, OverflowError, MemoryError)
or in a silent oddity (a negative limit, a NaN timeout that never fires). Each runs the
real command line as a process, and the log it names is left as it was.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import sagalog.events.jobs
from sagalog.events.orders import OrderPlaced
from sagalog.store import open_store
from tests.support import log_bytes

RUN = Path(__file__).resolve().parents[1] / "run.py"
HUGE = "99999999999999999999"  # 20 digits: past SQLite's INTEGER (2**63 - 1)
DEEP = "[" * 100_000 + "]" * 100_000


def sagalog(*arguments: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(RUN), "-q", *arguments], capture_output=True,
                          text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("odd") / "log.db"
    with open_store(path) as store:
        store.append("order-o1", [OrderPlaced(order_id="o1", product_id="p", amount_cents=1)],
                     correlation_id="o1")
    return path


def refused(done: subprocess.CompletedProcess[str], *words: str) -> str:
    """The one error line of a refused command, checked for ``words``."""
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("sagalog: error: ")
    for word in words:
        assert word in line
    return line


@pytest.mark.parametrize(("arguments", "words"), [
    (("tail", "--from", HUGE, "--count", "1", "--idle-exit", "5"), ("--from", HUGE)),
    (("export", "--from", HUGE), ("--from", HUGE)),
    (("export", "--to", f"-{HUGE}"), ("--to", HUGE)),
    (("list", "--limit", HUGE), ("--limit", HUGE)),
    (("list", "--limit", "-5"), ("--limit", "-5")),
    (("show", HUGE), (HUGE,)),
    (("at", HUGE), (HUGE,)),
    (("tail", "--idle-exit", "nan", "--count", "1"), ("--idle-exit", "nan")),
    (("tail", "--idle-exit", "-1", "--count", "1"), ("--idle-exit",)),
], ids=lambda value: " ".join(value[:2]) if isinstance(value, tuple) else None)
def test_numbers_out_of_range_are_one_line_errors(log: Path, arguments: tuple[str, ...],
                                                   words: tuple[str, ...]) -> None:
    """A number no log can hold, or a limit that means nothing, names the flag and value."""
    before = log_bytes(log)
    refused(sagalog(*arguments, "--db", str(log)), *words)
    assert log_bytes(log) == before


def test_empty_db_path_is_refused(tmp_path: Path) -> None:
    """``--db ''`` would open SQLite's temporary database: it is refused, naming the flag."""
    refused(subprocess.run([sys.executable, str(RUN), "list", "--db", ""], capture_output=True,
                           text=True, timeout=60, check=False, cwd=tmp_path), "path is empty")


def test_a_hundred_million_orders_are_refused_before_the_log_is_opened(tmp_path: Path) -> None:
    """``order --count 100000000`` is refused at once (it built 100 million ids first)."""
    db = tmp_path / "orders.db"
    refused(sagalog("order", "--count", "100000000", "--db", str(db), timeout=30),
            "100,000,000", "1,000,000")
    assert not db.exists()


def test_orders_in_chunks_each_get_their_own_id(tmp_path: Path) -> None:
    """Ids made a chunk at a time: 5 orders, 2 at a time, are 5 distinct ended orders."""
    db = tmp_path / "orders.db"
    done = sagalog("order", "--count", "5", "--concurrency", "2", "--db", str(db))
    assert done.returncode == 0, done.stderr
    assert "total                        5" in done.stdout
    listing = json.loads(sagalog("list", "--format", "json", "--db", str(db)).stdout)
    assert sorted(run["run_id"] for run in listing["runs"]) == [f"o1-{n}" for n in range(1, 6)]


def test_deeply_nested_job_is_recorded_and_rejected_not_a_traceback(tmp_path: Path) -> None:
    """JSON nested 100,000 deep is a job message like any bad one: on the queue, then rejected."""
    db, job = tmp_path / "jobs.db", tmp_path / "deep.json"
    job.write_text(DEEP, encoding="utf-8")
    done = sagalog("jobs", "submit", str(job), "--db", str(db))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    worked = sagalog("worker", "--until-idle", "--db", str(db), timeout=120)
    assert worked.returncode == 0, worked.stderr
    assert "1 JobRejected" in worked.stdout
    with open_store(db, read_only=True) as store:
        (rejected,) = [record for record in store.read_all() if record.type == "JobRejected"]
    data = rejected.data.model_dump()
    assert data["reason"].startswith("not JSON: recursion limit exceeded")
    assert data["raw"] == DEEP  # nothing lost


def test_deeply_nested_import_line_names_its_line(tmp_path: Path) -> None:
    """An import line nested 100,000 deep is refused naming the file and line; nothing lands."""
    lines = tmp_path / "deep.jsonl"
    lines.write_text(DEEP + "\n", encoding="utf-8")
    refused(sagalog("import", str(lines), "--db", str(tmp_path / "in.db")), "deep.jsonl",
            "line 1")


def test_import_line_holding_nul_names_its_line(tmp_path: Path) -> None:
    """A raw NUL in an import line is refused naming the line, escaped, nothing imported."""
    lines = tmp_path / "nul.jsonl"
    lines.write_bytes(b'{"position": 1, "stream_id": "s\x00"}\n')
    line = refused(sagalog("import", str(lines), "--db", str(tmp_path / "in.db")), "line 1")
    assert "\x00" not in line
