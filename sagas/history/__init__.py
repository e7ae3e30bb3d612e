"""The log read back as history: timelines, explanations, causal chains.

Everything here only reads: it works on a log a worker is writing, on an imported
export, or on a bundle of one run.
"""

from sagas.history._errors import PositionOutOfRangeError, UnknownRunError
from sagas.history._explain import explain
from sagas.history._producers import EXTERNAL, TIMERS, producers
from sagas.history._runs import (
    STATUSES,
    RunSummary,
    list_runs,
    newest_runs,
    open_read_only,
    render_runs,
)
from sagas.history._show import causal_chain, show
from sagas.history._timeline import Entry, Timeline, read_timeline

__all__ = [
    "EXTERNAL",
    "STATUSES",
    "TIMERS",
    "Entry",
    "PositionOutOfRangeError",
    "RunSummary",
    "Timeline",
    "UnknownRunError",
    "causal_chain",
    "explain",
    "list_runs",
    "newest_runs",
    "open_read_only",
    "producers",
    "read_timeline",
    "render_runs",
    "show",
]
