"""``run.py master-pipeline`` as a user runs it: a real subprocess on the example dataset."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.sagas.procs.master_worker import write_config

RUN = str(Path(__file__).resolve().parents[2] / "run.py")


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, RUN, "-q", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, check=False)


def test_a_completed_run_prints_each_stage_and_exits_0(tmp_path: Path) -> None:
    config = write_config(tmp_path / "p")
    result = cli("master-pipeline", "--db", "log.db", "--config", str(config),
                 "--maintenance", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].endswith(": completed")
    assert [line.split()[:2] for line in lines[1:]] == [
        [stage, "succeeded"] for stage in ("initialisation", "integration", "transformation",
                                           "monitoring", "maintenance", "semantic_refresh")]
    assert "3 items" in lines[-1]


def test_a_failed_run_exits_1_and_says_which_stage(tmp_path: Path) -> None:
    config = write_config(tmp_path / "p", stages={"monitoring": {
        "settings": {"thresholds": {"fct_sales": 1000}}}})
    result = cli("master-pipeline", "--db", "log.db", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "monitoring       failed" in result.stdout
    assert "semantic_refresh skipped: skipped stage semantic_refresh" in result.stdout
    told = (tmp_path / "p" / "work" / "notifications.jsonl").read_text().split("\n")[:-1]
    assert [json.loads(line)["recipient"] for line in told] == ["ops-data-platform"]
    assert "operations told: stage monitoring failed" in result.stdout


def test_bad_input_exits_2_naming_the_file(tmp_path: Path) -> None:
    missing = cli("master-pipeline", "--db", "log.db", "--config", "nope.json", cwd=tmp_path)
    assert missing.returncode == 2
    assert "nope.json: cannot read the configuration" in missing.stderr
    no_config = cli("master-pipeline", "--db", "log.db", cwd=tmp_path)
    assert no_config.returncode == 2
    assert "needs --config FILE" in no_config.stderr
