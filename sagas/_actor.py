"""The saga actor: replays the log to rebuild its sagas, then decides on each new event.

One actor runs every instance of one saga definition. On attach it reads the events it
handles up to its checkpoint and folds them through :func:`decide`, discarding the
outputs (they are in the log already), so every saga resumes where it was. Then each
new event is folded the same way and its decisions' outputs are appended, with the
actor's checkpoint, in one transaction.

Ended sagas are kept (the newest :data:`KEEP_ENDED`) so a result that arrives after the
end, such as a success that came after a timeout, is still undone.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Any, ClassVar, cast

from loguru import logger

from sagalog.actors import Actor, NotificationHandlerProtocol, Output, handles
from sagalog.events import Envelope, Message
from sagalog.events.runtime import HandlerFailed
from sagalog.events.sagas import ManualReviewRequired, RetryStep, SagaDecided, StepTimedOut
from sagalog.sagas._state import SagaState, decide
from sagalog.sagas._status import saga_status_hook

if TYPE_CHECKING:
    from sagalog.sagas._definition import SagaDefinition

__all__ = ["KEEP_ENDED", "ManualReviewDispatcher", "SagaActor", "saga_actor"]

_ENDING_RULES = frozenset({"complete", "fail", "end", "escalate"})

KEEP_ENDED = 10_000
"""Ended sagas kept in memory, newest first, to undo results that arrive after the end."""


class SagaActor(Actor):
    """Runs every instance of :attr:`definition`; make one with :func:`saga_actor`."""

    definition: ClassVar[SagaDefinition]

    def __init__(self) -> None:
        super().__init__()
        self.sagas: dict[str, SagaState] = {}
        """Sagas in flight, by id."""
        self.ended: OrderedDict[str, SagaState] = OrderedDict()

    def on_attach(self, checkpoint: int) -> None:
        """Rebuild every saga still in flight from the log up to the checkpoint.

        Sagas whose end is recorded (a terminal decision) are not folded again: on a log
        with a long history they are most of it, and they need no driving. (A result that
        arrives for one of them after a restart is therefore not undone automatically; it
        still lands in the log, where the replay tooling shows it.)
        """
        store = self._context.store
        name = self.definition.name
        ended = {
            record.data.saga_id
            for record in store.read_all(types=[SagaDecided])
            if record.position <= checkpoint and isinstance(record.data, SagaDecided)
            and record.data.saga == name and record.data.rule in _ENDING_RULES
        }
        replayed = 0
        for record in store.read_all(types=list(self.actor_handlers)):
            if record.position > checkpoint:
                break
            if record.correlation_id in ended:
                continue
            self._fold(record)
            replayed += 1
        if replayed or ended:
            self._log.info("replayed {} events: {} sagas in flight ({} ended, skipped)",
                           replayed, len(self.sagas), len(ended))

    def on_saga_event(self, message: Message, envelope: Envelope[Message]) -> list[Output]:
        """Fold one event into its saga and return what the decisions issue."""
        outputs: list[Output] = []
        for decision in self._fold(envelope):
            outputs += decision.outputs
        return outputs

    def _fold(self, envelope: Envelope[Message]) -> list[Any]:
        definition = self.definition
        data = envelope.data
        if isinstance(data, definition.start):
            saga_id = definition.saga_id(data)
        else:
            saga_id = envelope.correlation_id or ""
        state = self.sagas.get(saga_id) or self.ended.get(saga_id)
        new, decisions = decide(definition, state, envelope)
        if new is None:
            return []
        if new.ended:
            self.sagas.pop(saga_id, None)
            self.ended[saga_id] = new
            self.ended.move_to_end(saga_id)
            while len(self.ended) > KEEP_ENDED:
                self.ended.popitem(last=False)
        else:
            self.sagas[saga_id] = new
        return decisions


def saga_actor(definition: SagaDefinition) -> type[SagaActor]:
    """An actor class that runs ``definition`` (register it with ``runtime.add``)."""
    handled: list[type[Message]] = [
        *definition.event_types(), StepTimedOut, RetryStep, HandlerFailed
    ]
    cls = cast(
        "type[SagaActor]",
        type(f"{definition.name.title().replace('-', '')}Saga", (SagaActor,),
             {"definition": definition, "__module__": __name__}),
    )
    cls.actor_handlers = {kind.message_type: "on_saga_event" for kind in handled}
    cls.actor_run_status = (saga_status_hook(definition),)
    return cls


class ManualReviewDispatcher(Actor):
    """Sends a notification for every ``ManualReviewRequired`` (at least once)."""

    def __init__(self, handler: NotificationHandlerProtocol,
                 recipient: str = "operations") -> None:
        super().__init__()
        self.handler = handler
        self.recipient = recipient

    @handles(ManualReviewRequired)
    def review(self, event: ManualReviewRequired, envelope: Envelope[Message]) -> None:
        """Tell a person which saga needs them, and why."""
        sent = self.handler.send_notification(
            self.recipient,
            f"Manual review required: {event.saga} {event.saga_id}",
            f"{event.reason} (step {event.step}, {event.attempts} tries; "
            f"log position {envelope.position})",
            "high",
        )
        if not sent:
            logger.bind(saga=event.saga_id).warning("manual-review notification not delivered")
