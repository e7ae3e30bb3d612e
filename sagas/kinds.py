"""The built-in sagas' names, and which first record type begins which kind of run.

``list`` names each run's kind from its first record's type, and the command line's help
names the sagas ``graph`` draws; neither needs anything else of the workflows. Taking
both from the saga definitions (:mod:`sagas.catalog`) imported every workflow, its actors
and its message models on every command. The names are the log format (a record's
registered type and a saga's name never change), so they are written out here, and
``tests/sagas/test_catalog.py`` holds them equal to the definitions.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["KINDS", "SAGA_NAMES"]

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
