"""What an append asks for, and the checks that run in the caller before it is queued.

Everything that can be refused without the database (bad ids, unportable values, a
message that is not a registered type) is refused here, in the caller's own task, so
a bad append never reaches the shared writer and never fails anybody else's batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple
from uuid import UUID

from sagalog.events import Message, encode, new_event_ids
from sagalog.store._errors import EventIdConflictError, StoreError
from sagalog.store._expected import ANY, ExpectedVersion, StreamState
from sagalog.store._ids import check_id

__all__ = ["AppendRequest", "Checkpoint", "PreparedWrite", "prepare"]


@dataclass(frozen=True, slots=True)
class AppendRequest:
    """Messages to append to one stream, as one part of an atomic :meth:`append_all`."""

    stream_id: str
    messages: Sequence[Message]
    expected_version: ExpectedVersion = ANY
    correlation_id: str | None = None
    causation_id: UUID | None = None
    event_ids: Sequence[UUID] | None = None


class Checkpoint(NamedTuple):
    """A subscriber's position, moved in the same transaction as an append."""

    name: str
    position: int


@dataclass(slots=True)
class PreparedWrite:
    """An append request, checked and encoded, ready for the writer."""

    stream_id: str
    expected: ExpectedVersion
    correlation_id: str | None
    causation_id: bytes | None
    messages: list[Message]
    texts: list[str]
    event_ids: list[bytes]
    explicit_ids: bool


def _check_expected(expected: object) -> ExpectedVersion:
    if isinstance(expected, StreamState):
        return expected
    if isinstance(expected, int) and not isinstance(expected, bool) and expected >= 0:
        return expected
    msg = (
        f"expected_version must be ANY, NO_STREAM, STREAM_EXISTS or a version >= 0, "
        f"not {expected!r}"
    )
    raise StoreError(msg)


def prepare(request: AppendRequest) -> PreparedWrite:
    """Check and encode ``request``; raise a typed error naming what is wrong."""
    stream_id = check_id(request.stream_id)
    correlation_id = (
        None
        if request.correlation_id is None
        else check_id(request.correlation_id, "correlation id")
    )
    causation = request.causation_id
    if causation is not None and not isinstance(causation, UUID):
        msg = f"causation_id must be a UUID, not {type(causation).__name__}"
        raise StoreError(msg)
    messages = list(request.messages)
    texts = []
    checked: set[type] = set()
    for index, message in enumerate(messages):
        kind = type(message)
        if kind not in checked:
            if not issubclass(kind, Message) or not hasattr(kind, "message_type"):
                msg = (
                    f"message {index} for stream {stream_id!r} is a {kind.__name__}, "
                    "not a registered Event or Command"
                )
                raise StoreError(msg)
            checked.add(kind)
        texts.append(encode(message))
    if request.event_ids is None:
        ids = new_event_ids(len(messages))
        explicit = False
    else:
        given = list(request.event_ids)
        if len(given) != len(messages):
            msg = f"{len(given)} event_ids given for {len(messages)} messages"
            raise StoreError(msg)
        for event_id in given:
            if not isinstance(event_id, UUID):
                msg = f"event_ids must be UUIDs, not {type(event_id).__name__}"
                raise StoreError(msg)
        ids = [event_id.bytes for event_id in given]
        if len(set(ids)) != len(ids):
            duplicate = next(UUID(bytes=i) for i in ids if ids.count(i) > 1)
            raise EventIdConflictError(duplicate, "appears twice in one append")
        explicit = True
    return PreparedWrite(
        stream_id=stream_id,
        expected=_check_expected(request.expected_version),
        correlation_id=correlation_id,
        causation_id=None if causation is None else causation.bytes,
        messages=messages,
        texts=texts,
        event_ids=ids,
        explicit_ids=explicit,
    )
