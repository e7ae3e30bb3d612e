"""The log read back as history: timelines, explanations, causal chains.

Everything here only reads: it works on a log a worker is writing, on an imported
export, or on a bundle of one run.
"""

from sagas.history._at import SagaRow, position_at, render_states, state_at, states_json
from sagas.history._errors import (
    PositionOutOfRangeError,
    TimeOutOfRangeError,
    UnknownRunError,
    UnknownSagaError,
)
from sagas.history._explain import explain
from sagas.history._fold import Folded, SagaFold
from sagas.history._graph import mermaid_flowchart, uncompensated
from sagas.history._producers import EXTERNAL, TIMERS, producers
from sagas.history._readonly import LogReaderProtocol, ReadOnlyLog
from sagas.history._runs import STATUSES, RunSummary, list_runs, open_read_only, render_runs
from sagas.history._show import causal_chain, show
from sagas.history._timeline import Entry, Timeline, read_timeline
from sagas.history._whatif import DecisionText, Difference, WhatIfReport, what_if

__all__ = [
    "EXTERNAL",
    "STATUSES",
    "TIMERS",
    "DecisionText",
    "Difference",
    "Entry",
    "Folded",
    "LogReaderProtocol",
    "PositionOutOfRangeError",
    "ReadOnlyLog",
    "RunSummary",
    "SagaFold",
    "SagaRow",
    "TimeOutOfRangeError",
    "Timeline",
    "UnknownRunError",
    "UnknownSagaError",
    "WhatIfReport",
    "causal_chain",
    "explain",
    "list_runs",
    "mermaid_flowchart",
    "open_read_only",
    "position_at",
    "producers",
    "read_timeline",
    "render_runs",
    "render_states",
    "show",
    "state_at",
    "states_json",
    "uncompensated",
    "what_if",
]
