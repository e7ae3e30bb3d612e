"""The one sanitiser of text bound for a terminal or a diagram (``sagalog.events``)."""

from __future__ import annotations

import io
import json

import pytest
from loguru import logger

from sagalog.events import enable_logging, mermaid_text, printable, printable_json

EVERY_CONTROL = "".join(map(chr, (*range(0x20), 0x7F, *range(0x80, 0xA0))))
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def test_every_control_character_but_tab_is_escaped() -> None:
    """C0, DEL and C1 show as \\xNN (\\n and \\r by name); a tab stays."""
    shown = printable(EVERY_CONTROL)
    assert all(char.isprintable() or char == "\t" for char in shown)
    assert "\t" in shown
    assert shown.startswith("\\x00\\x01")
    assert "\\n\\x0b\\x0c\\r" in shown
    assert shown.endswith("\\x7f\\x80" + "".join(f"\\x{c:02x}" for c in range(0x81, 0xA0)))


def test_bidi_overrides_and_line_separators_are_escaped() -> None:
    """The bidi embeddings, overrides and isolates, and U+2028/9 show as \\uNNNN."""
    assert printable(f"a{BIDI}\u2028\u2029b") == (
        "a\\u202a\\u202b\\u202c\\u202d\\u202e\\u2066\\u2067\\u2068\\u2069\\u2028\\u2029b")


def test_multiline_keeps_newlines_and_escapes_the_rest() -> None:
    """A block meant as lines keeps its newlines; a CR that would overwrite one does not."""
    assert printable("one\r\ntwo\x1b[K", multiline=True) == "one\\r\ntwo\\x1b[K"


def test_ordinary_text_is_unchanged() -> None:
    """Letters of any script, emoji and a backslash pass as they are."""
    text = "café 東京 👍 C:\\logs\\a.db 100% <ok>"
    assert printable(text) == text


def test_printable_json_is_the_same_document_with_nothing_raw() -> None:
    """JSON escapes C0 itself; DEL, C1 and bidi get \\uNNNN too, and decode the same."""
    data = {"text": EVERY_CONTROL + BIDI + "\u2028ok"}
    document = printable_json(json.dumps(data, ensure_ascii=False))
    assert all(char.isprintable() for char in document)
    assert "\\u009b" in document
    assert "\\u202e" in document
    assert json.loads(document) == data


@pytest.mark.parametrize(("text", "shown"), [
    ("%%{init: {'theme': 'dark'}}%%", "#37;#37;{init: {'theme': 'dark'}}#37;#37;"),
    ("<img src=x onerror=alert(1)>", "#lt;img src=x onerror=alert(1)#gt;"),
    ('a;b#c"d', "a#59;b#35;c#quot;d"),
    ("line\rnext\u2028more\nend", "line\\rnext\\u2028more\\nend"),
])
def test_mermaid_text_has_no_markup_directive_or_break(text: str, shown: str) -> None:
    """A Mermaid label cannot open a directive, a tag, a statement or a new line."""
    assert mermaid_text(text) == shown


def test_log_lines_show_message_and_context_escaped() -> None:
    """A log line quoting outside text (a job's source) reaches the sink escaped."""
    out = io.StringIO()
    sink = enable_logging(out, level="INFO")
    try:
        logger.bind(source="job\x1b]0;x\x07").patch(
            lambda record: record.update(name="sagalog.test")).info(
            "rejected {}", "a\x1b[2J\u202eb")
    finally:
        if sink is not None:
            logger.remove(sink)
        logger.disable("sagalog")
    line = out.getvalue()
    assert "rejected a\\x1b[2J\\u202eb" in line
    assert "source=job\\x1b]0;x\\x07" in line
    assert "\x1b" not in line
    assert "\u202e" not in line
