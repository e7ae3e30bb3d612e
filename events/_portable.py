"""Encoding messages to JSON, refusing values that would not survive a move off SQLite.

SQLite stores NUL characters, NaN and lone surrogates without complaint; PostgreSQL's
``jsonb`` refuses all three. Refusing them here, before any write, keeps every log
portable. The checks run on the encoded text, because that is what is stored: a
substring search costs about 50 ns on a typical message, and only a hit pays for a
closer look.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from pydantic_core import PydanticSerializationError

from sagalog.events._errors import UnportableValueError

if TYPE_CHECKING:
    from sagalog.events._message import Message

__all__ = ["encode"]

# A JSON escape of NUL preceded by an even number of backslashes (an escaped backslash
# followed by "u0000" is the six characters of ordinary text, not a NUL).
_ESCAPED_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def _refuse_constant(token: str) -> object:
    raise UnportableValueError("a message", f"{token} is not a JSON number")


def encode(message: Message) -> str:
    """Serialize ``message`` to its stored JSON text.

    Raises:
        UnportableValueError: the message holds NaN, Infinity, a NUL character or a
            lone surrogate.

    """
    try:
        # model_dump_json() forwards a dozen default arguments to this same call.
        text = message.__pydantic_serializer__.to_json(message).decode()
    except PydanticSerializationError as error:
        raise UnportableValueError(_what(message), str(error)) from error
    if "\\u0000" in text and _ESCAPED_NUL.search(text):
        raise UnportableValueError(_what(message), "it contains a NUL character")
    if "NaN" in text or "Infinity" in text:
        try:
            json.loads(text, parse_constant=_refuse_constant)
        except UnportableValueError as error:
            raise UnportableValueError(_what(message), error.reason) from None
    return text


def _what(message: Message) -> str:
    return f"{type(message).__name__} message"

