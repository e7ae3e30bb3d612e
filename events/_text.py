r"""Text from a log, made safe to print on a terminal or inside a Mermaid diagram.

A log holds what anyone appended: a job file's name, an HTTP server's ETag, a stage name
from a JSON config. Printed raw, an ESC sequence recolours or clears the reader's
terminal, a carriage return overwrites the line before it, and a bidi override
(U+202E) makes ``exe.txt`` read as ``txt.exe``. Every printer passes each field through
:func:`printable` (and a diagram's labels through :func:`mermaid_text`): the character
stays visible, escaped as Python writes it (``\x1b``, ``\u202e``), and nothing is lost.

A backslash is left as it is, so ``\x1b`` typed as four characters reads the same as
an escaped ESC: the aim is a terminal nobody can take over, not a reversible encoding
(``--format json`` is the lossless form).
"""

from __future__ import annotations

__all__ = ["mermaid_text", "printable", "printable_json"]

_BIDI = (*range(0x202A, 0x202F), *range(0x2066, 0x206A))
"""The bidi embeddings, overrides and isolates: they reorder what follows them."""
_LINE_BREAKS = (0x2028, 0x2029)
"""The Unicode line and paragraph separators: some viewers break the line there."""


def _escape(code: int) -> str:
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _table(*, keep: str) -> dict[int, str]:
    controls = (*range(0x20), 0x7F, *range(0x80, 0xA0), *_BIDI, *_LINE_BREAKS)
    named = {0x0A: "\\n", 0x0D: "\\r"}
    return {code: named.get(code, _escape(code)) for code in controls if chr(code) not in keep}


_ONE_LINE = _table(keep="\t")
_BLOCK = _table(keep="\t\n")
_JSON = {code: f"\\u{code:04x}" for code in (0x7F, *range(0x80, 0xA0), *_BIDI, *_LINE_BREAKS)}


def printable(text: object, *, multiline: bool = False) -> str:
    r"""``text`` (or ``str(text)``) with every control character shown escaped.

    C0 and C1 controls, DEL, bidi overrides and Unicode line separators become ``\x1b``,
    ``\u202e``...; a tab stays, and so does a newline with ``multiline`` (a block of
    lines meant as such). A line break in a one-line field shows as ``\n``, so one
    record stays one line.

    Example::

        >>> printable("ok\x1b[2J\u202edone")
        'ok\\x1b[2J\\u202edone'
    """
    return str(text).translate(_BLOCK if multiline else _ONE_LINE)


def printable_json(document: str) -> str:
    r"""A JSON document (``json.dumps(..., ensure_ascii=False)``) with no raw control character.

    JSON escapes the C0 controls itself, but not DEL, the C1 controls or the bidi marks;
    these can only stand inside strings, where ``\u009b`` means the same character, so
    the document decodes to the same data.
    """
    return document.translate(_JSON)


_MERMAID = {ord("%"): "#37;", ord("<"): "#lt;", ord(">"): "#gt;", ord(";"): "#59;",
            ord("#"): "#35;", ord('"'): "#quot;"}


def mermaid_text(text: object) -> str:
    """``text`` safe inside a Mermaid label or message: one line, no markup, no directive.

    Control characters are escaped as :func:`printable` does (so a CR or U+2028 cannot
    start a new statement); ``%`` (``%%`` opens a comment or an ``%%{init}%%``
    directive), angle brackets (HTML in labels), ``;`` (a statement's end), ``#`` (an
    entity's start) and ``"`` become Mermaid entity codes, which it renders as the
    characters themselves.
    """
    return printable(text).translate(_MERMAID)
