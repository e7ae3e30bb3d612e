"""The job saga: route, run the data pipeline, then follow up by type.

Jobs arrive raw on the pending queue; the router (:class:`actors.jobs.JobRouter`)
accepts or rejects each. An accepted job starts this saga:

1. ``pipeline``: :class:`StartJob` goes to the job type's start queue; the data
   pipeline answers :class:`JobFinished` (ok or failed) on the finished queue.
2. ``status`` (custom jobs only): the job's final status is written to the ``jobs``
   table of the jobs database.
3. ``indexers`` (default jobs whose pipeline succeeded): the search indexers index the
   job's documents.

Each gate records why it let its stage run or not. The job ends with
:class:`JobCompleted`, or :class:`JobFailed` when the pipeline failed (after its
status was recorded) or a step failed.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from sagalog.actors import Runtime
from sagalog.actors.jobs import (
    DataPipeline,
    IndexerProtocol,
    JobPayloadTooLargeError,
    JobRouter,
    JobStatusService,
    SearchIndexers,
    check_payload_size,
    job_stream,
)
from sagalog.events import Event, SagalogError
from sagalog.events.jobs import (
    JOB_ID_PATTERN,
    CustomJob,
    IndexersFailed,
    IndexersRan,
    JobAccepted,
    JobCompleted,
    JobFailed,
    JobFinished,
    JobsConfig,
    JobStatusUpdated,
    JobSubmitted,
    RunIndexers,
    StartJob,
    UpdateJobStatus,
)
from sagalog.events.runtime import HandlerFailed
from sagalog.sagas._actor import saga_actor
from sagalog.sagas._definition import Gate, Results, SagaDefinition, Stage, Step, Verdict
from sagalog.sagas._jobs_config import JobsConfigError, load_jobs_config
from sagalog.store import EventStoreProtocol, open_store

__all__ = [
    "JOBS_TERMINAL_TYPES",
    "JOB_SAGA",
    "JobPayloadTooLargeError",
    "JobsConfigError",
    "add_jobs_workflow",
    "jobs_summary",
    "load_jobs_config",
    "resume_jobs",
    "submit_job",
    "submit_job_files",
    "unfinished_jobs",
]

JOBS_TERMINAL_TYPES = ("JobCompleted", "JobFailed", "ManualReviewRequired")
"""The events that end an accepted job (a rejected submission ends as ``JobRejected``)."""


def _accepted(start: Event) -> JobAccepted:
    assert isinstance(start, JobAccepted)  # noqa: S101 - the saga starts only on JobAccepted
    return start


def _finished(results: Results) -> tuple[JobFinished, int]:
    envelope = results["pipeline"]
    assert isinstance(envelope.data, JobFinished)  # noqa: S101 - the step's only result
    return envelope.data, envelope.position


def _start_job(start: Event) -> StartJob:
    accepted = _accepted(start)
    config = accepted.config
    return StartJob(job=accepted.job, finished_queue=config.queues.finished,
                    jobs_db=config.jobs_db,
                    fail=config.failure_injection.pipeline_fails_for(accepted.job.job_id))


def _update_status(start: Event, results: Results) -> UpdateJobStatus:
    job = _accepted(start).job
    assert isinstance(job, CustomJob)  # noqa: S101 - the gate lets only custom jobs here
    finished, position = _finished(results)
    return UpdateJobStatus(job_id=job.job_id,
                           status="succeeded" if finished.status == "ok" else "failed",
                           tenant=job.tenant, pipeline=job.pipeline,
                           jobs_db=_accepted(start).config.jobs_db, finished_position=position)


def _run_indexers(start: Event) -> RunIndexers:
    accepted = _accepted(start)
    job = accepted.job
    assert job.type == "default"  # noqa: S101 - the gate lets only default jobs here
    return RunIndexers(job_id=job.job_id, documents=job.documents,
                       search_index=accepted.config.search_index,
                       indexers=accepted.config.indexers)


def _is_custom(start: Event, results: Results) -> Verdict:
    finished, position = _finished(results)
    if _accepted(start).job.type != "custom":
        return Verdict(passed=False, reason="status update skipped: a default job has no "
                                            "status row")
    return Verdict(passed=True, reason=f"a custom job: record status {finished.status!r} "
                                       f"(pipeline finished at pos {position})")


def _indexable(start: Event, results: Results) -> Verdict:
    finished, position = _finished(results)
    if _accepted(start).job.type != "default":
        return Verdict(passed=False, reason="indexers skipped: a custom job is not indexed")
    if finished.status != "ok":
        return Verdict(passed=False, reason=f"indexers skipped: the pipeline failed at pos "
                                            f"{position} ({finished.error})")
    return Verdict(passed=True, reason=f"the pipeline succeeded at pos {position}")


def _completed(start: Event, results: Results) -> Event:
    job = _accepted(start).job
    finished, position = _finished(results)
    if finished.status != "ok":
        return JobFailed(job_id=job.job_id, type=job.type,
                         reason=f"the pipeline failed at pos {position}: {finished.error}")
    return JobCompleted(job_id=job.job_id, type=job.type)


def _failed(start: Event, reason: str, _undone: list[str]) -> Event:
    job = _accepted(start).job
    return JobFailed(job_id=job.job_id, type=job.type, reason=reason)


JOB_SAGA = SagaDefinition(
    name="job",
    start=JobAccepted,
    saga_id=lambda start: _accepted(start).job.job_id,
    stream=lambda start: job_stream(_accepted(start).job.job_id),
    stages=(
        Stage((Step("pipeline", command=_start_job, succeeded=(JobFinished,), failed=(),
                    stream=lambda start: _accepted(start).queue),), name="pipeline"),
        Stage((Step("status", command=_update_status, succeeded=(JobStatusUpdated,),
                    failed=()),),
              gate=Gate("custom job", _is_custom), name="status"),
        Stage((Step("indexers", command=_run_indexers, succeeded=(IndexersRan,),
                    failed=(IndexersFailed,)),),
              gate=Gate("default job, pipeline ok", _indexable), name="search"),
    ),
    completed=_completed,
    failed=_failed,
)
"""The job saga (registered type names in :mod:`events.jobs`)."""


# -- running it ---------------------------------------------------------------------------


def add_jobs_workflow(
    runtime: Runtime,
    *,
    pipeline_fails: Callable[[str], bool] | None = None,
    indexers: Mapping[str, IndexerProtocol] | None = None,
) -> None:
    """Register the router, the data pipeline, the follow-up services and the job saga.

    Everything else (queues, paths, injected failures) comes from the messages, so this
    needs no configuration. ``pipeline_fails`` injects failures by job id (tests);
    ``indexers`` adds search indexers beside the built-in ``fts5``.
    """
    runtime.add(JobRouter, name="jobs:router")
    if pipeline_fails is None:
        runtime.add(DataPipeline, name="jobs:pipeline")
    else:
        runtime.add(DataPipeline, pipeline_fails, name="jobs:pipeline")
    runtime.add(JobStatusService, name="jobs:status")
    runtime.add(SearchIndexers, indexers, name="jobs:indexers")
    runtime.add(saga_actor(JOB_SAGA), name="saga:job")


def _correlation(raw: str) -> str:
    """The job id, if the payload names a valid one; otherwise a fresh submission id.

    The router accepts a job only if the submission's correlation id is its job id: the
    saga and everything it causes carry it.
    """
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # not JSON, or nested too deeply: the router says so
        data = None
    job_id = data.get("job_id") if isinstance(data, dict) else None
    if isinstance(job_id, str) and re.fullmatch(JOB_ID_PATTERN, job_id):
        return job_id
    return f"submission-{uuid.uuid4().hex}"


def submit_job(store: EventStoreProtocol, raw: str, source: str, config: JobsConfig) -> str:
    """Put one raw job message on the pending queue; return its correlation id.

    Raises:
        JobPayloadTooLargeError: ``raw`` is over ``config.max_payload_bytes``; nothing is
            written.

    """
    check_payload_size(source, raw, config.max_payload_bytes)
    correlation = _correlation(raw)
    store.append(config.queues.pending, [JobSubmitted(raw=raw, source=source, config=config)],
                 correlation_id=correlation)
    return correlation


def submit_job_files(db: str, files: Sequence[str | Path], config: JobsConfig) -> list[str]:
    """Submit each file's content as one job message; return their correlation ids.

    Every file is read before the log is opened, so a missing one submits nothing.

    Raises:
        SagalogError: a file cannot be read as UTF-8 text (named).
        JobPayloadTooLargeError: a file is over ``config.max_payload_bytes`` (its size is
            checked before it is read).

    """
    payloads: list[tuple[str, str]] = []
    for file in files:
        try:
            check_payload_size(str(file), Path(file).stat().st_size, config.max_payload_bytes)
            payloads.append((Path(file).read_text(encoding="utf-8"), str(file)))
        except (OSError, UnicodeDecodeError) as error:
            raise SagalogError(f"{file}: cannot read the job message ({error})") from None
    with open_store(db) as store:
        return [submit_job(store, raw, source, config) for raw, source in payloads]


def unfinished_jobs(store: EventStoreProtocol) -> set[str]:
    """Accepted jobs whose terminal event is not in the log."""
    accepted: set[str] = set()
    ended: set[str] = set()
    for record in store.read_all(types=["JobAccepted", *JOBS_TERMINAL_TYPES]):
        if isinstance(record.data, JobAccepted):
            accepted.add(record.data.job.job_id)
        else:
            ended.add(record.correlation_id or "")
    return accepted - ended


def jobs_summary(store: EventStoreProtocol) -> dict[str, int]:
    """How many submissions ended each way (``JobCompleted``, ``JobRejected``, ...).

    A submission the router could not handle at all (its outputs refused by the log, say)
    is a dead letter (``HandlerFailed``): counted as ``dead letters`` when there are any,
    not as in flight, since nothing more will happen to it.
    """
    kinds = Counter(
        "dead letters" if isinstance(record.data, HandlerFailed) else record.type
        for record in store.read_all(
            types=["JobSubmitted", "JobRejected", "HandlerFailed", *JOBS_TERMINAL_TYPES])
        if not isinstance(record.data, HandlerFailed) or record.data.input_type == "JobSubmitted"
    )
    ended = sum(kinds[kind] for kind in ("JobRejected", "dead letters", *JOBS_TERMINAL_TYPES))
    dead = {"dead letters": kinds["dead letters"]} if kinds["dead letters"] else {}
    return {**{kind: kinds[kind] for kind in ("JobCompleted", "JobFailed", "JobRejected")},
            **dead, "in flight": kinds["JobSubmitted"] - ended}


def resume_jobs(runtime: Runtime, timeout: float = 600.0) -> set[str]:
    """Wait until every job of the log has ended and no submission waits; return those left.

    The runtime must have the jobs workflow (:func:`add_jobs_workflow`).

    Raises:
        TimeoutError: work was left after ``timeout`` seconds.

    """
    if not runtime.wait_until_idle(timeout):
        msg = f"the jobs did not settle within {timeout:g} s"
        raise TimeoutError(msg)
    return unfinished_jobs(runtime.store)
