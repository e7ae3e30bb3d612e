"""The order saga.

Check the product, then pay, reserve and ship in parallel; undo what succeeded if any
of the three fails. A missing product ends the order at once, as not found.

The demo services fail on demand (:class:`FailurePlan`). The plan's decision for an
order is appended with the order's start (``DemoFailuresPlanned``), so the process that
runs the services need not be the one that placed the order: a worker applies the
failures the ``order`` command asked for.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import threading
import uuid
from collections import OrderedDict
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
from sagalog.events import Event, SagalogError
from sagalog.events.orders import (
    CancelShipping,
    ChargePayment,
    CheckProduct,
    DemoFailuresPlanned,
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
from sagalog.sagas._waiting import next_batch
from sagalog.store import parse_target

__all__ = [
    "NO_FAILURES",
    "ORDER_SAGA",
    "SERVICES",
    "TERMINAL_TYPES",
    "FailurePlan",
    "add_demo_order_workflow",
    "add_order_workflow",
    "demo_ledger_path",
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

    def decision(self, order_id: str) -> DemoFailuresPlanned:
        """What this plan decides for ``order_id``, as the record kept with its start."""
        return DemoFailuresPlanned(
            order_id=order_id, product_missing=self.product_missing,
            failing=[service for service in SERVICES if self.fails(service, order_id)])


NO_FAILURES = FailurePlan()
"""A plan that fails nothing: what a worker applies to an order that recorded no plan."""


class _DemoFailures:
    """Which demo services refuse an order: its recorded decision, else ``plan``.

    The decision is read from the order's stream (its second record, appended with its
    start) the first time a service asks, and kept for the next three services: four
    reads of the log per order would cost more than the demo services themselves. An
    order with no decision recorded (placed without a plan, or by sagalog 0.1) follows
    ``plan``, the one this process was given.
    """

    KEEP = 4096
    """Orders whose decision is kept; more than are ever in flight at once."""

    def __init__(self, runtime: Runtime, plan: FailurePlan) -> None:
        self._runtime = runtime
        self._plan = plan
        self._known: OrderedDict[str, DemoFailuresPlanned | None] = OrderedDict()
        self._guard = threading.Lock()

    def recorded(self, order_id: str) -> DemoFailuresPlanned | None:
        """The decision recorded with the order's start, or None."""
        with self._guard:
            if order_id in self._known:
                return self._known[order_id]
        start = itertools.islice(self._runtime.store.read_stream(order_stream(order_id)), 2)
        found = next((record.data for record in start
                      if isinstance(record.data, DemoFailuresPlanned)), None)
        with self._guard:
            self._known[order_id] = found
            if len(self._known) > self.KEEP:
                self._known.popitem(last=False)
        return found

    def fails(self, service: str, order_id: str) -> bool:
        """Whether the demo ``service`` refuses ``order_id``."""
        recorded = self.recorded(order_id)
        if recorded is None:
            return self._plan.fails(service, order_id)
        return service in recorded.failing

    def product_missing(self, order_id: str) -> bool:
        """Whether the order's product is missing from the demo catalogue."""
        recorded = self.recorded(order_id)
        return self._plan.product_missing if recorded is None else recorded.product_missing


def add_order_workflow(runtime: Runtime, ledger: Ledger, plan: FailurePlan = NO_FAILURES
                       ) -> None:
    """Register the four services (demo adapters on ``ledger``) and the order saga.

    The adapters fail an order as its start recorded (see :func:`place_order`), or, for
    an order that recorded nothing, as ``plan`` says.
    """
    failures = _DemoFailures(runtime, plan)
    runtime.add(ProductService, DemoCatalogue(missing=failures.product_missing))
    for service, actor in zip(SERVICES, (PaymentService, InventoryService, ShippingService),
                              strict=True):
        runtime.add(actor, DemoService(ledger, service,
                                       fails=functools.partial(failures.fails, service)))
    runtime.add(saga_actor(ORDER_SAGA), name="saga:order")


def demo_ledger_path(target: str) -> str:
    """Where the demo services of the log ``target`` record their effects: ``<log>.ledger``.

    Raises:
        SagalogError: the log is not a file (an in-memory log has nowhere beside it).

    """
    scheme, location = parse_target(target)
    if scheme != "sqlite" or location in {"", ":memory:"}:
        msg = (f"{target}: the demo order services keep their ledger beside the log's "
               "file, and this log is not a file")
        raise SagalogError(msg)
    return f"{location}.ledger"


def add_demo_order_workflow(runtime: Runtime) -> Ledger:
    """The order workflow as a worker runs it: the demo ledger beside the log, no plan.

    Each order fails as its start recorded (the ``order`` command records its flags'
    decision). Returns the ledger it opened, for the caller to close once the runtime
    has stopped.
    """
    ledger = Ledger(demo_ledger_path(runtime.target))
    try:
        add_order_workflow(runtime, ledger)
    except BaseException:
        ledger.close()
        raise
    return ledger


def place_order(runtime: Runtime, order_id: str, amount_cents: int = 1250, *,
                plan: FailurePlan | None = None) -> None:
    """Append one ``OrderPlaced`` (idempotent: its event id derives from the order id).

    With ``plan``, the plan's decision for this order (``DemoFailuresPlanned``) goes in
    the same append, so the demo services fail it so wherever they run.
    """
    try:
        order_id.encode("utf-8")  # the event ids derive from its UTF-8 bytes
    except UnicodeEncodeError as error:
        from sagalog.store import InvalidStreamIdError  # noqa: PLC0415 - a rare path

        raise InvalidStreamIdError("order id", order_id, f"it holds "
                                   f"{order_id[error.start]!r}, a lone surrogate") from None
    placed = OrderPlaced(order_id=order_id, product_id=f"product-{order_id}",
                         amount_cents=amount_cents)
    messages: list[Event] = [placed]
    ids = [uuid.uuid5(_ORDER_IDS, order_id)]
    if plan is not None:
        messages.append(plan.decision(order_id))
        ids.append(uuid.uuid5(_ORDER_IDS, f"{order_id}/demo-failures"))
    runtime.append(order_stream(order_id), messages, correlation_id=order_id, event_ids=ids)


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
        ActorGaveUpError: the runtime gave up on an actor (see ``Runtime.check_actors``).
        TimeoutError: some orders had not ended after ``timeout`` seconds of no progress
            (naming the actors paused on a storage fault, if any).

    """
    outcome: dict[str, str] = {}
    subscription = runtime.store.subscribe(from_position, types=list(TERMINAL_TYPES))
    try:
        while len(outcome) < len(orders):
            batch = next_batch(runtime, subscription, 500, timeout,
                               lambda: f"{len(orders) - len(outcome)} orders")
            for record in batch:
                order_id = record.correlation_id or ""
                if order_id in orders and order_id not in outcome:
                    outcome[order_id] = record.type
                    on_end(order_id, record.type)
    finally:
        subscription.close()
    return outcome


_ORDER_IDS = uuid.UUID("0f7b0c5e-3a51-4c57-9d36-8a1f8d1c2b10")
