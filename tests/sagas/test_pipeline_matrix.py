"""The note's decision matrix on synthetic streams: every row, every place a rollback shows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sagalog.events.pipeline import (
    CollectorFinished,
    HealingAction,
    LoaderFailed,
    LoaderFinished,
    PhaseError,
    PipelineConfig,
    PipelineFinished,
    PipelineStarted,
)
from sagalog.sagas.pipeline import PIPELINE_SAGA
from sagalog.sagas.testing import replay

CONFIG = PipelineConfig(dynamic_db_source_dir="/d", databaseSchemas_path="/s.json",
                        annotation_path="/a.json", default_dir="/o", target_db_path="/t.db",
                        report_dir="/r")
START = PipelineStarted(run_id="r1", config=CONFIG, config_path="/c.json",
                        requested_at=datetime(2024, 1, 1, tzinfo=UTC))
ROLLED_BACK = HealingAction(scale="local", status="SUCCESS")
NOT_ROLLED_BACK = HealingAction(scale="local", status="FAILED")


def collector(status: str = "success", rollback: str | None = None,
              healing: tuple[HealingAction, ...] = (),
              recovery: tuple[HealingAction, ...] = ()) -> CollectorFinished:
    errors = () if status == "success" else (
        PhaseError(data_type="t", error_type="TYPE_MISMATCH", error_message="bad",
                   recovery_actions=recovery),)
    return CollectorFinished(run_id="r1", agent="DataCollector", status=status,  # type: ignore[arg-type]
                             rollback_status=rollback, healing_actions=healing,  # type: ignore[arg-type]
                             errors=errors)


LOADED = LoaderFinished(run_id="r1", agent="DataLoaderAgent", status="success")
LOAD_FAILED = LoaderFailed(run_id="r1", agent="DataLoaderAgent", status="failed",
                           rollback_status="SUCCESS")


def ending(run) -> PipelineFinished:
    (end,) = [m for m in run.issued if isinstance(m, PipelineFinished)]
    return end


@pytest.mark.parametrize(("result", "why"), [
    (collector("success"), "collector succeeded (pos 2): proceed"),
    (collector("failed", "SUCCESS", (ROLLED_BACK,)),
     "collector failed and ROLLBACK_TO_BACKUP succeeded (pos 2): proceed"),
    # The note looks in the healing actions and in the error records' recovery actions too.
    (collector("failed", None, (ROLLED_BACK,)),
     "collector failed and ROLLBACK_TO_BACKUP succeeded (pos 2): proceed"),
    (collector("failed", None, (), (ROLLED_BACK,)),
     "collector failed and ROLLBACK_TO_BACKUP succeeded (pos 2): proceed"),
], ids=["success", "rollback-status", "healing-action", "recovery-action"])
def test_phase_two_proceeds(result: CollectorFinished, why: str) -> None:
    """Matrix rows 1 and 2: the load starts, and the decision says why."""
    run = replay(PIPELINE_SAGA, [START, result])
    assert run.rules() == ["start-stage", "start-stage"]
    assert run.command_types() == ["CollectData", "LoadData"]
    assert run.reasons()[-1] == (f"started stage load: load because CollectorFinished at 2; "
                                 f"gate decision-matrix: {why}")


@pytest.mark.parametrize("result", [
    collector("failed", "FAILED", (NOT_ROLLED_BACK,), (NOT_ROLLED_BACK,)),
    collector("failed", None),
], ids=["rollback-failed", "no-rollback"])
def test_phase_two_is_skipped_and_the_run_fails(result: CollectorFinished) -> None:
    """Matrix row 3: no LoadData, a recorded skip with its reason, overall failed."""
    run = replay(PIPELINE_SAGA, [START, result])
    reason = "collector failed and no successful rollback (pos 2): loader skipped"
    assert run.rules() == ["start-stage", "skip", "complete"]
    assert run.reasons()[1] == f"skipped stage load (load): {reason}"
    assert run.command_types() == ["CollectData"]
    end = ending(run)
    assert (end.overall_status, end.reason, end.loader_skipped) == ("failed", reason, True)
    assert end.loader_result is None


@pytest.mark.parametrize(("result", "loader", "status"), [
    (collector("success"), LOADED, "success"),
    (collector("failed", "SUCCESS", (ROLLED_BACK,)), LOADED, "partial_success"),
    (collector("success"), LOAD_FAILED, "failed"),
    (collector("failed", "SUCCESS", (ROLLED_BACK,)), LOAD_FAILED, "failed"),
])
def test_overall_status_is_the_notes(result: CollectorFinished,
                                     loader: LoaderFinished | LoaderFailed, status: str) -> None:
    """success: both succeeded; partial_success: phase 1 failed, rolled back, phase 2 ok;
    failed: anything else. The result carries both phases' results and a timestamp."""
    run = replay(PIPELINE_SAGA, [START, result, loader])
    end = ending(run)
    assert end.overall_status == status
    assert end.collector_result == result
    assert end.loader_result == loader
    assert set(end.result()) >= {"overall_status", "collector_result", "loader_result",
                                 "timestamp"}
    assert run.rules()[-1] == ("fail" if status == "failed" else "complete")


def test_the_same_stream_always_gives_the_same_end() -> None:
    """decide is pure: replaying the stream twice builds the same PipelineFinished."""
    stream = [START, collector("failed", "SUCCESS", (ROLLED_BACK,)), LOADED]
    first, second = replay(PIPELINE_SAGA, stream), replay(PIPELINE_SAGA, stream)
    assert first.reasons() == second.reasons()
    assert ending(first).overall_status == ending(second).overall_status == "partial_success"
