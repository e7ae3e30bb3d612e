"""The master pipeline's actors: the activity runner, and re-exports.

:class:`MasterActivities` runs every stage's command: it finds the try number from the
log, answers an injected failure, or runs the configured action with its effect applied
once (:mod:`actors._master_effects`), and records the result. An action that raises
fails the try (the saga decides whether to retry), so a bad file never kills the actor.

The monitoring projection (:mod:`actors._master_monitoring`) and the operations watch
(:mod:`actors._master_notify`) are separate actors, each reading the same log.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loguru import logger

from sagalog.actors._actor import Actor
from sagalog.actors._handlers import handles
from sagalog.actors._master_actions import (
    BUILTIN_ACTIONS,
    Action,
    ActionContext,
    ActionError,
    check_row_counts,
    cleanup,
    ingest_csv,
    refresh_semantic_model,
    resolve_environment,
    run_sql_models,
)
from sagalog.actors._master_effects import EffectRecord, EffectScope, apply_once, effect_rows
from sagalog.actors._master_monitoring import (
    MONITORING_TABLE,
    MonitoringProjection,
    MonitoringRow,
    attempts_of,
    monitoring_rows,
    read_monitoring,
    rebuild_monitoring,
)
from sagalog.actors._master_notify import FileNotificationHandler, OperationsWatch, stage_span
from sagalog.events import Envelope, Message
from sagalog.events.master import (
    ACTIVITY_COMMANDS,
    ACTIVITY_FAILURES,
    ACTIVITY_SUCCESSES,
    ActivityCommand,
    ActivityFailed,
    ActivitySucceeded,
)
from sagalog.store import StorageFaultError, storage_fault

__all__ = [
    "BUILTIN_ACTIONS",
    "MONITORING_TABLE",
    "Action",
    "ActionContext",
    "ActionError",
    "EffectScope",
    "FileNotificationHandler",
    "MasterActivities",
    "MonitoringProjection",
    "MonitoringRow",
    "OperationsWatch",
    "check_row_counts",
    "cleanup",
    "effect_rows",
    "ingest_csv",
    "monitoring_rows",
    "read_monitoring",
    "rebuild_monitoring",
    "refresh_semantic_model",
    "resolve_environment",
    "run_sql_models",
    "stage_span",
]


class MasterActivities(Actor):
    """Runs each stage's activity with the action its command names.

    Args:
        actions: extra or replacing actions by name, merged over :data:`BUILTIN_ACTIONS`.

    """

    def __init__(self, actions: Mapping[str, Action] | None = None) -> None:
        super().__init__()
        self.actions: dict[str, Action] = {**BUILTIN_ACTIONS, **(actions or {})}

    @handles(*ACTIVITY_COMMANDS.values())
    def run(self, command: ActivityCommand,
            envelope: Envelope[Message]) -> ActivitySucceeded | ActivityFailed:
        """Do the work once; the stage's success or failure event."""
        attempt = self._attempt_of(envelope)
        log = logger.bind(actor=self.actor_name, saga=command.run_id)
        failure = ACTIVITY_FAILURES[command.stage]
        if attempt <= command.fail_first:
            error = f"injected failure: try {attempt}, the first {command.fail_first} fail"
            log.info("{} {}", command.activity, error)
            return failure(run_id=command.run_id, item=command.item, attempt=attempt,
                           error=error)
        action = self.actions.get(command.action)
        if action is None:
            known = ", ".join(sorted(self.actions))
            return failure(run_id=command.run_id, item=command.item, attempt=attempt,
                           error=f"no action named {command.action!r} (known: {known})")
        key = str(envelope.event_id)
        now = self._context.clock.now()
        record = EffectRecord(key, command.run_id, command.stage, command.activity, attempt, now)

        def work(scope: EffectScope) -> dict[str, Any]:
            return action(command, ActionContext(scope, key, attempt, now))

        try:
            applied, details = apply_once(command.paths.warehouse, record, work)
        except StorageFaultError:
            raise  # a full disk is not a failed try: the runtime pauses and retries the command
        except Exception as error:
            fault = storage_fault(error, f"{command.activity} (try {attempt})",
                                  path=command.paths.warehouse)
            if fault is not None:  # an action's own SQLite or file write on a full disk
                raise fault from error
            log.warning("{} try {} failed: {!r}", command.activity, attempt, error)
            return failure(run_id=command.run_id, item=command.item, attempt=attempt,
                           error=f"{type(error).__name__}: {error}"[:2000])
        log.info("{} try {} {}", command.activity, attempt,
                 "done" if applied else "was done before (effect recorded), not redone")
        return ACTIVITY_SUCCESSES[command.stage](run_id=command.run_id, item=command.item,
                                                 attempt=attempt, details=details)

    def _attempt_of(self, envelope: Envelope[Message]) -> int:
        records = (r for r in self._context.store.read_correlation(envelope.correlation_id or "")
                   if r.position <= envelope.position)
        return attempts_of(records).get(str(envelope.event_id), 1)
