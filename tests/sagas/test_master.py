"""The master pipeline end to end: real actors, a real log, the built-in actions on real
files and SQLite, and a virtual clock for the 30 s retry waits. One test per decision path.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sagalog.actors import MockNotificationHandler, Runtime, VirtualClock
from sagalog.actors.master import effect_rows, read_monitoring, rebuild_monitoring
from sagalog.events import Envelope, Message
from sagalog.events.master import ActivityCommand, MasterPipelineFailed, OperationsNotified
from sagalog.events.sagas import SagaDecided
from sagalog.sagas._master_config import load_master_config
from sagalog.sagas.master import (
    add_master_workflow,
    resume_master,
    start_master_run,
    summarise_run,
    unfinished_master,
)
from tests.sagas.procs.master_worker import write_config

DOWNSTREAM = ("transformation", "monitoring", "maintenance", "semantic_refresh")
MODELS = {f"m{n}": {"query": "SELECT COUNT(*) AS sales FROM fct_sales"} for n in range(1, 6)}


@dataclass
class Run:
    records: list[Envelope[Message]]
    folder: Path
    handler: MockNotificationHandler
    summary: Any

    def of(self, type_name: str) -> list[Envelope[Message]]:
        return [r for r in self.records if r.type == type_name]

    def decisions(self, rule: str | None = None) -> list[SagaDecided]:
        return [r.data for r in self.records if isinstance(r.data, SagaDecided)
                and (rule is None or r.data.rule == rule)]

    def types(self) -> list[str]:
        return [r.type for r in self.records]

    @property
    def warehouse(self) -> Path:
        return self.folder / "work" / "warehouse.db"


def run_pipeline(tmp_path: Path, *, maintenance: bool = False, step: float = 30.0,
                 actions: dict[str, Any] | None = None, **config: Any) -> Run:
    """Run the pipeline once on a virtual clock, advancing it ``step`` s while it waits."""
    folder = tmp_path / "pipeline"
    path = write_config(folder, **config)
    clock = VirtualClock()
    handler = MockNotificationHandler()
    with Runtime(tmp_path / "log.db", durability="off", clock=clock) as runtime:
        loaded = load_master_config(path, environ={})
        add_master_workflow(runtime, config=loaded, actions=actions, handler=handler)
        start_master_run(runtime, loaded, maintenance=maintenance, run_id="r1")
        for _ in range(50):
            assert runtime.wait_until_idle(20)
            if not unfinished_master(runtime.store):
                break
            assert clock.wait_for_pending(1)
            clock.advance(step)
        assert runtime.wait_until_idle(20)
        records = list(runtime.store.read_correlation("r1"))
        summary = summarise_run(runtime.store, "r1")
    return Run(records, folder, handler, summary)


def test_every_stage_succeeds_and_unflagged_maintenance_is_skipped_with_its_reason(
        tmp_path: Path) -> None:
    """Five stages run in order, maintenance is recorded skipped, the run completes."""
    run = run_pipeline(tmp_path)
    starts = [d.reason for d in run.decisions("start-stage")]
    assert [reason.split(":")[0] for reason in starts] == [
        "started stage initialisation", "started stage integration",
        "started stage transformation", "started stage monitoring",
        "started stage semantic_refresh"]
    (skip,) = run.decisions("skip")
    assert skip.reason == ("skipped stage maintenance (maintenance): maintenance not flagged "
                           "for this run")
    assert run.decisions()[-1].rule == "complete"
    assert "MasterPipelineCompleted" in run.types()
    assert "RunMaintenance" not in run.types()
    assert run.summary.status == "completed"
    # The built-in actions did their real work.
    work = run.folder / "work"
    assert (work / "runs" / "r1" / "environment.json").exists()
    with sqlite3.connect(run.warehouse) as db:
        assert db.execute("SELECT COUNT(*) FROM fct_sales").fetchone()[0] == 8
        countries = db.execute("SELECT country FROM semantic_sales_by_country").fetchall()
    assert [c for (c,) in countries] == ["DE", "FR", "NL"]
    assert sorted(p.name for p in (work / "semantic").iterdir()) == [
        "daily_sales.json", "sales_by_country.json", "sales_by_segment.json"]
    stages = [row["stage"] for row in effect_rows(run.warehouse)]
    assert sorted(stages) == sorted(["initialisation", "integration", "transformation",
                                     "monitoring", *["semantic_refresh"] * 3])
    assert run.handler.sent == []


def test_maintenance_runs_when_flagged_and_removes_old_run_folders(tmp_path: Path) -> None:
    """--maintenance: the gate's reason is recorded with the stage's start; old folders go."""
    old = tmp_path / "pipeline" / "work" / "runs" / "old-run"
    old.mkdir(parents=True)
    month_ago = time.time() - 30 * 86_400
    os.utime(old, (month_ago, month_ago))
    run = run_pipeline(tmp_path, maintenance=True)
    started = [d.reason for d in run.decisions("start-stage") if "maintenance" in d.reason]
    assert len(started) == 1
    assert "gate maintenance-flag: maintenance flagged for this run" in started[0]
    assert run.decisions("skip") == []
    (done,) = run.of("MaintenanceSucceeded")
    assert done.data.details["removed"] == ["old-run"]  # type: ignore[attr-defined]
    assert not old.exists()
    assert (run.folder / "work" / "runs" / "r1").exists()
    assert run.summary.status == "completed"


def test_a_stage_failing_three_times_halts_every_stage_after_it(tmp_path: Path) -> None:
    """3 tries 30 s apart, then the run fails; each later stage is recorded skipped."""
    run = run_pipeline(tmp_path, fail={"integration": 3})
    failures = run.of("IntegrationFailed")
    assert [f.data.attempt for f in failures] == [1, 2, 3]  # type: ignore[attr-defined]
    retries = run.decisions("retry")
    assert [d.reason.split(" because ")[0] for d in retries] == [
        "retry integration in 30 s (try 2 of 3)", "tried integration again (try 2 of 3)",
        "retry integration in 30 s (try 3 of 3)", "tried integration again (try 3 of 3)"]
    # The waits, from the recorded times: each retry's command 30 s after the failure.
    commands = run.of("RunIntegration")
    waits = [(command.recorded_at - failure.recorded_at).total_seconds()
             for failure, command in zip(failures, commands[1:], strict=False)]
    assert waits == [30.0, 30.0]
    skips = run.decisions("skip")
    why = f"halted because integration failed: IntegrationFailed at {failures[-1].position}"
    assert [d.reason for d in skips] == [
        f"skipped stage {stage} ({stage}): {why}" for stage in DOWNSTREAM]
    assert not {"RunTransformation", "CheckLoads", "RunMaintenance",
                "RefreshSemanticModel"} & set(run.types())
    (failed,) = [r.data for r in run.records if isinstance(r.data, MasterPipelineFailed)]
    assert failed.stage == "integration"
    # Operations told once, and the telling recorded.
    subjects = [n.subject for n in run.handler.sent]
    assert subjects == ["master pipeline r1: stage integration failed"]
    (told,) = [r.data for r in run.records if isinstance(r.data, OperationsNotified)]
    assert (told.kind, told.stage, told.delivered) == ("failed", "integration", True)
    assert [s.status for s in run.summary.stages] == ["succeeded", "failed", "skipped",
                                                       "skipped", "skipped", "skipped"]


def test_a_stage_can_override_the_retry_policy(tmp_path: Path) -> None:
    """integration with 5 tries 10 s apart recovers on its 5th try; the run completes."""
    run = run_pipeline(tmp_path, step=10.0, fail={"integration": 4},
                       stages={"integration": {"retry": {"attempts": 5, "delay_s": 10}}})
    assert [d.reason.split(" because ")[0] for d in run.decisions("retry")][::2] == [
        f"retry integration in 10 s (try {n} of 5)" for n in range(2, 6)]
    assert len(run.of("RunIntegration")) == 5
    assert run.summary.status == "completed"
    # The other stages kept the default: monitoring (1 try in the example) and 3 elsewhere.
    assert run.summary.stages[1].attempts == 5


def test_semantic_refresh_never_runs_more_models_than_its_cap(tmp_path: Path) -> None:
    """5 models, cap 2, one failing once: never more than 2 in flight, by log position."""
    run = run_pipeline(tmp_path, semantic_models=MODELS,
                       fail={"semantic_refresh[m2]": 1})
    started: dict[str, int] = {}
    finished: dict[str, int] = {}
    for record in run.records:
        data = record.data
        if record.type == "RefreshSemanticModel":
            started.setdefault(data.item, record.position)  # type: ignore[attr-defined]
        elif record.type == "SemanticRefreshSucceeded":
            finished[data.item] = record.position  # type: ignore[attr-defined]
    assert set(started) == set(finished) == set(MODELS)
    in_flight = [sum(started[m] <= position < finished[m] for m in MODELS)
                 for position in range(min(started.values()), max(finished.values()) + 1)]
    assert max(in_flight) == 2
    assert len(run.of("RefreshSemanticModel")) == 6  # m2 twice
    assert any("(at most 2 at once)" in d.reason for d in run.decisions("item-succeeded"))
    assert run.summary.status == "completed"


def test_a_model_that_keeps_failing_fails_the_run_and_the_rest_never_start(
        tmp_path: Path) -> None:
    """Cap 1: m1 fails 3 times; m2..m5 are recorded as never started; operations told."""
    run = run_pipeline(tmp_path, semantic_models=MODELS, fail={"semantic_refresh[m1]": 3},
                       stages={"semantic_refresh": {"concurrency": 1}})
    assert {r.data.item for r in run.of("RefreshSemanticModel")} == {"m1"}  # type: ignore[attr-defined]
    maintenance, never = run.decisions("skip")
    assert "maintenance not flagged" in maintenance.reason
    assert never.reason.startswith("never started semantic_refresh[m2], semantic_refresh[m3], "
                                   "semantic_refresh[m4], semantic_refresh[m5]: halted because "
                                   "semantic_refresh[m1] failed")
    (failed,) = [r.data for r in run.records if isinstance(r.data, MasterPipelineFailed)]
    assert failed.stage == "semantic_refresh"
    assert len(run.handler.sent) == 1


def test_a_check_below_its_threshold_fails_monitoring_naming_the_table(tmp_path: Path) -> None:
    """An action that raises fails the try, with the error in the result and the table."""
    run = run_pipeline(tmp_path, stages={"monitoring": {
        "settings": {"thresholds": {"fct_sales": 100, "nowhere": 1}}}})
    (failure,) = run.of("MonitoringFailed")
    error = failure.data.error  # type: ignore[attr-defined]
    assert "fct_sales: 8 < 100" in error
    assert "nowhere: missing < 1" in error
    (row,) = [r for r in read_monitoring(run.folder / "work" / "monitoring.db")
              if r.stage == "monitoring"]
    assert (row.status, row.attempt, row.detail) == ("failed", 1, error)
    assert run.summary.status == "failed"
    assert [d.reason.split(":")[0] for d in run.decisions("skip")] == [
        "skipped stage maintenance (maintenance)",
        "skipped stage semantic_refresh (semantic_refresh)"]


def test_a_stage_past_its_target_duration_notifies_operations_once(tmp_path: Path) -> None:
    """integration recovers on its 3rd try, 60 s after its 1st, past a 45 s target."""
    run = run_pipeline(tmp_path, fail={"integration": 2},
                       stages={"integration": {"target_duration_s": 45}})
    assert run.summary.status == "completed"
    assert [(n.subject, n.message) for n in run.handler.sent] == [
        ("master pipeline r1: stage integration slow",
         "stage integration took 60 s, past its target of 45 s")]
    (told,) = [r.data for r in run.records if isinstance(r.data, OperationsNotified)]
    assert (told.kind, told.recipient) == ("slow", "ops-data-platform")


def test_monitoring_rows_one_per_try_and_rebuilt_from_the_log(tmp_path: Path) -> None:
    """Each try is a row with status, times and duration; a rebuild gives the same rows."""
    run = run_pipeline(tmp_path, fail={"integration": 2})
    db = run.folder / "work" / "monitoring.db"
    rows = read_monitoring(db, "r1")
    integration = [r for r in rows if r.stage == "integration"]
    assert [(r.attempt, r.status) for r in integration] == [
        (1, "failed"), (2, "failed"), (3, "succeeded")]
    assert all(r.duration_s is not None and r.ended is not None for r in rows)
    assert {r.activity for r in rows if r.stage == "semantic_refresh"} == {
        "refresh_semantic_model[sales_by_country]", "refresh_semantic_model[sales_by_segment]",
        "refresh_semantic_model[daily_sales]"}
    assert len(rows) == 4 + 2 + 3
    db.unlink()
    with Runtime(tmp_path / "log.db", durability="off") as runtime:
        assert rebuild_monitoring(runtime.store) == 1
    assert read_monitoring(db, "r1") == rows


def test_a_pluggable_action_replaces_a_built_in_one(tmp_path: Path) -> None:
    """A registered action runs with its command and context; unknown names fail the try."""
    seen: list[tuple[str, int]] = []

    def lookup(command: ActivityCommand, context: Any) -> dict[str, Any]:
        seen.append((command.stage, context.attempt))
        return {"workspace": command.environment["workspace_id"]}

    run = run_pipeline(tmp_path, actions={"lookup": lookup},
                       stages={"initialisation": {"action": "lookup"},
                               "integration": {"action": "nope", "retry": {"attempts": 1}}})
    assert seen == [("initialisation", 1)]
    (done,) = run.of("InitialisationSucceeded")
    assert done.data.details == {"workspace": "ws-dev-0001"}  # type: ignore[attr-defined]
    (failure,) = run.of("IntegrationFailed")
    assert "no action named 'nope'" in failure.data.error  # type: ignore[attr-defined]


def test_resume_rebuilds_the_workflow_from_the_log_alone(tmp_path: Path) -> None:
    """A run started with no workflow registered is finished by resume_master later."""
    path = write_config(tmp_path / "pipeline", stages={
        "integration": {"retry": {"attempts": 2, "delay_s": 5}}}, fail={"integration": 1})
    config = load_master_config(path, environ={})
    clock = VirtualClock()
    with Runtime(tmp_path / "log.db", durability="off", clock=clock) as runtime:
        start_master_run(runtime, config, run_id="later")
        assert unfinished_master(runtime.store) == {"later"}
    with Runtime(tmp_path / "log.db", durability="off", clock=clock) as runtime:
        definition = add_master_workflow(runtime, handler=MockNotificationHandler())
        assert definition.steps_by_name["integration"].retry.attempts == 2
        assert runtime.wait_until_idle(20)
        assert clock.wait_for_pending(1)
        clock.advance(5)
        assert runtime.wait_until_idle(20)
        assert unfinished_master(runtime.store) == set()
        assert summarise_run(runtime.store, "later").status == "completed"
    with Runtime(tmp_path / "log.db", durability="off", clock=clock) as runtime:
        assert resume_master(runtime, handler=MockNotificationHandler()) == {}


def test_a_full_disk_in_an_action_pauses_the_try_instead_of_failing_it(tmp_path: Path) -> None:
    """ENOSPC from an action's own write: the same try again once space is back, no failure.

    A full disk says nothing about the stage: counting it as a failed try would spend the
    retries (and with one try, fail the run) on a fault of the machine.
    """
    calls: list[int] = []

    def lookup(command: ActivityCommand, context: Any) -> dict[str, Any]:
        calls.append(context.attempt)
        if len(calls) <= 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "out.db"))
        return {"workspace": command.environment["workspace_id"]}

    folder = tmp_path / "pipeline"
    path = write_config(folder, stages={"initialisation": {"action": "lookup",
                                                          "retry": {"attempts": 1}}})
    clock = VirtualClock()
    with Runtime(tmp_path / "log.db", durability="off", clock=clock) as runtime:
        loaded = load_master_config(path, environ={})
        add_master_workflow(runtime, config=loaded, actions={"lookup": lookup},
                            handler=MockNotificationHandler())
        start_master_run(runtime, loaded, run_id="r1")
        for _ in range(200):  # the pause backs off on the virtual clock: move it on
            if runtime.wait_until_idle(0.05) and not unfinished_master(runtime.store):
                break
            if clock.wait_for_pending(1):
                clock.advance(30.0)
        assert not unfinished_master(runtime.store)
        records = list(runtime.store.read_correlation("r1"))
    assert calls == [1, 1, 1]  # one try, paused twice, never counted as failed
    assert not [r for r in records if r.type == "InitialisationFailed"]
    (done,) = [r for r in records if r.type == "InitialisationSucceeded"]
    assert done.data.attempt == 1  # type: ignore[attr-defined]
