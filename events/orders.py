"""The order saga's messages. Their registered names are the log format."""

from __future__ import annotations

from sagalog.events._message import Command, Event

__all__ = [
    "CancelShipping",
    "ChargePayment",
    "CheckProduct",
    "DemoFailuresPlanned",
    "InventoryFailed",
    "InventoryReserved",
    "InventoryRestored",
    "OrderCompleted",
    "OrderFailed",
    "OrderNotFound",
    "OrderPlaced",
    "PaymentCharged",
    "PaymentFailed",
    "PaymentRefunded",
    "ProductConfirmed",
    "ProductNotFound",
    "RefundPayment",
    "ReserveInventory",
    "RestoreInventory",
    "ScheduleShipping",
    "ShippingCancelled",
    "ShippingFailed",
    "ShippingScheduled",
]


class OrderPlaced(Event, name="OrderPlaced"):
    """An order arrived: the saga's start."""

    order_id: str
    product_id: str
    quantity: int = 1
    amount_cents: int
    customer: str = "customer"
    address: str = "somewhere"


class DemoFailuresPlanned(Event, name="DemoFailuresPlanned"):
    """Which demo services refuse this order: the failure injection, kept in the log.

    Appended with the order's ``OrderPlaced`` (one append, so never one without the
    other), so whichever process runs the demo services (the command that placed the
    order, a worker, a later ``resume``) applies the same failures.
    """

    order_id: str
    failing: list[str]
    """The services that refuse it (payment, inventory, shipping)."""
    product_missing: bool = False
    """Whether its product is missing from the demo catalogue."""


class _OrderCommand(Command, abstract=True):
    """A command about one order."""

    order_id: str


class _OrderEvent(Event, abstract=True):
    """An event about one order."""

    order_id: str


class CheckProduct(_OrderCommand, name="CheckProduct"):
    """Ask the product service whether the product exists."""

    product_id: str


class ChargePayment(_OrderCommand, name="ChargePayment"):
    """Charge the customer for the order."""

    customer: str
    amount_cents: int


class ReserveInventory(_OrderCommand, name="ReserveInventory"):
    """Reserve the ordered quantity."""

    product_id: str
    quantity: int


class ScheduleShipping(_OrderCommand, name="ScheduleShipping"):
    """Book a carrier for the order."""

    address: str


class RefundPayment(_OrderCommand, name="RefundPayment"):
    """Undo ChargePayment."""

    amount_cents: int


class RestoreInventory(_OrderCommand, name="RestoreInventory"):
    """Undo ReserveInventory."""

    product_id: str
    quantity: int


class CancelShipping(_OrderCommand, name="CancelShipping"):
    """Undo ScheduleShipping."""


class ProductConfirmed(_OrderEvent, name="ProductConfirmed"):
    """The product exists."""

    product_id: str


class ProductNotFound(_OrderEvent, name="ProductNotFound"):
    """The product does not exist: the order ends as not found."""

    product_id: str


class PaymentCharged(_OrderEvent, name="PaymentCharged"):
    """The customer was charged."""

    amount_cents: int


class PaymentFailed(_OrderEvent, name="PaymentFailed"):
    """The charge was refused."""

    reason: str


class InventoryReserved(_OrderEvent, name="InventoryReserved"):
    """The quantity is reserved."""

    quantity: int


class InventoryFailed(_OrderEvent, name="InventoryFailed"):
    """The quantity could not be reserved."""

    reason: str


class ShippingScheduled(_OrderEvent, name="ShippingScheduled"):
    """A carrier is booked."""

    tracking: str


class ShippingFailed(_OrderEvent, name="ShippingFailed"):
    """No carrier could be booked."""

    reason: str


class PaymentRefunded(_OrderEvent, name="PaymentRefunded"):
    """The charge was refunded."""

    amount_cents: int


class InventoryRestored(_OrderEvent, name="InventoryRestored"):
    """The reservation was released."""

    quantity: int


class ShippingCancelled(_OrderEvent, name="ShippingCancelled"):
    """The booking was cancelled."""


class OrderCompleted(_OrderEvent, name="OrderCompleted"):
    """Every step succeeded."""


class OrderFailed(_OrderEvent, name="OrderFailed"):
    """A step failed; the steps that had succeeded were undone."""

    reason: str
    compensated: list[str]


class OrderNotFound(_OrderEvent, name="OrderNotFound"):
    """The product was not found; no other service was called."""

    product_id: str
