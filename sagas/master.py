"""The master pipeline: six stages, each halting the rest on failure.

initialisation -> integration -> transformation -> monitoring -> maintenance (only when
the run is flagged) -> semantic refresh (a fan-out over the semantic models, at most
``concurrency`` at once). Each stage's activity is tried by its retry policy (3 tries,
30 s apart, unless the configuration says otherwise for the stage); a stage that still
fails ends the run, and the saga records every later stage as skipped, with the reason.

The retry policies and the fan-out cap are part of the saga definition, so they are
read from the configuration when the workflow is registered: from the file for a new
run, from the newest unfinished run's start event for a resume (see
:func:`add_master_workflow`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from loguru import logger

from sagalog.actors import (
    MockNotificationHandler,
    NotificationHandlerProtocol,
    RetryPolicy,
    Runtime,
)
from sagalog.actors.master import (
    Action,
    FileNotificationHandler,
    MasterActivities,
    MonitoringProjection,
    OperationsWatch,
)
from sagalog.events import Envelope, Event, Message, SagalogError
from sagalog.events.master import (
    ACTIVITY_COMMANDS,
    ACTIVITY_FAILURES,
    ACTIVITY_SUCCESSES,
    STAGES,
    ActivityCommand,
    ActivityFailed,
    ActivitySucceeded,
    MasterConfig,
    MasterPipelineCompleted,
    MasterPipelineFailed,
    MasterPipelineStarted,
    OperationsNotified,
    RetrySettings,
)
from sagalog.events.sagas import SagaDecided
from sagalog.sagas._actor import saga_actor
from sagalog.sagas._definition import ForEach, Gate, Results, SagaDefinition, Stage, Step, Verdict
from sagalog.sagas._master_config import load_master_config
from sagalog.sagas._waiting import next_batch
from sagalog.store import EventStoreProtocol

__all__ = [
    "MASTER_SAGA_NAME",
    "MASTER_TERMINAL_TYPES",
    "MasterSummary",
    "StageOutcome",
    "add_master_workflow",
    "master_saga",
    "master_stream",
    "resume_master",
    "run_master_pipeline",
    "start_master_run",
    "summarise_run",
    "unfinished_master",
    "wait_for_master",
]

MASTER_SAGA_NAME = "master-pipeline"
MASTER_TERMINAL_TYPES = ("MasterPipelineCompleted", "MasterPipelineFailed",
                         "ManualReviewRequired")
"""The events that end a run."""

FAN_OUT = "semantic_refresh"
_RUN_IDS = uuid.UUID("5b0c8a52-1f7e-4f0e-9d0a-2c6a3e0f4d11")


def _started(start: Event) -> MasterPipelineStarted:
    assert isinstance(start, MasterPipelineStarted)  # noqa: S101 - the saga starts only on it
    return start


def master_stream(run_id: str) -> str:
    """The stream of one run: its start, commands, results and decisions."""
    return f"master-{run_id}"


def _policy(settings: RetrySettings) -> RetryPolicy:
    return RetryPolicy(attempts=settings.attempts, delay=settings.delay_s)


def _command(stage: str) -> Callable[[Event], ActivityCommand]:
    def build(start: Event) -> ActivityCommand:
        started = _started(start)
        config = started.config
        return ACTIVITY_COMMANDS[stage](
            run_id=started.run_id, action=config.stages[stage].action,
            settings=config.stages[stage].settings, environment=config.environment,
            paths=config.paths, fail_first=config.fail.get(stage, 0),
        )
    return build


def _item_command(start: Event, item: str) -> ActivityCommand:
    started = _started(start)
    config = started.config
    model = config.semantic_models[item]
    return ACTIVITY_COMMANDS[FAN_OUT](
        run_id=started.run_id, action=config.stages[FAN_OUT].action, item=item,
        settings={**config.stages[FAN_OUT].settings, **model.model_dump()},
        environment=config.environment, paths=config.paths,
        fail_first=config.fail.get(f"{FAN_OUT}[{item}]", 0),
    )


def _item_of(result: Event) -> str:
    return result.item if isinstance(result, ActivitySucceeded | ActivityFailed) else ""


def _maintenance_flagged(start: Event) -> Verdict:
    if _started(start).maintenance:
        return Verdict(passed=True, reason="maintenance flagged for this run")
    return Verdict(passed=False, reason="maintenance not flagged for this run")


def _failed_stage(reason: str, results: Results) -> str:
    """The stage a failure reason names (``"<step>[item] failed: ..."``)."""
    stage = reason.partition(" failed: ")[0].partition("[")[0]
    if stage in STAGES:
        return stage
    failures = [r for r in results.values() if isinstance(r.data, ActivityFailed)]
    return failures[-1].data.stage if failures else "unknown"  # type: ignore[attr-defined]


def master_saga(config: MasterConfig | None = None) -> SagaDefinition:
    """The saga, with the retry policies and fan-out cap of ``config`` (defaults if None)."""
    default = config.retry if config is not None else RetrySettings()

    def retry(stage: str) -> RetryPolicy:
        own = config.stages[stage].retry if config is not None and stage in config.stages \
            else None
        return _policy(own or default)

    cap = config.concurrency if config is not None else 2
    if config is not None and FAN_OUT in config.stages:
        cap = config.stages[FAN_OUT].concurrency or cap

    def single(stage: str, gate: Gate | None = None) -> Stage:
        return Stage((Step(stage, command=_command(stage),
                           succeeded=(ACTIVITY_SUCCESSES[stage],),
                           failed=(ACTIVITY_FAILURES[stage],), retry=retry(stage)),),
                     gate=gate, name=stage)

    return SagaDefinition(
        name=MASTER_SAGA_NAME,
        start=MasterPipelineStarted,
        saga_id=lambda start: _started(start).run_id,
        stream=lambda start: master_stream(_started(start).run_id),
        stages=(
            single("initialisation"),
            single("integration"),
            single("transformation"),
            single("monitoring"),
            single("maintenance", Gate("maintenance-flag", _maintenance_flagged)),
            Stage((ForEach(
                FAN_OUT, items=lambda start: list(_started(start).config.semantic_models),
                command=_item_command, item_of=_item_of,
                succeeded=(ACTIVITY_SUCCESSES[FAN_OUT],), failed=(ACTIVITY_FAILURES[FAN_OUT],),
                concurrency=cap, retry=retry(FAN_OUT),
            ),), name=FAN_OUT),
        ),
        completed=lambda start: MasterPipelineCompleted(run_id=_started(start).run_id),
        failed=lambda start, reason, _undone, results: MasterPipelineFailed(
            run_id=_started(start).run_id, stage=_failed_stage(reason, results), reason=reason),
    )


# -- registering and running -------------------------------------------------------------


def _newest_unfinished_config(store: EventStoreProtocol) -> MasterConfig | None:
    pending = unfinished_master(store)
    newest = None
    for record in store.read_all(types=[MasterPipelineStarted]):
        if record.correlation_id in pending:
            newest = _started(record.data).config  # type: ignore[arg-type]
    return newest


def add_master_workflow(
    runtime: Runtime,
    *,
    config: MasterConfig | None = None,
    actions: Mapping[str, Action] | None = None,
    handler: NotificationHandlerProtocol | None = None,
) -> SagaDefinition:
    """Register the activity runner, the projection, the operations watch and the saga.

    Args:
        runtime: a running runtime (the log is read when ``config`` is None).
        config: whose retry policies and cap the saga uses; None takes them from the
            newest unfinished run in the log (defaults if there is none). Runs resumed
            together share one definition: resume them with the configuration they
            started with.
        actions: extra actions by name (see :class:`actors.master.MasterActivities`).
        handler: the operations channel (default: a notifications file in the work
            directory, or a mock when there is no configuration).

    """
    if config is None:
        config = _newest_unfinished_config(runtime.store)
    if handler is None:
        handler = (FileNotificationHandler(Path(config.paths.work_dir) / "notifications.jsonl")
                   if config is not None else MockNotificationHandler())
    definition = master_saga(config)
    runtime.add(MasterActivities, actions, name="master:activities")
    runtime.add(MonitoringProjection, name="master:monitoring")
    runtime.add(OperationsWatch, handler, name="master:operations")
    runtime.add(saga_actor(definition), name=f"saga:{MASTER_SAGA_NAME}")
    return definition


def start_master_run(runtime: Runtime, config: MasterConfig, *, maintenance: bool = False,
                     run_id: str | None = None) -> str:
    """Append a run's start (idempotent per run id); return the run id."""
    if run_id is None:
        stamp = runtime.clock.now().strftime("%Y%m%dT%H%M%S")
        run_id = f"{stamp}-{uuid.uuid4().hex[:6]}"
    started = MasterPipelineStarted(run_id=run_id, maintenance=maintenance, config=config)
    runtime.append(master_stream(run_id), [started], correlation_id=run_id,
                   event_ids=[uuid.uuid5(_RUN_IDS, run_id)])
    logger.bind(saga=run_id).info("master pipeline run {} started", run_id)
    return run_id


def unfinished_master(store: EventStoreProtocol) -> set[str]:
    """Runs started whose terminal event is not in the log."""
    started: set[str] = set()
    ended: set[str] = set()
    for record in store.read_all(types=["MasterPipelineStarted", *MASTER_TERMINAL_TYPES]):
        if record.type == "MasterPipelineStarted":
            started.add(record.correlation_id or "")
        elif record.type != "ManualReviewRequired" or record.stream_id.startswith("master-"):
            ended.add(record.correlation_id or "")
    return started - ended


def wait_for_master(runtime: Runtime, run_ids: set[str], *, timeout: float = 3600.0,
                    on_record: Callable[[Envelope[Message]], None] | None = None,
                    from_position: int = 1) -> dict[str, str]:
    """Block until each run has ended (looking from ``from_position``); run id -> terminal type.

    ``on_record`` sees each record of those runs as it arrives (for progress).

    Raises:
        ActorGaveUpError: the runtime gave up on an actor (see ``Runtime.check_actors``).
        TimeoutError: no record arrived for ``timeout`` seconds.

    """
    outcome: dict[str, str] = {}
    subscription = runtime.store.subscribe(from_position)
    try:
        while len(outcome) < len(run_ids):
            batch = next_batch(runtime, subscription, 500, timeout,
                               lambda: f"{len(run_ids) - len(outcome)} master runs")
            for record in batch:
                run = record.correlation_id or ""
                if run not in run_ids:
                    continue
                if on_record is not None:
                    on_record(record)
                if record.type in MASTER_TERMINAL_TYPES and run not in outcome:
                    outcome[run] = record.type
    finally:
        subscription.close()
    return outcome


def resume_master(runtime: Runtime, *, actions: Mapping[str, Action] | None = None,
                  handler: NotificationHandlerProtocol | None = None,
                  timeout: float = 3600.0) -> dict[str, str]:
    """Register the workflow from the log alone and wait for every unfinished run."""
    add_master_workflow(runtime, actions=actions, handler=handler)
    pending = unfinished_master(runtime.store)
    outcome = wait_for_master(runtime, pending, timeout=timeout) if pending else {}
    runtime.wait_until_idle(timeout=30.0)  # the projection and the watch catch up too
    return outcome


# -- the outcome, stage by stage ----------------------------------------------------------


@dataclass(frozen=True)
class StageOutcome:
    """What became of one stage in one run."""

    stage: str
    status: str
    """succeeded, failed, skipped, running or not started."""
    attempts: int = 0
    """Tries made (for the fan-out stage, over all items)."""
    items: int = 0
    """Items of the fan-out stage that were started."""
    duration_s: float | None = None
    reason: str = ""


@dataclass(frozen=True)
class MasterSummary:
    """A run's outcome, as the command line prints it."""

    run_id: str
    status: str
    """completed, failed or running."""
    stages: list[StageOutcome] = field(default_factory=list)
    notifications: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The outcome as lines of text, one per stage."""
        out = [f"master pipeline run {self.run_id}: {self.status}"]
        for stage in self.stages:
            took = "" if stage.duration_s is None else f" in {stage.duration_s:.2f} s"
            items = f", {stage.items} items" if stage.items else ""
            tries = f", {stage.attempts} tries" if stage.attempts > max(stage.items, 1) else ""
            why = f": {stage.reason}" if stage.reason else ""
            out.append(f"  {stage.stage:<16} {stage.status}{took}{items}{tries}{why}")
        out += [f"  operations told: {text}" for text in self.notifications]
        return out


def _stage_outcome(stage: str, records: list[Envelope[Message]]) -> StageOutcome:
    command = ACTIVITY_COMMANDS[stage].message_type
    success, failure = ACTIVITY_SUCCESSES[stage].message_type, ACTIVITY_FAILURES[stage].message_type
    commands = [r for r in records if isinstance(r.data, ActivityCommand) and r.type == command]
    skipped = [r.data.reason for r in records if isinstance(r.data, SagaDecided)
               and r.data.rule == "skip" and f"stage {stage} " in r.data.reason]
    if not commands:
        if skipped:
            return StageOutcome(stage, "skipped", reason=skipped[0])
        return StageOutcome(stage, "not started")
    results = [r for r in records if r.type in (success, failure)]
    end: datetime | None = results[-1].recorded_at if results else None
    took = None if end is None else (end - commands[0].recorded_at).total_seconds()
    items = {r.data.item for r in commands}  # type: ignore[attr-defined]
    fan_out = len(items) if stage == FAN_OUT else 0
    failed = [r.data for r in records if isinstance(r.data, MasterPipelineFailed)
              and r.data.stage == stage]
    if failed:
        return StageOutcome(stage, "failed", attempts=len(commands), duration_s=took,
                            reason=failed[0].reason, items=fan_out)
    done = {r.data.item for r in results if r.type == success}  # type: ignore[attr-defined]
    finished = done >= items and (stage != FAN_OUT or _fan_out_done(records))
    return StageOutcome(stage, "succeeded" if finished else "running", attempts=len(commands),
                        duration_s=took, reason="; ".join(skipped), items=fan_out)


def _fan_out_done(records: list[Envelope[Message]]) -> bool:
    start = next(r.data for r in records if isinstance(r.data, MasterPipelineStarted))
    success = ACTIVITY_SUCCESSES[FAN_OUT].message_type
    done = {r.data.item for r in records if r.type == success}  # type: ignore[attr-defined]
    return done >= set(start.config.semantic_models)


def summarise_run(store: EventStoreProtocol, run_id: str) -> MasterSummary:
    """The run's outcome, stage by stage, read from the log."""
    records = list(store.read_correlation(run_id))
    if not any(isinstance(r.data, MasterPipelineStarted) for r in records):
        raise SagalogError(f"no master pipeline run {run_id!r} in the log")
    status = "running"
    for record in records:
        if record.type == "MasterPipelineCompleted":
            status = "completed"
        elif record.type in ("MasterPipelineFailed", "ManualReviewRequired"):
            status = "failed"
    stages = [_stage_outcome(stage, records) for stage in STAGES]
    told = [r.data.reason for r in records if isinstance(r.data, OperationsNotified)]
    return MasterSummary(run_id, status, stages, told)


def run_master_pipeline(
    runtime: Runtime,
    config_path: str | Path,
    maintenance: bool = False,  # noqa: FBT001, FBT002 - the CLI flag, by position as documented
    *,
    actions: Mapping[str, Action] | None = None,
    handler: NotificationHandlerProtocol | None = None,
    environ: Mapping[str, str] | None = None,
    on_record: Callable[[Envelope[Message]], None] | None = None,
    timeout: float = 3600.0,
) -> MasterSummary:
    """Load the configuration, run the pipeline once, wait for its end; its summary."""
    config = load_master_config(config_path, environ)
    add_master_workflow(runtime, config=config, actions=actions, handler=handler)
    head = runtime.store.last_position()
    run_id = start_master_run(runtime, config, maintenance=maintenance)
    wait_for_master(runtime, {run_id}, timeout=timeout, on_record=on_record,
                    from_position=head + 1)
    runtime.wait_until_idle(timeout=30.0)  # let the projection and the watch catch up
    return summarise_run(runtime.store, run_id)
