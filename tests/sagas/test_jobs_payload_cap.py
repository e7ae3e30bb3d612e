"""The job payload cap: an oversized job message is refused at submit, nothing written.

A 20 MB job once cost 80 MB of log and 490 MB of memory. The cap (``max_payload_bytes``
in the jobs config, ``jobs submit --max-payload-bytes``; 1 MiB by default) is checked
on the file's size before the file is read, and on the text for a caller of the library.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sagalog.events.jobs import DEFAULT_MAX_PAYLOAD_BYTES
from sagalog.sagas.jobs import (
    JobPayloadTooLargeError,
    load_jobs_config,
    submit_job,
    submit_job_files,
)
from sagalog.store import open_store
from tests.support import log_bytes

RUN = Path(__file__).resolve().parents[2] / "run.py"
JOB = json.dumps({"type": "custom", "job_id": "j1", "tenant": "t", "pipeline": "p"})


def sagalog(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(RUN), "-q", *arguments], capture_output=True,
                          text=True, timeout=60, check=False)


def test_default_cap_is_one_mebibyte(tmp_path: Path) -> None:
    """Without a config the cap is 1 MiB, as the docs say."""
    assert load_jobs_config(None, tmp_path / "log.db").max_payload_bytes == 1_048_576
    assert DEFAULT_MAX_PAYLOAD_BYTES == 1 << 20


def test_oversized_file_is_refused_by_the_cli_naming_size_and_cap(tmp_path: Path) -> None:
    """20 MB (a sparse file: its size is checked, it is never read) -> exit 2, one line."""
    db, big = tmp_path / "log.db", tmp_path / "big.json"
    with open_store(db) as store:  # a log with a record already, to see nothing is added
        submit_job(store, JOB, "first.json", load_jobs_config(None, db))
    with big.open("wb") as file:
        file.truncate(20_000_000)
    before = log_bytes(db)
    done = sagalog("jobs", "submit", str(big), "--db", str(db))
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.splitlines()
    assert line == (f"sagalog: error: {big}: the job message is 20,000,000 bytes, over the cap "
                    "of 1,048,576 bytes (max_payload_bytes in the jobs config, or jobs submit "
                    "--max-payload-bytes)")
    assert log_bytes(db) == before


def test_one_file_over_the_cap_submits_none_of_the_batch(tmp_path: Path) -> None:
    """Every file is checked before the log is opened: a good file beside a big one waits."""
    db, good, big = tmp_path / "log.db", tmp_path / "good.json", tmp_path / "big.json"
    good.write_text(JOB, encoding="utf-8")
    big.write_text(" " * 200 + JOB, encoding="utf-8")
    done = sagalog("jobs", "submit", "--max-payload-bytes", "100", str(good), str(big),
                   "--db", str(db))
    assert done.returncode == 2
    assert (f"big.json: the job message is {200 + len(JOB)} bytes, over the cap of 100 bytes"
            in done.stderr)
    assert not db.exists()


def test_cap_from_the_config_file_and_the_flag_overriding_it(tmp_path: Path) -> None:
    """``max_payload_bytes`` in the config applies; ``--max-payload-bytes`` overrides it."""
    db, job, config = tmp_path / "log.db", tmp_path / "job.json", tmp_path / "jobs.json"
    job.write_text(JOB, encoding="utf-8")
    config.write_text(json.dumps({"max_payload_bytes": 10}), encoding="utf-8")
    refused = sagalog("jobs", "submit", "--config", str(config), str(job), "--db", str(db))
    assert refused.returncode == 2
    assert "over the cap of 10 bytes" in refused.stderr
    allowed = sagalog("jobs", "submit", "--config", str(config), "--max-payload-bytes",
                      "1000", str(job), "--db", str(db))
    assert allowed.returncode == 0, allowed.stderr
    assert allowed.stdout == f"submitted {job} as j1\n"


@pytest.mark.parametrize("value", ["0", "-1"])
def test_a_cap_below_one_byte_is_refused(tmp_path: Path, value: str) -> None:
    """A cap of 0 or less would refuse every job: it is a mistake, said in one line."""
    job = tmp_path / "job.json"
    job.write_text(JOB, encoding="utf-8")
    done = sagalog("jobs", "submit", "--max-payload-bytes", value, str(job),
                   "--db", str(tmp_path / "log.db"))
    assert done.returncode == 2
    assert done.stderr == f"sagalog: error: --max-payload-bytes must be at least 1, not {value}\n"


def test_library_submit_refuses_text_over_the_cap_and_writes_nothing(tmp_path: Path) -> None:
    """A caller of ``submit_job`` gets the typed error, with the size in UTF-8 bytes."""
    db = tmp_path / "log.db"
    config = load_jobs_config(None, db).model_copy(update={"max_payload_bytes": 96})
    text = json.dumps({"type": "custom", "job_id": "j2", "tenant": "é" * 20, "pipeline": "p"},
                      ensure_ascii=False)  # 85 characters (under the cap), 105 bytes (over it)
    with open_store(db) as store:
        with pytest.raises(JobPayloadTooLargeError) as refused:
            submit_job(store, text, "api", config)
        assert (refused.value.size, refused.value.cap, refused.value.source) == (105, 96, "api")
        assert store.last_position() == 0
    (tmp_path / "ok.json").write_text(JOB, encoding="utf-8")
    assert submit_job_files(str(db), [tmp_path / "ok.json"], config) == ["j1"]
