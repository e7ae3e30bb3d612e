"""The job-routing workflow's messages, job schemas and configuration.

Jobs arrive on the pending queue as raw text (:class:`JobSubmitted`), because a payload
that is not JSON, or not a valid job, must be recorded and rejected by the orchestrator,
not lost at the door. A valid job is one of two schemas told apart by its ``type`` field:
``custom`` (as the platform API produces it) and ``default`` (written by hand by a
developer). The registered names below are the log format: they must not change.

The configuration travels inside the messages (``JobSubmitted.config``), so the worker
needs none and a resumed run rebuilds everything from the log.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sagalog.events._message import Command, Event

__all__ = [
    "DEFAULT_QUEUES",
    "JOB_ID_PATTERN",
    "CustomJob",
    "DefaultJob",
    "Document",
    "IndexersFailed",
    "IndexersRan",
    "Job",
    "JobAccepted",
    "JobCompleted",
    "JobFailed",
    "JobFinished",
    "JobQueues",
    "JobRejected",
    "JobStatusUpdated",
    "JobSubmitted",
    "JobsConfig",
    "JobsFailureInjection",
    "RunIndexers",
    "StartJob",
    "UpdateJobStatus",
]

JOB_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
"""Job ids become stream names and primary keys: short, printable, no spaces."""
QUEUE_PATTERN = r"^[^\x00-\x1f\x7f]{1,200}$"
"""Queue names are stream ids: not empty, no control characters."""

_PAYLOAD = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

JobId = Annotated[str, Field(pattern=JOB_ID_PATTERN)]
Scalar = str | int | float | bool | None


# -- the two job schemas ----------------------------------------------------------------


class CustomJob(BaseModel):
    """A job as the platform API produces it: on finish, its status goes to the jobs table."""

    model_config = _PAYLOAD

    type: Literal["custom"]
    """The discriminator: which schema this message follows."""
    job_id: JobId
    tenant: Annotated[str, Field(min_length=1)]
    """Whose job it is (a column of the status row)."""
    pipeline: Annotated[str, Field(min_length=1)]
    """Which data pipeline to run."""
    parameters: dict[str, Scalar] = Field(default_factory=dict)
    """The pipeline's arguments, passed through unchanged."""


class Document(BaseModel):
    """One document a default job asks the search indexers to index."""

    model_config = _PAYLOAD

    id: Annotated[str, Field(min_length=1)]
    title: str
    body: str


class DefaultJob(BaseModel):
    """A job written by hand by a developer: on finish, the search indexers run."""

    model_config = _PAYLOAD

    type: Literal["default"]
    """The discriminator: which schema this message follows."""
    job_id: JobId
    description: str = ""
    documents: Annotated[list[Document], Field(min_length=1)]
    """What the indexers index once the pipeline succeeded."""


Job = Annotated[CustomJob | DefaultJob, Field(discriminator="type")]
"""A valid job: one of the two schemas, chosen by its ``type`` field."""


# -- configuration ------------------------------------------------------------------------

QueueName = Annotated[str, Field(pattern=QUEUE_PATTERN)]


class JobQueues(BaseModel):
    """The workflow's four queues; each is a stream of the log."""

    model_config = _PAYLOAD

    pending: QueueName = "data-pipeline-job-pending"
    """Where submitted jobs wait for the orchestrator."""
    custom_start: QueueName = "data-pipeline-job-custom-start"
    """Where the orchestrator sends custom jobs for the data pipeline."""
    default_start: QueueName = "data-pipeline-job-default-start"
    """Where the orchestrator sends default jobs for the data pipeline."""
    finished: QueueName = "data-pipeline-job-finished"
    """Where the data pipeline reports each finished job."""


DEFAULT_QUEUES = JobQueues()
DEFAULT_MAX_PAYLOAD_BYTES = 1 << 20
"""The largest job message accepted by default: 1 MiB (a job names its documents, it
does not carry them). A 20 MB message cost 80 MB of log and 490 MB of memory."""


class JobsFailureInjection(BaseModel):
    """Failures to inject, for tests and demonstrations; off by default."""

    model_config = _PAYLOAD

    pipeline_fails: list[str] = Field(default_factory=list)
    """Job ids whose data-pipeline run fails; ``"*"`` fails every job."""

    def pipeline_fails_for(self, job_id: str) -> bool:
        """Whether the data pipeline is to fail ``job_id``."""
        return "*" in self.pipeline_fails or job_id in self.pipeline_fails


class JobsConfig(BaseModel):
    """The workflow's settings, resolved: paths are absolute by the time a message holds them."""

    model_config = _PAYLOAD

    queues: JobQueues = DEFAULT_QUEUES
    jobs_db: Annotated[str, Field(min_length=1)]
    """The SQLite database holding the ``jobs`` status table."""
    search_index: Annotated[str, Field(min_length=1)]
    """The SQLite database holding the full-text (FTS5) search index."""
    indexers: Annotated[list[str], Field(min_length=1)] = Field(default_factory=lambda: ["fts5"])
    """The search indexers a default job runs, by name, in order."""
    failure_injection: JobsFailureInjection = JobsFailureInjection()
    max_payload_bytes: Annotated[int, Field(gt=0)] = DEFAULT_MAX_PAYLOAD_BYTES
    """The largest job message ``submit`` accepts, in bytes of UTF-8 (default 1 MiB)."""


# -- the orchestrator's input and decisions -----------------------------------------------


class JobSubmitted(Event, name="JobSubmitted"):
    """A raw job message put on the pending queue, valid or not."""

    raw: str
    """The payload exactly as submitted."""
    source: str
    """Where it came from (a file name, ``api``)."""
    config: JobsConfig
    """The settings this job runs with."""


class JobAccepted(Event, name="JobAccepted"):
    """The orchestrator validated a submission and routed it: the job saga's start."""

    job: Job
    queue: str
    """The start queue the job is routed to."""
    reason: str
    """The routing decision in words (``custom job: routed to ...``)."""
    config: JobsConfig
    submitted_position: int
    """Log position of the :class:`JobSubmitted` it came from."""


class JobRejected(Event, name="JobRejected"):
    """A submission the orchestrator refused; the raw payload is kept so nothing is lost."""

    reason: str
    """Why, in words (``not JSON``, ``unknown job type 'x'``, ...)."""
    errors: list[dict[str, Any]]
    """The validation errors (pydantic's, made JSON-safe); empty for a duplicate."""
    raw: str
    source: str
    submitted_position: int


# -- the job saga's commands and results --------------------------------------------------


class StartJob(Command, name="StartJob"):
    """Run the data pipeline on a job (sent to the job type's start queue)."""

    job: Job
    finished_queue: str
    """Where to report the result."""
    jobs_db: str
    """Where the pipeline records its runs."""
    fail: bool = False
    """Injected failure: the run fails."""


class JobFinished(Event, name="JobFinished"):
    """The data pipeline finished a job, well or not (on the finished queue)."""

    job_id: str
    type: str
    """The job's schema: ``custom`` or ``default``."""
    status: Literal["ok", "failed"]
    error: str = ""
    """Why it failed; empty when it did not."""
    queue: str
    """The start queue the job was taken from."""


class UpdateJobStatus(Command, name="UpdateJobStatus"):
    """Write a custom job's final status to the jobs table."""

    job_id: str
    status: Literal["succeeded", "failed"]
    tenant: str
    pipeline: str
    jobs_db: str
    finished_position: int
    """Log position of the :class:`JobFinished` the status comes from."""


class JobStatusUpdated(Event, name="JobStatusUpdated"):
    """The jobs table holds the job's status."""

    job_id: str
    status: str


class RunIndexers(Command, name="RunIndexers"):
    """Run the search indexers on a default job's documents."""

    job_id: str
    documents: list[Document]
    search_index: str
    indexers: list[str]


class IndexersRan(Event, name="IndexersRan"):
    """Every indexer indexed the job's documents."""

    job_id: str
    indexers: list[str]
    documents: int


class IndexersFailed(Event, name="IndexersFailed"):
    """An indexer could not run (unknown name, or it refused the documents)."""

    job_id: str
    reason: str


class JobCompleted(Event, name="JobCompleted"):
    """The job ended: the pipeline succeeded and its follow-up ran."""

    job_id: str
    type: str


class JobFailed(Event, name="JobFailed"):
    """The job ended failed: the pipeline failed (its status recorded), or a step did."""

    job_id: str
    type: str
    reason: str
