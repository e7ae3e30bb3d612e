"""The job workflow end to end: real actors, a real log, a real jobs table and FTS5 index."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sagalog.actors import Runtime, VirtualClock
from sagalog.actors.jobs import JobRouter, JobsDatabase, indexed, search
from sagalog.events import Envelope, Message
from sagalog.events.jobs import Document, JobsConfig, JobsFailureInjection
from sagalog.events.sagas import SagaDecided
from sagalog.sagas import saga_actor
from sagalog.sagas.jobs import (
    JOB_SAGA,
    add_jobs_workflow,
    jobs_summary,
    load_jobs_config,
    resume_jobs,
    submit_job,
    unfinished_jobs,
)


def custom(job_id: str, **extra: object) -> str:
    return json.dumps({"type": "custom", "job_id": job_id, "tenant": "acme",
                       "pipeline": "daily-sales", **extra})


def default(job_id: str, *documents: tuple[str, str, str]) -> str:
    docs = documents or (("d1", "Holidays", "Thirty days of paid holiday a year."),)
    return json.dumps({"type": "default", "job_id": job_id, "documents": [
        {"id": i, "title": t, "body": b} for i, t, b in docs]})


@dataclass
class Run:
    log: list[Envelope[Message]]
    config: JobsConfig

    def of(self, correlation: str) -> list[Envelope[Message]]:
        return [r for r in self.log if r.correlation_id == correlation]

    def types(self, correlation: str) -> list[str]:
        return [r.type for r in self.of(correlation)]

    def decisions(self, correlation: str) -> list[SagaDecided]:
        return [r.data for r in self.of(correlation) if isinstance(r.data, SagaDecided)]

    def one(self, type_name: str, correlation: str | None = None) -> Message:
        (found,) = [r.data for r in self.log if r.type == type_name
                    and (correlation is None or r.correlation_id == correlation)]
        return found


def run_jobs(tmp_path: Path, payloads: Sequence[str], *, fails: Sequence[str] = (),
             indexer_names: Sequence[str] = ("fts5",), **workflow: Any) -> Run:
    """Submit ``payloads`` (in order) and run the workflow until idle."""
    base = load_jobs_config(None, tmp_path / "jobs.log")
    config = base.model_copy(update={
        "failure_injection": JobsFailureInjection(pipeline_fails=list(fails)),
        "indexers": list(indexer_names)})
    with Runtime(tmp_path / "jobs.log", durability="off", clock=VirtualClock()) as runtime:
        add_jobs_workflow(runtime, **workflow)
        for number, raw in enumerate(payloads):
            submit_job(runtime.store, raw, f"payload-{number}", config)
        assert resume_jobs(runtime, timeout=30) == set()
        log = list(runtime.store.read_all())
        assert runtime.store.verify().ok
    return Run(log, config)


# -- routing -------------------------------------------------------------------------------


def test_each_job_type_is_routed_to_its_start_queue_and_completes(tmp_path: Path) -> None:
    """A custom job goes to the custom start queue, a default one to the default start queue;
    both report on the finished queue and complete."""
    run = run_jobs(tmp_path, [custom("c1"), default("d1")])
    queues = run.config.queues
    for job_id, queue in (("c1", queues.custom_start), ("d1", queues.default_start)):
        accepted = run.one("JobAccepted", job_id)
        assert accepted.queue == queue  # type: ignore[attr-defined]
        assert accepted.reason == f"{accepted.job.type} job: routed to {queue}"  # type: ignore[attr-defined]
        (start,) = [r for r in run.of(job_id) if r.type == "StartJob"]
        assert start.stream_id == queue
        (finished,) = [r for r in run.of(job_id) if r.type == "JobFinished"]
        assert finished.stream_id == queues.finished
        assert finished.data.queue == queue  # type: ignore[attr-defined]
        assert run.types(job_id)[-1] == "JobCompleted"
    submitted = [r for r in run.log if r.type == "JobSubmitted"]
    assert {r.stream_id for r in submitted} == {queues.pending}


def test_a_custom_job_writes_its_status_row_and_skips_the_indexers(tmp_path: Path) -> None:
    """On finish, a custom job's status is 'succeeded' in the jobs table; the search stage is
    skipped with its reason, and nothing is indexed."""
    run = run_jobs(tmp_path, [custom("c1")])
    with JobsDatabase.open(run.config.jobs_db) as jobs:
        (row,) = jobs.jobs()
        assert (row.job_id, row.status, row.tenant, row.pipeline) == (
            "c1", "succeeded", "acme", "daily-sales")
        finished = next(r for r in run.of("c1") if r.type == "JobFinished")
        assert row.finished_position == finished.position
    reasons = [(d.rule, d.reason) for d in run.decisions("c1")]
    assert ("skip", ("skipped stage search (indexers): indexers skipped: a custom job is not "
                    "indexed")) in reasons
    assert any(rule == "start-stage" and "gate custom job: a custom job: record status 'ok'"
               in reason for rule, reason in reasons)
    assert "RunIndexers" not in run.types("c1")
    assert indexed(run.config.search_index) == []


def test_a_default_job_is_indexed_and_found_by_a_full_text_search(tmp_path: Path) -> None:
    """A default job runs the FTS5 indexer; a search finds its documents, stemmed."""
    run = run_jobs(tmp_path, [default(
        "d1", ("holidays", "Holidays", "Every employee gets thirty days of paid holiday."),
        ("expenses", "Expenses", "Submit receipts within a month of the purchase."))])
    ran = run.one("IndexersRan", "d1")
    assert (ran.indexers, ran.documents) == (["fts5"], 2)  # type: ignore[attr-defined]
    hits = search(run.config.search_index, "holidays")
    assert [(h.job_id, h.doc_id) for h in hits] == [("d1", "holidays")]
    assert "[holiday]" in hits[0].snippet
    assert [h.doc_id for h in search(run.config.search_index, "receipt")] == ["expenses"]
    reasons = [d.reason for d in run.decisions("d1") if d.rule == "skip"]
    assert reasons == [("skipped stage status (status): status update skipped: a default job "
                       "has no status row")]
    with JobsDatabase.open(run.config.jobs_db) as jobs:
        assert jobs.jobs() == []


# -- rejection -----------------------------------------------------------------------------

BAD = {
    "not JSON": ("{'type': 'custom'", "not JSON: ", "json_invalid"),
    "unknown type": ('{"type": "urgent", "job_id": "u1"}',
                     "unknown job type 'urgent' (expected one of 'custom', 'default')",
                     "union_tag_invalid"),
    "no type": ('{"job_id": "n1"}', "no job type: the field 'type' is missing",
                "union_tag_not_found"),
    "not an object": ("[1, 2]", "not a job: Input should be an object", "dict_type"),
    "missing field": ('{"type": "custom", "job_id": "m1", "tenant": "acme"}',
                      "invalid custom job: pipeline: Field required", "missing"),
    "wrong field": (('{"type": "default", "job_id": "w1", "documents": [{"id": "x", '
                    '"title": 3, "body": "b"}], "colour": "red"}'),
                    ("invalid default job: documents.0.title: Input should be a valid string; "
                    "colour: Extra inputs are not permitted"), "string_type"),
    "bad job id": ('{"type": "custom", "job_id": "has space", "tenant": "t", "pipeline": "p"}',
                   "invalid custom job: job_id: String should match pattern", "string_pattern"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_submission_is_rejected_with_errors_and_raw_and_the_next_job_runs(
        tmp_path: Path, case: str) -> None:
    """Not JSON, an unknown or missing type, invalid fields: JobRejected keeps the errors and
    the raw payload, and the job submitted after it still completes."""
    raw, reason, error_type = BAD[case]
    run = run_jobs(tmp_path, [raw, custom("after")])
    rejected = run.one("JobRejected")
    assert rejected.reason.startswith(reason), rejected.reason  # type: ignore[attr-defined]
    assert rejected.raw == raw  # type: ignore[attr-defined]
    assert rejected.source == "payload-0"  # type: ignore[attr-defined]
    assert rejected.errors[0]["type"].startswith(error_type)  # type: ignore[attr-defined]
    assert all({"loc", "msg", "type"} <= set(e) for e in rejected.errors)  # type: ignore[attr-defined]
    submitted = next(r for r in run.log if r.type == "JobSubmitted")
    assert rejected.submitted_position == submitted.position  # type: ignore[attr-defined]
    assert "JobAccepted" not in [r.type for r in run.log if r.correlation_id
                                 == submitted.correlation_id]
    assert run.types("after")[-1] == "JobCompleted"
    assert not any(r.type in ("HandlerFailed", "ActorDied") for r in run.log)


def test_a_job_id_submitted_twice_runs_once_and_the_second_is_rejected(tmp_path: Path) -> None:
    """The router accepts a job id once, so a job ends exactly once."""
    run = run_jobs(tmp_path, [custom("twice"), custom("twice")])
    assert run.types("twice").count("JobAccepted") == 1
    assert run.types("twice").count("JobCompleted") == 1
    rejected = run.one("JobRejected", "twice")
    first = next(r for r in run.log if r.type == "JobSubmitted")
    assert rejected.reason == (  # type: ignore[attr-defined]
        f"duplicate: job 'twice' was accepted already (submitted at pos {first.position})")
    assert rejected.errors == []  # type: ignore[attr-defined]


def test_the_duplicate_check_survives_a_restart(tmp_path: Path) -> None:
    """A second submission in a later run of the runtime is rejected too (rebuilt from the log)."""
    run_jobs(tmp_path, [custom("again")])
    run = run_jobs(tmp_path, [custom("again")])
    assert run.types("again").count("JobAccepted") == 1
    assert run.one("JobRejected", "again").reason.startswith("duplicate")  # type: ignore[attr-defined]


def test_a_submission_whose_correlation_is_not_its_job_id_is_rejected(tmp_path: Path) -> None:
    """The saga keys on the correlation id; a hand-appended submission that breaks it is refused."""
    config = load_jobs_config(None, tmp_path / "jobs.log")
    from sagalog.events.jobs import JobSubmitted

    with Runtime(tmp_path / "jobs.log", durability="off") as runtime:
        add_jobs_workflow(runtime)
        runtime.append(config.queues.pending, [JobSubmitted(
            raw=custom("real"), source="hand", config=config)], correlation_id="other")
        assert runtime.wait_until_idle(30)
        (rejected,) = [r.data for r in runtime.store.read_all(types=["JobRejected"])]
    assert rejected.reason == (  # type: ignore[attr-defined]
        "the submission's correlation id 'other' is not its job id 'real'")


# -- failure injection ---------------------------------------------------------------------


def test_a_failed_pipeline_marks_a_custom_job_failed_in_the_table(tmp_path: Path) -> None:
    """Injected pipeline failure: the status row says 'failed' and the job ends JobFailed."""
    run = run_jobs(tmp_path, [custom("c1")], fails=["c1"])
    finished = run.one("JobFinished", "c1")
    assert (finished.status, finished.error) == ("failed", "injected failure")  # type: ignore[attr-defined]
    with JobsDatabase.open(run.config.jobs_db) as jobs:
        assert jobs.status("c1") == "failed"
    assert run.one("JobStatusUpdated", "c1").status == "failed"  # type: ignore[attr-defined]
    failed = run.one("JobFailed", "c1")
    position = next(r.position for r in run.of("c1") if r.type == "JobFinished")
    assert failed.reason == f"the pipeline failed at pos {position}: injected failure"  # type: ignore[attr-defined]
    assert "JobCompleted" not in run.types("c1")


def test_a_failed_pipeline_skips_the_indexers_of_a_default_job_and_says_why(
        tmp_path: Path) -> None:
    """The search gate records 'indexers skipped: the pipeline failed at pos N'."""
    run = run_jobs(tmp_path, [default("d1"), default("d2")], pipeline_fails={"d1"}.__contains__)
    position = next(r.position for r in run.of("d1") if r.type == "JobFinished")
    skips = [d.reason for d in run.decisions("d1") if d.rule == "skip"]
    assert (f"skipped stage search (indexers): indexers skipped: the pipeline failed at pos "
            f"{position} (injected failure)") in skips
    assert "RunIndexers" not in run.types("d1")
    assert run.types("d1")[-1] == "JobFailed"
    assert indexed(run.config.search_index) == [("d2", "d1")]


def test_the_wildcard_fails_every_pipeline(tmp_path: Path) -> None:
    """pipeline_fails ["*"] fails every job."""
    run = run_jobs(tmp_path, [custom("a"), default("b")], fails=["*"])
    assert [r.type for r in run.log if r.type in ("JobCompleted", "JobFailed")] == [
        "JobFailed", "JobFailed"]


def test_an_unknown_indexer_fails_the_job_with_its_name(tmp_path: Path) -> None:
    """A configured indexer nobody registered: IndexersFailed, and the saga fails with it."""
    run = run_jobs(tmp_path, [default("d1")], indexer_names=["fts5", "azure"])
    assert run.one("IndexersFailed", "d1").reason == (  # type: ignore[attr-defined]
        "no indexer named 'azure' (known: fts5)")
    failed = run.one("JobFailed", "d1")
    assert failed.reason.startswith("indexers failed: IndexersFailed at")  # type: ignore[attr-defined]
    assert indexed(run.config.search_index) == []


class CountingIndexer:
    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []

    def index(self, key: str, search_index: str, job_id: str,
              documents: Sequence[Document]) -> int:
        self.calls.append((job_id, [d.id for d in documents]))
        return len(documents)


def test_an_added_indexer_runs_beside_the_built_in_one(tmp_path: Path) -> None:
    """add_jobs_workflow(indexers=...) plugs an adapter in by the name the config uses."""
    counting = CountingIndexer()
    run = run_jobs(tmp_path, [default("d1")], indexer_names=["fts5", "count"],
                   indexers={"count": counting})
    assert counting.calls == [("d1", ["d1"])]
    assert run.one("IndexersRan", "d1").indexers == ["fts5", "count"]  # type: ignore[attr-defined]
    assert indexed(run.config.search_index) == [("d1", "d1")]


# -- the log as a whole --------------------------------------------------------------------


def test_unfinished_jobs_lists_accepted_jobs_without_an_end(tmp_path: Path) -> None:
    """With no data pipeline running, an accepted job stays unfinished; the summary says so."""
    config = load_jobs_config(None, tmp_path / "jobs.log")
    with Runtime(tmp_path / "jobs.log", durability="off") as runtime:
        runtime.add(JobRouter)
        runtime.add(saga_actor(JOB_SAGA))
        submit_job(runtime.store, custom("waiting"), "x", config)
        submit_job(runtime.store, "nope", "y", config)
        assert runtime.wait_until_idle(30)
        assert unfinished_jobs(runtime.store) == {"waiting"}
        assert jobs_summary(runtime.store) == {"JobCompleted": 0, "JobFailed": 0,
                                               "JobRejected": 1, "in flight": 1}
    with Runtime(tmp_path / "jobs.log", durability="off") as runtime:
        add_jobs_workflow(runtime)
        assert resume_jobs(runtime, timeout=30) == set()
        assert jobs_summary(runtime.store)["JobCompleted"] == 1
