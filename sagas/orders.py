"""The order saga of design note 004.

Check the product, then pay, reserve and ship in parallel; undo what succeeded if any
of the three fails. A missing product ends the order at once, as not found.
"""

from __future__ import annotations

from events import Event
from events.orders import (
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
from sagas._definition import SagaDefinition, Stage, Step

__all__ = ["ORDER_SAGA", "order_stream"]


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
