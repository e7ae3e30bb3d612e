"""`run.py data-pipeline`: the result printed, exit 0 on success or partial success, 1 on
failure, 2 on a bad config (before any log is created)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sagalog import cli
from tests.sagas.pipeline_support import break_schema, config_of, copy_example


def data_pipeline(db: Path, config: Path) -> int:
    return cli.main(["-q", "data-pipeline", "--db", str(db), "--config", str(config)])


def test_success_then_partial_success_exit_0(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    project = copy_example(tmp_path)
    db = tmp_path / "log.db"
    assert data_pipeline(db, config_of(project)) == 0
    out = capsys.readouterr().out
    assert "finished: success" in out
    assert "collector  success: 3 of 3 ok, 10 rows" in out
    assert "timestamp  " in out
    break_schema(project)
    assert data_pipeline(db, config_of(project)) == 0
    out = capsys.readouterr().out
    assert "finished: partial_success" in out
    assert "collector  failed, rollback SUCCESS: 2 of 3 ok" in out
    assert "report     " in out


def test_failure_exits_1_and_names_the_report(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    project = copy_example(tmp_path)
    break_schema(project)
    assert data_pipeline(tmp_path / "log.db", config_of(project)) == 1
    out = capsys.readouterr().out
    assert "finished: failed" in out
    assert "loader     did not run" in out
    assert "no successful rollback" in out
    assert "manual_review_DataPipelineOrchestrator_" in out


def test_a_bad_config_exits_2_naming_the_file_and_opens_no_log(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.json"
    config.write_text('{"default_dir": ""}')
    assert data_pipeline(tmp_path / "log.db", config) == 2
    err = capsys.readouterr().err
    assert f"{config}: field 'default_dir': must be a non-empty string" in err
    assert not (tmp_path / "log.db").exists()
