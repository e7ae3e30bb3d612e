"""The built-in sagas' names, which first record type begins which kind of run, their hooks.

``list`` names each run's kind from its first record's type, and the command line's help
names the sagas ``graph`` draws; neither needs anything else of the workflows. Taking
both from the saga definitions (:mod:`sagas.catalog`) imported every workflow, its actors
and its message models on every command. The names are the log format (a record's
registered type and a saga's name never change), so they are written out here, and
``tests/sagas/test_catalog.py`` holds them equal to the definitions.

:func:`run_status_hooks` is the same idea for the catalog's run status hooks
(:data:`sagas.catalog.RUN_STATUS_HOOKS`): stand-ins with the same names and types, which
load the workflows only when a record is shown to them. A reading command opens every
log with them. On a current log nothing is shown to them (the runs table holds the
statuses), so ``list`` still loads no workflow; a log an older sagalog wrote, opened
read-only, is summarised from its records, and only then are the workflows loaded.
"""

from __future__ import annotations

import functools
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

    from sagalog.events import Envelope, Message
    from sagalog.store import RunStatusHook

__all__ = ["KINDS", "SAGA_NAMES", "run_status_hooks"]

SAGA_NAMES = ("order", "job", "data-pipeline", "master-pipeline", "etl-source")
"""The built-in saga definitions' names, in :data:`sagas.catalog.DEFINITIONS` order."""

KINDS: Mapping[str, str] = MappingProxyType({
    "OrderPlaced": "order",
    "JobAccepted": "job",
    "PipelineStarted": "data-pipeline",
    "MasterPipelineStarted": "master-pipeline",
    "SourceRunStarted": "etl-source",
    "JobSubmitted": "job",  # a job's first record is its raw submission
    "EtlRunStarted": "etl-run",  # the run's own record; each of its sources is a saga
})
"""A run's first record type -> its kind (the name of the saga it starts)."""

_DECISION_TYPE = "SagaDecided"
"""The record type the saga hooks read (``events.sagas.SagaDecided``)."""
_REFUSAL = ("JobRejected", "jobs:rejected")
"""The record type and name of the refused job's hook (``actors.jobs.REJECTED_STATUS``)."""


@functools.cache
def run_status_hooks() -> tuple[RunStatusHook, ...]:
    """Light stand-ins for :data:`sagas.catalog.RUN_STATUS_HOOKS`, in the same order.

    Pass them to ``open_store(target, read_only=True, run_status=...)``. Each has the
    name and types of its catalog hook and asks that hook for a record's status; the
    catalog (every workflow) is imported when the first record is shown to one of them.
    """
    from sagalog.store import RunStatusHook  # noqa: PLC0415 - not for --help

    saga_hooks = [RunStatusHook(frozenset({_DECISION_TYPE}), _CatalogStatus(f"saga:{name}"),
                                f"saga:{name}") for name in SAGA_NAMES]
    refusal_type, refusal_name = _REFUSAL
    refusal = RunStatusHook(frozenset({refusal_type}), _CatalogStatus(refusal_name),
                            refusal_name)
    return (*saga_hooks, refusal)


class _CatalogStatus:
    """A stand-in's status: the catalog hook of the same name's answer."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, envelope: Envelope[Message]) -> str | None:
        return _catalog_hooks()[self.name].status(envelope)


@functools.cache
def _catalog_hooks() -> dict[str, RunStatusHook]:
    from sagalog.sagas.catalog import RUN_STATUS_HOOKS  # noqa: PLC0415 - the workflows

    return {hook.name: hook for hook in RUN_STATUS_HOOKS}
