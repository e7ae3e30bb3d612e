"""The pure decision function on synthetic streams: no runtime, no services, no clock."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime

from sagalog.actors import Emit, RetryPolicy, Schedule
from sagalog.events import Envelope, Message, new_event_id
from sagalog.events.orders import (
    InventoryFailed,
    InventoryReserved,
    OrderPlaced,
    PaymentCharged,
    ProductConfirmed,
    ShippingScheduled,
)
from sagalog.events.runtime import HandlerFailed
from sagalog.events.sagas import ManualReviewRequired, RetryStep, SagaDecided, StepTimedOut
from sagalog.sagas import Gate, SagaState, Stage, decide
from sagalog.sagas.orders import ORDER_SAGA

_positions = itertools.count(1)


def record(data: Message) -> Envelope[Message]:
    kind = type(data)
    return Envelope(next(_positions), "order-1", 1, new_event_id(), kind.message_type,
                    kind.message_version, datetime(2026, 1, 1, tzinfo=UTC), "1", None, data)


def outputs_of(decisions: list) -> list[Message]:
    found: list[Message] = []
    for decision in decisions:
        for output in decision.outputs:
            message = output.message if isinstance(output, Emit | Schedule) else output
            if isinstance(message, Message) and not isinstance(message, SagaDecided):
                found.append(message)
    return found


def names(messages: list[Message]) -> list[str]:
    return [type(m).message_type for m in messages]


def feed(definition, events: list[Message], state: SagaState | None = None):
    """Fold ``events`` through ``decide``; return the final state and every decision."""
    decisions = []
    for data in events:
        state, made = decide(definition, state, record(data))
        decisions += made
    return state, decisions


PLACED = OrderPlaced(order_id="1", product_id="p", amount_cents=100)
TIMED = dataclasses.replace(
    ORDER_SAGA,
    stages=(ORDER_SAGA.stages[0], Stage(tuple(
        dataclasses.replace(step, timeout=30.0, retry=RetryPolicy(attempts=2, delay=5.0))
        for step in ORDER_SAGA.stages[1].steps
    ))),
)


def test_happy_path_issues_each_stage_then_completes() -> None:
    """Product first, then the three in parallel, then OrderCompleted."""
    state, decisions = feed(ORDER_SAGA, [PLACED, ProductConfirmed(order_id="1", product_id="p"),
                                         PaymentCharged(order_id="1", amount_cents=100),
                                         InventoryReserved(order_id="1", quantity=1),
                                         ShippingScheduled(order_id="1", tracking="t")])
    assert names(outputs_of(decisions)) == [
        "CheckProduct", "ChargePayment", "ReserveInventory", "ScheduleShipping", "OrderCompleted"
    ]
    assert state is not None
    assert state.status == "completed"
    assert [d.rule for d in decisions] == ["start-stage", "start-stage", "complete"]


def test_duplicate_result_changes_nothing() -> None:
    """The same success twice: the second brings no decision."""
    state, _ = feed(ORDER_SAGA, [PLACED, ProductConfirmed(order_id="1", product_id="p"),
                                 PaymentCharged(order_id="1", amount_cents=100)])
    again, decisions = decide(ORDER_SAGA, state, record(PaymentCharged(order_id="1",
                                                                       amount_cents=100)))
    assert decisions == []
    assert again == state


def test_timeout_retries_then_fails_and_a_late_success_is_undone() -> None:
    """Two timeouts fail payment; the others are undone; payment's late success is refunded."""
    state, decisions = feed(TIMED, [PLACED, ProductConfirmed(order_id="1", product_id="p"),
                                    InventoryReserved(order_id="1", quantity=1),
                                    ShippingScheduled(order_id="1", tracking="t"),
                                    StepTimedOut(saga_id="1", step="payment", attempt=1)])
    assert decisions[-1].rule == "retry"
    retry = [o for o in decisions[-1].outputs if isinstance(o, Schedule)]
    assert retry[0].delay == 5.0
    assert retry[0].message == RetryStep(saga_id="1", step="payment", attempt=2)
    state, decisions = feed(TIMED, [RetryStep(saga_id="1", step="payment", attempt=2),
                                    StepTimedOut(saga_id="1", step="payment", attempt=2)], state)
    assert "ChargePayment" in names(outputs_of(decisions))
    assert set(names(outputs_of(decisions))) >= {"RestoreInventory", "CancelShipping"}
    assert state is not None
    assert state.status == "compensating"
    state, decisions = feed(TIMED, [PaymentCharged(order_id="1", amount_cents=100)], state)
    assert "RefundPayment" in names(outputs_of(decisions))
    assert "succeeded" in decisions[0].reason


def test_failure_undoes_successes_newest_first_and_names_its_trigger() -> None:
    """Inventory fails after payment and shipping succeeded: undo shipping, then payment."""
    placed, confirmed = record(PLACED), record(ProductConfirmed(order_id="1", product_id="p"))
    state, _ = decide(ORDER_SAGA, None, placed)
    state, _ = decide(ORDER_SAGA, state, confirmed)
    state, _ = decide(ORDER_SAGA, state, record(PaymentCharged(order_id="1", amount_cents=100)))
    state, _ = decide(ORDER_SAGA, state, record(ShippingScheduled(order_id="1", tracking="t")))
    failure = record(InventoryFailed(order_id="1", reason="none left"))
    state, decisions = decide(ORDER_SAGA, state, failure)
    assert names(outputs_of(decisions)) == ["CancelShipping", "RefundPayment"]
    assert f"InventoryFailed at {failure.position}" in decisions[0].reason
    assert decisions[0].rule == "compensate"


def test_compensation_that_keeps_failing_ends_in_manual_review() -> None:
    """A refund whose handler keeps failing is retried, then escalated to a person."""
    state, _ = feed(TIMED, [PLACED, ProductConfirmed(order_id="1", product_id="p"),
                            PaymentCharged(order_id="1", amount_cents=100),
                            InventoryFailed(order_id="1", reason="x")])
    state, _ = feed(TIMED, [InventoryFailed(order_id="1", reason="x")], state)
    dead = HandlerFailed(actor="PaymentService", input_position=9, input_event_id="e",
                         input_type="RefundPayment", error_type="IOError", error_message="down",
                         traceback="", attempts=3)
    state, decisions = feed(TIMED, [StepTimedOut(saga_id="1", step="shipping", attempt=1)],
                            state)
    state, decisions = feed(TIMED, [RetryStep(saga_id="1", step="shipping", attempt=2),
                                    StepTimedOut(saga_id="1", step="shipping", attempt=2)], state)
    state, decisions = feed(TIMED, [dead], state)
    assert decisions[-1].rule == "retry"
    state, decisions = feed(TIMED, [RetryStep(saga_id="1", step="payment", attempt=2,
                                              compensation=True), dead], state)
    assert state is not None
    assert state.status == "manual_review"
    assert decisions[-1].rule == "escalate"
    review = [m for m in outputs_of(decisions) if isinstance(m, ManualReviewRequired)]
    assert review[0].step == "payment"
    assert review[0].attempts == 2


def test_gate_skips_or_stops() -> None:
    """A false gate skips its stage, or stops the saga there as completed."""
    no = Gate("never", lambda _start: False)
    skip = dataclasses.replace(ORDER_SAGA, stages=(
        dataclasses.replace(ORDER_SAGA.stages[0], gate=no), ORDER_SAGA.stages[1]))
    _, decisions = feed(skip, [PLACED])
    assert (decisions[0].rule, decisions[0].reason) == ("skip",
                                                        "skipped product: gate never said no")
    assert names(outputs_of(decisions)) == ["ChargePayment", "ReserveInventory",
                                            "ScheduleShipping"]
    stop = dataclasses.replace(ORDER_SAGA, stages=(
        dataclasses.replace(ORDER_SAGA.stages[0], gate=dataclasses.replace(no, otherwise="stop")),
        ORDER_SAGA.stages[1]))
    state, decisions = feed(stop, [PLACED])
    assert state is not None
    assert state.status == "completed"
    assert [d.rule for d in decisions] == ["stop", "skip", "complete"]
    assert decisions[1].reason == ("skipped payment, inventory, shipping: halted because gate "
                                   "never stopped the saga")
    assert names(outputs_of(decisions)) == ["OrderCompleted"]
