"""The log read back as history: timelines, explanations, causal chains.

Everything here only reads the log (a bundle is written to a new file): it works on a
log a worker is writing, on an imported export, or on a bundle of one run. Each tool
takes an opened store (:class:`sagalog.store.LogReaderProtocol`: any backend) or a
target it opens with ``open_store(target, read_only=True)``; none knows SQL.

The names below are imported when first used (see :mod:`sagalog.events._lazy`): ``list`` reads
only the runs listing, and the other tools bring the saga actor, the actor runtime and
the store with them.
"""

from typing import TYPE_CHECKING

from sagalog.events._lazy import lazy_names

if TYPE_CHECKING:
    from sagalog.sagas.history._at import SagaRow, position_at, render_states, state_at, states_json
    from sagalog.sagas.history._bundle import (
        BundleResult,
        SourcePositions,
        bundle,
        source_positions,
    )
    from sagalog.sagas.history._errors import (
        BundleExistsError,
        PositionOutOfRangeError,
        TimeOutOfRangeError,
        UnknownRunError,
        UnknownSagaError,
    )
    from sagalog.sagas.history._explain import Explanation, explain, explanation
    from sagalog.sagas.history._fold import Folded, SagaFold
    from sagalog.sagas.history._graph import mermaid_flowchart, uncompensated
    from sagalog.sagas.history._html import render_html, write_report
    from sagalog.sagas.history._producers import EXTERNAL, TIMERS, producers
    from sagalog.sagas.history._runs import (
        STATUSES,
        RunSummary,
        list_runs,
        newest_runs,
        render_runs,
        runs_json,
    )
    from sagalog.sagas.history._show import causal_chain, show, show_json
    from sagalog.sagas.history._steps import Step, actor_deaths, errors_of, steps_of
    from sagalog.sagas.history._tail import (
        POLL_S,
        LogFollower,
        TailOptions,
        check_types,
        fit_width,
        tail,
        tail_line,
    )
    from sagalog.sagas.history._timeline import Entry, Timeline, read_timeline
    from sagalog.sagas.history._whatif import (
        DecisionText,
        Difference,
        WhatIfPrinter,
        WhatIfReport,
        what_if,
    )

__all__ = [
    "EXTERNAL",
    "POLL_S",
    "STATUSES",
    "TIMERS",
    "BundleExistsError",
    "BundleResult",
    "DecisionText",
    "Difference",
    "Entry",
    "Explanation",
    "Folded",
    "LogFollower",
    "PositionOutOfRangeError",
    "RunSummary",
    "SagaFold",
    "SagaRow",
    "SourcePositions",
    "Step",
    "TailOptions",
    "TimeOutOfRangeError",
    "Timeline",
    "UnknownRunError",
    "UnknownSagaError",
    "WhatIfPrinter",
    "WhatIfReport",
    "actor_deaths",
    "bundle",
    "causal_chain",
    "check_types",
    "errors_of",
    "explain",
    "explanation",
    "fit_width",
    "list_runs",
    "mermaid_flowchart",
    "newest_runs",
    "position_at",
    "producers",
    "read_timeline",
    "render_html",
    "render_runs",
    "render_states",
    "runs_json",
    "show",
    "show_json",
    "source_positions",
    "state_at",
    "states_json",
    "steps_of",
    "tail",
    "tail_line",
    "uncompensated",
    "what_if",
    "write_report",
]

if not TYPE_CHECKING:  # type checkers read the imports above, and see no __getattr__
    __getattr__ = lazy_names(__name__, {
        "_at": ("SagaRow", "position_at", "render_states", "state_at", "states_json"),
        "_bundle": ("BundleResult", "SourcePositions", "bundle", "source_positions"),
        "_errors": ("BundleExistsError", "PositionOutOfRangeError", "TimeOutOfRangeError",
                    "UnknownRunError", "UnknownSagaError"),
        "_explain": ("Explanation", "explain", "explanation"),
        "_fold": ("Folded", "SagaFold"),
        "_graph": ("mermaid_flowchart", "uncompensated"),
        "_html": ("render_html", "write_report"),
        "_producers": ("EXTERNAL", "TIMERS", "producers"),
        "_runs": ("STATUSES", "RunSummary", "list_runs", "newest_runs", "render_runs",
                  "runs_json"),
        "_show": ("causal_chain", "show", "show_json"),
        "_steps": ("Step", "actor_deaths", "errors_of", "steps_of"),
        "_tail": ("POLL_S", "LogFollower", "TailOptions", "check_types", "fit_width", "tail",
                  "tail_line"),
        "_timeline": ("Entry", "Timeline", "read_timeline"),
        "_whatif": ("DecisionText", "Difference", "WhatIfPrinter", "WhatIfReport", "what_if"),
    })
