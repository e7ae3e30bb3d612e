"""`run.py jobs submit` and `run.py worker`, run as a user runs them: real subprocesses."""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from sagalog.actors.jobs import JobsDatabase, search
from sagalog.sagas.jobs import JOBS_TERMINAL_TYPES, load_jobs_config, submit_job
from sagalog.store import open_store
from tests.support import LineReader

RUN = Path(__file__).resolve().parents[2] / "run.py"
EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples" / "jobs"
DEADLINE_S = 20.0


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(RUN), "-q", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60, check=False)


@contextlib.contextmanager
def worker(db: Path, *extra: str) -> Iterator[subprocess.Popen[bytes]]:
    """A running `run.py worker`, ready (its lock held, its actors started)."""
    proc = subprocess.Popen([sys.executable, str(RUN), "-q", "worker", "--db", str(db), *extra],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        line = LineReader(proc.stdout).next_line(time.monotonic() + DEADLINE_S)
        assert line == f"worker running on {db} (PID {proc.pid})", line
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        assert proc.stdout is not None
        assert proc.stderr is not None
        proc.stdout.close()
        proc.stderr.close()


def count(db: Path, type_name: str) -> int:
    """How many records of a type the log holds, read without writing."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True,
                                                timeout=5.0)) as connection:
            return int(connection.execute("SELECT COUNT(*) FROM events WHERE type = ?",
                                          (type_name,)).fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def wait_for(db: Path, type_name: str, at_least: int = 1) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while count(db, type_name) < at_least:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {type_name} in {db} in time")
        time.sleep(0.005)  # poll interval: the worker writes in its own time


def submit_many(db: Path, number: int) -> None:
    config = load_jobs_config(None, db)
    with open_store(db) as store:
        for n in range(number):
            raw = json.dumps({"type": "custom", "job_id": f"j{n}", "tenant": "t",
                              "pipeline": "p"})
            submit_job(store, raw, f"job-{n}", config)


def ends(db: Path) -> Counter[str]:
    """Each submission's correlation id -> how many times it ended (accepted or rejected)."""
    with open_store(db) as store:
        return Counter(r.correlation_id or "" for r in store.read_all(
            types=["JobRejected", *JOBS_TERMINAL_TYPES]))


def test_submit_the_examples_then_a_worker_until_idle_runs_them(tmp_path: Path) -> None:
    """The three example messages: two complete, the invalid one is rejected; the FTS5 index
    built from the example config's paths finds the default job's document."""
    for name in ("config.json", "custom-job.json", "default-job.json", "invalid-job.json"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    submitted = cli("jobs", "submit", "--db", "log.db", "--config", "config.json",
                    "custom-job.json", "default-job.json", "invalid-job.json", cwd=tmp_path)
    assert submitted.returncode == 0, submitted.stderr
    assert submitted.stdout.splitlines() == [
        "submitted custom-job.json as sales-2024-09-25",
        "submitted default-job.json as handbook-reindex-1",
        "submitted invalid-job.json as handbook-reindex-2"]
    ran = cli("worker", "--db", "log.db", "--until-idle", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines()[-1] == ("worker stopped (no work left): 2 JobCompleted, "
                                           "0 JobFailed, 1 JobRejected, 0 in flight")
    with JobsDatabase.open(tmp_path / "jobs.db") as jobs:
        assert jobs.status("sales-2024-09-25") == "succeeded"
    hits = search(tmp_path / "search.db", "holiday")
    assert [(h.job_id, h.doc_id) for h in hits] == [("handbook-reindex-1", "holidays")]
    with open_store(tmp_path / "log.db") as store:
        (rejected,) = [r.data for r in store.read_all(types=["JobRejected"])]
    assert rejected.reason == "invalid default job: documents.0.title: Field required"  # type: ignore[attr-defined]
    assert rejected.raw == (EXAMPLES / "invalid-job.json").read_text()  # type: ignore[attr-defined]


def test_submit_refuses_a_bad_config_or_a_missing_file(tmp_path: Path) -> None:
    """One line naming the file (and field); exit 2; nothing is submitted."""
    (tmp_path / "config.json").write_text('{"queues": {"pending": 5}}')
    (tmp_path / "job.json").write_text("{}")
    bad = cli("jobs", "submit", "--db", "log.db", "--config", "config.json", "job.json",
              cwd=tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.strip() == ("sagalog: error: config.json: queues.pending: Input should "
                                  "be a valid string")
    missing = cli("jobs", "submit", "--db", "log.db", "job.json", "nowhere.json", cwd=tmp_path)
    assert missing.returncode == 2
    assert "nowhere.json: cannot read the job message" in missing.stderr
    assert not (tmp_path / "log.db").exists()


def test_sigterm_stops_the_worker_gracefully_and_nothing_is_lost(tmp_path: Path) -> None:
    """SIGTERM mid-run: exit 0 after the work in hand; a later worker finishes every job once."""
    db = tmp_path / "log.db"
    submit_many(db, 60)
    with worker(db) as proc:
        wait_for(db, "JobFinished")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=DEADLINE_S)
        assert proc.returncode == 0, err.decode()[-2000:]
        summary = out.decode().splitlines()[-1]
        assert summary.startswith("worker stopped (on request)"), summary
        assert not summary.endswith(" 0 in flight"), summary  # it stopped mid-run
    rest = cli("worker", "--db", str(db), "--until-idle", cwd=tmp_path)
    assert rest.returncode == 0, rest.stderr
    assert rest.stdout.splitlines()[-1].endswith("60 JobCompleted, 0 JobFailed, 0 JobRejected, "
                                                 "0 in flight")
    ended = ends(db)
    assert set(ended) == {f"j{n}" for n in range(60)}
    assert set(ended.values()) == {1}
    with JobsDatabase.open(f"{db}.jobs") as jobs:
        assert jobs.duplicates() == []
        assert jobs.count("status_changes") == 60


def test_a_second_worker_on_the_same_log_is_refused(tmp_path: Path) -> None:
    """While one worker runs, another on the same file exits 2 naming the db and the PID;
    SIGINT (Ctrl-C) stops the first one cleanly."""
    db = tmp_path / "log.db"
    with worker(db) as first:
        second = cli("worker", "--db", str(db), "--until-idle", cwd=tmp_path)
        assert second.returncode == 2
        assert second.stderr.strip() == (
            f"sagalog: error: {db}: a worker is already running on this log (PID {first.pid}, "
            f"sagalog worker; lock {db}.worker.lock); stop it first (kill -TERM {first.pid}, "
            "or Ctrl-C where it runs)")
        first.send_signal(signal.SIGINT)
        assert first.wait(timeout=DEADLINE_S) == 0
    # The lock went with the first worker: a new one runs.
    again = cli("worker", "--db", str(db), "--until-idle", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
