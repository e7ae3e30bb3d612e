"""The job-routing workflow's actors.

The router, the data pipeline, and the two follow-ups of a finished job (the status
table and the search indexers).

The router is the orchestrator's front door: it validates each raw submission against
the two job schemas and either accepts it (the job saga's start, routed to its start
queue) or rejects it with the validation errors and the raw payload. A bad message is a
recorded decision, never an exception, so the worker carries on with the next one.

The other actors call the outside world through adapters, with the command's event id
as the idempotency key and the paths the command carries.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError

from sagalog.actors._actor import Actor
from sagalog.actors._handlers import handles
from sagalog.actors._jobs_db import JobRow, JobsDatabase
from sagalog.actors._jobs_search import (
    FTS5_INDEXER,
    Fts5Indexer,
    IndexerProtocol,
    SearchHit,
    indexed,
    search,
)
from sagalog.actors._jobs_sqlite import JobsDatabaseError
from sagalog.actors._outputs import Emit
from sagalog.actors._storable import as_json_text, is_storable, storable_text
from sagalog.events import Envelope, Message, SagalogError
from sagalog.events.jobs import (
    IndexersFailed,
    IndexersRan,
    Job,
    JobAccepted,
    JobFinished,
    JobRejected,
    JobsConfig,
    JobStatusUpdated,
    JobSubmitted,
    RunIndexers,
    StartJob,
    UpdateJobStatus,
)
from sagalog.store import RunStatusHook

__all__ = [
    "FTS5_INDEXER",
    "DataPipeline",
    "Fts5Indexer",
    "IndexerProtocol",
    "JobPayloadTooLargeError",
    "JobRouter",
    "JobRow",
    "JobStatusService",
    "JobsDatabase",
    "JobsDatabaseError",
    "Rejection",
    "SearchHit",
    "SearchIndexers",
    "check_payload_size",
    "indexed",
    "job_stream",
    "search",
    "start_queue",
    "validate_job",
]

JOB_ADAPTER: TypeAdapter[Job] = TypeAdapter(Job)
"""Validates a raw payload as one of the two job schemas."""

Fails = Callable[[str], bool]


def _never(_: str) -> bool:
    return False


def job_stream(job_id: str) -> str:
    """The stream of one job's saga: its start, decisions and internal commands."""
    return f"job-{job_id}"


def start_queue(job: Job, config: JobsConfig) -> str:
    """The start queue a valid job is routed to, by its type."""
    return config.queues.custom_start if job.type == "custom" else config.queues.default_start


class JobPayloadTooLargeError(SagalogError):
    """A job message over the configured cap: refused at submit, nothing written."""

    def __init__(self, source: str, size: int, cap: int) -> None:
        self.source = source
        self.size = size
        """The message's size in bytes (at least this much, when it was not read whole)."""
        self.cap = cap
        super().__init__(
            f"{source}: the job message is {size:,} bytes, over the cap of {cap:,} bytes "
            "(max_payload_bytes in the jobs config, or jobs submit --max-payload-bytes)")


def check_payload_size(source: str, raw: str | int, cap: int) -> None:
    """Refuse a job message (its text, or its size in bytes) larger than ``cap`` bytes.

    Raises:
        JobPayloadTooLargeError: over the cap; the message names the size and the cap.

    """
    if isinstance(raw, str):
        # Each character is at least one byte: a long text is refused without encoding it.
        raw = len(raw) if len(raw) > cap else len(raw.encode("utf-8", "surrogatepass"))
    if raw > cap:
        raise JobPayloadTooLargeError(source, raw, cap)


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a payload is not a job."""

    reason: str
    """In words."""
    errors: list[dict[str, Any]]
    """pydantic's errors, JSON-safe."""


def validate_job(raw: str) -> Job | Rejection:
    """The job ``raw`` holds, or why it holds none."""
    try:
        return JOB_ADAPTER.validate_json(raw)
    except ValidationError as error:
        errors: list[dict[str, Any]] = json.loads(error.json(include_url=False))
    for item in errors:
        if not item.get("loc"):
            item.pop("input", None)  # the whole payload: kept once, as JobRejected.raw
    reason = storable_text(_reason(errors))
    return Rejection(reason, [_storable_error(item) for item in errors])


def _storable_error(item: dict[str, Any]) -> dict[str, Any]:
    """``item`` as the log stores it: a value it refuses (NaN, NUL...) as JSON text.

    A field ``input`` holding NaN becomes ``input_json`` holding the text ``NaN``: the
    rejection is recorded, and says exactly what was sent. (Storing the value itself made
    the rejection unstorable, and killed the router.)
    """
    if is_storable(item):
        return item
    return {key if is_storable(value) else f"{key}_json":
            value if is_storable(value) else as_json_text(value)
            for key, value in item.items()}


def _reason(errors: list[dict[str, Any]]) -> str:
    first = errors[0]
    kind = first["type"]
    if kind == "json_invalid":
        return f"not JSON: {first['ctx']['error']}"
    if kind == "union_tag_invalid":
        return (f"unknown job type {first['ctx']['tag']!r} "
                f"(expected one of {first['ctx']['expected_tags']})")
    if kind == "union_tag_not_found":
        return "no job type: the field 'type' is missing"
    if not first["loc"]:
        return f"not a job: {first['msg']}"
    schema = first["loc"][0]
    fields = "; ".join(
        f"{'.'.join(str(part) for part in item['loc'][1:]) or '(job)'}: {item['msg']}"
        for item in errors[:3]
    )
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return f"invalid {schema} job: {fields}{more}"


def _rejected(envelope: Envelope[Message]) -> str | None:
    return "rejected" if isinstance(envelope.data, JobRejected) else None


REJECTED_STATUS = RunStatusHook(frozenset({JobRejected.message_type}), _rejected, "jobs:rejected")
"""A refused submission's run is ``rejected``: no saga ever decides on it."""


class JobRouter(Actor):
    """The orchestrator's router: accept and route each pending job, or reject it.

    A job id is accepted once: a later submission of the same id is rejected as a
    duplicate, so every job ends exactly once. The accepted ids are rebuilt from the log
    when the actor attaches.
    """

    actor_run_status = (REJECTED_STATUS,)

    def __init__(self) -> None:
        super().__init__()
        self.accepted: dict[str, int] = {}
        """Accepted job id -> position of the submission it came from."""

    def on_attach(self, checkpoint: int) -> None:
        """Read back the jobs accepted so far."""
        for record in self._context.store.read_all(types=[JobAccepted]):
            if isinstance(record.data, JobAccepted):
                self.accepted.setdefault(record.data.job.job_id, record.data.submitted_position)

    @handles(JobSubmitted)
    def route(self, submitted: JobSubmitted, envelope: Envelope[Message]) -> Emit | Message:
        """JobAccepted (to the job's stream), or JobRejected (on the pending queue)."""
        checked = validate_job(submitted.raw)
        if isinstance(checked, Rejection):
            return self._reject(submitted, envelope, checked.reason, checked.errors)
        job_id = checked.job_id
        if not is_storable(checked.model_dump(mode="json")):
            return self._reject(submitted, envelope, "the job holds a value the log cannot "
                                "store (NaN, Infinity, a NUL character or a lone surrogate)", [])
        if job_id in self.accepted:
            return self._reject(submitted, envelope, f"duplicate: job {job_id!r} was accepted "
                                f"already (submitted at pos {self.accepted[job_id]})", [])
        if envelope.correlation_id != job_id:
            return self._reject(submitted, envelope, f"the submission's correlation id "
                                f"{envelope.correlation_id!r} is not its job id {job_id!r}", [])
        self.accepted[job_id] = envelope.position
        queue = start_queue(checked, submitted.config)
        self._log.bind(correlation=job_id).info("job {} ({}) routed to {}", job_id,
                                                checked.type, queue)
        reason = f"{checked.type} job: routed to {queue}"
        return Emit(JobAccepted(job=checked, queue=queue, reason=reason, config=submitted.config,
                                submitted_position=envelope.position), job_stream(job_id))

    def _reject(self, submitted: JobSubmitted, envelope: Envelope[Message], reason: str,
                errors: list[dict[str, Any]]) -> Message:
        self._log.bind(position=envelope.position).warning(
            "submission from {} rejected: {}", submitted.source, reason)
        return JobRejected(reason=reason, errors=errors, raw=submitted.raw,
                           source=submitted.source, submitted_position=envelope.position)


class DataPipeline(Actor):
    """The data pipeline: takes jobs from both start queues, reports on the finished queue.

    ``fails(job_id)`` injects a failure (for tests), as does the command's ``fail`` flag
    (from the configuration's failure injection).
    """

    def __init__(self, fails: Fails = _never) -> None:
        super().__init__()
        self.fails = fails

    @handles(StartJob)
    def run(self, command: StartJob, envelope: Envelope[Message]) -> Emit:
        """Run the job (recorded once in the jobs database); JobFinished, ok or failed."""
        job = command.job
        if command.fail or self.fails(job.job_id):
            status, error = "failed", "injected failure"
        else:
            status, error = "ok", ""
        with JobsDatabase.open(command.jobs_db) as jobs:
            status, error = jobs.record_run(str(envelope.event_id), job.job_id, status, error)
        finished = JobFinished(job_id=job.job_id, type=job.type,
                               status="ok" if status == "ok" else "failed", error=error,
                               queue=envelope.stream_id)
        return Emit(finished, command.finished_queue)


class JobStatusService(Actor):
    """Writes a custom job's final status to the ``jobs`` table."""

    @handles(UpdateJobStatus)
    def update(self, command: UpdateJobStatus, envelope: Envelope[Message]) -> Message:
        """JobStatusUpdated, once the row holds the status."""
        with JobsDatabase.open(command.jobs_db) as jobs:
            jobs.set_status(str(envelope.event_id), command.job_id, command.status,
                            tenant=command.tenant, pipeline=command.pipeline,
                            finished_position=command.finished_position)
        return JobStatusUpdated(job_id=command.job_id, status=command.status)


class SearchIndexers(Actor):
    """Runs the search indexers a default job names, through their adapters."""

    def __init__(self, indexers: Mapping[str, IndexerProtocol] | None = None) -> None:
        super().__init__()
        self.indexers: dict[str, IndexerProtocol] = {FTS5_INDEXER: Fts5Indexer()}
        """The indexers by name: the built-in one, and any given."""
        self.indexers.update(indexers or {})

    @handles(RunIndexers)
    def run(self, command: RunIndexers, envelope: Envelope[Message]) -> Message:
        """IndexersRan, or IndexersFailed naming an unknown indexer."""
        unknown = [name for name in command.indexers if name not in self.indexers]
        if unknown:
            return IndexersFailed(job_id=command.job_id, reason=(
                f"no indexer named {', '.join(map(repr, unknown))} "
                f"(known: {', '.join(sorted(self.indexers))})"))
        count = 0
        for name in command.indexers:
            count = self.indexers[name].index(str(envelope.event_id), command.search_index,
                                              command.job_id, command.documents)
        return IndexersRan(job_id=command.job_id, indexers=list(command.indexers),
                           documents=count)
