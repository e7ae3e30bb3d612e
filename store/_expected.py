"""What an append expects of its stream: any state, no stream yet, a stream, or a version."""

from __future__ import annotations

import enum
from typing import TypeAlias

__all__ = ["ANY", "NO_STREAM", "STREAM_EXISTS", "ExpectedVersion", "StreamState", "check"]


class StreamState(enum.Enum):
    """The expectations that are not an exact version."""

    ANY = "any"
    NO_STREAM = "no stream"
    STREAM_EXISTS = "stream exists"

    def __str__(self) -> str:
        return self.value


ANY = StreamState.ANY
"""Append whatever the stream's state."""
NO_STREAM = StreamState.NO_STREAM
"""Append only if the stream has no record yet."""
STREAM_EXISTS = StreamState.STREAM_EXISTS
"""Append only if the stream has at least one record."""

ExpectedVersion: TypeAlias = StreamState | int
"""``ANY``, ``NO_STREAM``, ``STREAM_EXISTS``, or the exact current version (0 = empty)."""


def check(expected: ExpectedVersion, actual: int) -> bool:
    """Whether a stream at ``actual`` meets ``expected``."""
    if expected is ANY:
        return True
    if expected is NO_STREAM:
        return actual == 0
    if expected is STREAM_EXISTS:
        return actual > 0
    return expected == actual


def describe(expected: ExpectedVersion) -> str:
    """``expected`` in words, for error messages."""
    if isinstance(expected, StreamState):
        return str(expected)
    return f"version {expected}"
