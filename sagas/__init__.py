"""Saga and pipeline definitions, and the saga actor that replays the log and decides.

The names below are imported when first used (see :mod:`sagas._lazy`): the saga actor
brings the actor runtime and the store, which ``list`` and ``--help`` do not need.
"""

from typing import TYPE_CHECKING

from loguru import logger

from sagas._lazy import lazy_names

if TYPE_CHECKING:
    from sagas._actor import KEEP_ENDED, ManualReviewDispatcher, SagaActor, saga_actor
    from sagas._definition import (
        Build,
        ForEach,
        Gate,
        Results,
        SagaDefinition,
        Stage,
        Step,
        Verdict,
    )
    from sagas._state import TERMINAL, Decision, SagaState, StepState, decide

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

# A library adds no sink and stays quiet until the application opts in: see README "Logging".
logger.disable("sagas")
