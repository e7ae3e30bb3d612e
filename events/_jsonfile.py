"""JSON read from a user's file, with the reader's own limits reported as bad JSON.

``json.loads`` raises ``RecursionError`` for arrays nested past the interpreter's stack
and a bare ``ValueError`` for an integer past its digit limit (4,300): neither is a
``JSONDecodeError``, so a loader catching only that let a traceback through. Here both
are ``JSONDecodeError`` too, and every loader reports them as it reports bad JSON.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["loads", "path_problem"]


def loads(text: str | bytes) -> Any:  # noqa: ANN401 - JSON is any of its types
    """``json.loads``, raising only ``json.JSONDecodeError`` for text it cannot read."""
    document = text if isinstance(text, str) else text.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        msg = "nested too deeply to read"
        raise json.JSONDecodeError(msg, document, 0) from None
    except ValueError as error:  # an integer of more digits than the interpreter converts
        msg = str(error).split(";")[0]
        raise json.JSONDecodeError(msg, document, 0) from None


def path_problem(value: str) -> str | None:
    """Why ``value`` cannot name a file (a NUL, a lone surrogate), or None if it can."""
    if "\x00" in value:
        return "it holds a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        return f"it holds {value[error.start]!r}, which no file name can hold"
    return None
