"""The catalogue of built-in sagas, and the names ``sagas.kinds`` writes out.

``sagas.kinds`` spells out what the definitions say (so that ``list`` and the help need
no workflow); these tests keep the two from drifting apart, and ``list`` from loading
the workflows again.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

from sagalog.actors.jobs import REJECTED_STATUS
from sagalog.events import Envelope, Message, registry
from sagalog.events.jobs import JobRejected
from sagalog.events.orders import OrderPlaced
from sagalog.events.sagas import SagaDecided
from sagalog.sagas import kinds
from sagalog.sagas._status import saga_status_hook
from sagalog.sagas.catalog import DEFINITIONS, KINDS, RUN_STATUS_HOOKS
from sagalog.sagas.jobs import JOB_SAGA
from sagalog.store import open_store

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ("sagalog.sagas.catalog", "sagalog.sagas.etl", "sagalog.sagas.jobs",
             "sagalog.sagas.master", "sagalog.sagas.orders", "sagalog.sagas.pipeline",
             "sagalog.events.orders", "sagalog.events.etl", "sagalog.events.jobs",
             "sagalog.events.master", "sagalog.events.pipeline")


def test_kinds_say_what_the_definitions_say() -> None:
    starts = {saga.start.message_type: saga.name for saga in DEFINITIONS.values()}
    assert KINDS is kinds.KINDS  # sagas.catalog's public name still works
    assert dict(KINDS) == {**starts, "JobSubmitted": JOB_SAGA.name, "EtlRunStarted": "etl-run"}
    assert tuple(DEFINITIONS) == kinds.SAGA_NAMES


def record(message: Message) -> Envelope[Message]:
    return Envelope(1, "s", 1, uuid4(), message.message_type, 1,
                    datetime(2026, 1, 1, tzinfo=UTC), "run-1", None, message)


def test_the_run_status_hooks_are_each_sagas_and_the_refused_jobs() -> None:
    assert [hook.name for hook in RUN_STATUS_HOOKS] == [
        *(saga_status_hook(saga).name for saga in DEFINITIONS.values()), REJECTED_STATUS.name]
    assert RUN_STATUS_HOOKS[-1] is REJECTED_STATUS


def test_the_light_hooks_stand_for_the_catalogs_and_answer_alike() -> None:
    """Same names, types and order; the same status for every kind of record."""
    light = kinds.run_status_hooks()
    assert [(hook.name, hook.types) for hook in light] == [
        (hook.name, hook.types) for hook in RUN_STATUS_HOOKS]
    records = [record(SagaDecided(saga=saga, saga_id="run-1", rule=rule, reason="r",
                                  trigger_type="T", trigger_position=1,
                                  trigger_event_id=str(uuid4()), commands=[]))
               for saga in (*DEFINITIONS, "not-built-in")
               for rule in ("start-stage", "complete", "fail", "end", "escalate", "compensate")]
    records += [record(JobRejected(reason="bad", errors=[], raw="{", source="f",
                                   submitted_position=1)),
                record(OrderPlaced(order_id="o", product_id="p", amount_cents=1))]
    answers = [[hook.status(each) for hook in light] for each in records]
    assert answers == [[hook.status(each) for hook in RUN_STATUS_HOOKS] for each in records]
    statuses = {status for answer in answers for status in answer}
    assert statuses == {None, "running", "completed", "failed", "ended", "manual_review",
                        "rejected"}


def test_the_light_hooks_load_no_workflow_until_shown_a_record() -> None:
    out = fresh("import sys\n"
                "from sagalog.sagas.kinds import run_status_hooks\n"
                "assert len(run_status_hooks()) == 6\n"
                "print(' '.join(sys.modules))")
    assert [name for name in WORKFLOWS if name in out.split()] == []
    assert "pydantic" not in out.split()


def test_every_first_type_of_a_kind_is_a_registered_message() -> None:
    assert [name for name in KINDS if registry.current(name) is None] == []


def fresh(code: str, *arguments: str) -> str:
    """What ``code`` prints in a new interpreter started in the repository (as run.py is)."""
    result = subprocess.run([sys.executable, "-c", code, *arguments], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, check=True)
    return result.stdout


def test_list_loads_no_workflow(tmp_path: Path) -> None:
    """``list`` reads the runs table: importing the workflows was half of its time."""
    log = tmp_path / "log.db"
    with open_store(log):
        pass
    out = fresh("import sys, run\n"
                "assert run.main(['-q', 'list', '--db', sys.argv[1]]) == 0\n"
                "print(' '.join(sys.modules))", str(log)).splitlines()
    assert out[-2] == "0 runs"
    assert [name for name in WORKFLOWS if name in out[-1].split()] == []


def test_the_decoding_commands_register_every_message_type() -> None:
    """``timeline``, ``show``, ``tail``, ``import``... decode records of any workflow."""
    missing = fresh(
        "import importlib, pkgutil\n"
        "import sagalog.events as events\n"
        "from sagalog import cli\n"
        "cli.load_message_types()\n"
        "before = set(events.registry.names())\n"
        "for module in pkgutil.iter_modules(events.__path__):\n"
        "    importlib.import_module(f'sagalog.events.{module.name}')\n"
        "import sagalog.sagas.catalog, sagalog.sagas.worker, sagalog.sagas.showcase\n"
        "print(sorted(set(events.registry.names()) - before))")
    assert missing.strip() == "[]"
