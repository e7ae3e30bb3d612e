"""Durable timers: a message scheduled for later is an event, re-armed after a restart.

A handler returns ``Schedule(message, delay=...)``; that becomes a ``TimerScheduled``
event. The timer service (an actor every runtime runs) arms a clock callback for each
pending timer; when it fires, it appends the message and ``TimerFired`` in one
transaction, under ids derived from the ``TimerScheduled`` record, so a timer that
fires again after a crash appends nothing twice. On start it rebuilds the pending
timers from the log up to its checkpoint; the subscription brings the rest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pykka

from sagalog.actors._actor import Actor
from sagalog.actors._handlers import handles
from sagalog.events import Envelope, Message, derived_event_id, registry
from sagalog.events.runtime import TimerCancelled, TimerFired, TimerScheduled
from sagalog.store import AppendRequest

if TYPE_CHECKING:
    from sagalog.actors._clock import TimerHandle

__all__ = ["TimerService"]


@dataclass(frozen=True, slots=True)
class _Fire:
    timer_id: str


class TimerService(Actor):
    """Arms, fires and disarms the durable timers recorded in the log."""

    def __init__(self) -> None:
        super().__init__()
        self._armed: dict[str, tuple[Envelope[Message], TimerHandle]] = {}

    def on_attach(self, checkpoint: int) -> None:
        """Re-arm every timer scheduled up to the checkpoint that has not fired."""
        pending: dict[str, Envelope[Message]] = {}
        kinds: list[type[Message]] = [TimerScheduled, TimerFired, TimerCancelled]
        for record in self._context.store.read_all(types=kinds):
            if record.position > checkpoint:
                break
            data = record.data
            if isinstance(data, TimerScheduled):
                pending[data.timer_id] = record
            elif isinstance(data, TimerFired | TimerCancelled):
                pending.pop(data.timer_id, None)
        for record in pending.values():
            self._arm(record)
        if pending:
            self._log.info("re-armed {} pending timers from the log", len(pending))

    def on_receive(self, message: object) -> object:
        """Fire a due timer on this actor's thread; pass the rest to the base class."""
        if isinstance(message, _Fire):
            try:
                self._fire(message.timer_id)
            finally:
                self._context.progress.finished += 1
            return None
        return super().on_receive(message)

    @handles(TimerScheduled)
    def scheduled(self, timer: TimerScheduled, envelope: Envelope[Message]) -> None:
        """Arm a newly scheduled timer."""
        if timer.timer_id not in self._armed:
            self._arm(envelope)

    @handles(TimerFired, TimerCancelled)
    def ended(
        self,
        event: TimerFired | TimerCancelled,
        envelope: Envelope[Message],
    ) -> None:
        """Disarm a timer that fired or was cancelled."""
        armed = self._armed.pop(event.timer_id, None)
        if armed is not None:
            armed[1].cancel()

    def _arm(self, record: Envelope[Message]) -> None:
        timer = record.data
        assert isinstance(timer, TimerScheduled)  # noqa: S101 - filtered by type above
        delay = (timer.due_at - self._context.clock.now()).total_seconds()
        timer_id = timer.timer_id
        progress = self._context.progress

        def fire() -> None:  # on the clock's thread: count it before the actor sees it
            progress.started += 1
            try:
                self.actor_ref.tell(_Fire(timer_id))
            except pykka.ActorDeadError:  # stopped meanwhile: re-armed from the log on restart
                progress.finished += 1

        handle = self._context.clock.call_later(delay, fire)
        self._armed[timer_id] = (record, handle)

    def _fire(self, timer_id: str) -> None:
        armed = self._armed.get(timer_id)
        if armed is None:
            return  # cancelled or fired meanwhile
        record, _ = armed
        timer = record.data
        assert isinstance(timer, TimerScheduled)  # noqa: S101 - filtered by type above
        message = registry.decode(
            timer.payload_type, timer.payload_version, json.dumps(timer.payload_data),
            position=record.position, stream_id=record.stream_id,
        )
        self._context.store.append_all(
            [
                AppendRequest(
                    timer.stream_id,
                    [message, TimerFired(timer_id=timer_id)],
                    correlation_id=record.correlation_id,
                    causation_id=record.event_id,
                    event_ids=[
                        derived_event_id(record.event_id, "timers", 0),
                        derived_event_id(record.event_id, "timers", 1),
                    ],
                )
            ]
        )
        self._log.bind(position=record.position).debug("timer {} fired", timer_id)
