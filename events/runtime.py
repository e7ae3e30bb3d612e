"""The runtime's own messages: dead letters, actor deaths, durable timers.

These are part of the log format: their registered names must not change.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sagalog.events._message import Event

__all__ = ["ActorDied", "HandlerFailed", "TimerCancelled", "TimerFired", "TimerScheduled"]


class HandlerFailed(Event, name="HandlerFailed"):
    """A dead letter: a handler kept failing on one message, and the actor moved on."""

    actor: str
    """The actor whose handler failed."""
    input_position: int
    """Position of the message it failed on."""
    input_event_id: str
    """Event id of that message."""
    input_type: str
    """Type of that message."""
    error_type: str
    """The exception's class name."""
    error_message: str
    """The exception's message."""
    traceback: str
    """The last frames of the traceback, enough to find the line."""
    attempts: int
    """How many times the handler was tried."""


class ActorDied(Event, name="ActorDied"):
    """An actor stopped on an error outside its handlers; the runtime restarts it."""

    actor: str
    error_type: str
    error_message: str
    restarts: int
    """How many times the runtime has restarted this actor so far."""


class TimerScheduled(Event, name="TimerScheduled"):
    """A message to append later: the durable form of a timer."""

    timer_id: str
    """Unique id; firing appends the message under an id derived from it, so once only."""
    due_at: datetime
    """When to fire (UTC)."""
    stream_id: str
    """The stream the message goes to."""
    payload_type: str
    """Registered type of the message to append."""
    payload_version: int
    payload_data: dict[str, Any]
    """The message's fields, as JSON values."""


class TimerFired(Event, name="TimerFired"):
    """A scheduled timer fired and its message was appended."""

    timer_id: str


class TimerCancelled(Event, name="TimerCancelled"):
    """A scheduled timer will not fire."""

    timer_id: str
