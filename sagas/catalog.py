"""The built-in saga definitions by name, and which start message begins which kind.

The history tools use it to name a run's kind (``list`` reads :data:`KINDS` from
:mod:`sagas.kinds`, which loads no workflow), to fold a run through its definition
(``explain``), and later to check recorded decisions against current code.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

from sagalog.events.master import MasterPipelineStarted
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

__all__ = ["DEFINITIONS", "KINDS", "definition_for", "definition_of_run"]

DEFINITIONS: Mapping[str, SagaDefinition] = MappingProxyType({
    saga.name: saga
    for saga in (ORDER_SAGA, JOB_SAGA, PIPELINE_SAGA, master_saga(), ETL_SAGA)
})
"""Every built-in saga definition by name (the master pipeline's with default policies)."""


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
