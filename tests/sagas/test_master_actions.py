"""The master pipeline's built-in actions and the effects-once table, called directly."""

from __future__ import annotations

import os
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sagalog.actors._master_actions import ActionContext, ActionError, cleanup, ingest_csv
from sagalog.actors._master_effects import EffectRecord, EffectScope, apply_once, effect_rows
from sagalog.events.master import MasterPaths, RunIntegration, RunMaintenance

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def paths(tmp_path: Path) -> MasterPaths:
    return MasterPaths(work_dir=str(tmp_path / "work"), source_dir=str(tmp_path / "data"),
                       models_dir=str(tmp_path / "models"),
                       warehouse=str(tmp_path / "warehouse.db"),
                       monitoring_db=str(tmp_path / "monitoring.db"))


def record(key: str = "k1") -> EffectRecord:
    return EffectRecord(key, "r1", "integration", "ingest_csv", 1, NOW)


def test_an_effect_is_applied_once_per_key(tmp_path: Path) -> None:
    """The second call with the same key runs nothing and answers the first details."""
    warehouse = tmp_path / "warehouse.db"
    calls: list[int] = []

    def work(scope: EffectScope) -> dict[str, Any]:
        calls.append(1)
        scope.connection.execute("CREATE TABLE IF NOT EXISTS t (n)")
        scope.connection.execute("INSERT INTO t VALUES (?)", (len(calls),))
        return {"n": len(calls)}

    assert apply_once(warehouse, record(), work) == (True, {"n": 1})
    assert apply_once(warehouse, record(), work) == (False, {"n": 1})
    assert calls == [1]
    assert [row["effect_key"] for row in effect_rows(warehouse)] == ["k1"]
    with sqlite3.connect(warehouse) as db:
        assert db.execute("SELECT n FROM t").fetchall() == [(1,)]


def test_a_failing_action_leaves_no_effect_and_no_change(tmp_path: Path) -> None:
    """The action's writes and the effect record roll back together; after-commit work skipped."""
    warehouse = tmp_path / "warehouse.db"
    after: list[str] = []

    def work(scope: EffectScope) -> dict[str, Any]:
        scope.connection.execute("CREATE TABLE t (n)")
        scope.after_commit(lambda: after.append("ran"))
        raise ActionError("boom")

    with pytest.raises(ActionError, match="boom"):
        apply_once(warehouse, record(), work)
    assert effect_rows(warehouse) == []
    assert after == []
    with sqlite3.connect(warehouse) as db:
        assert db.execute("SELECT name FROM sqlite_master WHERE name = 't'").fetchall() == []


def test_ingest_names_the_file_and_line_of_a_short_row(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "sales.csv").write_text("id,amount\n1,2\n3\n")
    command = RunIntegration(run_id="r1", action="ingest_csv", paths=paths(tmp_path))

    def work(scope: EffectScope) -> dict[str, Any]:
        return ingest_csv(command, ActionContext(scope, "k", 1, NOW))

    with pytest.raises(ActionError, match=r"sales\.csv, line 3: 1 values for 2 columns"):
        apply_once(tmp_path / "warehouse.db", record(), work)


def test_cleanup_removes_only_old_run_folders_then_vacuums(tmp_path: Path) -> None:
    runs = tmp_path / "work" / "runs"
    for name in ("old", "recent", "r1"):
        (runs / name).mkdir(parents=True)
    old = time.time() - 10 * 86_400
    os.utime(runs / "old", (old, old))
    os.utime(runs / "r1", (old, old))  # the current run's folder is never removed
    command = RunMaintenance(run_id="r1", action="cleanup", settings={"keep_days": 7},
                             paths=paths(tmp_path))

    def work(scope: EffectScope) -> dict[str, Any]:
        return cleanup(command, ActionContext(scope, "k", 1, NOW))

    applied, details = apply_once(tmp_path / "warehouse.db", record(), work)
    assert applied
    assert details["removed"] == ["old"]
    assert sorted(p.name for p in runs.iterdir()) == ["r1", "recent"]
