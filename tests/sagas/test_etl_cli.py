"""``run.py etl`` as a user runs it: one line per source, exit codes, errors naming the field."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sagalog.actors.etl_server import serve_directory

RUN = Path(__file__).resolve().parents[2] / "run.py"
EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "etl"


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, str(RUN), "-q", *args], capture_output=True,
                          text=True, timeout=60, check=False, cwd=cwd)


def test_etl_prints_a_line_per_source_and_exits_1_when_one_is_quarantined(tmp_path):
    root = tmp_path / "site"
    root.mkdir()
    (root / "good.csv").write_text("a,b\n1,2\n")
    (root / "bad.csv").write_text("<html><body>Error</body></html>\n")
    db = tmp_path / "etl.db"
    with serve_directory(root) as server:
        config = tmp_path / "sources.json"
        config.write_text(json.dumps({"base_url": server.base_url, "sources": [
            {"source_id": "good", "url": "good.csv", "expected_format": "csv"},
            {"source_id": "bad", "url": "bad.csv", "expected_format": "csv"}]}))
        dry = cli("etl", "--db", str(db), "--config", str(config), "--dry-run")
        assert dry.returncode == 0, dry.stderr
        wanted = "good: dry run (dry run: download needed (no_manifest_record) but not executed)"
        assert wanted in dry.stdout
        assert server.count("GET") == 0

        done = cli("etl", "--db", str(db), "--config", str(config))
        assert done.returncode == 1, done.stderr
        out = done.stdout.splitlines()
        assert any(line.startswith("good: updated (no_manifest_record; ") for line in out)
        assert any(line.startswith("bad: quarantined (not csv: starts like HTML") for line in out)
        assert out[-1].endswith("1 of 2 sources ok")

    shown = cli("etl", "--db", str(db), "--manifest")
    assert shown.returncode == 0
    assert shown.stdout.startswith("good: ")
    assert "bad" not in shown.stdout


def test_etl_serves_the_example_site_itself_with_serve(tmp_path):
    config = json.loads((EXAMPLE / "sources.json").read_text())
    config["download_dir"] = str(tmp_path / "downloads")
    config["quarantine_dir"] = str(tmp_path / "quarantine")
    path = tmp_path / "sources.json"
    path.write_text(json.dumps(config))
    done = cli("etl", "--db", str(tmp_path / "etl.db"), "--config", str(path),
               "--serve", str(EXAMPLE / "site"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(": updated (no_manifest_record") == len(config["sources"])


def test_etl_names_the_config_file_and_field_and_exits_2(tmp_path):
    path = tmp_path / "sources.json"
    path.write_text('{"sources": [{"source_id": "x", "url": "http://h/x", '
                    '"expected_format": "xml"}]}')
    done = cli("etl", "--db", str(tmp_path / "etl.db"), "--config", str(path))
    assert done.returncode == 2
    assert done.stderr.startswith(f"sagalog: error: {path}: sources[0].expected_format: ")
    missing = cli("etl", "--db", str(tmp_path / "etl.db"))
    assert missing.returncode == 2
    assert "etl needs --config FILE" in missing.stderr
