"""The outside-world adapters on a full disk: the store's typed fault, naming their file.

The demo ledger, the jobs database, the master pipeline's warehouse and the data
pipeline's target are SQLite files of their own. A full disk there is a fault of the
machine (for the runtime to wait out), not a failed effect or the adapter's own error:
each raises :class:`DiskFullError` naming the file. Real files on a real 512 KiB tmpfs
(as root; skipped where mounting is refused).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sagalog.actors import Ledger
from sagalog.actors._jobs_db import JobsDatabase
from sagalog.actors._master_effects import EffectRecord, EffectScope, apply_once
from sagalog.actors.pipeline import DataCollector, DataLoader, load_pipeline_config
from sagalog.events.pipeline import CollectData, LoadData
from sagalog.store import DiskFullError
from tests.sagas.pipeline_support import config_of, copy_example
from tests.support import fill_disk, free_bytes, small_disk


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A 512 KiB file system, unmounted when the test ends."""
    with small_disk(tmp_path / "disk") as folder:
        yield folder


def test_a_new_ledger_on_a_full_disk_is_a_disk_full_error_naming_it(disk: Path) -> None:
    fill_disk(disk)
    with pytest.raises(DiskFullError, match="the disk is full") as raised:
        Ledger(disk / "app.db.ledger")
    assert raised.value.path == str(disk / "app.db.ledger")


def apply_until_full(ledger: Ledger) -> tuple[int, DiskFullError]:
    """Record 3 KB effects until the disk is full: how many were recorded, and the error."""
    for number in range(10_000):
        try:
            ledger.apply("payments", f"order-{number}", "charged", {"pad": "x" * 3000})
        except DiskFullError as error:
            return number, error
    pytest.fail("10,000 effects of 3 KB did not fill a 512 KiB disk")


def test_a_ledger_filling_the_disk_keeps_what_it_recorded(disk: Path) -> None:
    """Effects recorded before the disk filled stay; the one that did not fit is typed."""
    path = disk / "app.db.ledger"
    with Ledger(path) as ledger:
        filler = fill_disk(disk, leave=48 * 1024)
        recorded, full = apply_until_full(ledger)
        assert recorded > 0
        assert full.path == str(path)
        filler.unlink()
        assert ledger.count() == recorded
        assert ledger.duplicates() == []


def test_the_jobs_database_on_a_full_disk_is_a_disk_full_error_naming_it(disk: Path) -> None:
    fill_disk(disk)
    with pytest.raises(DiskFullError) as raised, JobsDatabase.open(disk / "jobs.db"):
        pass
    assert raised.value.path == str(disk / "jobs.db")


def test_an_effect_on_a_full_warehouse_disk_is_a_disk_full_error(disk: Path) -> None:
    """Not a raw sqlite3 error, and nothing recorded as applied."""
    warehouse = disk / "warehouse.db"
    record = EffectRecord("k1", "r1", "integration", "ingest", 1, datetime(2026, 1, 1, tzinfo=UTC))

    def work(scope: EffectScope) -> dict[str, Any]:
        scope.connection.execute("CREATE TABLE IF NOT EXISTS t (x)")
        scope.connection.executemany("INSERT INTO t VALUES (?)", [("x" * 4000,)] * 400)
        return {"rows": 400}

    with pytest.raises(DiskFullError) as raised:
        apply_once(warehouse, record, work)
    assert raised.value.path == str(warehouse)


def test_a_load_that_fills_the_disk_raises_instead_of_failing_the_phase(
        tmp_path: Path, disk: Path) -> None:
    """The loader answers a full disk with DiskFullError (retry later), not a LoaderFailed
    that would fail the pipeline run for a fault of the machine."""
    project = copy_example(tmp_path)
    DataCollector().collect(CollectData(run_id="r", config=load_pipeline_config(
        config_of(project))), "c-1")
    target = disk / "target.db"  # the same project, its target on the small disk
    raw = json.loads(config_of(project).read_text(encoding="utf-8"))
    raw["target_db_path"] = str(target)
    on_disk = project / "on-disk.json"
    on_disk.write_text(json.dumps(raw), encoding="utf-8")
    loading = load_pipeline_config(on_disk)
    fill_disk(disk, leave=4096)  # the load marker fits; the target's first page does not
    assert free_bytes(disk) <= 4096
    with pytest.raises(DiskFullError) as raised:
        DataLoader().load(LoadData(run_id="r", config=loading), "l-1")
    assert raised.value.path == str(target)
