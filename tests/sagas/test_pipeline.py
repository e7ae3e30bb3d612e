"""The data pipeline end to end: real files, a real target database, every path of the matrix."""

from __future__ import annotations

from pathlib import Path

import pytest

from sagalog.actors import MockNotificationHandler, Runtime
from sagalog.actors.pipeline import DataCollector, DataLoader, load_history
from sagalog.events import SagalogError
from sagalog.events.pipeline import (
    CollectData,
    CollectorFinished,
    LoadData,
    LoaderFailed,
    LoaderFinished,
)
from sagalog.sagas.pipeline import (
    add_pipeline_workflow,
    resume_pipelines,
    start_pipeline,
    unfinished_pipelines,
)
from tests.sagas.pipeline_support import (
    break_schema,
    config_of,
    copy_example,
    newest_files,
    report_files,
    rows,
    run_pipeline,
    run_with_retries,
    target_db,
    write_source,
)

SECTIONS = ("MANUAL REVIEW NOTIFICATION", "------------------------------ SUMMARY",
            "------------------------- ERROR DETAILS", "---------------------- HEALING ACTIONS",
            "-------------------------- METADATA")


def assert_report(outcome, project: Path, status: str) -> str:
    """Exactly one report for the run, in the note's layout, and one notification of it."""
    (path,) = report_files(project)
    assert path.parent.name == outcome.run_id
    text = path.read_text(encoding="utf-8")
    for section in SECTIONS:
        assert section in text
    assert f"Status       : {status}" in text
    assert "Agent ID     : DataPipelineOrchestrator" in text
    assert "Memory Usage (MB)   : " in text
    assert "%)" in text
    (sent,) = outcome.handler.sent
    assert sent.recipient == "data-team@example.com"
    assert sent.message == text
    (written,) = [r.data for r in outcome.of_run() if r.type == "ManualReviewReportWritten"]
    assert written.path == str(path)
    assert written.delivered
    assert outcome.result["report_path"] == str(path)
    return text


def test_both_phases_succeed_gives_success_and_no_report(tmp_path: Path) -> None:
    """Collector success -> proceed (recorded with the reason) -> loader loads -> success."""
    project = copy_example(tmp_path)
    outcome = run_pipeline(project, tmp_path / "log.db")
    assert outcome.result["overall_status"] == "success"
    assert set(outcome.result) >= {"overall_status", "collector_result", "loader_result",
                                   "timestamp"}
    assert outcome.result["collector_result"]["status"] == "success"  # type: ignore[index]
    assert outcome.result["loader_result"]["type"] == "LoaderFinished"  # type: ignore[index]
    position = next(r.position for r in outcome.of_run() if r.type == "CollectorFinished")
    assert (
        "start-stage",
        (f"started stage load: load because CollectorFinished at {position}; gate "
        f"decision-matrix: collector succeeded (pos {position}): proceed"),
    ) in outcome.decisions()
    assert len(rows(target_db(project), "purchaseOrders")) == 3
    assert len(load_history(target_db(project))) == 1
    assert report_files(project) == []
    assert outcome.handler.sent == []


def test_collector_failure_rolled_back_still_loads_and_is_partial_success(tmp_path: Path) -> None:
    """Collector fails, ROLLBACK_TO_BACKUP restores the last good dataset (for real), the
    loader loads it, and the run is partial_success with a report."""
    project = copy_example(tmp_path)
    db = tmp_path / "log.db"
    assert run_pipeline(project, db).result["overall_status"] == "success"
    good = newest_files(project)
    break_schema(project)

    outcome = run_pipeline(project, db)

    assert outcome.result["overall_status"] == "partial_success"
    collector = outcome.finished().collector_result
    assert collector is not None
    assert (collector.status, collector.rollback_status) == ("failed", "SUCCESS")
    assert [e.error_type for e in collector.errors] == ["TYPE_MISMATCH"]
    assert newest_files(project) == good  # the files really are the last good ones again
    position = next(r.position for r in outcome.of_run() if r.type == "CollectorFinished")
    reason = (f"collector failed and ROLLBACK_TO_BACKUP succeeded (pos {position}): proceed")
    assert any(rule == "start-stage" and why.endswith(reason)
               for rule, why in outcome.decisions())
    assert "LoaderFinished" in outcome.types()
    assert len(rows(target_db(project), "purchaseOrders")) == 3  # the old, good data
    assert len(load_history(target_db(project))) == 2
    text = assert_report(outcome, project, "PARTIAL_SUCCESS")
    assert "Total Databases     : 6" in text  # 3 sources + 3 tables
    assert "Failed              : 1" in text
    assert "Error Type     : TYPE_MISMATCH" in text
    assert "1. [HIGH] ROLLBACK_TO_BACKUP at local \N{RIGHTWARDS ARROW} Status: SUCCESS" in text
    assert "Trigger Agents      : DataCollector" in text


def test_collector_failure_without_backup_skips_the_loader_and_fails(tmp_path: Path) -> None:
    """First run, bad source: no backup to roll back to -> loader skipped (recorded) -> failed."""
    project = copy_example(tmp_path)
    break_schema(project)
    outcome = run_pipeline(project, tmp_path / "log.db")

    assert outcome.result["overall_status"] == "failed"
    assert outcome.result["loader_result"] is None
    collector = outcome.finished().collector_result
    assert collector is not None
    assert (collector.status, collector.rollback_status) == ("failed", "FAILED")
    position = next(r.position for r in outcome.of_run() if r.type == "CollectorFinished")
    reason = f"collector failed and no successful rollback (pos {position}): loader skipped"
    assert ("skip", f"skipped stage load (load): {reason}") in outcome.decisions()
    assert outcome.finished().reason == reason
    assert outcome.finished().loader_skipped
    assert "LoadData" not in outcome.types()
    assert not target_db(project).exists()
    assert not (project / "agents/shared_db/DataCollector/newest").exists()  # partial removed
    text = assert_report(outcome, project, "FAILED")
    assert "Error Type     : LOADER_SKIPPED" in text
    assert "ROLLBACK_TO_BACKUP at local \N{RIGHTWARDS ARROW} Status: FAILED" in text
    assert "Successful          : 2" in text  # two of three sources were fine


def test_loader_failure_restores_the_target_from_its_backup(tmp_path: Path) -> None:
    """Collector OK, the load breaks on the second table: the target is the old one again."""
    project = copy_example(tmp_path)
    db = tmp_path / "log.db"
    run_pipeline(project, db)
    old_records = rows(target_db(project), "productRecords")
    old_orders = rows(target_db(project), "purchaseOrders")
    write_source(project, "productRecords.csv",
                 "recordDate,workingShift,machineNo,itemCode,itemGoodQuantity\n"
                 "2024-04-01,1,NO.09,99999X,1\n")
    write_source(project, "purchaseOrders.csv",  # a duplicate key: the load fails here
                 "poNo,poReceivedDate,itemCode,itemQuantity\n"
                 "IM9,2024-04-01,99999X,1\nIM9,2024-04-02,99999X,2\n")

    outcome = run_pipeline(project, db)

    assert outcome.result["overall_status"] == "failed"
    loader = outcome.finished().loader_result
    assert isinstance(loader, LoaderFailed)
    assert loader.rollback_status == "SUCCESS"
    assert [(e.data_type, e.error_type) for e in loader.errors] == [
        ("purchaseOrders", "INTEGRITY_ERROR")]
    assert rows(target_db(project), "productRecords") == old_records  # loaded, then undone
    assert rows(target_db(project), "purchaseOrders") == old_orders
    assert len(load_history(target_db(project))) == 1
    position = next(r.position for r in outcome.of_run() if r.type == "LoaderFailed")
    assert any(rule == "fail" and f"load failed: LoaderFailed at {position}" in why
               for rule, why in outcome.decisions())
    text = assert_report(outcome, project, "FAILED")
    assert "Error Type     : INTEGRITY_ERROR" in text
    assert "ROLLBACK_TO_BACKUP at database \N{RIGHTWARDS ARROW} Status: SUCCESS" in text
    assert "Trigger Agents      : DataLoaderAgent" in text


class CrashingCollector(DataCollector):
    def collect(self, command: CollectData, key: str) -> CollectorFinished:
        raise RuntimeError("disk on fire")


class CrashingLoader(DataLoader):
    def load(self, command: LoadData, key: str) -> LoaderFinished | LoaderFailed:
        raise RuntimeError("target locked forever")


def test_a_collector_crash_ends_the_run_as_failed(tmp_path: Path) -> None:
    """The collector raises on every try: its dead letter fails the run, and a report says so."""
    project = copy_example(tmp_path)
    outcome = run_with_retries(project, tmp_path / "log.db", collector=CrashingCollector())
    assert outcome.result["overall_status"] == "failed"
    assert outcome.result["collector_result"] is None
    assert outcome.types().count("HandlerFailed") == 1
    assert "collect failed: pipeline:collector failed on it: RuntimeError" in str(
        outcome.result["reason"])
    assert ("skip", ("skipped stage load (load): halted because collect failed: "
                    "pipeline:collector failed on it: RuntimeError")) in outcome.decisions()
    text = assert_report(outcome, project, "FAILED")
    assert "Data Type      : DataCollector\n  Error Type     : AGENT_CRASHED" in text
    assert "Trigger Agents      : DataCollector\n" in text


def test_a_loader_crash_ends_the_run_as_failed(tmp_path: Path) -> None:
    project = copy_example(tmp_path)
    outcome = run_with_retries(project, tmp_path / "log.db", loader=CrashingLoader())
    assert outcome.result["overall_status"] == "failed"
    assert outcome.result["collector_result"]["status"] == "success"  # type: ignore[index]
    assert outcome.result["loader_result"] is None
    assert "load failed: pipeline:loader failed on it: RuntimeError" in str(
        outcome.result["reason"])
    text = assert_report(outcome, project, "FAILED")
    assert "Data Type      : DataLoaderAgent\n  Error Type     : AGENT_CRASHED" in text
    assert "Trigger Agents      : DataLoaderAgent\n" in text


@pytest.mark.parametrize(("content", "field", "words"), [
    (None, None, "no such configuration file"),
    ("{not json", None, "not valid JSON"),
    ("[1, 2]", None, "must be a JSON object"),
    ('{"dynamic_db_source_dir": 3}', "dynamic_db_source_dir", "must be a non-empty string"),
    ('{"databaseSchema_path": "x.json"}', "databaseSchema_path", "unknown field"),
])
def test_a_bad_config_is_refused_naming_the_file_and_field(
        tmp_path: Path, content: str | None, field: str | None, words: str) -> None:
    """Nothing is appended: the error names the file and (where there is one) the field."""
    project = copy_example(tmp_path)
    config = config_of(project)
    if content is None:
        config.unlink()
    else:
        config.write_text(content)
    with pytest.raises(SagalogError) as raised:
        run_pipeline(project, tmp_path / "log.db")
    message = str(raised.value)
    assert str(config) in message
    assert words in message
    if field is not None:
        assert f"field {field!r}" in message


def test_resume_finishes_a_run_started_by_a_process_that_stopped(tmp_path: Path) -> None:
    """A run appended while no workflow ran is finished by resume_pipelines in a new runtime."""
    project = copy_example(tmp_path)
    db = tmp_path / "log.db"
    with Runtime(db, durability="off") as runtime:
        run_id = start_pipeline(runtime, config_of(project))
        assert unfinished_pipelines(runtime.store) == {run_id}
    with Runtime(db, durability="off") as runtime:
        add_pipeline_workflow(runtime, MockNotificationHandler())
        results = resume_pipelines(runtime, timeout=30)
        assert unfinished_pipelines(runtime.store) == set()
    assert results[run_id]["overall_status"] == "success"
    assert [run for _, run in load_history(target_db(project))] == [run_id]
