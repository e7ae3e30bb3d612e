"""Hostile inputs for the adversarial properties: JSON-ish values and the texts that spell them.

The values are what a user, a hand-edited file or another program can put in front of
sagalog: ordinary JSON, and the things JSON parsers disagree about or databases refuse.
Those are U+2028/U+2029/U+0085 (line breaks to ``str.splitlines``, text to JSON Lines),
NUL, lone surrogates (escaped as ``\\ud800``, or raw, which is not UTF-8 at all), numbers
past float and past Python's 4,300-digit int limit, the ``NaN``/``Infinity`` literals
Python's json writes and reads, and nesting deeper than any recursive reader goes.
"""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import strategies as st

__all__ = [
    "HOSTILE_TEXTS",
    "PAST_LIMITS",
    "config_files",
    "field_dicts",
    "hostile_text",
    "json_texts",
    "json_values",
    "shallow_json_texts",
    "spell",
]

HOSTILE_TEXTS = (
    "\u2028", "\u2029", "\u0085", "\x00", "a\x00b", "\ud800", "\udfff", "\ud83d",
    "\ufeff", "\x1c\x1d\x1e", "\r", "\n", "\\u0000", "\\", '"', "\U0001f600", "",
    " ", "NaN", "Infinity", "-0", "1e999", "${HOME}", "${UNSET_IN_TESTS_9}", "../..", "/",
)
"""Strings that have broken, or could break, a reader or a writer of the log."""

hostile_text = st.one_of(
    st.text(max_size=20),
    st.sampled_from(HOSTILE_TEXTS),
    st.lists(st.sampled_from(HOSTILE_TEXTS) | st.text(max_size=3), min_size=2, max_size=4)
    .map("".join),
)
"""Ordinary text, and text made of the pieces that have mattered."""

HUGE_NUMBERS = (
    10**20, -(10**20), 2**63, -(2**63) - 1, 2**64, 10**400, 1e308, -1e308, 5e-324,
    math.inf, -math.inf, math.nan, -0.0,
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.sampled_from(HUGE_NUMBERS),
    st.floats(allow_nan=True, allow_infinity=True),
    hostile_text,
)

json_values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(hostile_text, inner, max_size=4),
    max_leaves=6,
)
"""Any value Python's json can spell (NaN and Infinity included), hostile leaves often."""

DEPTHS = (2, 150, 600, 1_500, 50_000)
"""Nesting depths: shallow, past pydantic's JSON reader's limit, past Python's recursion."""


def _nested(depth: int, kind: str) -> str:
    if kind == "list":
        return "[" * depth + "0" + "]" * depth
    return '{"a":' * depth + "0" + "}" * depth


deep_texts = st.builds(_nested, st.sampled_from(DEPTHS), st.sampled_from(("list", "dict")))
"""A JSON text nested ``depth`` deep."""


def spell(value: object, *, ascii_only: bool) -> str:
    """``value`` as JSON text; NaN and Infinity as Python writes them, surrogates escaped."""
    return json.dumps(value, ensure_ascii=ascii_only, allow_nan=True)


DIGITS_PAST_LIMIT = "10" * 2_500
"""A 5,000-digit integer: past Python's int-from-text limit (4,300 digits)."""

shallow_json_texts = st.one_of(
    st.builds(spell, json_values, ascii_only=st.booleans()),
    st.text(max_size=30),
)
"""JSON texts of hostile values, and text that is no JSON at all; none past a parser's limits."""

json_texts = st.one_of(shallow_json_texts, deep_texts, st.just(DIGITS_PAST_LIMIT))
"""The above, and texts nested past every reader's depth or with a number past int's limit."""


def field_dicts(names: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Dicts keyed mostly by ``names`` (a model's fields), so some of them validate."""
    keys = st.sampled_from(names) if names else hostile_text
    likely = st.one_of(
        st.text(alphabet="abcxyz-_019", min_size=1, max_size=8),
        st.integers(min_value=0, max_value=1000),
        st.booleans(),
        st.lists(st.text(alphabet="abc", min_size=1, max_size=3), min_size=1, max_size=2),
        json_values,
    )
    return st.dictionaries(keys | hostile_text, likely, max_size=len(names) + 2)


def config_files(names: list[str]) -> st.SearchStrategy[str]:
    """The text of a JSON configuration file keyed by ``names``, or hostile text.

    Nothing past a parser's limits: :data:`PAST_LIMITS` holds those, for their own test.
    """
    return st.one_of(
        st.builds(spell, field_dicts(names), ascii_only=st.booleans()),
        st.builds(spell, field_dicts(names), ascii_only=st.booleans()),
        shallow_json_texts,
    )


PAST_LIMITS = (
    "[" * 100_000 + "]" * 100_000,
    '{"a":' * 5_000 + "0" + "}" * 5_000,
    DIGITS_PAST_LIMIT,
    '{"count": ' + DIGITS_PAST_LIMIT + "}",
)
"""JSON texts that stop Python's json with RecursionError or ValueError (not JSONDecodeError)."""
