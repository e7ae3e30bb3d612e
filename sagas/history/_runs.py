"""Every saga and run in a log, with kind, status, start, end, duration and size.

The store keeps one row per run (correlation id) in the same transaction as the
records, with the status its :class:`sagalog.store.RunStatusHook` gave, and answers a
:class:`sagalog.store.RunQuery`: so listing reads one row per shown run, 76,000 runs of a
1,000,000-record log in 0.15 s (the default listing reads only the newest 100), where
aggregating every record took 1.4-2 s (``bench/history_bench.py``). The first record
names the kind (the saga whose start it is: a kind is a set of first types); a run no
hook gave a status is ``recorded``. A log an older sagalog wrote, opened read-only, is
summarised by the store from its records, with the hooks given at open: the command
line passes the catalog's (:func:`sagalog.sagas.kinds.run_status_hooks`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from sagalog.events import SagalogError
from sagalog.sagas._status import STATUSES
from sagalog.sagas.history._opening import Log, reading

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from sagalog.store import LogReaderProtocol, RunFacts, RunQuery, RunStatusHook

__all__ = ["STATUSES", "RunSummary", "list_runs", "newest_runs", "render_runs", "runs_json"]

RECORDED = "recorded"
"""The status ``list`` shows for a run no hook gave one (None in the store)."""
_new_tuple: Any = tuple.__new__  # builds a RunSummary without the named tuple's own __new__


class RunSummary(NamedTuple):
    """One saga or run, as ``list`` shows it.

    A named tuple, as :class:`events.Envelope` is, for the same reason: ``list --limit 0``
    builds one per run, and a tuple is the cheapest immutable record. Built through
    ``tuple.__new__`` it cost 0.06 s for 76,000 runs, where a frozen dataclass whose
    ``__dict__`` was filled directly cost 0.12 s.
    """

    run_id: str
    kind: str
    status: str
    started: datetime
    ended: datetime
    events: int
    first_position: int

    @property
    def duration(self) -> float:
        """Seconds from its first record to its last."""
        return (self.ended - self.started).total_seconds()


def list_runs(
    log: Log,
    kinds: Mapping[str, str] | None = None,
    *,
    status: str | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    run_status: Iterable[RunStatusHook] = (),
) -> list[RunSummary]:
    """The runs of ``log`` that match, oldest first.

    Args:
        log: an opened store, or a target opened read-only for the call.
        kinds: start message type -> kind (a saga definition's name); a run whose first
            record is not a known start is listed under its first record's type.
        status: only runs with this status (one of :data:`STATUSES`; ``recorded``: runs
            no hook gave a status).
        kind: only runs of this kind.
        since: only runs started at or after this time.
        run_status: for a target, the hooks to open it with (they give statuses to the
            runs of a log an older sagalog wrote).

    Raises:
        SagalogError: an unknown status, or a kind neither a saga's nor in the log.
        StoreError: the target is not a log that can be read (the store names it).

    """
    return newest_runs(log, kinds, 0, status=status, kind=kind, since=since,
                       run_status=run_status)[0]


def newest_runs(
    log: Log,
    kinds: Mapping[str, str] | None = None,
    limit: int = 0,
    *,
    status: str | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    run_status: Iterable[RunStatusHook] = (),
) -> tuple[list[RunSummary], int]:
    """The newest ``limit`` runs (all with 0) that match, oldest first, and how many match.

    What ``list`` shows: the filters and the count are the store's query, and only the
    shown runs are read, so the default listing costs the same on any size of log.
    Arguments as :func:`list_runs`.
    """
    _check_status(status)
    kinds = kinds or {}
    with reading(log, run_status=run_status) as store:
        _check_kind(store, kind, kinds)
        page = store.runs(_query(kinds, status, kind, since, limit))
    return _summaries(reversed(page.runs), kinds), page.total


def _check_status(status: str | None) -> None:
    if status is not None and status not in STATUSES:
        msg = f"--status must be one of {', '.join(STATUSES)}, not {status!r}"
        raise SagalogError(msg)


def _check_kind(store: LogReaderProtocol, kind: str | None, kinds: Mapping[str, str]) -> None:
    """Refuse a kind that is neither a saga's nor one the log lists.

    A run no saga starts is listed under its first record's type: that is a kind too, if
    some run of the log starts with it.
    """
    if kind is None or kind in kinds.values():
        return
    if kind not in kinds:
        from sagalog.store import RunQuery  # noqa: PLC0415 - the contract, on use

        if store.runs(RunQuery(first_types=frozenset({kind}), limit=1)).total:
            return
    names = ", ".join(dict.fromkeys(kinds.values())) or "the kinds this log lists"
    msg = f"--kind must be one of {names}, not {kind!r}"
    raise SagalogError(msg)


def _query(kinds: Mapping[str, str], status: str | None, kind: str | None,
           since: datetime | None, limit: int) -> RunQuery:
    """The store's query for ``list``'s filters: a kind is the set of its first types."""
    from sagalog.store import RunQuery  # noqa: PLC0415 - the contract, on use

    first_types = None
    if kind is not None:
        starts = {start for start, name in kinds.items() if name == kind}
        if kind not in kinds:  # the kind of the runs no saga starts, named by their type
            starts.add(kind)
        first_types = frozenset(starts)
    statuses = None
    if status is not None:
        statuses = frozenset({None if status == RECORDED else status})
    # recorded_at is always UTC with microseconds: text order is time order
    stamp = None if since is None else since.astimezone(UTC).isoformat(timespec="microseconds")
    return RunQuery(statuses=statuses, first_types=first_types, since=stamp,
                    limit=max(limit, 0))


def _summaries(runs: Iterable[RunFacts], kinds: Mapping[str, str]) -> list[RunSummary]:
    times = _Times()
    return [_new_tuple(RunSummary, (
        run.correlation_id, kinds.get(run.first_type, run.first_type), run.status or RECORDED,
        times[run.started], times[run.ended], run.events, run.first_position))
        for run in runs]


class _Times(dict[str, datetime]):
    """``datetime.fromisoformat`` remembered: the records of one commit share their time."""

    def __missing__(self, text: str) -> datetime:
        moment = self[text] = datetime.fromisoformat(text)
        return moment


def render_runs(runs: list[RunSummary], limit: int = 0, *, total: int | None = None) -> str:
    """A readable table, newest last; with ``limit``, only the newest ``limit``.

    ``total`` is how many runs matched when ``runs`` holds only the newest of them (see
    :func:`newest_runs`); by default, ``len(runs)``.

    A row is one ``%`` format of a template built once: an f-string with six format
    specs, and a call to cut each text, cost 0.1 s more for 76,000 rows (0.3 s -> 0.2 s).
    """
    total = len(runs) if total is None else total
    shown = runs[-limit:] if limit else runs
    width = min(64, max([len(run.run_id) for run in shown] + [3]))
    header = (f"{'run':<{width}} {'kind':<18} {'status':<14} {'started (UTC)':<23} "
              f"{'duration':>10} {'events':>7}")
    row = f"%-{width}s %-18s %-14s %-23s %9.3fs %7d"
    lines = [header]
    for run in shown:
        run_id, kind = run.run_id, run.kind
        if len(run_id) > width:
            run_id = _cut(run_id, width)
        if len(kind) > 18:
            kind = _cut(kind, 18)
        started = run.started.isoformat(" ", "milliseconds")[:23]  # 5x cheaper than strftime
        lines.append(row % (run_id, kind, run.status, started, run.duration, run.events))
    if len(shown) < total:
        lines.append(f"... and {total - len(shown)} older (--limit 0 shows all)")
    lines.append(f"{total} runs")
    return "\n".join(lines)


def _cut(text: str, width: int) -> str:
    return text[: width - 1] + "…"


def runs_json(runs: list[RunSummary], total: int | None = None) -> str:
    """The runs as one JSON document (``list --format json``), for tools.

    ``{"runs": [{"run_id", "kind", "status", "started", "ended", "duration_s", "events",
    "first_position"}], "shown", "total"}``: times are ISO 8601 in UTC, ``shown`` is how
    many runs the document holds, ``total`` how many matched (see :func:`render_runs`).
    """
    return json.dumps({
        "runs": [{"run_id": run.run_id, "kind": run.kind, "status": run.status,
                  "started": run.started.isoformat(), "ended": run.ended.isoformat(),
                  "duration_s": run.duration, "events": run.events,
                  "first_position": run.first_position} for run in runs],
        "shown": len(runs),
        "total": len(runs) if total is None else total,
    }, indent=2, ensure_ascii=False)
