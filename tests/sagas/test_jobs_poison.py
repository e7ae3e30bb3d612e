"""Poison job payloads among good ones: the worker records each and carries on.

A payload holding NaN, Infinity or a NUL made the router produce an output the log
refuses; the refusal came at the batch's commit, outside the handler's protection, so the
router died, was restarted, died again, and was given up on: every later job waited, and
``worker --until-idle`` never returned. Run here as a user runs it: real subprocesses.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sagalog.events.jobs import JobRejected
from sagalog.events.runtime import HandlerFailed
from sagalog.sagas.jobs import JOBS_TERMINAL_TYPES
from sagalog.store import open_store

RUN = Path(__file__).resolve().parents[2] / "run.py"

GOOD = '{{"type": "custom", "job_id": "{}", "tenant": "acme", "pipeline": "daily"}}'
POISON = {
    "nan.json": '{"type": "custom", "job_id": "nan-1", "tenant": "acme", "pipeline": "daily",'
                ' "parameters": {"rate": NaN}}',
    "infinity.json": '{"type": "custom", "job_id": "inf-1", "tenant": "acme",'
                     ' "pipeline": "daily", "parameters": {"rate": -Infinity}}',
    "nul-key.json": '{"type": "custom", "job_id": "key-1", "tenant": "acme",'
                    ' "pipeline": "daily", "parameters": {"a\\u0000": NaN}}',
    "nul-tenant.json": '{"type": "custom", "job_id": "nul-1", "tenant": "a\\u0000b",'
                       ' "pipeline": "daily"}',
}


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(RUN), "-q", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60, check=False)


def test_poison_payloads_are_recorded_and_every_good_job_completes(tmp_path: Path) -> None:
    """NaN/Infinity (and a NUL key) are rejected, storably; a job the log could not store
    once accepted (a NUL in its tenant) is rejected too, before its acceptance is built
    (a refused output's dead letter is tests/actors/test_refused_outputs.py's); the good
    jobs around them complete and ``worker --until-idle`` returns with a summary that adds
    up."""
    for number in range(3):  # good jobs first, between and after the poison ones
        (tmp_path / f"good-{number}.json").write_text(GOOD.format(f"good-{number}"))
    order = ["good-0.json", *list(POISON)[:2], "good-1.json", *list(POISON)[2:], "good-2.json"]
    for name, text in POISON.items():
        (tmp_path / name).write_text(text)
    files = [str(tmp_path / name) for name in order]
    submitted = cli("jobs", "submit", "--db", "log.db", *files, cwd=tmp_path)
    assert submitted.returncode == 0, submitted.stderr

    ran = cli("worker", "--db", "log.db", "--until-idle", cwd=tmp_path)

    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines()[-1] == (
        "worker stopped (no work left): 3 JobCompleted, 0 JobFailed, 4 JobRejected, "
        "0 in flight")
    with open_store(tmp_path / "log.db") as store:
        log = list(store.read_all())
        assert store.verify().ok
    assert "ActorDied" not in {r.type for r in log}
    assert "JobCompleted" in JOBS_TERMINAL_TYPES
    completed = {r.correlation_id for r in log if r.type == "JobCompleted"}
    assert completed == {"good-0", "good-1", "good-2"}
    rejected = {r.correlation_id: r.data for r in log if isinstance(r.data, JobRejected)}
    assert set(rejected) == {"nan-1", "inf-1", "key-1", "nul-1"}
    nan = rejected["nan-1"]
    assert isinstance(nan, JobRejected)
    assert nan.raw == POISON["nan.json"], "the raw payload is kept as it was sent"
    inputs = [item.get("input_json") for item in nan.errors]
    assert "NaN" in inputs, "the refused value is kept, spelled as JSON text"
    key = rejected["key-1"]
    assert isinstance(key, JobRejected)
    assert any('"a\\u0000"' in item.get("loc_json", "") for item in key.errors), key.errors
    nul = rejected["nul-1"]
    assert isinstance(nul, JobRejected)
    assert "cannot store" in nul.reason
    assert not [r for r in log if isinstance(r.data, HandlerFailed)]
