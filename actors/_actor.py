"""The actor base class: a pykka ``ThreadingActor`` fed from the log.

An actor never receives messages from other actors. The runtime attaches it to the
store; the actor then pulls committed records of the types it handles, in log order,
a batch at a time (so a slow actor never makes anything buffer the log), runs its
handlers, and commits all outputs of the batch together with its checkpoint in one
transaction. After a crash it resumes after the checkpoint, and the outputs of a
re-run carry the same derived event ids, so nothing is appended twice.

Three ways an input can fail, each handled differently:
- the handler raises: retried by ``retry_policy``, then recorded as a dead letter
  (``HandlerFailed``) and the actor moves on;
- the handler's outputs are refused by the log (NaN, NUL, a lone surrogate, a bad stream
  id): a dead letter for that input alone, at once (the same input gives the same outputs);
- a storage fault (``StorageFaultError``: a full disk, an I/O error), raised by the handler's
  adapter or met at commit: nothing is wrong with the input, so nothing is recorded or
  decided from it; the actor pauses and tries the same input again, backing off, until the
  fault clears (``ActorProgress.fault`` says why it waits).

Hazard: handlers run on the actor's own thread and must not block on other actors.
Waiting (retry backoff) is a callback from the runtime's clock, never a sleep, so the
actor stays responsive to ``stop``.
"""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import pykka
from loguru import logger

from sagalog.actors._handlers import collect_handlers
from sagalog.actors._outputs import normalize, to_requests
from sagalog.actors._retry import RetryPolicy
from sagalog.actors._storable import storable_text
from sagalog.events import (
    Envelope,
    Message,
    MessageError,
    UnportableValueError,
    derived_event_id,
)
from sagalog.events.runtime import HandlerFailed
from sagalog.store import (
    AppendRequest,
    Checkpoint,
    DatabaseError,
    EventIdConflictError,
    StorageFaultError,
    StoreClosedError,
    StoreError,
)

if TYPE_CHECKING:
    from types import TracebackType

    from loguru import Logger

    from sagalog.actors._clock import ClockProtocol, TimerHandle
    from sagalog.store import EventStoreProtocol, RunStatusHook, SubscriptionProtocol

__all__ = ["Actor", "ActorContext", "ActorCrashedError", "ActorProgress"]

Done = list[tuple[Envelope[Message], list[AppendRequest]]]


@dataclass(slots=True)
class ActorProgress:
    """How far an actor has looked at the log, for the runtime's idle check."""

    seen: int = 0
    """Every record up to here of the actor's types is handled and committed."""
    started: int = 0
    """Work begun outside the log (a timer that fired), counted by the thread that starts it."""
    finished: int = 0
    """That work done (its records committed), counted by the actor's thread."""
    fault: StorageFaultError | None = None
    """While the actor is paused on a storage fault (retrying the same input): the fault."""

    @property
    def working(self) -> bool:
        """Whether work begun outside the log has not reached it yet."""
        return self.started != self.finished


@dataclass(frozen=True, slots=True)
class ActorContext:
    """What the runtime gives an actor when it attaches it to the log."""

    name: str
    store: EventStoreProtocol
    clock: ClockProtocol
    on_death: Callable[[str, BaseException], None]
    idle_wait: float = 0.25
    progress: ActorProgress = field(default_factory=ActorProgress)


@dataclass(frozen=True, slots=True)
class _Attach:
    context: ActorContext


class _Pull:
    """Self-addressed: fetch and handle the next batch."""


class _Wake:
    """From the clock: a retry's wait is over."""


_PULL = _Pull()
_WAKE = _Wake()


class ActorCrashedError(Exception):
    """A non-Exception error escaped an actor; wrapped so pykka restarts only this actor."""


def _reserved_names() -> frozenset[str]:
    names = {name for klass in pykka.ThreadingActor.__mro__ for name in vars(klass)}
    return frozenset(names | {name for name in vars(Actor) if not name.startswith("__")})


def _refuse_direct(actor: Actor, message: object) -> None:
    msg = (
        f"{type(actor).__name__} got {message!r} directly; actors receive messages only "
        "through the log (append them to the store)"
    )
    raise TypeError(msg)


class Actor(pykka.ThreadingActor):
    """Base class of service and phase actors: declare handlers with ``@handles``.

    Example::

        class Payments(Actor):
            retry_policy = RetryPolicy(attempts=5, delay=1.0, backoff=2.0)

            def __init__(self, gateway: PaymentGateway) -> None:
                super().__init__()
                self.gateway = gateway

            @handles(ChargePayment)
            def charge(self, command: ChargePayment, envelope: Envelope) -> Message:
                self.gateway.charge(command.amount, key=str(envelope.event_id))
                return PaymentCharged(order_id=command.order_id)
    """

    actor_handlers: ClassVar[dict[str, str]] = {}
    """Registered type name -> handler method name, collected from ``@handles``."""
    actor_run_status: ClassVar[tuple[RunStatusHook, ...]] = ()
    """Hooks that give the runs this actor drives their status in the store's runs table
    (a saga actor hands its definition's); the runtime installs them when it opens the
    log. The store itself knows no sagas."""
    retry_policy: ClassVar[RetryPolicy] = RetryPolicy(attempts=3, delay=0.5, backoff=2.0)
    """How a failing handler is retried before its message becomes a dead letter."""
    fault_backoff: ClassVar[RetryPolicy] = RetryPolicy(delay=0.5, backoff=2.0, max_delay=30.0)
    """The waits between tries while paused on a storage fault. A fault never makes a dead
    letter, so the actor tries for as long as it lasts: ``attempts`` is not used."""
    batch_size: ClassVar[int] = 256
    """Most records handled (and committed) together."""

    actor_name: str = ""
    """The name the runtime gave this actor; its checkpoint is stored under it."""
    _retry_timer: TimerHandle | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:  # noqa: ANN401 - pykka's hook
        super().__init_subclass__(**kwargs)
        cls.actor_handlers = collect_handlers(cls, _RESERVED_NAMES)

    # -- pykka's hooks -----------------------------------------------------------------

    def on_receive(self, message: Any) -> Any:  # noqa: ANN401 - pykka's signature
        """Run the runtime's internal messages; anything else is refused."""
        try:
            if isinstance(message, _Pull):
                self._pull()
            elif isinstance(message, _Wake):
                self._retry_timer = None
                self._pull()
            elif isinstance(message, _Attach):
                self._attach(message.context)
            else:
                _refuse_direct(self, message)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception:
            raise
        except BaseException as error:
            # pykka answers a BaseException by stopping every actor in the process,
            # other runtimes' included; one actor's crash must stay its own.
            raise ActorCrashedError(f"{type(error).__name__}: {error}") from error
        return None

    def on_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Tell the runtime this actor died, so it can record it and start a new one."""
        self._close_subscription()
        context: ActorContext | None = getattr(self, "_context", None)
        if context is not None and exception_value is not None:
            context.on_death(context.name, exception_value)

    def on_stop(self) -> None:
        """Stop following the log and drop any pending retry."""
        timer: TimerHandle | None = getattr(self, "_retry_timer", None)
        if timer is not None:
            timer.cancel()
        self._close_subscription()

    # -- the delivery loop ---------------------------------------------------------------

    def _attach(self, context: ActorContext) -> None:
        self._context = context
        self.actor_name = context.name
        self._log = logger.bind(actor=context.name)
        self._pending: list[Envelope[Message]] = []
        self._unsaved: Done = []
        self._attempt = 0
        self._fault_tries = 0
        self._faulted = False
        self._retry_timer = None
        checkpoint = context.store.checkpoint(context.name)
        self._subscription: SubscriptionProtocol | None = context.store.subscribe(
            checkpoint + 1, types=list(self.actor_handlers)
        )
        self._log.debug("attached; resuming after position {}", checkpoint)
        self.on_attach(checkpoint)
        self._tell(_PULL)

    def on_attach(self, checkpoint: int) -> None:
        """Hook: run once the actor is attached, before its first record is handled.

        ``checkpoint`` is the last position this actor committed before (0 if none).
        """

    def _tell(self, message: object) -> None:
        with contextlib.suppress(pykka.ActorDeadError):  # stopping: nothing more to pull
            self.actor_ref.tell(message)

    def _close_subscription(self) -> None:
        subscription: SubscriptionProtocol | None = getattr(self, "_subscription", None)
        if subscription is not None:
            subscription.close()
            self._subscription = None

    def _pull(self) -> None:
        if self._subscription is None or self._retry_timer is not None:
            return
        if self._unsaved:
            self._faulted = False
            if not self._save(self._unsaved):
                return
        batch = self._pending
        if not batch:
            try:
                batch = self._subscription.next_batch(self.batch_size, self._context.idle_wait)
            except StoreClosedError:
                return
        if batch:
            self._process(batch)
        elif not self._pending:  # caught up: all before the scan position is done
            self._context.progress.seen = self._subscription.next_position - 1
        if self._retry_timer is None:
            self._tell(_PULL)

    def _process(self, batch: list[Envelope[Message]]) -> None:
        self._faulted = False
        done: Done = []
        rest: list[Envelope[Message]] = []
        for index, envelope in enumerate(batch):
            requests = self._handle(envelope)
            if requests is None:  # wait for a retry; keep the rest for after it
                rest = batch[index:]
                break
            done.append((envelope, requests))
        self._pending = rest
        if self._save(done) and rest:
            self._arm_retry()

    def _save(self, done: Done) -> bool:
        """Commit ``done``; on a storage fault keep it, pause, and try the commit again later.

        The outputs are kept, not recomputed: a handler with state in memory (a saga's
        fold) has moved on already, and running it again on the same input would decide
        nothing, losing its outputs. False while the fault lasts.
        """
        try:
            self._commit(done)
        except StorageFaultError as fault:  # met at COMMIT
            self._unsaved = done
            self._pause(fault, self._log)
            self._arm_retry()
            return False
        self._unsaved = []
        if done and not self._faulted:
            self._resume()
        return True

    def _pause(self, fault: StorageFaultError, log: Logger) -> None:
        """Note a storage fault: the input waits, backing off; nothing is recorded of it."""
        self._faulted = True
        self._fault_tries += 1
        self._context.progress.fault = fault
        log.warning("paused: {}; trying again in {:g} s", fault,
                    self.fault_backoff.delay_before(self._fault_tries + 1))

    def _resume(self) -> None:
        fault = self._context.progress.fault
        if fault is not None:
            self._log.info("resumed after {} tries: the storage fault cleared ({})",
                           self._fault_tries, fault)
        self._context.progress.fault = None
        self._fault_tries = 0

    def _handle(self, envelope: Envelope[Message]) -> list[AppendRequest] | None:
        method = getattr(self, self.actor_handlers[envelope.type])
        attempt = self._attempt + 1
        log = self._log.bind(correlation=envelope.correlation_id, position=envelope.position)
        try:
            outputs = normalize(method(envelope.data, envelope))
            # Encoded here, inside this protection: an output the log refuses is this
            # input's failure, not the whole batch's at commit (which killed the actor).
            requests = to_requests(outputs, envelope, self.actor_name, self._context.clock.now())
        except Exception as error:  # noqa: BLE001 - any handler failure is retried or recorded
            fault = storage_fault(error)
            if fault is not None:
                self._pause(fault, log)
                return None
            if isinstance(error, UnportableValueError):  # the same outputs again on a retry
                log.error("{} gave outputs the log refuses: {!r}; recorded as a dead letter",
                          envelope.type, error)
                self._attempt = 0
                return [self._dead_letter(envelope, error, attempt)]
            if not self.retry_policy.gives_up_after(attempt):
                log.warning("{} failed on try {}: {!r}; retrying", envelope.type, attempt, error)
                self._attempt = attempt
                return None
            log.error("{} failed {} times: {!r}; recorded as a dead letter",
                      envelope.type, attempt, error)
            self._attempt = 0
            return [self._dead_letter(envelope, error, attempt)]
        log.debug("handled {}", envelope.type)
        self._attempt = 0
        return requests

    def _dead_letter(
        self, envelope: Envelope[Message], error: Exception, attempts: int
    ) -> AppendRequest:
        frames = traceback.format_exception(error)
        failed = HandlerFailed(
            actor=self.actor_name,
            input_position=envelope.position,
            input_event_id=str(envelope.event_id),
            input_type=envelope.type,
            error_type=type(error).__name__,
            error_message=storable_text(str(error)[:2000]),
            traceback=storable_text("".join(frames[-3:])[-4000:]),
            attempts=attempts,
        )
        return AppendRequest(
            envelope.stream_id, [failed], correlation_id=envelope.correlation_id,
            causation_id=envelope.event_id,
            event_ids=[derived_event_id(envelope.event_id, self.actor_name, 0)],
        )

    def _arm_retry(self) -> None:
        if self._faulted:
            delay = self.fault_backoff.delay_before(self._fault_tries + 1)
        else:
            delay = self.retry_policy.delay_before(self._attempt + 1)
        self._retry_timer = self._context.clock.call_later(delay, lambda: self._tell(_WAKE))

    def _commit(self, done: Done) -> None:
        if not done:
            return
        store = self._context.store
        checkpoint = Checkpoint(self.actor_name, done[-1][0].position)
        requests = [request for _, parts in done for request in parts]
        try:
            store.append_all(requests, checkpoint=checkpoint, want_records=False)
        except (StoreError, MessageError) as error:
            if not _refused(error):
                raise
            self._commit_each(done)

    def _commit_each(self, done: Done) -> None:
        """Commit input by input, after the batch's commit was refused.

        Where outputs were recorded before, the first stands; where the log refuses an
        input's outputs, that input alone becomes a dead letter.
        """
        store = self._context.store
        for envelope, requests in done:
            checkpoint = Checkpoint(self.actor_name, envelope.position)
            log = self._log.bind(position=envelope.position)
            try:
                store.append_all(requests, checkpoint=checkpoint)
            except EventIdConflictError as error:
                log.warning(
                    "re-running the handler of {} gave other outputs than those recorded; "
                    "the first recorded result stands ({})", envelope.type, error,
                )
                store.append_all([], checkpoint=checkpoint)
            except (StoreError, MessageError) as error:
                if not _refused(error):
                    raise
                log.error("the log refused the outputs of {}: {!r}; recorded as a dead letter",
                          envelope.type, error)
                store.append_all([self._dead_letter(envelope, error, 1)], checkpoint=checkpoint)


def storage_fault(error: BaseException) -> StorageFaultError | None:
    """The storage fault behind ``error`` (itself, or a cause it was raised from), if any.

    An adapter may wrap the fault in its own error (``raise LedgerError(...) from fault``);
    it is still the machine's fault, not the input's.
    """
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, StorageFaultError):
            return seen
        seen = seen.__cause__
    return None


def _refused(error: Exception) -> bool:
    """Whether the store refused an append's content (not the file, not a shut store)."""
    return not isinstance(error, DatabaseError | StoreClosedError)


_RESERVED_NAMES = _reserved_names()
"""Attributes of pykka's actor and of ours: a handler of the same name would replace one."""
