"""A full disk pauses the actor that meets it; the same input is tried again once it clears.

A storage fault is the machine's, not the work's: before, a handler whose adapter hit a
full disk was retried three times and dead-lettered, and the order saga compensated and
failed a perfectly good order; met at commit, it killed the actor. Here a real tmpfs is
filled, then freed: the order saga's payment adapter files its receipts on it, or the log
itself lives on it. The virtual clock drives the backoff; nothing sleeps.
"""

from __future__ import annotations

import errno
import json
from collections.abc import Iterator
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
from sagalog.sagas import saga_actor
from sagalog.sagas.orders import ORDER_SAGA, add_order_workflow, place_order
from sagalog.store import DiskFullError
from tests.support import fill_disk, small_disk

ORDERS = [f"o-{n}" for n in range(1, 6)]


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs, mounted for the test (room for the log of a few orders, once freed)."""
    with small_disk(tmp_path / "tiny", "2m") as disk:
        yield disk


class ReceiptFiler:
    """A payment adapter that files one receipt per charge in ``folder``.

    It translates ENOSPC into ``DiskFullError`` naming the file, as the built-in adapters
    do: a full disk is a fault to wait out, not a declined card.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def do(self, key: str, order_id: str, detail: dict[str, object]) -> bool:
        path = self.folder / f"{key}.receipt"
        try:
            path.write_text(json.dumps({"order_id": order_id, **detail}) + " " * 2048)
        except OSError as error:
            path.unlink(missing_ok=True)
            if error.errno == errno.ENOSPC:
                raise DiskFullError("disk full: no space for the receipt",
                                    path=str(path)) from error
            raise
        return True

    def undo(self, key: str, order_id: str, detail: dict[str, object]) -> None:
        (self.folder / f"{key}.receipt").unlink(missing_ok=True)


def outcomes(runtime: Runtime) -> dict[str, str]:
    """Order id -> the types recorded for it that say how it went."""
    kinds = ("OrderCompleted", "OrderFailed", "ManualReviewRequired", "HandlerFailed",
             "PaymentFailed", "ActorDied")
    return {record.correlation_id or record.type: record.type
            for record in runtime.store.read_all(types=list(kinds))}


def test_an_adapter_on_a_full_disk_pauses_its_actor_until_the_disk_is_freed(
        tmp_path: Path, tiny_disk: Path, logs) -> None:
    """Every order completes, none is failed, compensated or sent to manual review; while
    full, the runtime says which actor is paused and on what file; nothing is charged twice."""
    clock = VirtualClock()
    filler = fill_disk(tiny_disk)
    with Ledger(tmp_path / "ledger.db") as ledger, Runtime(
            tmp_path / "log.db", durability="off", clock=clock) as runtime:
        runtime.add(ProductService, DemoCatalogue())
        runtime.add(PaymentService, ReceiptFiler(tiny_disk))
        runtime.add(InventoryService, DemoService(ledger, "inventory"))
        runtime.add(ShippingService, DemoService(ledger, "shipping"))
        runtime.add(saga_actor(ORDER_SAGA), name="saga:order")
        for order_id in ORDERS:
            place_order(runtime, order_id)

        for _ in range(3):  # full: paused, and paused again after each backoff
            assert clock.wait_for_pending(1), "the payment service waits on the clock"
            (fault,) = runtime.paused.values()
            assert isinstance(fault, DiskFullError)
            assert fault.path is not None
            assert fault.path.startswith(str(tiny_disk))
            assert runtime.describe_pauses().startswith(f"paused: PaymentService: {tiny_disk}")
            assert "disk full" in runtime.describe_pauses()
            assert not runtime.wait_until_idle(0.05), "its work is waiting, not done"
            clock.advance(30)

        assert clock.wait_for_pending(1), "still full: paused again"
        filler.unlink()
        clock.advance(30)
        assert runtime.wait_until_idle(30)
        assert runtime.paused == {}
        ended = outcomes(runtime)
    assert ended == dict.fromkeys(ORDERS, "OrderCompleted")
    assert len(list(tiny_disk.glob("*.receipt"))) == len(ORDERS)
    warnings = [m for m in logs.messages("WARNING") if m.startswith("paused: ")]
    assert len(warnings) >= 3
    assert any("resumed after" in m for m in logs.messages("INFO"))


def test_a_commit_on_a_full_disk_pauses_the_actor_and_loses_nothing(tiny_disk: Path) -> None:
    """The log itself on the full disk: the saga's commit fails with DiskFullError, the
    actor pauses instead of dying, and once the disk is freed every order completes."""
    clock = VirtualClock()
    log = tiny_disk / "log.db"
    with Runtime(log, durability="off", clock=clock) as runtime:
        for order_id in ORDERS:
            place_order(runtime, order_id)
        filler = fill_disk(tiny_disk)
        ledger = Ledger(tiny_disk.parent / "ledger.db")
        add_order_workflow(runtime, ledger)

        assert clock.wait_for_pending(1), "an actor waits on the clock for space"
        paused = runtime.paused
        assert paused, "an actor is paused"
        assert all(isinstance(fault, DiskFullError) for fault in paused.values())
        assert runtime.gave_up == {}

        filler.unlink()
        for _ in range(10):  # each paused actor tries again; the backoff is at most 30 s
            if runtime.wait_until_idle(0.5):
                break
            clock.advance(30)
        assert runtime.wait_until_idle(30)
        assert runtime.paused == {}
        ended = outcomes(runtime)
        ledger.close()
    assert ended == dict.fromkeys(ORDERS, "OrderCompleted")
