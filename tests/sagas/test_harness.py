"""The public synthetic-stream harness and pytest plugin, used as a user would."""

from __future__ import annotations

from pathlib import Path

from sagalog.actors import Ledger, Runtime
from sagalog.events.orders import (
    InventoryReserved,
    OrderPlaced,
    PaymentCharged,
    ProductConfirmed,
    ShippingFailed,
)
from sagalog.events.sagas import SagaDecided
from sagalog.sagas.orders import ORDER_SAGA, FailurePlan, add_order_workflow, place_order
from sagalog.sagas.testing import replay
from sagalog.store import export_lines, open_store

PLACED = OrderPlaced(order_id="h1", product_id="p", amount_cents=100)


def test_replay_of_bare_messages_reports_decisions_and_commands() -> None:
    """Bare messages in, the rules and the commands out, without any service."""
    run = replay(ORDER_SAGA, [
        PLACED,
        ProductConfirmed(order_id="h1", product_id="p"),
        PaymentCharged(order_id="h1", amount_cents=100),
        InventoryReserved(order_id="h1", quantity=1),
        ShippingFailed(order_id="h1", reason="storm"),
    ])
    assert run.rules() == ["start-stage", "start-stage", "compensate"]
    assert run.command_types() == [
        "CheckProduct", "ChargePayment", "ReserveInventory", "ScheduleShipping",
        "RestoreInventory", "RefundPayment",
    ]
    assert run.status() == "compensating"
    assert "ShippingFailed at 5" in run.reasons()[-1]


def test_replaying_an_exported_log_reproduces_its_recorded_decisions(tmp_path: Path) -> None:
    """The recorded inputs of a real run, fed to the saga again, give the decisions recorded."""
    db = str(tmp_path / "run.db")
    with Ledger(tmp_path / "ledger.db") as ledger, Runtime(db, durability="off") as runtime:
        add_order_workflow(runtime, ledger, FailurePlan(rate=0.3, seed=3))
        for n in range(12):
            place_order(runtime, f"r{n}")
        assert runtime.wait_until_idle(60)
    export = tmp_path / "run.jsonl"
    with open_store(db) as store:
        export.write_text("\n".join(export_lines(store)) + "\n")
        recorded = [r.data for r in store.read_all(types=[SagaDecided])]
    run = replay(ORDER_SAGA, export)
    assert [d.reason for d in run.decisions] == [d.reason for d in recorded]  # type: ignore[attr-defined]
    assert len(run.states) == 12
    assert all(state.ended for state in run.states.values())


def test_plugin_gives_a_running_runtime_on_a_virtual_clock(sagalog_runtime, virtual_clock,
                                                           tmp_path: Path) -> None:
    """The plugin's fixtures run the order workflow end to end in a test."""
    with Ledger(tmp_path / "ledger.db") as ledger:
        add_order_workflow(sagalog_runtime, ledger, FailurePlan())
        place_order(sagalog_runtime, "f1")
        assert sagalog_runtime.wait_until_idle(60)
    kinds = [r.type for r in sagalog_runtime.store.read_all()]
    assert "OrderCompleted" in kinds
    assert virtual_clock.pending() == 0
