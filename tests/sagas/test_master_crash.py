"""Crash safety of the master pipeline: SIGKILL a real process mid-run, resume in another.

The first test kills the run exactly in the window that matters: an activity's effect is
committed in the warehouse, its result is not yet in the log. The resumed process runs
the same command again (same event id), finds the effect recorded and does not apply it
again. The second kills the run, then each resume, as the log grows, and lets a last
resume finish. Both check that every activity's effect was applied exactly once, that
each stage answered once, and that the monitoring table matches the log.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from sagalog.actors.master import effect_rows, monitoring_rows, read_monitoring
from sagalog.events.master import ActivitySucceeded
from sagalog.store import open_store
from tests.sagas.procs.master_worker import write_config

pytestmark = pytest.mark.slow

WORKER = Path(__file__).resolve().parent / "procs" / "master_worker.py"
DEADLINE_S = 30.0
ACTIVITIES = 4 + 3  # four single stages and three semantic models (maintenance not flagged)


def head(db: Path) -> int:
    """The log's last position, read without writing (0 before it exists)."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True,
                                                timeout=5.0)) as connection:
            return connection.execute("SELECT coalesce(max(position), 0) FROM events"
                                      ).fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def start(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, str(WORKER), *args], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def kill_when(proc: subprocess.Popen[bytes], ready) -> bool:
    """SIGKILL ``proc`` once ``ready()``; False if it finished first (exit 0)."""
    deadline = time.monotonic() + DEADLINE_S
    try:
        while not ready():
            if proc.poll() is not None:
                _, err = proc.communicate()
                assert proc.returncode == 0, err.decode()[-3000:]
                return False
            assert time.monotonic() < deadline, "the worker made no progress in time"
            time.sleep(0.002)  # poll interval: the child works in its own time
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=10) in {-signal.SIGKILL, 0}
        return proc.returncode == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


def resume_to_end(db: Path) -> str:
    proc = start(str(db), "--resume")
    out, err = proc.communicate(timeout=DEADLINE_S)
    assert proc.returncode == 0, err.decode()[-3000:]
    return out.decode()


def check_once(db: Path, warehouse: Path, monitoring: Path) -> None:
    """One effect per activity, one success per activity, one end; monitoring = the log."""
    with open_store(db) as store:
        assert store.verify().ok
        records = list(store.read_all())
    (run_id,) = {r.correlation_id for r in records if r.type == "MasterPipelineStarted"}
    ends = [r.type for r in records if r.type.startswith("MasterPipeline")
            and r.type != "MasterPipelineStarted"]
    assert ends == ["MasterPipelineCompleted"]
    effects = effect_rows(warehouse)
    applied = Counter((row["stage"], row["activity"]) for row in effects)
    assert len(applied) == ACTIVITIES
    assert set(applied.values()) == {1}, applied
    assert len({row["effect_key"] for row in effects}) == len(effects)
    answered = Counter((r.data.stage, r.data.item) for r in records
                       if isinstance(r.data, ActivitySucceeded))
    assert len(answered) == ACTIVITIES
    assert set(answered.values()) == {1}, answered
    assert [r.type for r in records if r.type in {"HandlerFailed", "ActorDied"}] == []
    expected = monitoring_rows([r for r in records if r.correlation_id == run_id])
    key = lambda row: (row.stage, row.activity, row.attempt)  # noqa: E731
    assert sorted(read_monitoring(monitoring, run_id), key=key) == sorted(expected, key=key)


def setup(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    config = write_config(tmp_path / "p", fail={"integration": 1},
                          stages={"integration": {"retry": {"attempts": 3, "delay_s": 0.2}}})
    work = tmp_path / "p" / "work"
    return tmp_path / "log.db", config, work / "warehouse.db", work / "monitoring.db"


def test_a_kill_between_an_effect_and_its_result_does_not_apply_it_twice(
        tmp_path: Path) -> None:
    """Killed after the transformation's effect committed, before its result: resume ends it."""
    db, config, warehouse, monitoring = setup(tmp_path)
    proc = start(str(db), str(config), "--hang-after", "run_sql_models")

    def transformed() -> bool:
        return any(row["stage"] == "transformation" for row in effect_rows(warehouse))

    assert kill_when(proc, transformed)
    with open_store(db) as store:
        kinds = [r.type for r in store.read_all()]
    assert "RunTransformation" in kinds
    assert "TransformationSucceeded" not in kinds
    assert resume_to_end(db).strip() != "{}"
    check_once(db, warehouse, monitoring)


def test_kills_at_any_moment_then_resume_finish_with_every_effect_once(tmp_path: Path) -> None:
    """The run and two resumes are killed as the log grows; a last resume finishes the run."""
    db, config, warehouse, monitoring = setup(tmp_path)
    killed = 0
    for round_number, grow_by in enumerate((6, 8, 8)):
        target = head(db) + grow_by
        args = (str(db), str(config)) if round_number == 0 else (str(db), "--resume")
        killed += kill_when(start(*args), lambda target=target: head(db) >= target)
    assert killed >= 1
    resume_to_end(db)
    check_once(db, warehouse, monitoring)
