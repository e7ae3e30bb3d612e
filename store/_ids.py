"""Checks on stream ids and correlation ids, the strings users choose.

Quotes, ``%``, ``_`` and any printable unicode are stored as given (every query binds
them as parameters, so they never meet SQL syntax). Refused: empty ids, control
characters (they make logs unreadable and break line-based tools), lone surrogates
(not UTF-8), and ids longer than :data:`MAX_ID_LENGTH`.
"""

from __future__ import annotations

import re

from sagalog.store._errors import InvalidStreamIdError

__all__ = ["MAX_ID_LENGTH", "check_id"]

MAX_ID_LENGTH = 8192
"""Longest stream or correlation id accepted, in characters."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def check_id(value: object, what: str = "stream id") -> str:
    """Return ``value`` if it is a valid id, else raise :class:`InvalidStreamIdError`."""
    if not isinstance(value, str):
        raise InvalidStreamIdError(what, value, f"must be a str, not {type(value).__name__}")
    if not value:
        raise InvalidStreamIdError(what, value, "must not be empty")
    if len(value) > MAX_ID_LENGTH:
        raise InvalidStreamIdError(
            what, value, f"is {len(value)} characters long; the limit is {MAX_ID_LENGTH}"
        )
    control = _CONTROL.search(value)
    if control is not None:
        raise InvalidStreamIdError(
            what, value, f"contains the control character {control.group()!r} at {control.start()}"
        )
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            raise InvalidStreamIdError(
                what, value, f"contains a lone surrogate at {error.start}"
            ) from error
    return value
