"""Turning stored rows into typed envelopes: the hot loop of every read."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from events import Envelope, Message, Registry

__all__ = ["decode_rows"]


def decode_rows(rows: Iterable[Any], registry: Registry) -> list[Envelope[Message]]:
    """Decode rows of the envelope columns, upcasting old versions.

    Raises:
        UnknownMessageTypeError: a row's type or version has no class; names position,
            stream and type.
        InvalidMessageError: a row's data does not fit its class; names the field.

    """
    decode = registry.decode
    from_iso = datetime.fromisoformat
    out: list[Envelope[Message]] = []
    append = out.append
    for position, stream_id, stream_version, event_id, type_name, version, recorded_at, \
            correlation_id, causation_id, data in rows:
        append(
            Envelope(
                position,
                stream_id,
                stream_version,
                UUID(bytes=event_id),
                type_name,
                version,
                from_iso(recorded_at),
                correlation_id,
                None if causation_id is None else UUID(bytes=causation_id),
                decode(type_name, version, data, position=position, stream_id=stream_id),
            )
        )
    return out
