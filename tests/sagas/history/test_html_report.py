"""``report ID --html FILE``: the page's chart, tables and errors, its safety, and a real browser.

The log comes from real actors: order o-1's inventory refuses (payment and shipping
are undone); order o-2's shipping handler raises with ``<script>`` in its message, so
a dead letter carries hostile text into the page.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from sagalog.actors import RUNTIME_STREAM, Ledger, RetryPolicy, Runtime
from sagalog.actors.orders import (
    DemoCatalogue,
    DemoService,
    InventoryService,
    PaymentService,
    ProductService,
    ShippingService,
)
from sagalog.events import SagalogError
from sagalog.events.orders import ChargePayment, OrderPlaced
from sagalog.events.runtime import ActorDied
from sagalog.sagas import saga_actor
from sagalog.sagas.history import (
    actor_deaths,
    read_timeline,
    render_html,
    steps_of,
    write_report,
)
from sagalog.sagas.orders import ORDER_SAGA, place_order
from sagalog.store import open_store
from tests.support import log_bytes

RUN = Path(__file__).resolve().parents[3] / "run.py"
HOSTILE = '<script>alert("pwned")</script> & "quotes"'


class _OnceShipping(ShippingService):
    """Shipping without retries, so the dead letter comes at once."""

    retry_policy = RetryPolicy(attempts=1, delay=0.0)


def _refuse_inventory(order_id: str) -> bool:
    return order_id == "o-1"


def _explode_shipping(order_id: str) -> bool:
    if order_id == "o-2":
        raise RuntimeError(HOSTILE)
    return False


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "log.db"
    with Ledger(f"{path}.ledger") as ledger, Runtime(str(path)) as runtime:
        runtime.add(ProductService, DemoCatalogue())
        runtime.add(PaymentService, DemoService(ledger, "payment"))
        runtime.add(InventoryService, DemoService(ledger, "inventory", fails=_refuse_inventory))
        runtime.add(_OnceShipping, DemoService(ledger, "shipping", fails=_explode_shipping),
                    name="ShippingService")
        runtime.add(saga_actor(ORDER_SAGA), name="saga:order")
        place_order(runtime, "o-1")
        place_order(runtime, "o-2")
        runtime.wait_until_idle(timeout=30)
    return path


class _Page(HTMLParser):
    """Every element's attributes, with the actor of the chart row it sits in."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.elements: list[dict[str, str]] = []
        self._rows: list[str | None] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = {key: value or "" for key, value in attrs}
        element["tag"] = tag
        if self._rows and self._rows[-1] is not None:
            element["row"] = self._rows[-1]
        self.elements.append(element)
        if tag == "g":
            self._rows.append(element.get("data-actor", self._rows[-1] if self._rows else None))

    def handle_endtag(self, tag: str) -> None:
        if tag == "g":
            self._rows.pop()

    def having(self, attribute: str) -> list[dict[str, str]]:
        return [element for element in self.elements if attribute in element]


def page_of(log: Path, run_id: str) -> str:
    with open_store(str(log)) as store:
        timeline = read_timeline(store, run_id)
        return render_html(timeline, ORDER_SAGA, actor_deaths(store, timeline))


def sagalog(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(RUN), "-q", *arguments], capture_output=True,
                          text=True, timeout=60, check=False)


def names(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


def test_each_step_is_a_bar_on_the_row_of_the_actor_that_answered(log: Path) -> None:
    """Every command has a bar; failures and undoing are marked; the legend names each mark."""
    page = _Page(page_of(log, "o-1"))
    bars = {element["data-type"]: element for element in page.having("data-step")}
    assert set(bars) == {"CheckProduct", "ChargePayment", "ReserveInventory",
                         "ScheduleShipping", "RefundPayment", "CancelShipping"}
    assert (bars["ChargePayment"]["row"], bars["ChargePayment"]["data-kind"]) == (
        "PaymentService", "ok")
    assert (bars["ReserveInventory"]["row"], bars["ReserveInventory"]["data-kind"]) == (
        "InventoryService", "failed")
    assert (bars["RefundPayment"]["row"], bars["RefundPayment"]["data-kind"]) == (
        "PaymentService", "compensation")
    assert bars["CancelShipping"]["data-kind"] == "compensation"
    rows = [element["data-actor"] for element in page.having("data-actor")]
    assert rows[0] == "saga:order"  # the saga decides first
    assert {"ProductService", "PaymentService", "InventoryService", "ShippingService"} <= set(rows)
    legend = {element["data-legend"] for element in page.having("data-legend")}
    assert legend == {"ok", "failed", "compensation", "compensation-failed", "unanswered",
                      "decision"}
    # The table under the chart has one row per step, by the command's position.
    table_rows = {element["id"] for element in page.having("id") if element["tag"] == "tr"}
    assert {f"step-{bar['data-step']}" for bar in bars.values()} <= table_rows


def test_every_decision_is_listed_with_its_rule_and_reason(log: Path) -> None:
    """Decision rows carry position, rule and the recorded reason, in log order."""
    text = page_of(log, "o-1")
    with open_store(str(log)) as store:
        decisions = [e for e in read_timeline(store, "o-1").entries if e.decision is not None]
    rows = [element for element in _Page(text).having("data-rule") if element["tag"] == "tr"]
    assert [row["id"] for row in rows] == [f"decision-{e.record.position}" for e in decisions]
    assert [row["data-rule"] for row in rows][-1] == "fail"
    for entry in decisions:
        assert entry.decision is not None
        assert (f"<td>{entry.decision.rule}</td><td>"
                f"{entry.decision.reason.replace('&', '&amp;')}</td>") in text
    assert "because inventory failed: InventoryFailed at " in text


def test_failures_are_listed_with_their_fields(log: Path) -> None:
    """The failure events of the run are listed with their data."""
    page = _Page(page_of(log, "o-1"))
    errors = [element["data-type"] for element in page.having("data-error")]
    assert errors == ["InventoryFailed", "OrderFailed"]


def test_a_dead_letter_shows_error_type_message_and_traceback_escaped(log: Path) -> None:
    """Hostile text from the log stays text: the only script is the page's own."""
    text = page_of(log, "o-2")
    page = _Page(text)
    errors = {element["data-type"]: element for element in page.having("data-error")}
    assert "HandlerFailed" in errors
    bars = {element["data-type"]: element for element in page.having("data-step")}
    assert bars["ScheduleShipping"]["data-kind"] == "failed"
    assert bars["RefundPayment"]["data-kind"] == "compensation"
    escaped = "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt; &amp; &quot;quotes&quot;"
    assert f"<b>RuntimeError</b>: {escaped}</p>" in text
    assert "_explode_shipping" in text  # the traceback names the function that raised
    assert 'alert("pwned")' not in text
    assert text.count("<script") == 1
    assert [element["tag"] for element in page.elements].count("script") == 1


def test_actor_deaths_of_a_stuck_run_are_errors(tmp_path: Path) -> None:
    """A run waiting on an answer lists the deaths since it began, not those before."""
    path = tmp_path / "deaths.db"
    died = functools.partial(ActorDied, error_type="OSError", restarts=1)
    with open_store(path) as store:
        store.append(RUNTIME_STREAM, [died(actor="PaymentService", error_message="old")])
        (placed,) = store.append("order-x", [OrderPlaced(order_id="x", product_id="p",
                                                         amount_cents=5)], correlation_id="x")
        store.append("order-x", [ChargePayment(order_id="x", customer="c", amount_cents=5)],
                     correlation_id="x", causation_id=placed.event_id)
        store.append(RUNTIME_STREAM, [died(actor="PaymentService", error_message=HOSTILE)])
        timeline = read_timeline(store, "x")
        deaths = actor_deaths(store, timeline)
    assert [death.data.error_message for death in deaths] == [HOSTILE]  # type: ignore[attr-defined]
    text = render_html(timeline, ORDER_SAGA, deaths)
    page = _Page(text)
    assert [e["data-type"] for e in page.having("data-error")] == ["ActorDied"]
    assert "actor PaymentService died: <b>OSError</b>: &lt;script&gt;" in text
    assert [(e["data-type"], e["data-kind"]) for e in page.having("data-step")] == [
        ("ChargePayment", "unanswered")]


def test_a_finished_run_has_no_deaths(log: Path) -> None:
    with open_store(str(log)) as store:
        timeline = read_timeline(store, "o-1")
        assert actor_deaths(store, timeline) == []
    assert all(step.answer is not None for step in steps_of(timeline, ORDER_SAGA))


def test_the_page_references_nothing_remote(log: Path) -> None:
    """No src/href/url() to another host, no @import, and a CSP that allows nothing else."""
    text = page_of(log, "o-2")
    remote = re.compile(r"""(?:src|href|action|srcset)\s*=\s*["']?\s*(?:[a-z]+:)?//"""
                        r"""|url\(\s*["']?\s*(?:[a-z]+:)?//|@import""", re.IGNORECASE)
    assert remote.findall(text) == []
    assert "<link" not in text
    assert "default-src 'none'" in text
    assert "unsafe-inline" not in text


def test_the_cli_writes_the_file_whole_prints_its_path_and_leaves_the_log(
    log: Path, tmp_path: Path,
) -> None:
    """The report replaces an old file by rename (a new inode), leaves no temporary file,
    and the log's bytes are unchanged."""
    target = tmp_path / "out" / "report.html"
    target.parent.mkdir()
    target.write_text("an old report")
    inode = target.stat().st_ino
    before = log_bytes(log)
    result = sagalog("report", "o-1", "--html", str(target), "--db", str(log))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{target}\n"
    assert target.stat().st_ino != inode
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert names(target.parent) == ["report.html"]
    assert log_bytes(log) == before


@pytest.mark.parametrize(("arguments", "message"), [
    (["report", "nope"], "no saga or run 'nope' in this log"),
    (["report", "o-1", "--html", "/nonexistent-dir/r.html"],
     "/nonexistent-dir/r.html: cannot write the report"),
])
def test_bad_input_is_one_line_exit_2_and_no_file(
    log: Path, tmp_path: Path, arguments: list[str], message: str,
) -> None:
    target = tmp_path / "keep.html"
    target.write_text("the previous report")
    if "--html" not in arguments:
        arguments = [*arguments, "--html", str(target)]
    result = sagalog(*arguments, "--db", str(log))
    assert result.returncode == 2
    assert result.stderr.startswith(f"sagalog: error: {message}")
    assert result.stderr.count("\n") == 1
    assert target.read_text() == "the previous report"
    assert names(tmp_path) == ["keep.html"]


def test_write_report_leaves_no_temporary_file_when_the_rename_fails(tmp_path: Path) -> None:
    """A target that is a directory cannot be replaced: the error is named, nothing is left."""
    (tmp_path / "taken.html").mkdir()
    with pytest.raises(SagalogError, match=r"taken\.html: cannot write the report"):
        write_report(tmp_path / "taken.html", "<p>x</p>")
    assert names(tmp_path) == ["taken.html"]


# --- a real browser ------------------------------------------------------------------------

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--enable-logging=stderr",
                  "--v=0", "--dump-dom")


def chromium() -> str:
    """The browser, or a skip (a failure when SAGALOG_REQUIRE_BROWSER=1, as in CI)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("SAGALOG_REQUIRE_BROWSER") == "1":
            pytest.fail("chromium is not installed but SAGALOG_REQUIRE_BROWSER=1")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return found


def open_in_browser(page: Path, profile: Path) -> tuple[str, list[str]]:
    """The DOM after the page's script ran, and every console message the page logged."""
    result = subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", page.resolve().as_uri()],
        capture_output=True, text=True, timeout=90, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    console = [line for line in result.stderr.splitlines()
               if ":CONSOLE" in line or "Uncaught" in line]
    return result.stdout, console


def test_a_browser_loads_the_page_without_console_messages_and_shows_the_steps(
    log: Path, tmp_path: Path,
) -> None:
    """From a file:// URL: the script ran (body data-ready = bars drawn), no console output.

    The control page (the same report plus one remote image) proves both that console
    messages are caught and that the page's policy blocks any fetch.
    """
    report = tmp_path / "report.html"
    result = sagalog("report", "o-2", "--html", str(report), "--db", str(log))
    assert result.returncode == 0, result.stderr
    dom, console = open_in_browser(report, tmp_path / "profile")
    assert console == []
    with open_store(str(log)) as store:
        commands = steps_of(read_timeline(store, "o-2"), ORDER_SAGA)
    page = _Page(dom)
    (body,) = [element for element in page.elements if element["tag"] == "body"]
    assert body["data-ready"] == str(len(commands))
    drawn = [int(element["data-step"]) for element in page.having("data-step")]
    assert sorted(drawn) == [step.command.record.position for step in commands]
    assert "steps drawn; click a bar" in dom  # written by the page's script

    control = tmp_path / "control.html"
    control.write_text(report.read_text(encoding="utf-8").replace(
        "<h1>", '<img src="https://example.invalid/pixel.png" alt=""><h1>'), encoding="utf-8")
    _, console = open_in_browser(control, tmp_path / "profile2")
    assert any("Content Security Policy" in line for line in console), console
