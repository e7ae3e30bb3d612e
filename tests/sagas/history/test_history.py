"""Timelines, explanations and causal chains read back from a real order log."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from sagalog.actors import Ledger, Runtime
from sagalog.events import SagalogError
from sagalog.events.orders import OrderPlaced
from sagalog.sagas.history import (
    EXTERNAL,
    PositionOutOfRangeError,
    RunSummary,
    UnknownRunError,
    causal_chain,
    explain,
    list_runs,
    read_timeline,
    render_runs,
    show,
)
from sagalog.sagas.orders import ORDER_SAGA, FailurePlan, add_order_workflow, place_order
from sagalog.store import NotADatabaseError, open_store

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture(scope="module")
def order_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A log with one order whose inventory fails (payment and shipping are undone)."""
    path = tmp_path_factory.mktemp("history") / "log.db"
    with Ledger(f"{path}.ledger") as ledger, Runtime(str(path)) as runtime:
        add_order_workflow(runtime, ledger, FailurePlan(always=frozenset({"inventory"})))
        place_order(runtime, "o-1")
        runtime.wait_until_idle(timeout=30)
    return path


def test_timeline_names_each_actor_and_cause(order_log: Path) -> None:
    with open_store(str(order_log)) as store:
        timeline = read_timeline(store, "o-1")
    by_type = {entry.record.type: entry for entry in timeline.entries}
    assert by_type["OrderPlaced"].actor == EXTERNAL
    assert by_type["OrderPlaced"].cause is None
    assert by_type["ChargePayment"].actor == "saga:order"
    assert by_type["PaymentCharged"].actor == "PaymentService"
    assert by_type["PaymentCharged"].cause == by_type["ChargePayment"].record.position
    assert by_type["InventoryFailed"].actor == "InventoryService"
    text = timeline.text()
    assert text.startswith(f"run o-1: {len(timeline.entries)} records")
    assert "[compensate] undo " in text
    document = json.loads(timeline.json())
    assert [e["position"] for e in document["entries"]] == sorted(
        e["position"] for e in document["entries"])
    failed = next(e for e in document["entries"] if e["rule"] == "fail")
    assert failed["actor"] == "saga:order"
    assert failed["reason"].startswith("failed because inventory failed")


def test_mermaid_has_actors_and_streams_as_participants(order_log: Path) -> None:
    with open_store(str(order_log)) as store:
        diagram = read_timeline(store, "o-1").mermaid()
    lines = diagram.splitlines()
    assert lines[0] == "sequenceDiagram"
    participants = {line.split(" as ", 1)[1] for line in lines if " as " in line}
    assert {"external", "order-o-1", "saga:order", "PaymentService"} <= participants
    assert any("->>" in line and "RefundPayment" in line for line in lines)
    assert any(line.strip().startswith("Note over") and "compensate" in line for line in lines)


def test_explain_links_each_decision_to_what_it_issued_and_got(order_log: Path) -> None:
    with open_store(str(order_log)) as store:
        timeline = read_timeline(store, "o-1")
    text = explain(timeline, ORDER_SAGA)
    refund = next(e for e in timeline.entries if e.record.type == "RefundPayment")
    refunded = next(e for e in timeline.entries if e.record.type == "PaymentRefunded")
    assert text.splitlines()[0].startswith("order o-1: failed (inventory failed")
    assert (f"-> RefundPayment (pos {refund.record.position}) -> PaymentRefunded "
            f"(pos {refunded.record.position}, PaymentService)") in text


def test_explain_says_what_never_started(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l") as ledger, Runtime(str(tmp_path / "log.db")) as runtime:
        add_order_workflow(runtime, ledger, FailurePlan(product_missing=True))
        place_order(runtime, "o-2")
        runtime.wait_until_idle(timeout=30)
        timeline = read_timeline(runtime.store, "o-2")
    text = explain(timeline, ORDER_SAGA)
    assert text.splitlines()[0].startswith("order o-2: ended (ProductNotFound at")
    for step in ("payment", "inventory", "shipping"):
        assert f"  {step} was never started" in text
    assert "skipped payment, inventory, shipping: halted because product failed" in text


def test_show_prints_the_record_and_its_causes_to_the_root(order_log: Path) -> None:
    with open_store(str(order_log)) as store:
        timeline = read_timeline(store, "o-1")
        refunded = next(e for e in timeline.entries if e.record.type == "PaymentRefunded")
        chain = causal_chain(store, refunded.record.position)
        text = show(store, refunded.record.position)
    assert [r.type for r in chain][:2] == ["PaymentRefunded", "RefundPayment"]
    assert chain[-1].type == "OrderPlaced"
    assert chain[-1].causation_id is None
    assert text.splitlines()[0] == f"position     {refunded.record.position}"
    assert "causal chain (root last)" in text
    assert text.rstrip().endswith("OrderPlaced  (order-o-1)")


def test_unknown_run_and_position_past_the_end_are_named(order_log: Path) -> None:
    with open_store(str(order_log)) as store:
        last = store.last_position()
        with pytest.raises(UnknownRunError, match="no saga or run 'nope'"):
            read_timeline(store, "nope")
        past = f"position {last + 1} is not in the log \\(it holds 1 to {last}\\)"
        with pytest.raises(PositionOutOfRangeError, match=past):
            show(store, last + 1)


def test_list_shows_kind_status_and_size_and_filters(order_log: Path, tmp_path: Path) -> None:
    runs = list_runs(order_log, {"OrderPlaced": "order"})
    assert [(r.run_id, r.kind, r.status) for r in runs] == [("o-1", "order", "failed")]
    with open_store(order_log, read_only=True) as store:
        assert runs[0].events == len(list(store.read_all()))
        assert list_runs(store, {"OrderPlaced": "order"}) == runs  # a store, left open
        assert store.last_position() == runs[0].events
    assert runs[0].duration >= 0
    assert list_runs(order_log, status="completed") == []
    with pytest.raises(SagalogError, match="--kind must be one of the kinds this log lists"):
        list_runs(order_log, kind="order")  # without the catalogue a run's kind is its start
    assert [r.kind for r in list_runs(order_log, kind="OrderPlaced")] == ["OrderPlaced"]
    assert list_runs(order_log, since=runs[0].started + timedelta(seconds=1)) == []
    table = render_runs(runs)
    assert table.splitlines()[1].split()[:3] == ["o-1", "order", "failed"]
    assert table.endswith("1 runs")
    with pytest.raises(SagalogError, match="--status must be one of running, completed"):
        list_runs(order_log, status="done")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 10)
    with pytest.raises(NotADatabaseError, match=r"junk\.db: the file is not an SQLite database"):
        list_runs(junk)
    with pytest.raises(NotADatabaseError, match=r"missing\.db: no such log file"):
        list_runs(tmp_path / "missing.db")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["junk.db"]  # nothing made


def test_a_record_with_line_breaks_stays_on_one_timeline_line(tmp_path: Path) -> None:
    with open_store(str(tmp_path / "log.db")) as store:
        store.append("s", [OrderPlaced(order_id="a\nb", product_id="p\r\nq", amount_cents=1)],
                     correlation_id="r")
        text = read_timeline(store, "r").text()
    assert len(text.splitlines()) == 2
    assert "order_id=a\\nb, product_id=p\\r\\nq" in text


def test_the_table_pads_each_column_and_cuts_long_names() -> None:
    """The layout ``list`` prints, to the character: ids over 64 and kinds over 18 are cut."""
    start = datetime(2026, 11, 22, 5, 28, 19, 719213, tzinfo=UTC)
    runs = [RunSummary("o-1", "order", "failed", start, start + timedelta(seconds=1.5), 9, 1),
            RunSummary("r" * 70, "a-very-long-kind-name", "running", start, start, 12345, 10)]
    assert render_runs(runs).splitlines() == [
        f"{'run':<64} kind               status         started (UTC)             duration  events",
        f"{'o-1':<64} order              failed         2026-11-22 05:28:19.719     1.500s       9",
        f"{'r' * 63}… a-very-long-kind-… running        2026-11-22 05:28:19.719     0.000s   12345",
        "2 runs",
    ]
    assert render_runs(runs[:1], total=5).splitlines()[0].startswith("run kind ")
    assert render_runs(runs[:1], total=5).splitlines()[-2:] == [
        "... and 4 older (--limit 0 shows all)", "5 runs"]
