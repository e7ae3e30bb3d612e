"""The loader SIGKILLed after its load is recorded but before its marker is removed.

A real subprocess runs the real :class:`DataLoader`, hangs right after the
``load_history`` commit (``procs/pipeline_adapter.py --hang-after-record``) and is
SIGKILLed there. The ``.loading`` marker it leaves is stale: its load is complete. The
next load must keep that load (its rows and its ``load_history`` row), not restore the
older backup over it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sagalog.actors.pipeline import DataCollector, DataLoader, load_history, load_pipeline_config
from sagalog.events.pipeline import CollectData, LoadData, LoaderFinished
from tests.sagas.pipeline_support import config_of, copy_example, rows, target_db, write_source

pytestmark = pytest.mark.slow

ADAPTER = Path(__file__).resolve().parent / "procs" / "pipeline_adapter.py"
DEADLINE_S = 30.0


def molds(name: str) -> str:
    return json.dumps([{"moldNo": name, "cavities": 1, "cycleTime_s": 1, "active": 1}])


def load_killed_after_record(project: Path, key: str) -> None:
    """Run the load ``key`` in a subprocess and SIGKILL it once its load is recorded."""
    proc = subprocess.Popen(
        [sys.executable, str(ADAPTER), str(config_of(project)), "load", key,
         "--hang-after-record"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        # Each readline blocks until the child prints (a log line, or "recorded") or dies.
        lines = iter(proc.stdout.readline, "")
        assert "recorded\n" in lines, proc.communicate(timeout=DEADLINE_S)[1]
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=DEADLINE_S) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=DEADLINE_S)


@pytest.fixture
def killed_after_record(tmp_path: Path) -> Path:
    """A project whose load ``l-1`` finished normally and ``l-2`` was killed after its
    record (loading the molds ``SECOND``): the marker of ``l-2`` is left behind."""
    project = copy_example(tmp_path)
    config = load_pipeline_config(config_of(project))
    DataCollector().collect(CollectData(run_id="r", config=config), "c-1")
    assert isinstance(DataLoader().load(LoadData(run_id="r", config=config), "l-1"),
                      LoaderFinished)
    write_source(project, "moldInfo.json", molds("SECOND"))
    DataCollector().collect(CollectData(run_id="r", config=config), "c-2")
    load_killed_after_record(project, "l-2")
    db = target_db(project)
    assert Path(f"{db}.loading").read_text() == "l-2"  # the kill landed in the window
    assert load_history(db) == [("l-1", "r"), ("l-2", "r")]
    return project


def test_a_load_killed_after_its_record_is_kept_by_the_next_load(
        killed_after_record: Path) -> None:
    """The next load (another key) keeps l-2: its history row stays, nothing is healed,
    and the backup it makes is the target l-2 left."""
    project = killed_after_record
    db = target_db(project)
    config = load_pipeline_config(config_of(project))
    write_source(project, "moldInfo.json", molds("THIRD"))
    DataCollector().collect(CollectData(run_id="r", config=config), "c-3")

    result = DataLoader().load(LoadData(run_id="r", config=config), "l-3")

    assert load_history(db) == [("l-1", "r"), ("l-2", "r"), ("l-3", "r")]
    assert isinstance(result, LoaderFinished)
    assert result.healing_actions == ()
    assert rows(Path(f"{db}.backup"), "moldInfo") == [("SECOND", 1, 1.0, 1)]
    assert rows(db, "moldInfo") == [("THIRD", 1, 1.0, 1)]
    assert not Path(f"{db}.loading").exists()


def test_the_killed_load_rerun_answers_from_history_and_drops_the_marker(
        killed_after_record: Path) -> None:
    """Re-running l-2 itself loads nothing and removes its stale marker (which would
    otherwise make the next load restore l-1's target)."""
    project = killed_after_record
    db = target_db(project)
    config = load_pipeline_config(config_of(project))

    again = DataLoader().load(LoadData(run_id="r", config=config), "l-2")

    assert isinstance(again, LoaderFinished)
    assert not Path(f"{db}.loading").exists()
    assert load_history(db) == [("l-1", "r"), ("l-2", "r")]
    assert rows(db, "moldInfo") == [("SECOND", 1, 1.0, 1)]
