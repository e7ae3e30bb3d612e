"""Which steps the report marks failed: by type, and by a result's own status."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sagalog.sagas.history import errors_of, read_timeline, steps_of
from sagalog.sagas.pipeline import PIPELINE_SAGA
from sagalog.store import open_store
from tests.sagas.pipeline_support import break_schema, copy_example, run_pipeline

if TYPE_CHECKING:
    from pathlib import Path


def test_a_collector_that_answers_with_status_failed_is_a_failed_step(tmp_path: Path) -> None:
    """``CollectorFinished(status="failed")`` succeeds for the saga but is drawn as failed.

    The saga counts any ``CollectorFinished`` as the step's result (its gate reads the
    status); the engineer reading the report must still see the collector failed.
    """
    project = copy_example(tmp_path)
    db = tmp_path / "log.db"
    good = run_pipeline(project, db)
    break_schema(project)
    broken = run_pipeline(project, db)
    with open_store(db, read_only=True) as store:
        kinds = {
            run_id: {step.command.record.type: step.kind
                     for step in steps_of(read_timeline(store, run_id), PIPELINE_SAGA)}
            for run_id in (good.run_id, broken.run_id)}
        errors = [entry.record.type
                  for entry in errors_of(read_timeline(store, broken.run_id), PIPELINE_SAGA)]
    assert kinds[good.run_id]["CollectData"] == "ok"
    assert kinds[good.run_id]["LoadData"] == "ok"
    assert kinds[broken.run_id]["CollectData"] == "failed"
    assert kinds[broken.run_id]["LoadData"] == "ok"  # the rollback restored good data
    assert errors == ["CollectorFinished"]  # the run's partial_success is not a failure
