"""The built-in saga definitions by name, which start message begins which kind, their hooks.

The history tools use it to name a run's kind (``list`` reads :data:`KINDS` from
:mod:`sagas.kinds`, which loads no workflow), to fold a run through its definition
(``explain``), to check recorded decisions against current code (``what-if``), and to
give the runs of a log an older sagalog wrote their status (:data:`RUN_STATUS_HOOKS`).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

from sagalog.actors.jobs import REJECTED_STATUS
from sagalog.events.master import MasterPipelineStarted
from sagalog.sagas._status import saga_status_hook
from sagalog.sagas.etl import ETL_SAGA
from sagalog.sagas.jobs import JOB_SAGA
from sagalog.sagas.kinds import (
    KINDS,  # re-exported: written out there so that list loads no workflow
)
from sagalog.sagas.master import MASTER_SAGA_NAME, master_saga
from sagalog.sagas.orders import ORDER_SAGA
from sagalog.sagas.pipeline import PIPELINE_SAGA

if TYPE_CHECKING:
    from collections.abc import Mapping

    from sagalog.events import Event
    from sagalog.sagas._definition import SagaDefinition
    from sagalog.store import RunStatusHook

__all__ = ["DEFINITIONS", "KINDS", "RUN_STATUS_HOOKS", "definition_for", "definition_of_run"]

DEFINITIONS: Mapping[str, SagaDefinition] = MappingProxyType({
    saga.name: saga
    for saga in (ORDER_SAGA, JOB_SAGA, PIPELINE_SAGA, master_saga(), ETL_SAGA)
})
"""Every built-in saga definition by name (the master pipeline's with default policies)."""

RUN_STATUS_HOOKS: tuple[RunStatusHook, ...] = (
    *(saga_status_hook(saga) for saga in DEFINITIONS.values()),
    REJECTED_STATUS,
)
"""What gives the runs of the built-in workflows their status: each saga's decisions, and
a refused job submission (no saga decides on it). The runtime installs them from the
actors it runs; a command that reads a log passes them (or their light stand-ins,
:func:`sagas.kinds.run_status_hooks`) to ``open_store``, because a log written by an
older sagalog, opened read-only, gets its statuses from them at reading time."""


def definition_for(first_type: str) -> SagaDefinition | None:
    """The definition of runs whose first record has type ``first_type``, if built in."""
    return DEFINITIONS.get(KINDS.get(first_type, ""))


def definition_of_run(definition: SagaDefinition, start: Event) -> SagaDefinition:
    """The definition one run was decided by, given the run's start message.

    The master pipeline's retry policies and fan-out cap come from each run's
    configuration (its start event carries it), so the built-in master definition is
    rebuilt from it; any other definition, or one the caller changed, is returned as is.
    """
    if definition is DEFINITIONS[MASTER_SAGA_NAME] and isinstance(start, MasterPipelineStarted):
        return master_saga(start.config)
    return definition
