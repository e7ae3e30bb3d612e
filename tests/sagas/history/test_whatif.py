"""What-if: a real showcase log replayed through the current and through changed saga code."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sagalog.actors import RetryPolicy
from sagalog.events.orders import OrderPlaced
from sagalog.events.sagas import SagaDecided
from sagalog.sagas.catalog import DEFINITIONS, definition_of_run
from sagalog.sagas.history import (
    Difference,
    SagaFold,
    WhatIfPrinter,
    source_positions,
    what_if,
)
from sagalog.sagas.orders import ORDER_SAGA
from sagalog.store import export_lines, open_store
from tests.sagas.test_master import run_pipeline
from tests.support import log_bytes

RUN = Path(__file__).resolve().parents[3] / "run.py"


def sagalog(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(RUN), "-q", *arguments], capture_output=True,
                          text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def showcase(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The showcase's log: orders (some failing and undone), jobs, pipelines, master, ETL."""
    path = tmp_path_factory.mktemp("whatif") / "showcase.db"
    made = sagalog("--db", str(path))
    assert made.returncode == 0, made.stdout + made.stderr
    return path


def _with_order(changed: object) -> dict[str, object]:
    return {**DEFINITIONS, "order": changed}


def _payment_failed(path: Path) -> set[str]:
    with open_store(path) as store:
        return {record.correlation_id or "" for record in store.read_all(types=["PaymentFailed"])}


def test_the_current_code_decides_as_recorded_through_the_cli(showcase: Path) -> None:
    """An unchanged log reports nothing, exit 0, says how much it compared, writes nothing."""
    before = log_bytes(showcase)
    result = sagalog("what-if", "--db", str(showcase))
    assert log_bytes(showcase) == before
    assert result.returncode == 0, result.stdout + result.stderr
    (line,) = result.stdout.splitlines()
    assert line.startswith("no decision would differ: checked ")
    assert " recorded decisions of 23 sagas " in line
    assert result.stderr == ""  # piped: no progress bar


def test_every_saga_kind_is_compared(showcase: Path) -> None:
    """The showcase's decisions come from every built-in saga, and each is compared."""
    with open_store(showcase) as store:
        report = what_if(store, DEFINITIONS, configure=definition_of_run)
    decisions = _decisions(showcase)
    assert report.ok, report.text()
    assert {decided.saga for decided in decisions} == set(DEFINITIONS)
    assert report.recorded == len(decisions)


def test_a_master_run_is_replayed_with_the_policies_of_its_own_configuration(
        tmp_path: Path) -> None:
    """A run whose config retries integration 5 times, 10 s apart, matches only so."""
    run_pipeline(tmp_path, step=10.0, fail={"integration": 2},
                 stages={"integration": {"retry": {"attempts": 5, "delay_s": 10}}})
    with open_store(tmp_path / "log.db") as store:
        configured = what_if(store, DEFINITIONS, configure=definition_of_run)
        defaults = what_if(store, DEFINITIONS)
    assert configured.ok, configured.text()
    first = defaults.differences[0]
    assert first.recorded is not None
    assert first.new is not None
    assert first.recorded.reason.startswith("retry integration in 10 s (try 2 of 5)")
    assert first.new.reason.startswith("retry integration in 30 s (try 2 of 3)")


def _decisions(path: Path) -> list[SagaDecided]:
    with open_store(path) as store:
        return [record.data for record in store.read_all(types=[SagaDecided])
                if isinstance(record.data, SagaDecided)]


def test_a_retry_policy_change_shows_where_payment_failures_would_retry(showcase: Path) -> None:
    """Payment with 2 tries: each failed payment would be retried instead of undone."""
    stage = ORDER_SAGA.stages[1]
    steps = tuple(dataclasses.replace(step, retry=RetryPolicy(attempts=2, delay=1.0))
                  if step.name == "payment" else step for step in stage.steps)
    changed = dataclasses.replace(
        ORDER_SAGA, stages=(ORDER_SAGA.stages[0], dataclasses.replace(stage, steps=steps)))
    with open_store(showcase) as store:
        report = what_if(store, _with_order(changed), configure=definition_of_run)  # type: ignore[arg-type]
    failed = _payment_failed(showcase)
    assert failed, "the showcase's failure plan fails some payments"
    assert {d.saga for d in report.differences} == {"order"}
    assert {d.saga_id for d in report.differences} == failed
    for saga_id in failed:
        first = next(d for d in report.differences if d.saga_id == saga_id)
        assert first.trigger_type == "PaymentFailed"
        assert first.recorded is not None
        assert first.new is not None
        assert first.recorded.rule == "compensate"
        assert first.new.rule == "retry"
        assert first.new.commands == ("RetryStep",)
        assert first.new.reason.startswith("retry payment in 1 s (try 2 of 2)")
    text = report.text()
    assert text.splitlines()[-1].startswith(f"{len(report.differences)} decisions would differ")
    assert "  now:      retry: retry payment in 1 s" in text


def test_a_removed_stage_changes_every_order_from_its_start(showcase: Path) -> None:
    """Without the product check every order starts with payment: one difference each."""
    changed = dataclasses.replace(ORDER_SAGA, stages=ORDER_SAGA.stages[1:])
    with open_store(showcase) as store:
        report = what_if(store, _with_order(changed), configure=definition_of_run)  # type: ignore[arg-type]
        orders = {record.correlation_id for record in store.read_all(types=[OrderPlaced])}
    starts = [d for d in report.differences if d.trigger_type == "OrderPlaced"]
    assert {d.saga_id for d in starts} == orders
    for difference in starts:
        assert difference.recorded is not None
        assert difference.new is not None
        assert difference.recorded.reason.startswith("started product because OrderPlaced")
        assert difference.recorded.commands == ("CheckProduct",)
        assert difference.new.reason.startswith("started payment, inventory, shipping")
    # The product answers now reach no step: their recorded decisions have no counterpart.
    orphans = [d for d in report.differences if d.trigger_type == "ProductConfirmed"]
    assert orphans
    assert all(d.new is None and d.recorded is not None for d in orphans)


def test_an_edited_decision_in_an_imported_log_fails_the_check(
        showcase: Path, tmp_path: Path) -> None:
    """Export, change one recorded reason, import into a new log: exit 1, naming it."""
    with open_store(showcase) as store:
        lines = list(export_lines(store))  # what `run.py export` writes
    index = next(i for i, line in enumerate(lines)
                 if json.loads(line)["type"] == "SagaDecided")
    record = json.loads(lines[index])
    record["data"]["reason"] += " (edited)"
    lines[index] = json.dumps(record)
    edited = tmp_path / "edited.jsonl"
    edited.write_text("\n".join(lines) + "\n", encoding="utf-8")
    target = tmp_path / "imported.db"
    imported = sagalog("import", str(edited), "--db", str(target))
    assert imported.returncode == 0, imported.stderr
    result = sagalog("what-if", "--db", str(target))
    assert result.returncode == 1, result.stdout + result.stderr
    data = record["data"]
    commands = ", ".join(data["commands"]) or "no command"
    where = f"{data['saga']} {data['saga_id']} on {data['trigger_type']} at "
    assert result.stdout.splitlines()[:3] == [
        f"{where}{data['trigger_position']}:",
        f"  recorded: {data['rule']}: {data['reason']} -> {commands}",
        f"  now:      {data['rule']}: {data['reason'].removesuffix(' (edited)')} -> {commands}",
    ]
    assert result.stdout.splitlines()[-1].startswith("1 decisions would differ")
    as_json = sagalog("what-if", "--db", str(target), "--format", "json")
    assert as_json.returncode == 1, as_json.stderr  # still a failing CI check
    document = json.loads(as_json.stdout)
    assert list(document) == ["differences", "summary"]
    (difference,) = document["differences"]
    decision = {"rule": data["rule"], "reason": data["reason"], "commands": data["commands"]}
    assert difference == {
        "saga": data["saga"], "saga_id": data["saga_id"],
        "trigger_position": data["trigger_position"], "trigger_type": data["trigger_type"],
        "recorded": decision,
        "now": {**decision, "reason": data["reason"].removesuffix(" (edited)")}}
    summary = document["summary"]
    assert (summary["ok"], summary["differing"], summary["source_positions"]) == (False, 1, None)
    assert summary["recorded_decisions"] > 0


def test_a_trigger_the_saga_has_not_decided_on_yet_is_not_a_difference(
        showcase: Path, tmp_path: Path) -> None:
    """On a live log an order just placed has no decision yet: it is counted, not reported."""
    copy = tmp_path / "live.db"
    shutil.copy(showcase, copy)
    with open_store(copy) as store:
        store.append("order-late", [OrderPlaced(order_id="late", product_id="p", amount_cents=100)],
                     correlation_id="late")
        report = what_if(store, DEFINITIONS, configure=definition_of_run)
    assert report.ok, report.text()
    assert report.unjudged == 1
    assert "1 newer triggers not decided by their saga yet" in report.text()


def test_the_fold_keeps_only_the_newest_ended_sagas(showcase: Path) -> None:
    """Memory is bounded: ended sagas beyond the kept few are handed on and dropped."""
    evicted: list[object] = []
    fold = SagaFold(DEFINITIONS, definition_of_run, on_evict=evicted.append, keep_ended=3)
    with open_store(showcase) as store:
        for record in store.read_all(types=fold.types):
            fold.fold(record)
            assert len(fold.ended) <= 3
    assert len(evicted) + len(fold.sagas()) == 23
    assert not fold.running


def test_a_bundle_replays_at_its_source_positions(showcase: Path, tmp_path: Path) -> None:
    """A bundle of a failed order matches its recorded decisions; changed code still differs.

    Its records are renumbered from 1, but the decisions' reasons and the payloads name the
    source log's positions, so what-if feeds each record at its source position.
    """
    (saga_id, *_) = sorted(_payment_failed(showcase))
    bundle = tmp_path / "incident.db"
    made = sagalog("bundle", saga_id, "-o", str(bundle), "--db", str(showcase))
    assert made.returncode == 0, made.stderr
    result = sagalog("what-if", "--db", str(bundle))
    assert result.returncode == 0, result.stdout
    header, verdict = result.stdout.splitlines()
    assert header.startswith("a bundle: positions below are the source log's (")
    assert verdict.startswith("no decision would differ: checked ")
    assert " of 1 sagas " in verdict
    as_json = sagalog("what-if", "--db", str(bundle), "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    summary = json.loads(as_json.stdout)["summary"]
    assert (summary["ok"], summary["sagas"]) == (True, 1)
    assert f"({summary['source_positions'][0]} to {summary['source_positions'][1]})" in header
    changed = dataclasses.replace(ORDER_SAGA, stages=ORDER_SAGA.stages[1:])
    with open_store(bundle, read_only=True) as store:
        positions = source_positions(store)
        report = what_if(store, _with_order(changed), configure=definition_of_run)  # type: ignore[arg-type]
    assert positions is not None
    source = positions.range
    assert source[0] > 1
    assert {d.saga_id for d in report.differences} == {saga_id}
    assert report.differences[0].trigger_position == source[0]


def test_differences_can_be_handed_on_as_found_instead_of_kept(showcase: Path) -> None:
    """With ``on_difference`` the report keeps none, counts all, and each saga's come in order."""
    changed = dataclasses.replace(ORDER_SAGA, stages=ORDER_SAGA.stages[1:])
    with open_store(showcase, read_only=True) as store:
        kept = what_if(store, _with_order(changed), configure=definition_of_run)  # type: ignore[arg-type]
        handed: list[Difference] = []
        streamed = what_if(store, _with_order(changed), configure=definition_of_run,  # type: ignore[arg-type]
                           on_difference=handed.append)
    assert kept.differing == len(kept.differences) > 0
    assert streamed.differences == []
    assert streamed.differing == len(handed) == kept.differing
    assert sorted(handed, key=lambda d: d.trigger_position) == kept.differences
    for saga_id in {d.saga_id for d in handed}:
        positions = [d.trigger_position for d in handed if d.saga_id == saga_id]
        assert positions == sorted(positions)
    assert not streamed.ok
    assert streamed.text() == kept.text().splitlines()[-1]


@pytest.mark.parametrize("format_", ["json", "text"])
def test_the_printer_streams_one_document_of_every_difference(showcase: Path,
                                                              format_: str) -> None:
    """Handed on as found or kept in the report, the differences print the same."""
    changed = dataclasses.replace(ORDER_SAGA, stages=ORDER_SAGA.stages[1:])
    outputs = []
    for streaming in (True, False):
        chunks: list[str] = []
        printer = WhatIfPrinter(format_, chunks.append)  # type: ignore[arg-type]
        with open_store(showcase, read_only=True) as store:
            report = what_if(store, _with_order(changed), configure=definition_of_run,  # type: ignore[arg-type]
                             on_difference=printer.difference if streaming else None)
        printer.finish(report)
        outputs.append("".join(chunks))
        differing = report.differing
    streamed, kept = outputs
    assert differing > 1
    if format_ == "text":
        assert streamed.count("\n  recorded: ") == differing
        assert sorted(streamed.split("\n")) == sorted(kept.split("\n"))
        assert kept.splitlines()[-1].startswith(f"{differing} decisions would differ")
        return
    documents = [json.loads(output) for output in outputs]
    assert len(documents[0]["differences"]) == differing
    key = lambda d: (d["trigger_position"], d["saga_id"], json.dumps(d))  # noqa: E731
    assert sorted(documents[0]["differences"], key=key) == sorted(
        documents[1]["differences"], key=key)
    assert documents[0]["summary"] == documents[1]["summary"]
    assert documents[0]["summary"]["differing"] == differing
    same = what_if(showcase, DEFINITIONS, configure=definition_of_run)  # a target: opened read-only
    chunks = []
    printer = WhatIfPrinter("json", chunks.append)
    printer.finish(same)
    assert json.loads("".join(chunks))["differences"] == []
