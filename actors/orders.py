"""The order workflow's service actors and their demo adapters.

Each service calls the outside world through a small adapter protocol, passing the
command's event id as the idempotency key. The demo adapters record their effects in
a :class:`actors.Ledger`, and answer a repeated key with the first answer, so a test can
prove that no effect happened twice. ``fails`` decides, from the order id, whether an
adapter refuses the work (failure injection for tests and the command line).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from sagalog.actors._actor import Actor
from sagalog.actors._handlers import handles
from sagalog.actors._ledger import Ledger
from sagalog.events import Envelope, Message
from sagalog.events.orders import (
    CancelShipping,
    ChargePayment,
    CheckProduct,
    InventoryFailed,
    InventoryReserved,
    InventoryRestored,
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

__all__ = [
    "DemoCatalogue",
    "DemoService",
    "InventoryService",
    "PaymentService",
    "ProductService",
    "ServiceAdapterProtocol",
    "ShippingService",
]

Fails = Callable[[str], bool]


def _never(_: str) -> bool:
    return False


class ServiceAdapterProtocol(Protocol):
    """What a service actor asks of the outside world: do or undo, once per key."""

    def do(self, key: str, order_id: str, detail: dict[str, object]) -> bool:
        """Do the effect (idempotent per ``key``); False when the outside world refused."""

    def undo(self, key: str, order_id: str, detail: dict[str, object]) -> None:
        """Undo an effect (idempotent per ``key``)."""


class DemoService:
    """A demo adapter: effects go to a ledger; ``fails(order_id)`` refuses the work."""

    def __init__(self, ledger: Ledger, name: str, fails: Fails = _never) -> None:
        self.ledger = ledger
        self.name = name
        self.fails = fails

    def do(self, key: str, order_id: str, detail: dict[str, object]) -> bool:
        """Record the effect under ``key``, unless this order is set to fail."""
        if self.fails(order_id):
            return False
        self.ledger.apply(self.name, key, "done", {"order_id": order_id, **detail})
        return True

    def undo(self, key: str, order_id: str, detail: dict[str, object]) -> None:
        """Record the undoing under ``key``."""
        self.ledger.apply(self.name, key, "undone", {"order_id": order_id, **detail})


class DemoCatalogue:
    """The demo product catalogue: every product exists unless ``missing`` says not."""

    def __init__(self, missing: Fails = _never) -> None:
        self.missing = missing

    def exists(self, product_id: str, order_id: str) -> bool:
        """Whether the product of this order is in the catalogue."""
        return not self.missing(order_id)


class ProductService(Actor):
    """Checks that an order's product exists."""

    def __init__(self, catalogue: DemoCatalogue) -> None:
        super().__init__()
        self.catalogue = catalogue

    @handles(CheckProduct)
    def check(self, command: CheckProduct, envelope: Envelope[Message]) -> Message:
        """ProductConfirmed, or ProductNotFound."""
        if self.catalogue.exists(command.product_id, command.order_id):
            return ProductConfirmed(order_id=command.order_id, product_id=command.product_id)
        return ProductNotFound(order_id=command.order_id, product_id=command.product_id)


class PaymentService(Actor):
    """Charges and refunds."""

    def __init__(self, adapter: ServiceAdapterProtocol) -> None:
        super().__init__()
        self.adapter = adapter

    @handles(ChargePayment)
    def charge(self, command: ChargePayment, envelope: Envelope[Message]) -> Message:
        """PaymentCharged, or PaymentFailed."""
        detail = {"amount_cents": command.amount_cents, "customer": command.customer}
        if self.adapter.do(str(envelope.event_id), command.order_id, detail):
            return PaymentCharged(order_id=command.order_id, amount_cents=command.amount_cents)
        return PaymentFailed(order_id=command.order_id, reason="card declined")

    @handles(RefundPayment)
    def refund(self, command: RefundPayment, envelope: Envelope[Message]) -> Message:
        """PaymentRefunded."""
        self.adapter.undo(str(envelope.event_id), command.order_id,
                          {"amount_cents": command.amount_cents})
        return PaymentRefunded(order_id=command.order_id, amount_cents=command.amount_cents)


class InventoryService(Actor):
    """Reserves and restores stock."""

    def __init__(self, adapter: ServiceAdapterProtocol) -> None:
        super().__init__()
        self.adapter = adapter

    @handles(ReserveInventory)
    def reserve(self, command: ReserveInventory, envelope: Envelope[Message]) -> Message:
        """InventoryReserved, or InventoryFailed."""
        detail = {"product_id": command.product_id, "quantity": command.quantity}
        if self.adapter.do(str(envelope.event_id), command.order_id, detail):
            return InventoryReserved(order_id=command.order_id, quantity=command.quantity)
        return InventoryFailed(order_id=command.order_id, reason="out of stock")

    @handles(RestoreInventory)
    def restore(self, command: RestoreInventory, envelope: Envelope[Message]) -> Message:
        """InventoryRestored."""
        self.adapter.undo(str(envelope.event_id), command.order_id,
                          {"product_id": command.product_id, "quantity": command.quantity})
        return InventoryRestored(order_id=command.order_id, quantity=command.quantity)


class ShippingService(Actor):
    """Schedules and cancels shipping."""

    def __init__(self, adapter: ServiceAdapterProtocol) -> None:
        super().__init__()
        self.adapter = adapter

    @handles(ScheduleShipping)
    def schedule(self, command: ScheduleShipping, envelope: Envelope[Message]) -> Message:
        """ShippingScheduled, or ShippingFailed."""
        if self.adapter.do(str(envelope.event_id), command.order_id,
                           {"address": command.address}):
            return ShippingScheduled(order_id=command.order_id,
                                     tracking=f"TRK-{str(envelope.event_id)[:8]}")
        return ShippingFailed(order_id=command.order_id, reason="no carrier available")

    @handles(CancelShipping)
    def cancel(self, command: CancelShipping, envelope: Envelope[Message]) -> Message:
        """ShippingCancelled."""
        self.adapter.undo(str(envelope.event_id), command.order_id, {})
        return ShippingCancelled(order_id=command.order_id)
