"""Export's fast path writes exactly the line the parse-and-dump path would write."""

from __future__ import annotations

import json
import random
from typing import TYPE_CHECKING, Any

import pytest

from sagalog.events import Event
from sagalog.store import SyncEventStore, export_lines
from sagalog.store._transfer import _ENCODER, _canonical, _line, _record

if TYPE_CHECKING:
    from pathlib import Path


class TransferProbe(Event):
    """A payload with every JSON shape: strings with escapes, floats, nesting."""

    text: str
    number: float
    count: int
    extra: dict[str, Any]


TRICKY_TEXTS = [
    "plain", 'say "hi"', "back\\slash", "line\nbreak\ttab\r\b\f", "\x01\x1f\x7f",
    "caf\u00e9 \u2028 \U0001f600", '\\"', "a/b", "", "-0", "1e5", "true null",
]
TRICKY_NUMBERS = [0.0, -0.0, 1.5, -2.25, 1e16, 1e-5, 0.0001, 123456789.125, 1e300, 5e-324]


@pytest.mark.parametrize(
    "text",
    [
        '{"a":1}', '{"a":-0}', '{"a":-0.0}', '{"a":1.0}', '{"a":1.50}', '{"a":1e5}',
        '{"a":1E5}', '{"a":10000000000000000.0}', '{"a":0.00001}', '{"a": 1}',
        '{"a":"\\/"}', '{"a":"\\u00e9"}', '{"a":"\\u000a"}', '{"a":"\\u001F"}',
        '{"a":"\\u001f"}', '{"a":"\\\\"}', '{"a":"\\\\\\""}', '{"a":"x\\"y"}',
        '{"a":[true,false,null]}', '{"a":"\\n","b":{"c":[1,2.5]}}', "[1,-1,-10]",
    ],
)
def test_a_text_counts_as_canonical_only_if_parsing_and_dumping_gives_it_back(
    text: str,
) -> None:
    """Every spelling the encoder would change (floats, exponents, escapes, spaces) fails."""
    if _canonical(text):
        assert _ENCODER.encode(json.loads(text)) == text


def test_random_payloads_give_the_same_line_on_both_paths() -> None:
    """For 2,000 random payloads, the fast line equals the parse-and-dump line."""
    rng = random.Random(6)
    for _ in range(2000):
        value: dict[str, Any] = {
            "t": rng.choice(TRICKY_TEXTS) + rng.choice(TRICKY_TEXTS),
            "n": rng.choice(TRICKY_NUMBERS) * rng.choice([1, -1, 3, 0.1]),
            "l": [rng.choice(TRICKY_TEXTS), rng.randint(-5, 5), rng.random()],
        }
        for text in (json.dumps(value, ensure_ascii=False, separators=(",", ":")),
                     json.dumps(value), json.dumps(value, ensure_ascii=False)):
            row = (1, "s", 1, bytes(16), "T", 1, "2026-01-01T00:00:00+00:00", None,
                   bytes(range(16)), text, b"")
            assert _line(row) == _ENCODER.encode(_record(row))


@pytest.mark.parametrize("where", ["file", "memory"])
def test_export_of_a_stored_log_matches_json_dumps_of_each_record(
    tmp_path: Path, where: str
) -> None:
    """Records written by the store export as ``json.dumps`` of the record would.

    A file is read through a connection of the export's own; an in-memory log through
    its writer thread.
    """
    path = tmp_path / "log.db" if where == "file" else ":memory:"
    with SyncEventStore.open(path, durability="off") as store:
        for index, text in enumerate(TRICKY_TEXTS):
            store.append(f"probe-{index}", [TransferProbe(
                text=text, number=TRICKY_NUMBERS[index % len(TRICKY_NUMBERS)],
                count=-index, extra={"nested": [text, 1.25, None], "e": 1e-7})],
                correlation_id=f"run-{index % 3}")
        lines = list(export_lines(store))
        rows = store.call(store.store.read_rows(1, 100))
        kept = list(export_lines(store, keep=lambda record: record["position"] % 2 == 1))
    assert len(lines) == len(TRICKY_TEXTS)
    assert kept == lines[::2]
    assert lines == [json.dumps(_record(row), ensure_ascii=False, separators=(",", ":"))
                     for row in rows]
