"""Helpers shared by the data pipeline's tests: a copy of the example, runs, log queries."""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from sagalog.actors import MockNotificationHandler, Runtime, VirtualClock
from sagalog.events import Envelope, Message
from sagalog.events.pipeline import ManualReviewReportWritten, PipelineFinished
from sagalog.events.sagas import SagaDecided
from sagalog.sagas.pipeline import add_pipeline_workflow, run_data_pipeline, start_pipeline

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "pipeline"
SOURCES = "database/dynamicDatabase"


def copy_example(tmp_path: Path) -> Path:
    """The example (config, schemas, annotations, sources) in ``tmp_path/project``."""
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project)
    return project


def config_of(project: Path) -> Path:
    return project / "config.json"


def target_db(project: Path) -> Path:
    return project / "agents/shared_db/DataLoaderAgent/target.db"


def newest(project: Path) -> Path:
    return project / "agents/shared_db/DataCollector/newest"


def report_dir(project: Path) -> Path:
    return project / "agents/shared_db/DataPipelineOrchestrator"


def write_source(project: Path, name: str, text: str) -> None:
    (project / SOURCES / name).write_text(text, encoding="utf-8")


def break_schema(project: Path) -> None:
    """purchaseOrders gets a quantity that is not an int: phase 1 fails."""
    write_source(project, "purchaseOrders.csv",
                 "poNo,poReceivedDate,itemCode,itemQuantity\nIM1,2024-02-19,10236M,many\n")


def rows(db: Path, table: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(db)) as connection:
        return connection.execute(f'SELECT * FROM "{table}" ORDER BY 1, 2, 3').fetchall()  # noqa: S608


def newest_files(project: Path) -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted(newest(project).iterdir())}


@dataclass
class Outcome:
    """One run: its result dict, the whole log, and what the handler was sent."""

    result: dict[str, object]
    log: list[Envelope[Message]]
    handler: MockNotificationHandler
    run_id: str = field(init=False)

    def __post_init__(self) -> None:
        self.run_id = str(self.result["run_id"])

    def of_run(self) -> list[Envelope[Message]]:
        return [r for r in self.log if r.correlation_id == self.run_id]

    def types(self) -> list[str]:
        return [r.type for r in self.of_run()]

    def decisions(self) -> list[tuple[str, str]]:
        return [(r.data.rule, r.data.reason) for r in self.of_run()
                if isinstance(r.data, SagaDecided)]

    def finished(self) -> PipelineFinished:
        (end,) = [r.data for r in self.of_run() if isinstance(r.data, PipelineFinished)]
        return end


def run_pipeline(project: Path, db: Path, handler: object = "mock",
                 **workflow: object) -> Outcome:
    """Run the pipeline of ``project``'s config once, to its settled end."""
    mock = MockNotificationHandler()
    with Runtime(db, durability="off") as runtime:
        add_pipeline_workflow(runtime, mock if handler == "mock" else handler,  # type: ignore[arg-type]
                              **workflow)  # type: ignore[arg-type]
        result = run_data_pipeline(runtime, config_of(project), timeout=30)
        assert runtime.wait_until_idle(30)
        log = list(runtime.store.read_all())
    return Outcome(result, log, mock)


def run_with_retries(project: Path, db: Path, **workflow: object) -> Outcome:
    """Like :func:`run_pipeline`, on a virtual clock advanced until the run ends (for
    phases that raise, whose retries wait on the clock)."""
    handler = MockNotificationHandler()
    clock = VirtualClock()
    with Runtime(db, durability="off", clock=clock) as runtime:
        add_pipeline_workflow(runtime, handler, **workflow)  # type: ignore[arg-type]
        run_id = start_pipeline(runtime, config_of(project))
        deadline = time.monotonic() + 30
        while not any(r.correlation_id == run_id
                      for r in runtime.store.read_all(types=["ManualReviewReportWritten"])):
            assert time.monotonic() < deadline, "the run did not end"
            runtime.wait_until_idle(0.2)
            clock.advance(1.0)
        log = list(runtime.store.read_all())
    (end,) = [r.data for r in log if isinstance(r.data, PipelineFinished)]
    (written,) = [r.data for r in log if isinstance(r.data, ManualReviewReportWritten)]
    return Outcome({**end.result(), "report_path": written.path}, log, handler)


def report_files(project: Path) -> list[Path]:
    return sorted(report_dir(project).glob("*/manual_review_*.txt"))


def outbox(project: Path) -> list[dict[str, str]]:
    path = report_dir(project) / "notifications.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]
