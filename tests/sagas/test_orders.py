"""The order saga end to end: real services, a real runtime, every outcome of the note's table."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from sagalog.actors import Ledger, Runtime, VirtualClock
from sagalog.actors.orders import (
    DemoCatalogue,
    DemoService,
    InventoryService,
    PaymentService,
    ProductService,
    ShippingService,
)
from sagalog.events import Envelope, Message
from sagalog.events.orders import OrderPlaced
from sagalog.events.sagas import SagaDecided
from sagalog.sagas import saga_actor
from sagalog.sagas.orders import ORDER_SAGA, order_stream

SERVICES = ("payment", "inventory", "shipping")
UNDO = {"payment": "RefundPayment", "inventory": "RestoreInventory", "shipping": "CancelShipping"}


def run_orders(tmp_path: Path, orders: dict[str, set[str]], missing: set[str] = frozenset()):
    """Place ``orders`` (order id -> services that fail for it); return the log and the ledger."""
    ledger = Ledger(tmp_path / "ledger.db")
    db = str(tmp_path / "orders.db")
    with Runtime(db, durability="off", clock=VirtualClock()) as runtime:
        runtime.add(ProductService, DemoCatalogue(missing=lambda order: order in missing))
        for service, actor in zip(SERVICES, (PaymentService, InventoryService, ShippingService),
                                  strict=True):
            runtime.add(actor, DemoService(ledger, service,
                                           fails=lambda order, s=service: s in orders[order]))
        runtime.add(saga_actor(ORDER_SAGA), name="saga:order")
        for order_id in orders:
            runtime.append(order_stream(order_id),
                           [OrderPlaced(order_id=order_id, product_id="p-1", amount_cents=1250)],
                           correlation_id=order_id)
        assert runtime.wait_until_idle(60)
        log = list(runtime.store.read_all())
        assert runtime.store.verify().ok
    return log, ledger


def of(log: list[Envelope[Message]], order_id: str) -> list[Envelope[Message]]:
    return [record for record in log if record.correlation_id == order_id]


COMBINATIONS = [frozenset(c) for r in range(4) for c in itertools.combinations(SERVICES, r)]


def test_every_combination_of_service_outcomes_ends_as_the_table_says(tmp_path: Path) -> None:
    """All 8 outcomes of payment/inventory/shipping: complete, or fail and undo the successes."""
    orders = {f"o{i}": set(failing) for i, failing in enumerate(COMBINATIONS)}
    log, ledger = run_orders(tmp_path, orders)
    for order_id, failing in orders.items():
        records = of(log, order_id)
        kinds = [r.type for r in records]
        terminal = [k for k in kinds if k in ("OrderCompleted", "OrderFailed", "OrderNotFound")]
        assert len(terminal) == 1, (order_id, kinds)
        assert all(r.stream_id == order_stream(order_id) for r in records)
        if not failing:
            assert terminal == ["OrderCompleted"]
            assert not any(k in UNDO.values() for k in kinds)
            continue
        assert terminal == ["OrderFailed"]
        undone = {service for service, command in UNDO.items() if command in kinds}
        assert undone == set(SERVICES) - failing, (order_id, kinds)
        failed = next(r.data for r in records if r.type == "OrderFailed")
        assert sorted(failed.compensated) == sorted(undone)  # type: ignore[attr-defined]
    assert ledger.duplicates() == []
    for service in SERVICES:
        done = {e.detail["order_id"] for e in ledger.effects(service) if e.effect == "done"}
        undone = {e.detail["order_id"] for e in ledger.effects(service) if e.effect == "undone"}
        assert done == {o for o, f in orders.items() if service not in f}
        assert undone == {o for o, f in orders.items() if service not in f and f}, service


def test_product_not_found_ends_the_order_and_calls_no_other_service(tmp_path: Path) -> None:
    """A missing product ends the order as OrderNotFound; payment, stock and shipping untouched."""
    log, ledger = run_orders(tmp_path, {"lost": set()}, missing={"lost"})
    kinds = [r.type for r in of(log, "lost")]
    assert "OrderNotFound" in kinds
    assert not {"ChargePayment", "ReserveInventory", "ScheduleShipping"} & set(kinds)
    assert ledger.count() == 0


def test_every_event_of_an_order_carries_its_correlation_and_a_cause(tmp_path: Path) -> None:
    """Each record of an order has the order's correlation id; each but the first a cause."""
    log, _ = run_orders(tmp_path, {"c1": {"inventory"}})
    records = of(log, "c1")
    assert records[0].type == "OrderPlaced"
    by_id = {r.event_id: r for r in log}
    for record in records[1:]:
        assert record.causation_id in by_id
        assert by_id[record.causation_id].correlation_id == "c1"


def test_decisions_carry_their_rule_and_trigger(tmp_path: Path) -> None:
    """Compensation is recorded with the failure that caused it, by type and position."""
    log, _ = run_orders(tmp_path, {"d1": {"inventory"}})
    decisions = [r.data for r in of(log, "d1") if isinstance(r.data, SagaDecided)]
    compensate = [d for d in decisions if d.rule == "compensate"]
    assert compensate, [d.rule for d in decisions]
    failure = next(r for r in of(log, "d1") if r.type == "InventoryFailed")
    assert any(f"InventoryFailed at {failure.position}" in d.reason for d in compensate)
    assert decisions[-1].rule == "fail"


@pytest.mark.parametrize("failing", [set(), {"payment", "shipping"}])
def test_orders_are_idempotent_in_the_ledger(tmp_path: Path, failing: set[str]) -> None:
    """No adapter effect is applied twice for one idempotency key."""
    _, ledger = run_orders(tmp_path, {f"x{i}": set(failing) for i in range(5)})
    assert ledger.duplicates() == []
