"""Typed messages: the Event and Command bases, the type registry, upcasters, the envelope.

The names below are imported when first used (see :mod:`sagalog.events._lazy`): the
messages bring pydantic (0.13 s), which ``sagalog --help`` and ``list`` do not need; they
use only the errors.
"""

from typing import TYPE_CHECKING

from sagalog.events._errors import (
    DuplicateMessageTypeError,
    InvalidMessageError,
    MessageError,
    SagalogError,
    UnknownMessageTypeError,
    UnportableValueError,
    UpcastError,
)
from sagalog.events._lazy import lazy_names
from sagalog.events._text import mermaid_text, printable, printable_json

if TYPE_CHECKING:
    from sagalog.events._envelope import ENVELOPE_FIELDS, Envelope, TMessage
    from sagalog.events._ids import derived_event_id, new_event_id, new_event_ids, uuid_from_bytes
    from sagalog.events._logging import enable_logging
    from sagalog.events._message import Command, Event, Message
    from sagalog.events._portable import encode
    from sagalog.events._registry import Registry, Upcaster, registry, upcaster

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
    "mermaid_text",
    "new_event_id",
    "new_event_ids",
    "printable",
    "printable_json",
    "registry",
    "upcaster",
    "uuid_from_bytes",
]

if not TYPE_CHECKING:  # type checkers read the imports above, and see no __getattr__
    __getattr__ = lazy_names(__name__, {
        "_envelope": ("ENVELOPE_FIELDS", "Envelope", "TMessage"),
        "_ids": ("derived_event_id", "new_event_id", "new_event_ids", "uuid_from_bytes"),
        "_logging": ("enable_logging",),
        "_message": ("Command", "Event", "Message"),
        "_portable": ("encode",),
        "_registry": ("Registry", "Upcaster", "registry", "upcaster"),
    })
