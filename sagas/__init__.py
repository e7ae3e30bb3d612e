"""Saga and pipeline definitions, and the saga actor that replays the log and decides.

The names below are imported when first used (see :mod:`sagalog.events._lazy`): the saga actor
brings the actor runtime and the store, which ``list`` and ``--help`` do not need.
"""

from typing import TYPE_CHECKING

from sagalog.events._lazy import lazy_names

if TYPE_CHECKING:
    from sagalog.sagas._actor import KEEP_ENDED, ManualReviewDispatcher, SagaActor, saga_actor
    from sagalog.sagas._definition import (
        Build,
        ForEach,
        Gate,
        Results,
        SagaDefinition,
        Stage,
        Step,
        Verdict,
    )
    from sagalog.sagas._state import TERMINAL, Decision, SagaState, StepState, decide

__all__ = [
    "KEEP_ENDED",
    "TERMINAL",
    "Build",
    "Decision",
    "ForEach",
    "Gate",
    "ManualReviewDispatcher",
    "Results",
    "SagaActor",
    "SagaDefinition",
    "SagaState",
    "Stage",
    "Step",
    "StepState",
    "Verdict",
    "decide",
    "saga_actor",
]

if not TYPE_CHECKING:  # type checkers read the imports above, and see no __getattr__
    __getattr__ = lazy_names(__name__, {
        "_actor": ("KEEP_ENDED", "ManualReviewDispatcher", "SagaActor", "saga_actor"),
        "_definition": ("Build", "ForEach", "Gate", "Results", "SagaDefinition", "Stage",
                        "Step", "Verdict"),
        "_state": ("TERMINAL", "Decision", "SagaState", "StepState", "decide"),
    })
