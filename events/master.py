"""The master pipeline's messages and its configuration.

The run's start event carries the whole parsed configuration, paths already absolute,
so every activity, the monitoring projection and a later ``resume`` find all they need
in the log. Each stage has its own command and result types: a saga step is matched to
its results by type, so six stages need six pairs. Their registered names are the log
format.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from sagalog.events._message import Command, Event

__all__ = [
    "ACTIVITY_COMMANDS",
    "ACTIVITY_FAILURES",
    "ACTIVITY_SUCCESSES",
    "STAGES",
    "ActivityCommand",
    "ActivityFailed",
    "ActivitySucceeded",
    "CheckLoads",
    "InitialisationFailed",
    "InitialisationSucceeded",
    "IntegrationFailed",
    "IntegrationSucceeded",
    "MaintenanceFailed",
    "MaintenanceSucceeded",
    "MasterConfig",
    "MasterPaths",
    "MasterPipelineCompleted",
    "MasterPipelineFailed",
    "MasterPipelineStarted",
    "MonitoringFailed",
    "MonitoringSucceeded",
    "OperationsNotified",
    "RefreshSemanticModel",
    "ResolveEnvironment",
    "RetrySettings",
    "RunIntegration",
    "RunMaintenance",
    "RunTransformation",
    "SemanticModel",
    "SemanticRefreshFailed",
    "SemanticRefreshSucceeded",
    "StageSettings",
    "TransformationFailed",
    "TransformationSucceeded",
]

STAGES = ("initialisation", "integration", "transformation", "monitoring", "maintenance",
          "semantic_refresh")
"""The stages, in the order they run. Each name is also its saga step's name."""

JsonValue = Any
"""A plain JSON value (what the configuration file may hold under ``settings``)."""


class _Settings(BaseModel):
    """A part of the configuration: frozen, and unknown keys are an error (typos show)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class RetrySettings(_Settings):
    """How often a stage's activity is tried, and the wait between tries."""

    attempts: int = Field(default=3, ge=1, le=100)
    """Total tries, the first included."""
    delay_s: float = Field(default=30.0, ge=0)
    """Seconds to wait before each retry."""


class StageSettings(_Settings):
    """One stage: which action does its work, with what settings, how hard to try."""

    action: str
    """The registered action's name (see ``actors.master.BUILTIN_ACTIONS``)."""
    settings: dict[str, JsonValue] = Field(default_factory=dict)
    """The action's own settings, passed as they are."""
    retry: RetrySettings | None = None
    """Overrides the pipeline's default retry policy for this stage."""
    target_duration_s: float | None = Field(default=None, gt=0)
    """Past this many seconds (first try to last result) the operations channel is told."""
    concurrency: int | None = Field(default=None, ge=1)
    """For the fan-out stage (semantic refresh): most items in flight at once."""


class MasterPaths(_Settings):
    """Where the built-in actions read and write; absolute once loaded."""

    work_dir: str
    """Files the run writes (environment metadata, semantic model outputs)."""
    source_dir: str
    """CSV files the integration stage ingests."""
    models_dir: str
    """SQL models (``<table>.sql`` holding a SELECT) the transformation stage runs."""
    warehouse: str
    """The SQLite warehouse; it also holds ``activity_effects``."""
    monitoring_db: str
    """The SQLite file holding the ``monitoring_integration`` table."""


class SemanticModel(_Settings):
    """A semantic model: a query over the warehouse whose result is published."""

    query: str
    description: str = ""


class MasterConfig(_Settings):
    """The whole parsed configuration of one run (after environment overrides)."""

    environment: dict[str, JsonValue]
    """Per-environment metadata: name, workspace id, connection ids."""
    paths: MasterPaths
    stages: dict[str, StageSettings]
    """Settings of each stage, keyed by the names in :data:`STAGES` (all six needed)."""
    semantic_models: dict[str, SemanticModel] = Field(default_factory=dict)
    """The items of the semantic refresh fan-out, in order."""
    retry: RetrySettings = Field(default_factory=RetrySettings)
    """The default retry policy of every stage (3 tries, 30 s apart)."""
    concurrency: int = Field(default=2, ge=1)
    """Default cap on semantic models refreshed at once."""
    operations_channel: str = "operations"
    """Who is told when a stage fails or runs past its target duration."""
    fail: dict[str, int] = Field(default_factory=dict)
    """Failure injection: ``{"integration": 2}`` fails its first 2 tries;
    ``{"semantic_refresh[finance]": 1}`` one item's first try."""
    source: str = ""
    """The configuration file this was read from."""


class MasterPipelineStarted(Event, name="MasterPipelineStarted"):
    """A run of the master pipeline began: the saga's start."""

    run_id: str
    maintenance: bool = False
    """Whether the maintenance stage runs this time (it is run only when flagged)."""
    config: MasterConfig


class ActivityCommand(Command, abstract=True):
    """Do one stage's work (or one item of it): the fields every stage's command has."""

    stage_name: ClassVar[str] = ""
    run_id: str
    action: str
    """The registered action to run."""
    item: str = ""
    """The fan-out item (a semantic model), or empty."""
    settings: dict[str, JsonValue] = Field(default_factory=dict)
    environment: dict[str, JsonValue] = Field(default_factory=dict)
    paths: MasterPaths
    fail_first: int = 0
    """Failure injection: this many first tries fail before the action runs."""

    @property
    def stage(self) -> str:
        """The stage this command belongs to."""
        return self.stage_name

    @property
    def activity(self) -> str:
        """The activity's name as the monitoring table shows it: ``action`` or ``action[item]``."""
        return f"{self.action}[{self.item}]" if self.item else self.action


class _ActivityResult(Event, abstract=True):
    """What every activity result says: which run, stage, item and try."""

    stage_name: ClassVar[str] = ""
    run_id: str
    item: str = ""
    attempt: int
    """Which try this answers (1 for the first)."""

    @property
    def stage(self) -> str:
        """The stage this result belongs to."""
        return self.stage_name


class ActivitySucceeded(_ActivityResult, abstract=True):
    """An activity did its work."""

    details: dict[str, JsonValue] = Field(default_factory=dict)
    """What the action reported (row counts, files written)."""


class ActivityFailed(_ActivityResult, abstract=True):
    """An activity's try failed."""

    error: str


class ResolveEnvironment(ActivityCommand, name="ResolveEnvironment"):
    """Initialisation: resolve the environment's metadata."""

    stage_name: ClassVar[str] = "initialisation"


class RunIntegration(ActivityCommand, name="RunIntegration"):
    """Integration: ingest the sources into the warehouse."""

    stage_name: ClassVar[str] = "integration"


class RunTransformation(ActivityCommand, name="RunTransformation"):
    """Transformation: build the models."""

    stage_name: ClassVar[str] = "transformation"


class CheckLoads(ActivityCommand, name="CheckLoads"):
    """Monitoring: validate load completeness and thresholds."""

    stage_name: ClassVar[str] = "monitoring"


class RunMaintenance(ActivityCommand, name="RunMaintenance"):
    """Maintenance: clean up and optimise."""

    stage_name: ClassVar[str] = "maintenance"


class RefreshSemanticModel(ActivityCommand, name="RefreshSemanticModel"):
    """Semantic refresh: refresh one semantic model (``item``)."""

    stage_name: ClassVar[str] = "semantic_refresh"


class InitialisationSucceeded(ActivitySucceeded, name="InitialisationSucceeded"):
    """The environment's metadata is resolved."""

    stage_name: ClassVar[str] = "initialisation"


class InitialisationFailed(ActivityFailed, name="InitialisationFailed"):
    """A try to resolve the environment failed."""

    stage_name: ClassVar[str] = "initialisation"


class IntegrationSucceeded(ActivitySucceeded, name="IntegrationSucceeded"):
    """The sources are in the warehouse."""

    stage_name: ClassVar[str] = "integration"


class IntegrationFailed(ActivityFailed, name="IntegrationFailed"):
    """A try to ingest failed."""

    stage_name: ClassVar[str] = "integration"


class TransformationSucceeded(ActivitySucceeded, name="TransformationSucceeded"):
    """The models are built."""

    stage_name: ClassVar[str] = "transformation"


class TransformationFailed(ActivityFailed, name="TransformationFailed"):
    """A try to build the models failed."""

    stage_name: ClassVar[str] = "transformation"


class MonitoringSucceeded(ActivitySucceeded, name="MonitoringSucceeded"):
    """The loads are complete and within thresholds."""

    stage_name: ClassVar[str] = "monitoring"


class MonitoringFailed(ActivityFailed, name="MonitoringFailed"):
    """A check failed (or could not run)."""

    stage_name: ClassVar[str] = "monitoring"


class MaintenanceSucceeded(ActivitySucceeded, name="MaintenanceSucceeded"):
    """Cleanup and optimisation are done."""

    stage_name: ClassVar[str] = "maintenance"


class MaintenanceFailed(ActivityFailed, name="MaintenanceFailed"):
    """A try at maintenance failed."""

    stage_name: ClassVar[str] = "maintenance"


class SemanticRefreshSucceeded(ActivitySucceeded, name="SemanticRefreshSucceeded"):
    """One semantic model is refreshed."""

    stage_name: ClassVar[str] = "semantic_refresh"


class SemanticRefreshFailed(ActivityFailed, name="SemanticRefreshFailed"):
    """A try to refresh one semantic model failed."""

    stage_name: ClassVar[str] = "semantic_refresh"


class MasterPipelineCompleted(Event, name="MasterPipelineCompleted"):
    """Every stage that was to run succeeded."""

    run_id: str


class MasterPipelineFailed(Event, name="MasterPipelineFailed"):
    """A stage failed after its tries; the stages after it did not run."""

    run_id: str
    stage: str
    """The stage that failed."""
    reason: str


class OperationsNotified(Event, name="OperationsNotified"):
    """The operations channel was told about a stage (recorded so it is told once)."""

    run_id: str
    stage: str
    kind: str
    """``failed`` or ``slow``."""
    reason: str
    recipient: str
    delivered: bool
    """Whether the handler accepted it."""


ACTIVITY_COMMANDS: dict[str, type[ActivityCommand]] = {
    kind.stage_name: kind
    for kind in (ResolveEnvironment, RunIntegration, RunTransformation, CheckLoads,
                 RunMaintenance, RefreshSemanticModel)
}
"""Stage name -> its command type."""

ACTIVITY_SUCCESSES: dict[str, type[ActivitySucceeded]] = {
    kind.stage_name: kind
    for kind in (InitialisationSucceeded, IntegrationSucceeded, TransformationSucceeded,
                 MonitoringSucceeded, MaintenanceSucceeded, SemanticRefreshSucceeded)
}
"""Stage name -> its success type."""

ACTIVITY_FAILURES: dict[str, type[ActivityFailed]] = {
    kind.stage_name: kind
    for kind in (InitialisationFailed, IntegrationFailed, TransformationFailed,
                 MonitoringFailed, MaintenanceFailed, SemanticRefreshFailed)
}
"""Stage name -> its failure type."""
