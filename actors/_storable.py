"""Making text about a refused value storable, so recording a failure never fails too.

The log refuses NUL characters, NaN, Infinity and lone surrogates (see
``sagalog.events.encode``). A record that *describes* such a value (a dead letter quoting
an exception's message, a job rejection quoting the payload's bad field) must still be
storable, or the failure it records is lost with the actor that tried. These helpers
spell the offending values as escapes: the text a person reads, not the value itself.
"""

from __future__ import annotations

import json

__all__ = ["as_json_text", "is_storable", "storable_text"]


def storable_text(text: str) -> str:
    """``text`` with NUL and each lone surrogate spelled as a backslash escape.

    Ordinary text (every message a handler normally raises) comes back unchanged.
    """
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def is_storable(value: object) -> bool:
    """Whether the log would store ``value`` (a JSON value) as it is."""
    try:
        text = json.dumps(value, allow_nan=False, ensure_ascii=False)
        text.encode("utf-8")  # a lone surrogate cannot be encoded
    except (TypeError, ValueError):  # UnicodeEncodeError is a ValueError
        return False
    return "\\u0000" not in text  # may also flag an escaped backslash: then quoted, no harm


def as_json_text(value: object) -> str:
    """``value`` as JSON text, every non-ASCII character escaped: always storable.

    NaN and Infinity stay spelled as Python's JSON writes them; anything not JSON is
    shown by its ``repr``.
    """
    return json.dumps(value, ensure_ascii=True, default=repr)
