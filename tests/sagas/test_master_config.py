"""The master pipeline's configuration: environment overrides, paths, and errors naming
the file and the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sagalog.events import SagalogError
from sagalog.sagas._master_config import load_master_config
from tests.sagas.procs.master_worker import example_config, write_config


def write(tmp_path: Path, config: object) -> Path:
    path = tmp_path / "master.json"
    path.write_text(json.dumps(config))
    return path


def test_defaults_apply_when_the_variables_are_unset(tmp_path: Path) -> None:
    """${NAME:-default} gives the default; the retry default is 3 tries 30 s apart."""
    config = load_master_config(write_config(tmp_path), environ={})
    assert config.environment["workspace_id"] == "ws-dev-0001"
    assert config.environment["connections"]["warehouse"] == "conn-warehouse-dev"
    assert (config.retry.attempts, config.retry.delay_s) == (3, 30.0)
    assert config.stages["integration"].retry is not None
    assert config.stages["integration"].retry.attempts == 3


def test_environment_variables_override_per_environment_values(tmp_path: Path) -> None:
    """Set variables win, strings and numbers alike (a lone reference takes the field's type)."""
    environ = {"MASTER_WORKSPACE_ID": "ws-prod-42", "SAGALOG_ENV": "prod",
               "MASTER_INTEGRATION_ATTEMPTS": "7", "MASTER_WORK_DIR": "/srv/master"}
    config = load_master_config(write_config(tmp_path), environ=environ)
    assert config.environment["workspace_id"] == "ws-prod-42"
    assert config.environment["name"] == "prod"
    assert config.stages["integration"].retry is not None
    assert config.stages["integration"].retry.attempts == 7
    assert config.paths.work_dir == "/srv/master"
    assert config.paths.warehouse == "/srv/master/warehouse.db"


def test_relative_paths_resolve_against_the_files_folder(tmp_path: Path) -> None:
    """Paths are absolute once loaded, relative to the configuration file, not the cwd."""
    config = load_master_config(write_config(tmp_path / "deep" / "er"), environ={})
    folder = (tmp_path / "deep" / "er").resolve()
    assert config.paths.source_dir == str(folder / "data")
    assert config.paths.monitoring_db == str(folder / "work" / "monitoring.db")
    assert config.source == str(folder / "master.json")


def test_a_required_variable_that_is_unset_names_the_file_and_field(tmp_path: Path) -> None:
    raw = example_config()
    raw["environment"]["workspace_id"] = "${MASTER_WORKSPACE_ID}"
    path = write(tmp_path, raw)
    with pytest.raises(SagalogError, match=r"master\.json: environment\.workspace_id: "
                                           r"environment variable MASTER_WORKSPACE_ID is not set"):
        load_master_config(path, environ={})


@pytest.mark.parametrize(("change", "expected"), [
    (lambda c: c["stages"]["integration"].update(retry={"attempts": 0}),
     r"stages\.integration\.retry\.attempts: Input should be greater than or equal to 1"),
    (lambda c: c["stages"].pop("monitoring"), r"stages: missing monitoring"),
    (lambda c: c["stages"].update(publishing={"action": "x"}), r"unknown stage publishing"),
    (lambda c: c.update(fail={"nowhere": 1}), r"fail\.nowhere: not a stage"),
    (lambda c: c.update(typo=1), r"typo: Extra inputs are not permitted"),
    (lambda c: c["stages"]["integration"].pop("action"),
     r"stages\.integration\.action: Field required"),
    (lambda c: c["semantic_models"].update({"bad name": {"query": "SELECT 1"}}),
     r"semantic_models\.bad name: a model's name must be a plain identifier"),
])
def test_a_wrong_field_is_named(tmp_path: Path, change, expected: str) -> None:
    raw = example_config()
    change(raw)
    path = write(tmp_path, raw)
    with pytest.raises(SagalogError, match=rf"master\.json: .*{expected}"):
        load_master_config(path, environ={})


def test_a_missing_file_and_bad_json_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(SagalogError, match=r"absent\.json: cannot read the configuration"):
        load_master_config(tmp_path / "absent.json", environ={})
    broken = tmp_path / "broken.json"
    broken.write_text('{"stages": {,}}')
    with pytest.raises(SagalogError, match=r"broken\.json: not valid JSON: .* line 1, column 13"):
        load_master_config(broken, environ={})
    listed = write(tmp_path, [1, 2])
    with pytest.raises(SagalogError, match="must be a JSON object"):
        load_master_config(listed, environ={})
