"""Saga and pipeline definitions, and the saga actor that replays the log and decides."""

from loguru import logger

from sagas._actor import KEEP_ENDED, ManualReviewDispatcher, SagaActor, saga_actor
from sagas._definition import Build, ForEach, Gate, Results, SagaDefinition, Stage, Step, Verdict
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

# A library adds no sink and stays quiet until the application opts in: see README "Logging".
logger.disable("sagas")
