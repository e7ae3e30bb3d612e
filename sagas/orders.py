"""The order saga.

Check the product, then pay, reserve and ship in parallel; undo what succeeded if any
of the three fails. A missing product ends the order at once, as not found.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sagalog.actors import Ledger, Runtime
from sagalog.actors.orders import (
    DemoCatalogue,
    DemoService,
    InventoryService,
    PaymentService,
    ProductService,
    ShippingService,
)
from sagalog.events import Event
from sagalog.events.orders import (
    CancelShipping,
    ChargePayment,
    CheckProduct,
    InventoryFailed,
    InventoryReserved,
    InventoryRestored,
    OrderCompleted,
    OrderFailed,
    OrderNotFound,
    OrderPlaced,
    PaymentCharged,
    PaymentFailed,
    PaymentRefunded,
    ProductConfirmed,
    ProductNotFound,
    RefundPayment,
    ReserveInventory,
    RestoreInventory,
    ScheduleShipping,
    ShippingCancelled,
    ShippingFailed,
    ShippingScheduled,
)
from sagalog.sagas._actor import saga_actor
from sagalog.sagas._definition import SagaDefinition, Stage, Step

__all__ = [
    "ORDER_SAGA",
    "SERVICES",
    "TERMINAL_TYPES",
    "FailurePlan",
    "add_order_workflow",
    "order_stream",
    "place_order",
    "unfinished_orders",
    "wait_for_terminals",
]


def _order(start: Event) -> OrderPlaced:
    assert isinstance(start, OrderPlaced)  # noqa: S101 - the saga starts only on OrderPlaced
    return start


def order_stream(order_id: str) -> str:
    """The stream of one order: its start, commands, results and decisions."""
    return f"order-{order_id}"


ORDER_SAGA = SagaDefinition(
    name="order",
    start=OrderPlaced,
    saga_id=lambda start: _order(start).order_id,
    stream=lambda start: order_stream(_order(start).order_id),
    stages=(
        Stage((
            Step(
                "product",
                command=lambda s: CheckProduct(order_id=_order(s).order_id,
                                               product_id=_order(s).product_id),
                succeeded=(ProductConfirmed,),
                failed=(ProductNotFound,),
                ends_saga=lambda s, _: OrderNotFound(order_id=_order(s).order_id,
                                                     product_id=_order(s).product_id),
            ),
        )),
        Stage((
            Step(
                "payment",
                command=lambda s: ChargePayment(order_id=_order(s).order_id,
                                                customer=_order(s).customer,
                                                amount_cents=_order(s).amount_cents),
                succeeded=(PaymentCharged,),
                failed=(PaymentFailed,),
                compensation=lambda s: RefundPayment(order_id=_order(s).order_id,
                                                     amount_cents=_order(s).amount_cents),
                compensated=(PaymentRefunded,),
            ),
            Step(
                "inventory",
                command=lambda s: ReserveInventory(order_id=_order(s).order_id,
                                                   product_id=_order(s).product_id,
                                                   quantity=_order(s).quantity),
                succeeded=(InventoryReserved,),
                failed=(InventoryFailed,),
                compensation=lambda s: RestoreInventory(order_id=_order(s).order_id,
                                                        product_id=_order(s).product_id,
                                                        quantity=_order(s).quantity),
                compensated=(InventoryRestored,),
            ),
            Step(
                "shipping",
                command=lambda s: ScheduleShipping(order_id=_order(s).order_id,
                                                   address=_order(s).address),
                succeeded=(ShippingScheduled,),
                failed=(ShippingFailed,),
                compensation=lambda s: CancelShipping(order_id=_order(s).order_id),
                compensated=(ShippingCancelled,),
            ),
        )),
    ),
    completed=lambda s: OrderCompleted(order_id=_order(s).order_id),
    failed=lambda s, reason, undone: OrderFailed(order_id=_order(s).order_id, reason=reason,
                                                 compensated=undone),
)
"""The order saga (registered type names in :mod:`events.orders`)."""


TERMINAL_TYPES = ("OrderCompleted", "OrderFailed", "OrderNotFound", "ManualReviewRequired")
"""The events that end an order."""

SERVICES = ("payment", "inventory", "shipping")


@dataclass(frozen=True)
class FailurePlan:
    """Which services fail for which orders, decided from the order id alone.

    ``always`` fail for every order; with ``rate``, each of the three services fails
    with that probability, decided by hashing (seed, order id, service), so a later run
    (or a ``resume``) with the same plan makes the same choices.
    """

    always: frozenset[str] = frozenset()
    rate: float = 0.0
    seed: int = 0
    product_missing: bool = False

    def fails(self, service: str, order_id: str) -> bool:
        """Whether ``service`` refuses ``order_id``."""
        if service in self.always:
            return True
        if self.rate <= 0:
            return False
        digest = hashlib.sha256(f"{self.seed}/{order_id}/{service}".encode()).digest()
        return int.from_bytes(digest[:8]) / 2**64 < self.rate


def add_order_workflow(runtime: Runtime, ledger: Ledger, plan: FailurePlan) -> None:
    """Register the four services (demo adapters on ``ledger``) and the order saga."""
    runtime.add(ProductService, DemoCatalogue(missing=lambda _order: plan.product_missing))
    for service, actor in zip(SERVICES, (PaymentService, InventoryService, ShippingService),
                              strict=True):
        runtime.add(actor, DemoService(ledger, service,
                                       fails=functools.partial(plan.fails, service)))
    runtime.add(saga_actor(ORDER_SAGA), name="saga:order")


def place_order(runtime: Runtime, order_id: str, amount_cents: int = 1250) -> None:
    """Append one ``OrderPlaced`` (idempotent: its event id derives from the order id)."""
    placed = OrderPlaced(order_id=order_id, product_id=f"product-{order_id}",
                         amount_cents=amount_cents)
    runtime.append(order_stream(order_id), [placed], correlation_id=order_id,
                   event_ids=[uuid.uuid5(_ORDER_IDS, order_id)])


def unfinished_orders(runtime: Runtime) -> set[str]:
    """Orders placed whose terminal event is not in the log."""
    placed: set[str] = set()
    ended: set[str] = set()
    for record in runtime.store.read_all(types=["OrderPlaced", *TERMINAL_TYPES]):
        if record.type == "OrderPlaced":
            placed.add(record.correlation_id or "")
        else:
            ended.add(record.correlation_id or "")
    return placed - ended


def wait_for_terminals(
    runtime: Runtime,
    orders: set[str],
    from_position: int,
    on_end: Callable[[str, str], None] = lambda _order, _kind: None,
    timeout: float = 600.0,
) -> dict[str, str]:
    """Block until each of ``orders`` has a terminal event after ``from_position``.

    Returns order id -> terminal type. ``on_end`` is called as each ends (progress).

    Raises:
        TimeoutError: some orders had not ended after ``timeout`` seconds of no progress.

    """
    outcome: dict[str, str] = {}
    subscription = runtime.store.subscribe(from_position, types=list(TERMINAL_TYPES))
    try:
        while len(outcome) < len(orders):
            batch = subscription.next_batch(500, timeout=timeout)
            if not batch:
                left = len(orders) - len(outcome)
                msg = f"{left} orders did not end within {timeout:g} s"
                raise TimeoutError(msg)
            for record in batch:
                order_id = record.correlation_id or ""
                if order_id in orders and order_id not in outcome:
                    outcome[order_id] = record.type
                    on_end(order_id, record.type)
    finally:
        subscription.close()
    return outcome


_ORDER_IDS = uuid.UUID("0f7b0c5e-3a51-4c57-9d36-8a1f8d1c2b10")
