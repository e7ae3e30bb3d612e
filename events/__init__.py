"""Typed messages: the Event and Command bases, the type registry, upcasters, the envelope."""

from loguru import logger

from events._envelope import ENVELOPE_FIELDS, Envelope, TMessage
from events._errors import (
    DuplicateMessageTypeError,
    InvalidMessageError,
    MessageError,
    SagalogError,
    UnknownMessageTypeError,
    UnportableValueError,
    UpcastError,
)
from events._ids import derived_event_id, new_event_id, new_event_ids, uuid_from_bytes
from events._logging import enable_logging
from events._message import Command, Event, Message
from events._portable import encode
from events._registry import Registry, Upcaster, registry, upcaster

__all__ = [
    "ENVELOPE_FIELDS",
    "Command",
    "DuplicateMessageTypeError",
    "Envelope",
    "Event",
    "InvalidMessageError",
    "Message",
    "MessageError",
    "Registry",
    "SagalogError",
    "TMessage",
    "UnknownMessageTypeError",
    "UnportableValueError",
    "UpcastError",
    "Upcaster",
    "derived_event_id",
    "enable_logging",
    "encode",
    "new_event_id",
    "new_event_ids",
    "registry",
    "upcaster",
    "uuid_from_bytes",
]

# A library adds no sink and stays quiet until the application opts in: see README "Logging".
logger.disable("events")
