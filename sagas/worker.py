"""The long-running worker: one process that runs the built-in workflows over one log.

:func:`run_worker` runs a :class:`~sagalog.actors.Runtime` in the ``"worker"`` role: it
holds the log's worker lock (on SQLite ``<db>.worker.lock``, held for the process's
lifetime and released by the kernel even on SIGKILL), so a second worker on the same
log is refused with the PID of the first, and every other command on the log becomes a
client of this one. It runs until ``stop_event`` is set (the command line sets it on
SIGINT or SIGTERM) or, with ``until_idle``, until no actor has work left. Stopping is
graceful: each actor finishes and commits the batch in hand; whatever was not handled
stays in the log for the next worker.

Each workflow is a function that registers its actors on the runtime (e.g.
:func:`sagas.jobs.add_jobs_workflow`), so other workflows join the same worker by
adding their ``add_*_workflow`` to ``workflows``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from loguru import logger

from sagalog.actors import Role, Runtime
from sagalog.sagas.etl import add_etl_workflow
from sagalog.sagas.jobs import add_jobs_workflow
from sagalog.sagas.master import add_master_workflow
from sagalog.sagas.orders import add_demo_order_workflow
from sagalog.sagas.pipeline import add_pipeline_workflow
from sagalog.store import WorkerBusyError

if TYPE_CHECKING:
    from loguru import Logger

__all__ = [
    "DEFAULT_WORKFLOWS",
    "WorkerBusyError",
    "run_worker",
    "stop_on_signals",
]

WorkflowSetup = Callable[[Runtime], object]
"""Registers one workflow's actors on a runtime. If it returns a context manager (the
demo ledger it opened, say), the worker exits it once the runtime has stopped."""

DEFAULT_WORKFLOWS: tuple[WorkflowSetup, ...] = (
    add_jobs_workflow, add_pipeline_workflow, add_master_workflow, add_etl_workflow,
    add_demo_order_workflow,
)
"""The workflows ``run.py worker`` runs: every built-in one. None needs per-process
setup: each run's configuration is in its start record, the order demo's failure
injection included (recorded with each order by ``place_order(..., plan=...)``)."""

IDLE_CHECK_S = 0.25
"""How long one idle check may block, so a stop request is seen within about this."""

OWNER = "sagalog worker"
"""How the worker lock names this process to a refused one."""


@contextlib.contextmanager
def stop_on_signals(stop_event: threading.Event) -> Iterator[None]:
    """Set ``stop_event`` on SIGINT and SIGTERM for the ``with`` block (main thread only)."""

    def request_stop(number: int, _frame: FrameType | None) -> None:
        logger.bind(actor="worker").info("{} received: stopping after the work in hand",
                                         signal.Signals(number).name)
        stop_event.set()

    previous = {number: signal.signal(number, request_stop)
                for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def run_worker(
    db: str | Path,
    until_idle: bool,  # noqa: FBT001 - the command line's flag, passed as is
    stop_event: threading.Event,
    workflows: Sequence[WorkflowSetup] = DEFAULT_WORKFLOWS,
    on_ready: Callable[[Runtime], None] = lambda _runtime: None,
    *,
    role: Role = "worker",
) -> bool:
    """Run ``workflows`` on the log ``db`` until stopped, or until idle with ``until_idle``.

    ``on_ready`` is called once the role is taken and (as the worker) the actors run.
    With ``role="auto"`` and another worker on the log, this becomes its client: it runs
    nothing, and ``until_idle`` waits until that worker has handled everything these
    workflows handle (what the showcase does when a worker already runs). Returns True if
    it stopped because no work was left, False if ``stop_event`` stopped it.

    Raises:
        WorkerBusyError: ``role`` is ``"worker"`` and another worker runs on ``db``.
        ActorGaveUpError: the runtime gave up on an actor (it died past its restart limit):
            its work would never be done, so the worker stops and says why.

    """
    log = logger.bind(actor="worker", store=str(db))
    with contextlib.ExitStack() as opened, Runtime(db, role=role, owner=OWNER) as runtime:
        for setup in workflows:
            made = setup(runtime)
            if isinstance(made, contextlib.AbstractContextManager):
                opened.enter_context(made)
        if runtime.role == "worker":
            log.info("worker running (PID {})", os.getpid())
        on_ready(runtime)
        idle = False
        paused = ""
        while not stop_event.is_set():
            if until_idle and runtime.wait_until_idle(IDLE_CHECK_S):  # raises ActorGaveUpError
                idle = True
                break
            if not until_idle:
                stop_event.wait(IDLE_CHECK_S)
                runtime.check_actors()
            paused = _say_pauses(runtime, paused, log)
        log.info("worker stopping: {}", "no work left" if idle else "asked to stop")
    return idle


def _say_pauses(runtime: Runtime, said: str, log: Logger) -> str:
    """Log the actors paused on a storage fault when that changes; return what was said."""
    paused = runtime.describe_pauses()
    if paused != said:
        if paused:
            log.warning("{}; their work waits until the fault clears", paused)
        else:
            log.info("no actor is paused any more")
    return paused
