"""What a handler returns, and how it becomes appends with deterministic event ids.

A handler returns nothing, one message, or an iterable of messages and instructions
(:class:`Emit` to pick the stream, :class:`Schedule` for a durable timer,
:class:`CancelTimer`). Output ``index`` of the input with event id ``E`` from actor
``A`` is stored under ``derived_event_id(E, A, index)``, so running the handler again
after a crash appends nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sagalog.actors._errors import HandlerOutputError
from sagalog.events import Envelope, Message, derived_event_id, encode
from sagalog.events.runtime import TimerCancelled, TimerScheduled
from sagalog.store import AppendRequest

if TYPE_CHECKING:
    from uuid import UUID

__all__ = ["CancelTimer", "Emit", "Output", "Schedule", "to_requests"]


@dataclass(frozen=True, slots=True)
class Emit:
    """Append ``message`` to ``stream_id`` (default: the input's stream)."""

    message: Message
    stream_id: str | None = None


@dataclass(frozen=True, slots=True)
class Schedule:
    """Append ``message`` later: after ``delay`` seconds, or at ``at`` (a durable timer).

    The timer is an event in the log; after a restart it is re-armed from there.
    ``timer_id`` names it for :class:`CancelTimer` (default: derived from the input).
    """

    message: Message
    delay: float | None = None
    at: datetime | None = None
    stream_id: str | None = None
    timer_id: str | None = None


@dataclass(frozen=True, slots=True)
class CancelTimer:
    """Cancel the durable timer ``timer_id`` if it has not fired."""

    timer_id: str
    stream_id: str | None = None


Output = Message | Emit | Schedule | CancelTimer
"""One item a handler may return."""


def normalize(result: object) -> list[Output]:
    """A handler's return value as a list of outputs; raises on anything else."""
    if result is None:
        return []
    if isinstance(result, Message | Emit | Schedule | CancelTimer):
        return [result]
    if isinstance(result, Iterable) and not isinstance(result, str | bytes | dict):
        items = list(result)
        for item in items:
            if not isinstance(item, Message | Emit | Schedule | CancelTimer):
                msg = (
                    f"a handler returned a {type(item).__name__} among its outputs; "
                    "expected messages, Emit, Schedule or CancelTimer"
                )
                raise HandlerOutputError(msg)
        return items
    msg = f"a handler returned a {type(result).__name__}; expected a message, a list, or None"
    raise HandlerOutputError(msg)


def _as_message(item: Output, envelope: Envelope[Message], actor: str, index: int,
                now: datetime) -> tuple[str, Message]:
    if isinstance(item, Message):
        return envelope.stream_id, item
    if isinstance(item, Emit):
        return item.stream_id or envelope.stream_id, item.message
    if isinstance(item, CancelTimer):
        return item.stream_id or envelope.stream_id, TimerCancelled(timer_id=item.timer_id)
    if item.at is None and item.delay is None:
        msg = "Schedule needs delay or at"
        raise HandlerOutputError(msg)
    due = item.at if item.at is not None else now + timedelta(seconds=item.delay or 0.0)
    stream_id = item.stream_id or envelope.stream_id
    kind = type(item.message)
    timer = TimerScheduled(
        timer_id=item.timer_id or f"{envelope.event_id}/{actor}/{index}",
        due_at=due,
        stream_id=stream_id,
        payload_type=kind.message_type,
        payload_version=kind.message_version,
        payload_data=_data(item.message),
    )
    return stream_id, timer


def _data(message: Message) -> dict[str, object]:
    encode(message)  # refuse unportable values here, where the handler can be named
    return message.model_dump(mode="json")


def to_requests(
    outputs: list[Output], envelope: Envelope[Message], actor: str, now: datetime
) -> list[AppendRequest]:
    """The appends for one input's outputs: consecutive outputs to a stream share one.

    Raises:
        UnportableValueError: an output holds a value the log refuses (NaN, Infinity, NUL,
            a lone surrogate); raised here, where the handler is named, rather than when the
            actor commits its whole batch.

    """
    requests: list[AppendRequest] = []
    current: str | None = None
    messages: list[Message] = []
    ids: list[UUID] = []
    cause = envelope.event_id

    def flush() -> None:
        if current is not None and messages:
            requests.append(
                AppendRequest(
                    current, list(messages), correlation_id=envelope.correlation_id,
                    causation_id=cause, event_ids=list(ids),
                )
            )

    for index, item in enumerate(outputs):
        stream_id, message = _as_message(item, envelope, actor, index, now)
        encode(message)  # refused here, in the handler's protection, not at the batch's commit
        if stream_id != current:
            flush()
            current, messages, ids = stream_id, [], []
        messages.append(message)
        ids.append(derived_event_id(cause, actor, index))
    flush()
    return requests
