"""The root of sagalog's error hierarchy and the errors about messages.

Every package subclasses :class:`SagalogError` in its own ``_errors`` module, so a
caller can catch everything sagalog raises with one ``except``. ``events`` imports
nothing of the other packages, which is why the root lives here.
"""

from __future__ import annotations

__all__ = [
    "DuplicateMessageTypeError",
    "InvalidMessageError",
    "MessageError",
    "SagalogError",
    "UnknownMessageTypeError",
    "UnportableValueError",
    "UpcastError",
]


class SagalogError(Exception):
    """Base class of every error sagalog raises on purpose."""


class MessageError(SagalogError):
    """A message type, its registration, or its data is wrong."""


class DuplicateMessageTypeError(MessageError):
    """Two different classes claim the same registered name and version."""

    def __init__(self, type_name: str, version: int, existing: str, new: str) -> None:
        self.type = type_name
        self.version = version
        super().__init__(
            f"message type {type_name!r} version {version} is already registered by "
            f"{existing}; {new} cannot claim it too (give it another name or version)"
        )


def _where(position: int | None, stream_id: str | None) -> str:
    """Say where a record sits, for error messages; empty when nothing is known."""
    parts = []
    if position is not None:
        parts.append(f"position {position}")
    if stream_id is not None:
        parts.append(f"stream {stream_id!r}")
    return f" at {', '.join(parts)}" if parts else ""


class UnknownMessageTypeError(MessageError):
    """A stored record names a type, or a version of it, that no class or upcaster reads."""

    def __init__(
        self,
        type_name: str,
        version: int,
        *,
        position: int | None = None,
        stream_id: str | None = None,
        reason: str = "no message class is registered under that name",
    ) -> None:
        self.type = type_name
        self.version = version
        self.position = position
        self.stream_id = stream_id
        super().__init__(
            f"unknown message type {type_name!r} version {version}"
            f"{_where(position, stream_id)}: {reason}"
        )


class InvalidMessageError(MessageError):
    """Message data does not fit its type; ``errors`` names each bad field."""

    def __init__(
        self,
        type_name: str,
        errors: list[str],
        *,
        position: int | None = None,
        stream_id: str | None = None,
    ) -> None:
        self.type = type_name
        self.errors = errors
        self.position = position
        self.stream_id = stream_id
        super().__init__(
            f"invalid {type_name} message{_where(position, stream_id)}: " + "; ".join(errors)
        )


class UpcastError(MessageError):
    """An upcaster failed to turn an old version of a message into the next one."""

    def __init__(
        self,
        type_name: str,
        from_version: int,
        reason: str,
        *,
        position: int | None = None,
        stream_id: str | None = None,
    ) -> None:
        self.type = type_name
        self.from_version = from_version
        self.position = position
        self.stream_id = stream_id
        super().__init__(
            f"upcasting {type_name!r} from version {from_version}"
            f"{_where(position, stream_id)} failed: {reason}"
        )


class UnportableValueError(MessageError):
    """A value SQLite would store but a stricter database would refuse.

    NUL characters, NaN, Infinity and lone surrogates are refused before anything is
    written, so every log stays portable to the PostgreSQL backend.
    """

    def __init__(self, what: str, reason: str) -> None:
        self.what = what
        self.reason = reason
        super().__init__(f"{what} cannot be stored: {reason}")
