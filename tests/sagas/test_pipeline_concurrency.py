"""Two processes handling one data pipeline command: the adapters take turns.

Two real subprocesses run the real adapter on the same command (same key, same
configuration). The first stops inside its phase, right after its first change (the
collector's backup, the loader's backup and ``.loading`` marker); the second is then
started and must wait for it, not work beside it. Once the first goes on, the second
finds the work done and answers with the first's recorded result: one collection, one
load in ``load_history``, the target intact.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from sagalog.actors.pipeline import DataCollector, DataLoader, load_history, load_pipeline_config
from sagalog.events.pipeline import CollectData, LoadData
from tests.sagas.pipeline_support import (
    config_of,
    copy_example,
    newest_files,
    rows,
    target_db,
    write_source,
)

pytestmark = pytest.mark.slow

ADAPTER = Path(__file__).resolve().parent / "procs" / "pipeline_adapter.py"
DEADLINE_S = 30.0
WAITING = "is held by another handler"
"""What the lock logs when a handler has to wait for another (``_pipeline_lock``)."""


class Child:
    """A running ``pipeline_adapter.py``, its stdout read line by line on a thread."""

    def __init__(self, project: Path, phase: str, key: str, *options: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(ADAPTER), str(config_of(project)), phase, key, *options],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self.ended = False
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)  # end of output: the child exited

    def wait_for(self, text: str) -> bool:
        """Read on until a line holds ``text``: True; False if the output ended first."""
        deadline = time.monotonic() + DEADLINE_S
        while not self.ended:
            line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.0))
            if line is None:
                self.ended = True
                return False
            self.seen.append(line)
            if text in line:
                return True
        return False

    def finish(self) -> dict[str, Any]:
        """Let a paused child go on; its result once it exits (0 expected)."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()  # the paused child reads it: an end of file lets it go on
        self.wait_for("no such line: read to the end")
        stderr = self.proc.stderr.read() if self.proc.stderr is not None else ""
        assert self.proc.wait(timeout=DEADLINE_S) == 0, (self.seen, stderr)
        (line,) = [line for line in self.seen if line.startswith("result ")]
        result: dict[str, Any] = json.loads(line.removeprefix("result "))
        return result

    def close(self) -> None:
        """Kill the child if it still runs; close its pipes once its output is read."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=DEADLINE_S)
        self.reader.join(timeout=DEADLINE_S)  # it ends at the output's end
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


def handle_twice_at_once(project: Path, phase: str, key: str) -> tuple[dict[str, Any],
                                                                       dict[str, Any], bool]:
    """Both results, and whether the second said it waited for the first."""
    first = Child(project, phase, key, "--pause-inside")
    second: Child | None = None
    try:
        assert first.wait_for("inside"), first.seen
        second = Child(project, phase, key)
        waited = second.wait_for(WAITING)  # False: it ran to its end beside the first
        return first.finish(), second.finish(), waited
    finally:
        first.close()
        if second is not None:
            second.close()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The example, collected and loaded once (c-0, l-0), then with new molds to load."""
    project = copy_example(tmp_path)
    config = load_pipeline_config(config_of(project))
    DataCollector().collect(CollectData(run_id="r", config=config), "c-0")
    DataLoader().load(LoadData(run_id="r", config=config), "l-0")
    write_source(project, "moldInfo.json", json.dumps(
        [{"moldNo": "NEW", "cavities": 2, "cycleTime_s": 3, "active": 1}]))
    return project


def test_two_processes_collecting_one_command_collect_once(project: Path) -> None:
    """The second collector waits, then answers from the first's manifest."""
    first, second, waited = handle_twice_at_once(project, "collect", "c-1")

    assert second == first  # the recorded result itself, duration included
    assert waited
    assert first["status"] == "success"
    assert "NEW" in newest_files(project)["moldInfo.json"]


def test_two_processes_loading_one_command_load_once(project: Path) -> None:
    """The second loader waits, then answers from load_history: no rollback under the
    first's load, one history row, the target holds the new rows."""
    config = load_pipeline_config(config_of(project))
    DataCollector().collect(CollectData(run_id="r", config=config), "c-1")

    first, second, waited = handle_twice_at_once(project, "load", "l-1")

    assert second == first
    assert waited
    assert (first["status"], first["healing_actions"]) == ("success", [])
    db = target_db(project)
    assert load_history(db) == [("l-0", "r"), ("l-1", "r")]
    assert rows(db, "moldInfo") == [("NEW", 2, 3.0, 1)]
    assert not Path(f"{db}.loading").exists()
