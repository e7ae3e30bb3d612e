"""The two phase adapters on real files: checks, backups, rollbacks, and re-runs after a crash."""

from __future__ import annotations

import json
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

from sagalog.actors import MockNotificationHandler
from sagalog.actors._pipeline_schema import ColumnSpec, TableSpec, check_source
from sagalog.actors.pipeline import (
    DEFAULTS,
    DataCollector,
    DataLoader,
    PipelineReporter,
    load_history,
    load_pipeline_config,
)
from sagalog.events.pipeline import CollectData, LoadData, LoaderFinished
from tests.sagas.pipeline_support import (
    break_schema,
    config_of,
    copy_example,
    newest,
    newest_files,
    outbox,
    report_files,
    rows,
    run_pipeline,
    target_db,
    write_source,
)


def commands(project: Path) -> tuple[CollectData, LoadData]:
    config = load_pipeline_config(config_of(project))
    return CollectData(run_id="r", config=config), LoadData(run_id="r", config=config)


def test_config_paths_resolve_against_the_config_file_and_default_as_in_the_note(
        tmp_path: Path) -> None:
    (tmp_path / "c.json").write_text('{"default_dir": "out"}')
    config = load_pipeline_config(tmp_path / "c.json")
    assert config.default_dir == str(tmp_path / "out")
    assert config.dynamic_db_source_dir == str(tmp_path / DEFAULTS["dynamic_db_source_dir"])
    assert config.databaseSchemas_path == str(tmp_path / "database/databaseSchemas.json")
    assert config.annotation_path == str(
        tmp_path / "agents/shared_db/DataLoaderAgent/newest/path_annotations.json")
    assert config.outbox_path == str(
        tmp_path / "agents/shared_db/DataPipelineOrchestrator/notifications.jsonl")


def test_a_source_is_checked_for_columns_types_and_required_values() -> None:
    spec = TableSpec("t", "t.csv", {"id": ColumnSpec("int"), "day": ColumnSpec("date"),
                                    "ok": ColumnSpec("bool"), "note": ColumnSpec("str", False)})
    good = check_source(spec, b"id,day,ok,note,extra\n1,2024-01-02,yes,,x\n")
    assert good.errors == []
    assert good.rows == [{"id": 1, "day": "2024-01-02", "ok": True, "note": None}]
    assert len(good.warnings) == 1  # the extra column
    bad = check_source(spec, b"id,day,ok\n1.5,2024-13-01,\n")
    assert [kind for kind, _ in bad.errors] == ["TYPE_MISMATCH", "TYPE_MISMATCH",
                                                "MISSING_VALUE"]
    missing = check_source(spec, b"id,ok\n1,true\n")
    assert [kind for kind, _ in missing.errors] == ["MISSING_COLUMN"]
    json_spec = TableSpec("j", "j.json", {"x": ColumnSpec("float")})
    assert check_source(json_spec, b'[{"x": 2}]').rows == [{"x": 2.0}]
    assert [k for k, _ in check_source(json_spec, b'{"x": 1}').errors] == ["PARSE_ERROR"]


def test_collecting_again_under_the_same_key_answers_from_the_manifest(tmp_path: Path) -> None:
    """A re-run of a finished CollectData (crash before its result committed) does nothing."""
    project = copy_example(tmp_path)
    collect, _ = commands(project)
    first = DataCollector().collect(collect, "key-1")
    files = newest_files(project)
    break_schema(project)  # would fail if it were collected again
    again = DataCollector().collect(collect, "key-1")
    assert again.model_dump(exclude={"duration_s"}) == first.model_dump(exclude={"duration_s"})
    assert newest_files(project) == files
    assert not (newest(project).parent / "backup").exists()  # nothing was backed up


def test_an_interrupted_collection_never_becomes_the_backup(tmp_path: Path) -> None:
    """Crash mid-collection (backup made, manifest gone, files half new), re-run fails: the
    rollback restores the good dataset of before, not the half-written one."""
    project = copy_example(tmp_path)
    collect, _ = commands(project)
    DataCollector().collect(collect, "key-1")
    good = newest_files(project)
    # What the crashed run of key-2 left: the backup, no manifest, one file half new.
    shutil.copytree(newest(project), newest(project).parent / "backup")
    (newest(project) / "_manifest.json").unlink()
    (newest(project) / "moldInfo.json").write_text('{"half": ')
    break_schema(project)
    result = DataCollector().collect(collect, "key-2")
    assert (result.status, result.rollback_status) == ("failed", "SUCCESS")
    assert newest_files(project) == good


def test_loading_again_under_the_same_key_loads_nothing(tmp_path: Path) -> None:
    project = copy_example(tmp_path)
    collect, load = commands(project)
    DataCollector().collect(collect, "c-1")
    first = DataLoader().load(load, "l-1")
    again = DataLoader().load(load, "l-1")
    assert isinstance(first, LoaderFinished)
    assert again == LoaderFinished.model_validate_json(first.model_dump_json())
    assert load_history(target_db(project)) == [("l-1", "r")]


def test_an_interrupted_load_is_rolled_back_before_loading_again(tmp_path: Path) -> None:
    """Crash mid-load (marker left, one table half changed): the next try restores the
    backup first, then loads; the healing is recorded, the load counted once."""
    project = copy_example(tmp_path)
    collect, load = commands(project)
    DataCollector().collect(collect, "c-1")
    DataLoader().load(load, "l-1")
    db = target_db(project)
    # What the crashed load of l-2 left: a backup of the good target, the marker, and a
    # table it had already replaced with new rows.
    shutil.copy(db, f"{db}.backup")
    Path(f"{db}.loading").write_text("l-2")
    with closing(sqlite3.connect(db)) as connection, connection:
        connection.execute('DELETE FROM "moldInfo"')
    write_source(project, "moldInfo.json",
                 json.dumps([{"moldNo": "NEW", "cavities": 1, "cycleTime_s": 1, "active": 0}]))
    DataCollector().collect(collect, "c-2")
    result = DataLoader().load(load, "l-2")
    assert isinstance(result, LoaderFinished)
    (healing,) = result.healing_actions
    assert (healing.action_name, healing.status) == ("ROLLBACK_TO_BACKUP", "SUCCESS")
    assert "interrupted load" in healing.detail
    assert rows(db, "moldInfo") == [("NEW", 1, 1.0, 0)]
    assert load_history(db) == [("l-1", "r"), ("l-2", "r")]
    assert not Path(f"{db}.loading").exists()


def test_a_report_written_before_a_crash_is_reused_not_written_again(tmp_path: Path) -> None:
    """The reporter's file for a run is found on a re-run (crash between file and record):
    no second file, and the notification goes out again (at least once)."""
    project = copy_example(tmp_path)
    break_schema(project)
    outcome = run_pipeline(project, tmp_path / "log.db")
    (path,) = report_files(project)
    finished = outcome.finished()
    envelope = next(r for r in outcome.log if r.type == "PipelineFinished")
    handler = MockNotificationHandler()
    written = PipelineReporter(handler).report(finished, envelope)
    assert written is not None
    assert written.path == str(path)
    assert report_files(project) == [path]
    (sent,) = handler.sent
    assert sent.message == path.read_text(encoding="utf-8")


def test_the_default_handler_appends_to_the_runs_outbox(tmp_path: Path) -> None:
    project = copy_example(tmp_path)
    break_schema(project)
    outcome = run_pipeline(project, tmp_path / "log.db", handler=None)
    (note,) = outbox(project)
    assert note["recipient"] == "data-team@example.com"
    assert note["priority"] == "high"
    assert note["message"] == Path(str(outcome.result["report_path"])).read_text()
