"""Every decision path of the job saga on synthetic streams, and the configuration file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sagalog.actors.jobs import validate_job
from sagalog.events.jobs import (
    CustomJob,
    DefaultJob,
    Document,
    IndexersFailed,
    IndexersRan,
    JobAccepted,
    JobFinished,
    JobsConfig,
    JobsFailureInjection,
    JobStatusUpdated,
)
from sagalog.events.runtime import HandlerFailed
from sagalog.sagas.jobs import JOB_SAGA, JobsConfigError, load_jobs_config
from sagalog.sagas.testing import replay

CONFIG = JobsConfig(jobs_db="/srv/x.jobs", search_index="/srv/x.search")
CUSTOM = CustomJob(type="custom", job_id="c1", tenant="t", pipeline="p")
DEFAULT = DefaultJob(type="default", job_id="d1",
                     documents=[Document(id="a", title="A", body="alpha")])


def accepted(job: CustomJob | DefaultJob) -> JobAccepted:
    queue = "custom-q" if job.type == "custom" else "default-q"
    return JobAccepted(job=job, queue=queue, reason="r", config=CONFIG, submitted_position=1)


def finished(job: CustomJob | DefaultJob, status: str = "ok") -> JobFinished:
    return JobFinished(job_id=job.job_id, type=job.type, status=status,  # type: ignore[arg-type]
                       error="" if status == "ok" else "boom", queue="q")


def test_custom_ok_updates_the_status_then_skips_the_search_stage() -> None:
    """custom + ok: pipeline, status 'succeeded' (from the JobFinished at pos 2), skip search."""
    run = replay(JOB_SAGA, [accepted(CUSTOM), finished(CUSTOM),
                            JobStatusUpdated(job_id="c1", status="succeeded")])
    assert run.rules() == ["start-stage", "start-stage", "skip", "complete"]
    assert run.command_types() == ["StartJob", "UpdateJobStatus"]
    update = run.commands()[1]
    assert (update.status, update.finished_position) == ("succeeded", 2)  # type: ignore[attr-defined]
    assert run.reasons()[1] == ("started stage status: status because JobFinished at 2; gate "
                                "custom job: a custom job: record status 'ok' (pipeline "
                                "finished at pos 2)")
    assert run.reasons()[2] == ("skipped stage search (indexers): indexers skipped: a custom "
                                "job is not indexed")
    assert type(run.issued[-1]).__name__ == "JobCompleted"


def test_custom_failed_records_failed_status_and_ends_failed() -> None:
    """custom + failed pipeline: the status row still gets written ('failed'); JobFailed."""
    run = replay(JOB_SAGA, [accepted(CUSTOM), finished(CUSTOM, "failed"),
                            JobStatusUpdated(job_id="c1", status="failed")])
    assert run.rules() == ["start-stage", "start-stage", "skip", "complete"]
    assert run.commands()[1].status == "failed"  # type: ignore[attr-defined]
    end = run.issued[-1]
    assert type(end).__name__ == "JobFailed"
    assert end.reason == "the pipeline failed at pos 2: boom"  # type: ignore[attr-defined]


def test_default_ok_skips_the_status_stage_and_runs_the_indexers() -> None:
    """default + ok: no status row (skip, with the reason), indexers run, completed."""
    run = replay(JOB_SAGA, [accepted(DEFAULT), finished(DEFAULT),
                            IndexersRan(job_id="d1", indexers=["fts5"], documents=1)])
    assert run.rules() == ["start-stage", "skip", "start-stage", "complete"]
    assert run.command_types() == ["StartJob", "RunIndexers"]
    assert run.reasons()[1] == ("skipped stage status (status): status update skipped: a "
                                "default job has no status row")
    assert run.reasons()[2].endswith("gate default job, pipeline ok: the pipeline succeeded "
                                     "at pos 2")
    assert type(run.issued[-1]).__name__ == "JobCompleted"


def test_default_failed_skips_the_indexers_naming_the_failure() -> None:
    """default + failed pipeline: both follow-up stages skipped, the indexers' with the pos."""
    run = replay(JOB_SAGA, [accepted(DEFAULT), finished(DEFAULT, "failed")])
    assert run.rules() == ["start-stage", "skip", "skip", "complete"]
    assert run.reasons()[2] == ("skipped stage search (indexers): indexers skipped: the "
                                "pipeline failed at pos 2 (boom)")
    assert run.command_types() == ["StartJob"]
    assert type(run.issued[-1]).__name__ == "JobFailed"


def test_indexers_failing_fails_the_job() -> None:
    """IndexersFailed: nothing to undo, the job ends JobFailed with the reason."""
    run = replay(JOB_SAGA, [accepted(DEFAULT), finished(DEFAULT),
                            IndexersFailed(job_id="d1", reason="no indexer named 'x'")])
    assert run.rules()[-2:] == ["compensate", "fail"]
    end = run.issued[-1]
    assert type(end).__name__ == "JobFailed"
    assert end.reason == "indexers failed: IndexersFailed at 3"  # type: ignore[attr-defined]


def test_a_dead_status_service_fails_the_job_and_skips_the_rest() -> None:
    """A dead letter on UpdateJobStatus fails the saga; the search stage is recorded skipped."""
    dead = HandlerFailed(actor="jobs:status", input_position=4, input_event_id="e",
                         input_type="UpdateJobStatus", error_type="JobsDatabaseError",
                         error_message="disk full", traceback="", attempts=3)
    run = replay(JOB_SAGA, [accepted(CUSTOM), finished(CUSTOM), dead])
    assert run.rules() == ["start-stage", "start-stage", "compensate", "skip", "fail"]
    assert "halted because status failed: jobs:status failed on it" in run.reasons()[3]
    assert run.issued[-1].reason == (  # type: ignore[attr-defined]
        "status failed: jobs:status failed on it: JobsDatabaseError")


def test_the_start_command_goes_to_the_queue_and_carries_injected_failure() -> None:
    """StartJob is sent to the accepted queue, with fail set for an injected job id."""
    config = CONFIG.model_copy(update={
        "failure_injection": JobsFailureInjection(pipeline_fails=["c1"])})
    start = JobAccepted(job=CUSTOM, queue="custom-q", reason="r", config=config,
                        submitted_position=1)
    run = replay(JOB_SAGA, [start])
    (command,) = run.commands()
    assert command.fail is True  # type: ignore[attr-defined]
    (step,) = JOB_SAGA.stages[0].steps
    assert step.stream is not None
    assert step.stream(start) == "custom-q"


# -- validation ----------------------------------------------------------------------------


def test_validation_drops_only_the_whole_payload_from_the_errors() -> None:
    """Errors about the whole payload do not copy it (JobRejected.raw keeps it once)."""
    rejection = validate_job('{"type": "nope"}')
    assert not isinstance(rejection, CustomJob | DefaultJob)
    assert "input" not in rejection.errors[0]
    field = validate_job('{"type": "custom", "job_id": "j", "tenant": 1, "pipeline": "p"}')
    assert not isinstance(field, CustomJob | DefaultJob)
    assert field.errors[0]["input"] == 1
    assert "(and 1 more)" in validate_job(
        '{"type": "default", "job_id": "%", "description": 1, "documents": [], "x": 1}'
    ).reason  # type: ignore[union-attr]


# -- configuration -------------------------------------------------------------------------


def test_config_paths_are_relative_to_the_file_and_queues_configurable(tmp_path: Path) -> None:
    """The example config's paths resolve against its directory; queues can be renamed."""
    (tmp_path / "conf").mkdir()
    path = tmp_path / "conf" / "jobs.json"
    path.write_text(json.dumps({"jobs_db": "data/jobs.db", "queues": {"pending": "inbox"}}))
    config = load_jobs_config(path, tmp_path / "log.db")
    assert config.jobs_db == str(tmp_path / "conf" / "data" / "jobs.db")
    assert config.search_index == f"{tmp_path / 'log.db'}.search"
    assert config.queues.pending == "inbox"
    assert config.queues.finished == "data-pipeline-job-finished"
    example = Path(__file__).resolve().parents[2] / "docs" / "examples" / "jobs" / "config.json"
    shipped = load_jobs_config(example, tmp_path / "log.db")
    assert shipped.failure_injection.pipeline_fails == []
    assert shipped.search_index == str(example.parent / "search.db")


@pytest.mark.parametrize(("content", "says"), [
    (None, "cannot read the configuration"),
    ("{oops", "not JSON"),
    ("[]", "must be a JSON object"),
    ('{"queues": {"pending": ""}}', "queues.pending: String should match pattern"),
    ('{"indexers": []}', "indexers: List should have at least 1 item"),
    ('{"colour": "red"}', "colour: Extra inputs are not permitted"),
])
def test_a_bad_config_file_is_a_typed_error_naming_file_and_field(
        tmp_path: Path, content: str | None, says: str) -> None:
    """Missing, not JSON, not an object, a wrong field: JobsConfigError with file and field."""
    path = tmp_path / "jobs.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(JobsConfigError, match=str(path)) as caught:
        load_jobs_config(path, tmp_path / "log.db")
    assert says in str(caught.value)
