"""One record, its data, and the chain of records that caused it, back to the root."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from sagalog.events import printable, printable_json
from sagalog.sagas.history._errors import PositionOutOfRangeError

if TYPE_CHECKING:
    from sagalog.events import Envelope, Message
    from sagalog.store import LogReaderProtocol

__all__ = ["causal_chain", "show", "show_json"]

MAX_CHAIN = 10_000
"""A chain longer than this is cut (a cycle cannot be recorded, but a log can be edited)."""


def causal_chain(store: LogReaderProtocol, position: int) -> list[Envelope[Message]]:
    """The record at ``position`` and each cause before it, the root last.

    Raises:
        PositionOutOfRangeError: no record at ``position``.

    """
    record = store.read_position(position)
    if record is None:
        raise PositionOutOfRangeError(position, store.last_position())
    chain = [record]
    while chain[-1].causation_id is not None and len(chain) < MAX_CHAIN:
        cause = store.read_event(chain[-1].causation_id)
        if cause is None:
            break  # the cause is not in this log (a bundle or a filtered import)
        chain.append(cause)
    return chain


def show(store: LogReaderProtocol, position: int) -> str:
    """The record at ``position`` in full, then its causal chain, root last."""
    chain = causal_chain(store, position)
    record = chain[0]
    lines = [
        f"position     {record.position}",
        f"type         {printable(record.type)} (version {record.version})",
        f"stream       {printable(record.stream_id)} (version {record.stream_version})",
        f"event id     {record.event_id}",
        f"recorded at  {record.recorded_at.isoformat()}",
        f"correlation  {printable(record.correlation_id or '-')}",
        f"caused by    {record.causation_id or '- (appended from outside)'}",
        "data",
        *("  " + printable(line) for line in json.dumps(record.data.model_dump(mode="json"),
                                                       indent=2, ensure_ascii=False).split("\n")),
    ]
    if len(chain) > 1:
        lines.append("causal chain (root last)")
        lines += [f"  <- {cause.position:>8}  {printable(cause.type)}  "
                  f"({printable(cause.stream_id)})"
                  for cause in chain[1:]]
    elif record.causation_id is not None:
        lines.append("causal chain: its cause is not in this log")
    return "\n".join(lines)


def show_json(store: LogReaderProtocol, position: int) -> str:
    """The record at ``position`` and its causal chain as one JSON document (``show``).

    ``{"record": {...}, "causes": [...], "complete"}``: the record has the keys of an
    export line (its data decoded, so upcast to the current version); each cause, root
    last, has ``position``, ``type``, ``stream_id`` and ``event_id``; ``complete`` says
    whether the chain reaches a record nothing in the log caused (appended from outside),
    false when a cause is not in this log (a bundle, a filtered import).
    """
    chain = causal_chain(store, position)
    record = chain[0]
    return printable_json(json.dumps({
        "record": {
            "position": record.position, "stream_id": record.stream_id,
            "stream_version": record.stream_version, "event_id": str(record.event_id),
            "type": record.type, "version": record.version,
            "recorded_at": record.recorded_at.isoformat(),
            "correlation_id": record.correlation_id,
            "causation_id": None if record.causation_id is None else str(record.causation_id),
            "data": record.data.model_dump(mode="json"),
        },
        "causes": [{"position": cause.position, "type": cause.type,
                    "stream_id": cause.stream_id, "event_id": str(cause.event_id)}
                   for cause in chain[1:]],
        "complete": chain[-1].causation_id is None,
    }, indent=2, ensure_ascii=False))
