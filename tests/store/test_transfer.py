"""Export and import: export's fast path writes exactly the line the parse-and-dump path
would write; import reads JSON Lines as written, streams, and stays all or nothing."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sagalog.events import Event, registry
from sagalog.store import (
    AppendRequest,
    EventStoreProtocol,
    ImportFileError,
    ImportLine,
    export_lines,
    import_file,
    import_lines,
    json_lines,
    open_store,
)
from sagalog.store._transfer import _ENCODER, _canonical, _line, _parsed, _record


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
    with open_store(path, durability="off") as store:
        for index, text in enumerate(TRICKY_TEXTS):
            store.append(f"probe-{index}", [TransferProbe(
                text=text, number=TRICKY_NUMBERS[index % len(TRICKY_NUMBERS)],
                count=-index, extra={"nested": [text, 1.25, None], "e": 1e-7})],
                correlation_id=f"run-{index % 3}")
        lines = list(export_lines(store))
        rows = store.read_raw(1, 100)
        kept = list(export_lines(store, keep=lambda record: record["position"] % 2 == 1))
    assert len(lines) == len(TRICKY_TEXTS)
    assert kept == lines[::2]
    assert lines == [json.dumps(_record(row), ensure_ascii=False, separators=(",", ":"))
                     for row in rows]


LINE_BREAKERS = "\u2028\u2029\u0085\x1c\x1d\x1e\x0b\x0c"
"""What ``str.splitlines`` breaks a line at besides \\n and \\r."""


def probe(index: int, text: str = "t") -> TransferProbe:
    return TransferProbe(text=text, number=0.5, count=index, extra={"i": index})


def write_export(store: EventStoreProtocol, path: Path) -> list[str]:
    lines = list(export_lines(store))
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return lines


def test_a_json_lines_file_breaks_at_newline_only(tmp_path: Path) -> None:
    """U+2028 and its kind are text inside a line; a bad UTF-8 line is named."""
    path = tmp_path / "x.jsonl"
    path.write_bytes(f'{{"a":"1{LINE_BREAKERS}"}}\n\n{{"b":2}}'.encode())
    assert list(json_lines(path)) == [(1, f'{{"a":"1{LINE_BREAKERS}"}}\n'), (2, "\n"),
                                      (3, '{"b":2}')]
    path.write_bytes(b'{"a":1}\n{"b":"\xff"}\n')
    with pytest.raises(ImportFileError, match=r"x\.jsonl: line 2: not UTF-8 \(invalid start"):
        list(json_lines(path))


def test_an_export_with_line_break_characters_imports_back_whole(tmp_path: Path) -> None:
    """The export writes them raw; the import splits on \\n only, so every record returns."""
    with open_store(tmp_path / "a.db") as store:
        for index, char in enumerate(LINE_BREAKERS):
            store.append(f"s-{index}", [probe(index, f"before{char}after")],
                         correlation_id="r")
        lines = write_export(store, tmp_path / "a.jsonl")
    text = (tmp_path / "a.jsonl").read_text(encoding="utf-8")
    assert "\u2028" in text
    assert len(text.splitlines()) > len(lines), "splitlines would break these lines"
    result = import_file(tmp_path / "b.db", tmp_path / "a.jsonl", registry)
    assert (result.added, result.lines) == (len(LINE_BREAKERS), len(LINE_BREAKERS))
    with open_store(tmp_path / "b.db", read_only=True) as store:
        texts = [record.data.text for record in store.read_all()]  # type: ignore[attr-defined]
    assert texts == [f"before{char}after" for char in LINE_BREAKERS]


@pytest.fixture
def long_export(tmp_path: Path) -> Path:
    """2,500 records (three batches of the streamed import) in 50 streams."""
    with open_store(tmp_path / "source.db", durability="off") as store:
        for start in range(0, 2500, 500):
            store.append_all([AppendRequest(f"s-{n % 50}", [probe(n)], correlation_id=f"r{n % 7}")
                              for n in range(start, start + 500)])
        write_export(store, tmp_path / "long.jsonl")
    return tmp_path / "long.jsonl"


def target_with_records(path: Path) -> list[str]:
    with open_store(path) as store:
        store.append("other", [probe(-1), probe(-2)], correlation_id="x")
        return list(export_lines(store))


def test_a_conflict_in_a_late_batch_rolls_back_the_earlier_batches(
    tmp_path: Path, long_export: Path
) -> None:
    """Line 2,400 takes a version its stream already has: the line is named, nothing stays."""
    lines = long_export.read_text(encoding="utf-8").split("\n")
    record = json.loads(lines[2399])
    record["stream_version"] -= 1
    record["event_id"] = "0190b7a4-1111-7000-8000-000000000001"
    lines[2399] = json.dumps(record)
    long_export.write_text("\n".join(lines), encoding="utf-8")
    target = tmp_path / "target.db"
    before = target_with_records(target)
    with pytest.raises(ImportFileError, match=r"long\.jsonl: line 2400: .*nothing was imported"):
        import_file(target, long_export, registry)
    with open_store(target) as store:
        assert list(export_lines(store)) == before
        assert store.verify().ok
        store.append("other", [probe(-3)])  # the writer is fine
        assert store.last_position() == 3


def test_anything_the_lines_raise_rolls_the_whole_import_back(
    tmp_path: Path, long_export: Path
) -> None:
    """A source that fails after two batches (a file changed between the passes): no record."""
    checked = list(_parsed(json_lines(long_export), registry))

    def failing() -> Iterator[ImportLine]:
        yield from checked[:2100]
        raise ImportFileError(2101, "changed since it was checked")

    target = tmp_path / "target.db"
    before = target_with_records(target)
    with open_store(target) as store:
        with pytest.raises(ImportFileError, match="line 2101: changed since it was checked"):
            import_lines(store, failing())
        assert list(export_lines(store)) == before
        assert import_lines(store, checked) == 2500
        assert import_lines(store, checked) == 0  # the same lines again: nothing new
        assert store.verify().ok


def test_a_streamed_import_wakes_the_subscriptions(tmp_path: Path, long_export: Path) -> None:
    """Nothing is pushed to them, so they scan: every record, once, in order."""
    checked = list(_parsed(json_lines(long_export), registry))
    with open_store(tmp_path / "target.db") as store:
        subscription = store.subscribe(from_position=1)
        assert subscription.next_batch(timeout=0) == []
        done = threading.Thread(target=import_lines, args=(store, checked))
        done.start()
        seen: list[int] = []
        deadline = time.monotonic() + 30
        while len(seen) < 2500 and time.monotonic() < deadline:
            seen += [record.position for record in subscription.next_batch(1000, timeout=5)]
        done.join(timeout=30)
        subscription.close()
    assert seen == list(range(1, 2501))


def test_a_line_nested_too_deeply_is_named(tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonl"
    with open_store(tmp_path / "a.db") as store:
        store.append("s", [probe(1)])
        (line,) = write_export(store, path)
    deep = line.replace('"extra":{"i":1}', '"extra":{"i":' + "[" * 100_000 + "]" * 100_000 + "}")
    path.write_text(f"{line}\n{deep}\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match=r"line 2: nested too deeply to read"):
        import_file(tmp_path / "b.db", path, registry)
    assert not (tmp_path / "b.db").exists()
