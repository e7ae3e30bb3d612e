"""The runtime: one store, the actors it feeds, their supervision.

The runtime opens its store from a target (``open_store``) or takes one already open,
starts every registered actor and attaches it to the log, and restarts an actor that
dies, recording the death in the log. Stopping is graceful: each actor finishes and
commits the batch in hand, then stops; then a store the runtime opened commits what is
queued and closes. Everything here is synchronous: the actors, the idle check and the
saga actors' start-up read the store on their own threads, with no event loop between.

One runtime per log runs handlers: two would run every handler twice, and every effect
outside the log with them (measured: two processes on one log, 40 handler calls for 20
commands). So a runtime that delivers to handlers holds the log's worker lock from start
to stop (``store.worker_lock``); any other runtime on that log is a *client*: it appends
and waits for outcomes, and the worker's actors do the handling (see :data:`Role`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Self, get_args
from uuid import UUID

import pykka
from loguru import logger

from sagalog.actors._actor import Actor, ActorContext, ActorProgress
from sagalog.actors._clock import ClockProtocol, SystemClock
from sagalog.actors._errors import (
    ActorDefinitionError,
    ActorGaveUpError,
    ActorRuntimeError,
    RuntimeStateError,
)
from sagalog.actors._timers import TimerService
from sagalog.events.runtime import ActorDied
from sagalog.store import (
    ANY,
    Durability,
    EventStoreProtocol,
    ExpectedVersion,
    WorkerBusyError,
    open_store,
)

if TYPE_CHECKING:
    from sagalog.events import Envelope, Message, Registry
    from sagalog.store import RunStatusHook, StorageFaultError

__all__ = ["Role", "Runtime"]

DEFAULT_PATH = "sagalog.db"
RUNTIME_STREAM = "$runtime"
"""Where the runtime records its own facts (actor deaths)."""

Role = Literal["auto", "worker", "client"]
"""What a runtime asks to be on its log (:attr:`Runtime.role` says what it became).

- ``"worker"`` (the default): run the handlers, holding the log's worker lock from start to
  stop; if another runtime holds it, :meth:`Runtime.start` raises ``WorkerBusyError``
  naming the holder.
- ``"client"``: never run a handler and never take the lock: append, and wait for the
  outcomes the worker's actors write (another process's commits reach a subscription by
  polling).
- ``"auto"``: the worker if the lock is free, a client if another runtime holds it. Right
  when every process on the log runs the same actors (the command line's writing
  commands, several processes of one web application); a client never becomes the worker
  later, even if the worker stops.
"""

_OWNER_LENGTH = 120
"""Most characters of the owner kept in the lock file (it names the holder to others)."""


@dataclass(slots=True)
class _Spec:
    cls: type[Actor]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    name: str
    ref: pykka.ActorRef[Actor] | None = None
    restarts: int = 0
    progress: ActorProgress = field(default_factory=ActorProgress)


class Runtime:
    """Runs actors over one event store. Use it as a context manager.

    Example::

        with Runtime("shop.db") as runtime:
            runtime.add(Payments, gateway)
            runtime.append("order-1", [ChargePayment(order_id="1", amount_cents=500)])
            runtime.wait_until_idle()

    From asyncio code, ``async with Runtime(...)`` starts and stops it without blocking
    the loop, and :meth:`append_async` appends.
    """

    def __init__(  # noqa: PLR0913 - keyword-only settings, each with a default
        self,
        target: str | os.PathLike[str] | EventStoreProtocol = DEFAULT_PATH,
        *,
        durability: Durability = "full",
        clock: ClockProtocol | None = None,
        registry: Registry | None = None,
        poll_interval: float = 0.05,
        idle_wait: float = 0.25,
        max_restarts: int = 10,
        role: Role = "worker",
        owner: str | None = None,
    ) -> None:
        """Set the runtime up; :meth:`start` (or ``with``) opens the log and takes the role.

        Args:
            target: the log (a path or URL, see ``open_store``) or an opened store.
            durability: the store's durability, when the runtime opens it.
            clock: the clock of every actor, retry and timer (default: the system's).
            registry: the message registry, when the runtime opens the store.
            poll_interval: how often a caught-up reader looks for other processes' appends.
            idle_wait: how long an actor's pull waits for records before looking again.
            max_restarts: deaths after which an actor is not restarted.
            role: ``"worker"``, ``"client"`` or ``"auto"`` (see :data:`Role`). The default
                is ``"worker"``: a library caller that did not think about other
                processes gets a loud ``WorkerBusyError`` at start, never a runtime that
                silently runs none of its actors.
            owner: how the lock names this runtime to a refused one (default: this
                process's command line).

        """
        if role not in get_args(Role):
            msg = f"role must be one of {', '.join(get_args(Role))}, not {role!r}"
            raise ActorRuntimeError(msg)
        given = None if isinstance(target, (str, os.PathLike)) else target
        self.target = given.target if given is not None else os.fspath(target)  # type: ignore[arg-type]
        """What the log was opened from: a path or a URL (see ``open_store``)."""
        self._given: EventStoreProtocol | None = given
        self.clock: ClockProtocol = clock or SystemClock()
        """The clock every actor, retry and timer of this runtime uses."""
        self._durability: Durability = durability
        self._registry = registry
        self._poll_interval = poll_interval
        self._idle_wait = idle_wait
        self._max_restarts = max_restarts
        self._requested: Role = role
        self._owner = _one_line(owner if owner is not None else " ".join(sys.argv) or "python")
        self._specs: dict[str, _Spec] = {}
        self._lock = threading.RLock()
        self._store: EventStoreProtocol | None = None
        self._worker_lock: contextlib.ExitStack | None = None
        self._role: Literal["worker", "client"] | None = None
        self._refusal: WorkerBusyError | None = None
        self._stopping = False
        self._gave_up: dict[str, ActorGaveUpError] = {}
        self.add(TimerService, name="$timers")

    # -- lifecycle -----------------------------------------------------------------------

    def add(self, actor_class: type[Actor], *args: Any, name: str | None = None,  # noqa: ANN401
            **kwargs: Any) -> str:  # noqa: ANN401 - passed through to the actor's __init__
        """Register an actor (started now if the runtime runs as the worker); return its name.

        ``args`` and ``kwargs`` go to the actor's ``__init__``, again on each restart.
        The name keys the actor's checkpoint, so keep it stable across deployments. A
        client records the actor but never starts it: its run status hooks still give
        the runs it appends their status, and :meth:`wait_until_idle` waits for the
        worker's actor of the same name.
        """
        if not (isinstance(actor_class, type) and issubclass(actor_class, Actor)):
            msg = f"runtime.add takes an Actor subclass, not {actor_class!r}"
            raise ActorDefinitionError(msg)
        if not actor_class.actor_handlers:
            msg = f"{actor_class.__qualname__} handles no message type (use @handles)"
            raise ActorDefinitionError(msg)
        actor_name = name or actor_class.__name__
        with self._lock:
            if actor_name in self._specs:
                msg = f"an actor named {actor_name!r} is already registered"
                raise ActorDefinitionError(msg)
            spec = _Spec(actor_class, args, kwargs, actor_name)
            self._specs[actor_name] = spec
            if self._store is not None:
                for hook in actor_class.actor_run_status:
                    self._store.add_run_status(hook)
                if self._role == "worker":
                    self._launch(spec)
        return actor_name

    def start(self) -> Self:
        """Open the store, take the role, and (as the worker) start every registered actor.

        Raises:
            WorkerBusyError: the role is ``"worker"`` and another runtime (of this process
                or another) holds the log's worker lock; the message names its PID.

        """
        with self._lock:
            if self._store is not None:
                msg = "the runtime is already running"
                raise RuntimeStateError(msg)
            self._stopping = False
            self._gave_up.clear()
            if self._given is not None:
                store = self._given
                for hook in self._hooks():
                    store.add_run_status(hook)
            else:
                store = open_store(
                    self.target, durability=self._durability, registry=self._registry,
                    clock=self.clock.now, poll_interval=self._poll_interval,
                    run_status=self._hooks(),
                )
            try:
                self._take_role(store)
            except BaseException:
                if self._given is None:
                    store.close()
                raise
            self._store = store
            if self._role == "worker":
                for spec in self._specs.values():
                    self._launch(spec)
        log = logger.bind(store=self.target)
        if self._refusal is not None:
            log.info("runtime started as a client: another runtime (PID {}) runs the "
                     "handlers of this log", self._refusal.pid or "unknown")
        else:
            log.info("runtime started{}", " as a client" if self._role == "client" else "")
        return self

    def _take_role(self, store: EventStoreProtocol) -> None:
        """Become the worker (holding the lock) or a client, as :data:`Role` says."""
        self._refusal = None
        if self._requested == "client":
            self._role = "client"
            return
        held = contextlib.ExitStack()
        try:
            held.enter_context(store.worker_lock(self._owner))
        except WorkerBusyError as busy:
            if self._requested == "worker":
                raise
            self._refusal = busy
            self._role = "client"
            return
        self._worker_lock = held
        self._role = "worker"

    def _hooks(self) -> list[RunStatusHook]:
        """The run status hooks of the registered actors' classes, each once."""
        hooks: dict[str, RunStatusHook] = {}
        for spec in self._specs.values():
            for hook in spec.cls.actor_run_status:
                hooks.setdefault(hook.name, hook)
        return list(hooks.values())

    def stop(self, timeout: float = 30.0) -> None:
        """Let each actor finish and commit its batch in hand, stop it, close the store.

        The worker lock goes last, once everything this runtime wrote is committed.
        """
        with self._lock:
            if self._store is None:
                return
            self._stopping = True
            refs = [spec.ref for spec in self._specs.values() if spec.ref is not None]
        futures = []
        for ref in refs:
            try:
                futures.append(ref.stop(block=False))
            except pykka.ActorDeadError:
                continue
        for future in futures:
            try:
                future.get(timeout=timeout)
            except pykka.ActorDeadError:
                continue
        with self._lock:
            store, self._store = self._store, None
            held, self._worker_lock = self._worker_lock, None
            for spec in self._specs.values():
                spec.ref = None
        try:
            if self._given is None:  # a store handed in stays open: its owner closes it
                store.close()
        finally:
            if held is not None:
                held.close()
        logger.bind(store=self.target).info("runtime stopped")

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc_info: object) -> None:
        await asyncio.to_thread(self.stop)

    # -- using it ------------------------------------------------------------------------

    @property
    def store(self) -> EventStoreProtocol:
        """The running store (blocking facade)."""
        store = self._store
        if store is None:
            msg = "the runtime is not running (use `with Runtime(...)` or start())"
            raise RuntimeStateError(msg)
        return store

    @property
    def role(self) -> Literal["worker", "client"] | None:
        """What this runtime became at its last start: ``"worker"`` or ``"client"``.

        None before the first start. A worker holds the log's worker lock while it runs
        and delivers to its actors; a client delivers to none.
        """
        return self._role

    @property
    def refusal(self) -> WorkerBusyError | None:
        """Why an ``"auto"`` runtime became a client: the refusal naming the lock's holder.

        None for a worker, and for a runtime asked to be a client (it never asks for the
        lock, so it does not know who holds it).
        """
        return self._refusal

    @property
    def actor_names(self) -> list[str]:
        """The names of the registered actors, the runtime's own included."""
        with self._lock:
            return list(self._specs)

    def restarts(self, name: str) -> int:
        """How many times the actor ``name`` has been restarted after dying."""
        return self._specs[name].restarts

    @property
    def gave_up(self) -> dict[str, ActorGaveUpError]:
        """The actors this runtime stopped restarting (past ``max_restarts``), by name."""
        with self._lock:
            return dict(self._gave_up)

    @property
    def paused(self) -> dict[str, StorageFaultError]:
        """The actors paused on a storage fault (a full disk...), by name, with the fault.

        A paused actor tries the same input again, backing off, until the fault clears;
        its work is late, not lost. Empty when nothing is paused.
        """
        with self._lock:
            progress = [(name, spec.progress.fault) for name, spec in self._specs.items()]
        return {name: fault for name, fault in progress if fault is not None}

    def check_actors(self) -> None:
        """Raise why work cannot finish: an actor this runtime gave up on. Waits call this.

        Raises:
            ActorGaveUpError: an actor died more than ``max_restarts`` times; its work
                stays in the log unhandled (the first such actor, with its last cause).

        """
        with self._lock:
            failure = next(iter(self._gave_up.values()), None)
        if failure is not None:
            raise failure

    def describe_pauses(self) -> str:
        """The paused actors in words (``paused: jobs:router: disk full on PATH``), or ''."""
        paused = self.paused
        if not paused:
            return ""
        return "paused: " + "; ".join(f"{name}: {fault}" for name, fault in paused.items())

    def append(
        self,
        stream_id: str,
        messages: Sequence[Message],
        *,
        expected_version: ExpectedVersion = ANY,
        correlation_id: str | None = None,
        causation_id: UUID | None = None,
        event_ids: Sequence[UUID] | None = None,
    ) -> list[Envelope[Message]]:
        """Append messages to the log: the way anything enters the running system."""
        return self.store.append(
            stream_id, messages, expected_version=expected_version,
            correlation_id=correlation_id, causation_id=causation_id, event_ids=event_ids,
        )

    async def append_async(
        self, stream_id: str, messages: Sequence[Message], **kwargs: Any  # noqa: ANN401
    ) -> list[Envelope[Message]]:
        """:meth:`append` for asyncio code: awaits without blocking the caller's loop."""
        store = self.store
        submit = getattr(store, "submit_async", None)
        if submit is None:
            return await asyncio.to_thread(self.append, stream_id, messages, **kwargs)
        from sagalog.store import AppendRequest  # noqa: PLC0415 - asyncio callers only

        request = AppendRequest(stream_id, messages, kwargs.get("expected_version", ANY),
                                kwargs.get("correlation_id"), kwargs.get("causation_id"),
                                kwargs.get("event_ids"))
        (records,) = await submit([request])  # answered on this loop after COMMIT
        return list(records)

    def wait_until_idle(self, timeout: float = 30.0) -> bool:
        """Block until no actor has a committed record left to handle; False on timeout.

        A record waiting for a retry counts as work left: with a virtual clock, advance
        it. Timers waiting for their time do not. Reads on the calling thread.

        In a client the actors are the worker's: this waits until the worker's actors of
        the registered names have checkpointed past every record of their types, read
        from the log (so across processes), polling every ``poll_interval``. Work a
        worker's timer has begun and not yet written is not seen from here. A worker that
        does not run an actor of one of these names never lets this return True; on
        timeout the names with work left are logged.

        Raises:
            ActorGaveUpError: an actor of this runtime died past ``max_restarts``: its work
                would never be done, so this says so instead of waiting.

        """
        store = self.store
        client = self._role == "client"
        with self._lock:
            handled = [
                (name, list(spec.cls.actor_handlers), spec.progress)
                for name, spec in self._specs.items()
            ]
        deadline = time.monotonic() + timeout
        while True:
            self.check_actors()
            # The checks below are separate reads; a commit between two of them could
            # hide new work from an actor already checked. New work always means new
            # records, so a pass counts only if the head did not move during it.
            head = store.last_position()
            waiting = self._busy(store, handled, head if client else None)
            if not waiting and store.last_position() == head:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                if client and waiting:
                    logger.bind(store=self.target).warning(
                        "the worker of this log has not handled everything within {:g} s: "
                        "{} still have records past their checkpoints (does it run them?)",
                        timeout, ", ".join(waiting))
                return False
            # In a client the commits come from another process: this is a bounded poll.
            store.wait_for_commit(min(left, self._poll_interval))

    @staticmethod
    def _busy(store: EventStoreProtocol,
              handled: list[tuple[str, list[str], ActorProgress]],
              client_head: int | None) -> list[str]:
        """The names of the actors with work left (the first one found, as a worker).

        ``client_head`` is the head read before this pass, in a client: a client has no
        actor to say how far it has seen, so the pass itself remembers where no record of
        an actor's types was past its checkpoint (they are all handled up to there).
        """
        if client_head is None and any(progress.working for _, _, progress in handled):
            return [name for name, _, progress in handled if progress.working]
        waiting = []
        for name, types, progress in handled:
            # Look only past what the actor has seen: a scan from its checkpoint would walk
            # the whole log for an actor of rare types.
            start = max(store.checkpoint(name), progress.seen) + 1
            if store.read_page(start, 1, types=types):
                waiting.append(name)
                if client_head is None:
                    break
            elif client_head is not None:
                progress.seen = max(progress.seen, client_head)
        return waiting

    # -- supervision ---------------------------------------------------------------------

    def _launch(self, spec: _Spec) -> None:
        assert self._store is not None  # noqa: S101 - called only while running
        ref = spec.cls.start(*spec.args, **spec.kwargs)
        spec.ref = ref
        context = ActorContext(
            name=spec.name, store=self._store, clock=self.clock, on_death=self._on_death,
            idle_wait=self._idle_wait, progress=spec.progress,
        )
        from sagalog.actors._actor import _Attach  # noqa: PLC0415 - the runtime's private handshake

        ref.tell(_Attach(context))

    def _on_death(self, name: str, error: BaseException) -> None:
        """Called on the dying actor's thread: record the death, start a new actor."""
        with self._lock:
            spec = self._specs.get(name)
            store = self._store
            if spec is None or store is None or self._stopping:
                return
            spec.restarts += 1
            restart = spec.restarts <= self._max_restarts
            if not restart:
                self._gave_up[name] = ActorGaveUpError(name, error, spec.restarts)
        log = logger.bind(actor=name)
        log.error("actor died: {!r}; {}", error,
                  "restarting it" if restart else "restart limit reached, not restarting")
        if not restart:
            log.error("{}", self._gave_up[name])
        try:
            store.append(
                RUNTIME_STREAM,
                [ActorDied(actor=name, error_type=type(error).__name__,
                           error_message=str(error)[:2000], restarts=spec.restarts)],
            )
        except Exception as failure:  # noqa: BLE001 - a death must not kill supervision
            log.error("could not record the death: {!r}", failure)
        if restart:
            # Start the new actor from another thread: this one belongs to the dead actor.
            threading.Thread(target=self._relaunch, args=(spec,), daemon=True).start()

    def _relaunch(self, spec: _Spec) -> None:
        with self._lock:
            if self._store is None or self._stopping:
                return
            try:
                self._launch(spec)
            except Exception as error:  # noqa: BLE001 - its __init__ failed: say so to waiters
                self._gave_up[spec.name] = ActorGaveUpError(spec.name, error, spec.restarts)
                logger.bind(actor=spec.name).error("could not restart the actor: {!r}", error)


def _one_line(text: str) -> str:
    """``text`` on one line, cut short: the lock file keeps it, a refusal quotes it."""
    flat = re.sub(r"\s+", " ", text).strip()
    return flat if len(flat) <= _OWNER_LENGTH else f"{flat[: _OWNER_LENGTH - 3]}..."
