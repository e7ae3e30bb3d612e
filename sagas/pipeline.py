"""The two-phase data pipeline: collect, then load behind the decision matrix.

Stage ``collect`` runs the collector; its ``CollectorFinished`` counts as the step's
success whatever its status, because phase 2 is decided from that status. Stage
``load`` sits behind the gate ``decision-matrix``, which is the note's table:

=============  ===============  ==============
Phase 1        Rollback         Phase 2
=============  ===============  ==============
success        n/a              proceed
failed         SUCCESS          proceed
failed         FAILED / none    skip
=============  ===============  ==============

Each verdict is recorded (``SagaDecided``) with its reason, naming the collector's
result by position. The run ends with ``PipelineFinished``: ``success`` when both
phases succeeded, ``partial_success`` when phase 1 failed but was rolled back and phase
2 succeeded, ``failed`` otherwise (phase 2 skipped or failed, or a phase crashed). A
run that is not a success gets a manual review report (the reporter actor).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sagalog.actors import NotificationHandlerProtocol, Runtime
from sagalog.actors.pipeline import (
    CollectorActor,
    DataCollector,
    DataLoader,
    LoaderActor,
    PipelineReporter,
    load_pipeline_config,
)
from sagalog.events import Envelope, Event, Message
from sagalog.events.pipeline import (
    CollectData,
    CollectorFinished,
    LoadData,
    LoaderFailed,
    LoaderFinished,
    ManualReviewReportWritten,
    PipelineFinished,
    PipelineStarted,
)
from sagalog.sagas._actor import saga_actor
from sagalog.sagas._definition import Gate, Results, SagaDefinition, Stage, Step, Verdict
from sagalog.sagas._waiting import next_batch
from sagalog.store import EventStoreProtocol

__all__ = [
    "PIPELINE_SAGA",
    "PIPELINE_TERMINAL_TYPES",
    "add_pipeline_workflow",
    "load_pipeline_config",
    "phase2_verdict",
    "pipeline_stream",
    "resume_pipelines",
    "rollback_succeeded",
    "run_data_pipeline",
    "start_pipeline",
    "unfinished_pipelines",
    "wait_for_pipelines",
]

PIPELINE_TERMINAL_TYPES = ("PipelineFinished",)
"""The event that ends a run's saga (a run is settled once its report, if any, is written)."""

_SETTLING_TYPES = ("PipelineStarted", "PipelineFinished", "ManualReviewReportWritten")


def _started(start: Event) -> PipelineStarted:
    assert isinstance(start, PipelineStarted)  # noqa: S101 - the saga starts only on this
    return start


def pipeline_stream(run_id: str) -> str:
    """The stream of one run: its start, commands, results, decisions and end."""
    return f"pipeline-{run_id}"


def rollback_succeeded(result: CollectorFinished) -> bool:
    """Whether a ROLLBACK_TO_BACKUP succeeded.

    Looked for in the rollback status, the healing actions, and the recovery actions of
    the error records (the note's two places to look).
    """
    if result.rollback_status == "SUCCESS":
        return True
    actions = [*result.healing_actions,
               *(action for error in result.errors for action in error.recovery_actions)]
    return any(action.action_name == "ROLLBACK_TO_BACKUP" and action.status == "SUCCESS"
               for action in actions)


def phase2_verdict(_start: Event, results: Results) -> Verdict:
    """The note's decision matrix: whether phase 2 runs, and why, in words."""
    collected = results.get("collect")
    if collected is None or not isinstance(collected.data, CollectorFinished):
        return Verdict(passed=False, reason="no collector result: loader skipped")
    result, position = collected.data, collected.position
    if result.status == "success":
        return Verdict(passed=True, reason=f"collector succeeded (pos {position}): proceed")
    if rollback_succeeded(result):
        return Verdict(passed=True, reason=f"collector failed and ROLLBACK_TO_BACKUP "
                                           f"succeeded (pos {position}): proceed")
    return Verdict(passed=False, reason=f"collector failed and no successful rollback "
                                        f"(pos {position}): loader skipped")


def _result_of(results: Results, step: str) -> tuple[Any, datetime | None]:
    envelope = results.get(step)
    return (None, None) if envelope is None else (envelope.data, envelope.recorded_at)


def _finished(start: Event, results: Results, status: str, reason: str,
              *, skipped: bool = False) -> PipelineFinished:
    """The terminal event; its time is the last result's, so a replay builds the same one."""
    run = _started(start)
    collector, collected_at = _result_of(results, "collect")
    loader, loaded_at = _result_of(results, "load")
    times = [t for t in (collected_at, loaded_at) if t is not None]
    timestamp = max(times) if times else run.requested_at
    return PipelineFinished.model_validate({
        "run_id": run.run_id, "overall_status": status, "collector_result": collector,
        "loader_result": loader, "timestamp": timestamp, "reason": reason,
        "loader_skipped": skipped, "config": run.config,
        "duration_s": max(0.0, (timestamp - run.requested_at).total_seconds()),
    })


def completed(start: Event, results: Results) -> PipelineFinished:
    """Both stages done, or the load skipped by the matrix."""
    verdict = phase2_verdict(start, results)
    if not verdict.passed:
        return _finished(start, results, "failed", verdict.reason, skipped=True)
    collector = results["collect"].data
    assert isinstance(collector, CollectorFinished)  # noqa: S101 - the gate checked it
    status = "success" if collector.status == "success" else "partial_success"
    return _finished(start, results, status, f"{verdict.reason}; loader succeeded")


def failed(start: Event, reason: str, _undone: list[str], results: Results) -> PipelineFinished:
    """The loader failed (the target was restored), or a phase crashed (a dead letter)."""
    return _finished(start, results, "failed", reason)


PIPELINE_SAGA = SagaDefinition(
    name="data-pipeline",
    start=PipelineStarted,
    saga_id=lambda start: _started(start).run_id,
    stream=lambda start: pipeline_stream(_started(start).run_id),
    stages=(
        Stage((
            Step("collect",
                 command=lambda s: CollectData(run_id=_started(s).run_id,
                                               config=_started(s).config),
                 succeeded=(CollectorFinished,), failed=()),
        ), name="collect"),
        Stage((
            Step("load",
                 command=lambda s: LoadData(run_id=_started(s).run_id, config=_started(s).config),
                 succeeded=(LoaderFinished,), failed=(LoaderFailed,)),
        ), gate=Gate("decision-matrix", phase2_verdict), name="load"),
    ),
    completed=completed,
    failed=failed,
)
"""The data pipeline saga (registered type names in :mod:`events.pipeline`)."""


def add_pipeline_workflow(
    runtime: Runtime,
    handler: NotificationHandlerProtocol | None = None,
    *,
    collector: DataCollector | None = None,
    loader: DataLoader | None = None,
) -> None:
    """Register both phases, the saga and the reporter.

    Needs no configuration: each run's is in its start event, so a resume needs only the
    log. ``handler`` sends the reports (default: each run's outbox file).
    """
    runtime.add(CollectorActor, collector, name="pipeline:collector")
    runtime.add(LoaderActor, loader, name="pipeline:loader")
    runtime.add(saga_actor(PIPELINE_SAGA), name="saga:data-pipeline")
    runtime.add(PipelineReporter, handler, name="pipeline:reporter")


def start_pipeline(runtime: Runtime, config_path: str | Path, run_id: str | None = None) -> str:
    """Read the configuration and append a run's start; return its run id.

    Raises:
        PipelineConfigError: the configuration file is missing or wrong (nothing appended).

    """
    config = load_pipeline_config(config_path)
    now = datetime.now(UTC)
    run_id = run_id or f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    started = PipelineStarted(run_id=run_id, config=config,
                              config_path=str(Path(config_path).absolute()), requested_at=now)
    runtime.append(pipeline_stream(run_id), [started], correlation_id=run_id)
    return run_id


def _settled(record: Envelope[Message]) -> bool:
    data = record.data
    if isinstance(data, ManualReviewReportWritten):
        return True
    return isinstance(data, PipelineFinished) and data.overall_status == "success"


def unfinished_pipelines(store: EventStoreProtocol) -> set[str]:
    """Runs started whose end is not settled.

    Settled means a ``PipelineFinished`` that is a success, or, for one that is not,
    the ``ManualReviewReportWritten`` after it.
    """
    started: set[str] = set()
    settled: set[str] = set()
    for record in store.read_all(types=list(_SETTLING_TYPES)):
        run_id = record.correlation_id or ""
        if isinstance(record.data, PipelineStarted):
            started.add(run_id)
        elif _settled(record):
            settled.add(run_id)
    return started - settled


def wait_for_pipelines(
    runtime: Runtime,
    runs: set[str],
    on_end: Callable[[str, dict[str, object]], None] = lambda _run, _result: None,
    timeout: float = 600.0,
) -> dict[str, dict[str, object]]:
    """Block until each run is settled; return run id -> the note's result dict.

    A result not a success also carries ``report_path`` (its manual review report).

    Raises:
        ActorGaveUpError: the runtime gave up on an actor (see ``Runtime.check_actors``).
        TimeoutError: no run settled for ``timeout`` seconds while some were left.

    """
    results: dict[str, dict[str, object]] = {}
    finished: dict[str, dict[str, object]] = {}
    subscription = runtime.store.subscribe(1, types=list(_SETTLING_TYPES[1:]))
    try:
        while len(results) < len(runs):
            batch = next_batch(runtime, subscription, 100, timeout,
                               lambda: f"{len(runs) - len(results)} pipeline runs")
            for record in batch:
                run_id = record.correlation_id or ""
                if run_id not in runs or run_id in results:
                    continue
                data = record.data
                if isinstance(data, PipelineFinished):
                    finished[run_id] = data.result()
                if isinstance(data, ManualReviewReportWritten):
                    finished[run_id] = {**finished.get(run_id, {}), "report_path": data.path}
                if _settled(record):
                    results[run_id] = finished[run_id]
                    on_end(run_id, results[run_id])
    finally:
        subscription.close()
    return results


def resume_pipelines(runtime: Runtime, timeout: float = 600.0) -> dict[str, dict[str, object]]:
    """Finish every unfinished run of the log (the workflow must be added); their results."""
    pending = unfinished_pipelines(runtime.store)
    return wait_for_pipelines(runtime, pending, timeout=timeout) if pending else {}


def run_data_pipeline(runtime: Runtime, config_path: str | Path,
                      timeout: float = 600.0) -> dict[str, object]:
    """Run the pipeline of ``config_path`` to its end and return the note's result dict.

    If a run of the same configuration file was interrupted (a crash), that run is
    finished instead of starting a new one, so its phases are not applied again.

    Raises:
        PipelineConfigError: the configuration file is missing or wrong.
        TimeoutError: the run did not end within ``timeout`` seconds.

    """
    load_pipeline_config(config_path)  # a bad file fails here, before anything is appended
    path = str(Path(config_path).absolute())
    pending = unfinished_pipelines(runtime.store)
    interrupted = sorted(
        record.correlation_id or "" for record in runtime.store.read_all(types=[PipelineStarted])
        if record.correlation_id in pending and isinstance(record.data, PipelineStarted)
        and record.data.config_path == path
    )
    run_id = interrupted[-1] if interrupted else start_pipeline(runtime, config_path)
    result = wait_for_pipelines(runtime, {run_id}, timeout=timeout)[run_id]
    return {**result, "resumed": bool(interrupted)}
