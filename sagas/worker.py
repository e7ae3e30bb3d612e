"""The long-running worker: one process that runs the built-in workflows over one log.

:func:`run_worker` takes an OS-level lock beside the log (``<db>.worker.lock``, held for
the process's lifetime and released by the kernel even on SIGKILL), so a second worker
on the same file is refused with the PID of the first. It runs until ``stop_event`` is
set (the command line sets it on SIGINT or SIGTERM) or, with ``until_idle``, until no
actor has work left. Stopping is graceful: each actor finishes and commits the batch in
hand; whatever was not handled stays in the log for the next worker.

Each workflow is a function that registers its actors on the runtime (e.g.
:func:`sagas.jobs.add_jobs_workflow`), so other workflows join the same worker by
adding their ``add_*_workflow`` to ``workflows``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType

from loguru import logger

from sagalog.actors import Runtime
from sagalog.sagas.etl import add_etl_workflow
from sagalog.sagas.jobs import add_jobs_workflow
from sagalog.sagas.master import add_master_workflow
from sagalog.sagas.pipeline import add_pipeline_workflow
from sagalog.store import WorkerBusyError, check_writable

__all__ = [
    "DEFAULT_WORKFLOWS",
    "WorkerBusyError",
    "run_worker",
    "stop_on_signals",
    "worker_lock",
]

WorkflowSetup = Callable[[Runtime], object]
"""Registers one workflow's actors on a runtime."""

DEFAULT_WORKFLOWS: tuple[WorkflowSetup, ...] = (
    add_jobs_workflow, add_pipeline_workflow, add_master_workflow, add_etl_workflow,
)
"""The workflows ``run.py worker`` runs: every one whose runs need no per-process setup
(the order demo's adapters take failure flags, so orders are finished by ``resume``)."""

IDLE_CHECK_S = 0.25
"""How long one idle check may block, so a stop request is seen within about this."""


@contextlib.contextmanager
def worker_lock(db: str | Path) -> Iterator[Path]:
    """Hold ``<db>.worker.lock`` (``flock``, exclusive) for the ``with`` block.

    The file keeps the holder's PID for the error message; it is never deleted (a
    deleted lock file lets two processes lock two different files).

    Raises:
        WorkerBusyError: another process holds it (the message names the db and the PID).
        ReadOnlyLogError: the log cannot be written where it lies (a read-only file,
            folder or mount), so neither can its lock.

    """
    check_writable(db)
    path = Path(f"{db}.worker.lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            msg = (f"{db}: another worker is running on this log (PID {holder}, lock "
                   f"{path}); stop it first")
            raise WorkerBusyError(msg) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)  # closing the last descriptor releases the lock


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
) -> bool:
    """Run ``workflows`` on the log ``db`` until stopped, or until idle with ``until_idle``.

    ``on_ready`` is called once the lock is held and the actors run. Returns True if
    the worker stopped because no work was left, False if ``stop_event`` stopped it.

    Raises:
        WorkerBusyError: another worker runs on ``db``.

    """
    log = logger.bind(actor="worker", store=str(db))
    with worker_lock(db), Runtime(db) as runtime:
        for setup in workflows:
            setup(runtime)
        log.info("worker running (PID {})", os.getpid())
        on_ready(runtime)
        idle = False
        while not stop_event.is_set():
            if until_idle and runtime.wait_until_idle(IDLE_CHECK_S):
                idle = True
                break
            if not until_idle:
                stop_event.wait(IDLE_CHECK_S)
        log.info("worker stopping: {}", "no work left" if idle else "asked to stop")
    return idle
