"""What a run's status is, told to the store: the store keeps statuses, the sagas say them.

Each saga actor hands the store a :class:`RunStatusHook` for its definition (the store
knows no sagas): a run is ``running`` from its first decision, and a decision that ends
it says how (``completed``, ``failed``, ``ended``, ``manual_review``). The store folds
the hooks' answers into its runs table in the same transaction as the records, so
``list --status failed`` is one indexed query. This module imports neither the store nor
the message models until a hook is made: ``--help`` and ``list`` read :data:`STATUSES`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sagalog.events import Envelope, Message
    from sagalog.sagas._definition import SagaDefinition
    from sagalog.store import RunStatusHook

__all__ = ["ENDING_STATUSES", "STATUSES", "saga_status_hook"]

ENDING_STATUSES: dict[str, str] = {"complete": "completed", "fail": "failed", "end": "ended",
                                   "escalate": "manual_review"}
"""A terminal decision's rule -> the status of its run."""

STATUSES = ("running", *ENDING_STATUSES.values(), "rejected", "recorded")
"""What a run's status can be: ``running`` until a decision ends it; a run no saga decided
on is ``rejected`` (its workflow refused it) or just ``recorded`` (no hook said anything)."""


def saga_status_hook(definition: SagaDefinition) -> RunStatusHook:
    """The hook that gives the runs of ``definition`` their status from its decisions."""
    from sagalog.events.sagas import SagaDecided  # noqa: PLC0415 - see the module docstring
    from sagalog.store import RunStatusHook  # noqa: PLC0415

    name = definition.name

    def status(envelope: Envelope[Message]) -> str | None:
        decision = envelope.data
        if not isinstance(decision, SagaDecided) or decision.saga != name:
            return None
        return ENDING_STATUSES.get(decision.rule, "running")

    return RunStatusHook(frozenset({SagaDecided.message_type}), status, f"saga:{name}")
