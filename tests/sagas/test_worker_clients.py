"""Writing commands beside a running worker are its clients: every effect happens once.

Real processes, as a user runs them: ``run.py worker`` holds the log, ``run.py order``,
``resume`` and the workflow commands started beside it append and wait, and the worker's
actors run every handler, the demo services applying the failures the ``order`` flags decided (the
decision travels in the log, with each order's start). The demo ledger shows each effect
exactly once, under the key of the command that caused it. The worker is also SIGKILLed
mid-run and restarted while a client waits.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from sagalog.actors import Ledger
from sagalog.events import Envelope, Message
from sagalog.sagas.orders import SERVICES, TERMINAL_TYPES, FailurePlan
from sagalog.store import open_store
from tests.sagas.pipeline_support import break_schema, config_of, copy_example
from tests.sagas.procs.master_worker import write_config
from tests.support import LineReader

RUN = Path(__file__).resolve().parents[2] / "run.py"
ETL_EXAMPLE = RUN.parent / "docs" / "examples" / "etl"
DEADLINE_S = 60.0
ORDERS = 20
FAIL_RATE, PLAN_SEED = 0.2, 5
FLAGS = ("--fail-rate", str(FAIL_RATE), "--seed", str(PLAN_SEED))
PLAN = FailurePlan(rate=FAIL_RATE, seed=PLAN_SEED)

COMMAND = {"payment": "ChargePayment", "inventory": "ReserveInventory",
           "shipping": "ScheduleShipping"}
SUCCESS = {"payment": "PaymentCharged", "inventory": "InventoryReserved",
           "shipping": "ShippingScheduled"}
UNDO = {"payment": "RefundPayment", "inventory": "RestoreInventory",
        "shipping": "CancelShipping"}


def start_worker(db: Path) -> subprocess.Popen[bytes]:
    """``run.py worker`` on ``db``, returned once it holds the lock and its actors run."""
    proc = subprocess.Popen([sys.executable, str(RUN), "-q", "worker", "--db", str(db)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    line = LineReader(proc.stdout).next_line(time.monotonic() + DEADLINE_S)
    assert line == f"worker running on {db} (PID {proc.pid})", line
    return proc


@contextlib.contextmanager
def running_worker(db: Path) -> Iterator[subprocess.Popen[bytes]]:
    proc = start_worker(db)
    try:
        yield proc
    finally:
        end(proc)


def end(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)
    if proc.stdout is not None:
        proc.stdout.close()


def cli(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``run.py ARGS`` to completion, not quiet: the role line and the log lines show."""
    return subprocess.run([sys.executable, str(RUN), *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=DEADLINE_S, check=False)


def check_orders_and_ledger(db: Path) -> dict[str, str]:
    """Each order ended once, as the recorded plan says; each effect is in the ledger once.

    Returns order id -> terminal type.
    """
    with open_store(db, read_only=True) as store:
        assert store.verify().ok
        records = list(store.read_all())
    by_order: defaultdict[str | None, list[Envelope[Message]]] = defaultdict(list)
    for record in records:
        by_order[record.correlation_id].append(record)
    orders = {order for order, own in by_order.items()
              if any(r.type == "OrderPlaced" for r in own)}
    assert len(orders) == ORDERS
    outcomes: dict[str, str] = {}
    expected_effects: set[tuple[str, str, str]] = set()
    for order in orders:
        own = by_order[order]

        def of(type_name: str, own: list[Envelope[Message]] = own) -> list[Envelope[Message]]:
            return [r for r in own if r.type == type_name]

        (terminal,) = [r for r in own if r.type in TERMINAL_TYPES]
        outcomes[order] = terminal.type
        failing = {service for service in SERVICES if PLAN.fails(service, order)}
        (decided,) = of("DemoFailuresPlanned")  # the flags' decision, kept with the start
        assert set(decided.data.failing) == failing  # type: ignore[attr-defined]
        assert terminal.type == ("OrderFailed" if failing else "OrderCompleted"), order
        succeeded = {s for s in SERVICES if of(SUCCESS[s])}
        assert succeeded == set(SERVICES) - failing, order
        for service in succeeded:
            (command,) = of(COMMAND[service])
            expected_effects.add((service, str(command.event_id), "done"))
        for service in SERVICES:
            for command in of(UNDO[service]):
                expected_effects.add((service, str(command.event_id), "undone"))
        undone = {s for s in SERVICES if of(UNDO[s])}
        assert undone == (succeeded if failing else set()), order
    with Ledger(f"{db}.ledger") as ledger:
        assert ledger.duplicates() == []
        effects = [(e.adapter, e.idempotency_key, e.effect) for e in ledger.effects()]
    assert sorted(effects) == sorted(expected_effects)  # each effect once, none missing
    return outcomes


def test_orders_placed_beside_a_worker_run_there_once(tmp_path: Path) -> None:
    """`order --count 20` beside a worker is its client; the worker runs every handler,
    failing the orders the flags chose; `resume` beside it waits as a client too."""
    db = tmp_path / "orders.db"
    with running_worker(db) as worker:
        placed = cli("order", "--db", db, "--count", ORDERS, *FLAGS, cwd=tmp_path)
        assert placed.returncode == 0, placed.stderr[-3000:]
        assert (f"sagalog: a worker (PID {worker.pid}) holds the log: placing orders as a "
                "client") in placed.stderr.splitlines()
        assert "runtime started as a client" in placed.stderr
        assert f"{'total':<22}{ORDERS:>8}" in placed.stdout
        resumed = cli("resume", "--db", db, cwd=tmp_path)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        assert resumed.stdout.startswith("0 orders in flight"), resumed.stdout
        assert (f"sagalog: a worker (PID {worker.pid}) holds the log: resuming the log's "
                "unfinished runs as a client") in resumed.stderr.splitlines()
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=DEADLINE_S) == 0
    outcomes = check_orders_and_ledger(db)
    assert set(outcomes.values()) == {"OrderCompleted", "OrderFailed"}  # the plan applied


def test_an_order_command_without_a_worker_runs_the_handlers_itself(tmp_path: Path) -> None:
    """No worker on the log: `order` takes the lock and runs the handlers (the orders end
    with no other process on the log), and says so."""
    placed = cli("order", "--db", "orders.db", "--count", ORDERS, *FLAGS, cwd=tmp_path)
    assert placed.returncode == 0, placed.stderr[-3000:]
    (said,) = [line for line in placed.stderr.splitlines() if line.startswith("sagalog: ")]
    assert said.startswith("sagalog: no worker holds the log: placing orders, running the "
                           "handlers in this process (PID "), said
    check_orders_and_ledger(tmp_path / "orders.db")


def test_a_client_gets_its_outcomes_across_a_worker_killed_and_restarted(
    tmp_path: Path,
) -> None:
    """SIGKILL the worker once the first order ended, then start another: the client
    `order` keeps waiting and gets every outcome; every order still ends once."""
    db = tmp_path / "orders.db"
    first = start_worker(db)
    with (tmp_path / "order.err").open("wb") as stderr:
        client = subprocess.Popen(
            [sys.executable, str(RUN), "order", "--db", str(db), "--count", str(ORDERS),
             "--concurrency", "2", *FLAGS],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr)
    try:
        with open_store(db, read_only=True, poll_interval=0.005) as store:
            terminals = store.subscribe(1, types=list(TERMINAL_TYPES))
            try:
                assert terminals.next_batch(1, timeout=DEADLINE_S), "no order ended in time"
            finally:
                terminals.close()
            first.send_signal(signal.SIGKILL)
            assert first.wait(timeout=10) == -signal.SIGKILL
            ended = len(list(store.read_all(types=list(TERMINAL_TYPES))))
        assert ended < ORDERS, "the worker was killed after every order had ended"
        assert client.poll() is None  # no worker now: the client waits
        second = start_worker(db)  # the kernel released the first one's lock
        try:
            out, _ = client.communicate(timeout=DEADLINE_S)
            assert second.poll() is None
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=DEADLINE_S) == 0
        finally:
            end(second)
    finally:
        end(first)
        if client.poll() is None:
            client.kill()
        client.wait(timeout=10)
        if client.stdout is not None:
            client.stdout.close()
    said = (tmp_path / "order.err").read_text()
    assert client.returncode == 0, said[-3000:]
    assert f"a worker (PID {first.pid}) holds the log: placing orders as a client" in said
    assert f"{'total':<22}{ORDERS:>8}" in out.decode()
    check_orders_and_ledger(db)


def test_the_workflow_commands_beside_a_worker_run_as_its_clients(tmp_path: Path) -> None:
    """data-pipeline, etl (serving its site from the client process) and master-pipeline
    beside a worker: each is a client, and prints the outcome the worker's actors wrote."""
    project = copy_example(tmp_path)
    etl_config = json.loads((ETL_EXAMPLE / "sources.json").read_text())
    etl_config["download_dir"] = str(tmp_path / "downloads")
    etl_config["quarantine_dir"] = str(tmp_path / "quarantine")
    (tmp_path / "sources.json").write_text(json.dumps(etl_config))
    master_config = write_config(tmp_path / "master")
    db = tmp_path / "log.db"
    with running_worker(db) as worker:
        client = f"sagalog: a worker (PID {worker.pid}) holds the log: "

        ran = cli("data-pipeline", "--db", db, "--config", config_of(project), cwd=tmp_path)
        assert ran.returncode == 0, ran.stderr[-3000:]
        assert f"{client}running the data pipeline as a client" in ran.stderr.splitlines()
        assert "finished: success" in ran.stdout
        break_schema(project)
        ran = cli("data-pipeline", "--db", db, "--config", config_of(project), cwd=tmp_path)
        assert ran.returncode == 0, ran.stderr[-3000:]
        assert "collector  failed, rollback SUCCESS: 2 of 3 ok" in ran.stdout

        ran = cli("etl", "--db", db, "--config", tmp_path / "sources.json",
                  "--serve", ETL_EXAMPLE / "site", cwd=tmp_path)
        assert ran.returncode == 0, ran.stderr[-3000:]
        assert f"{client}running the ETL sources as a client" in ran.stderr.splitlines()
        assert ran.stdout.count(": updated (no_manifest_record") == len(etl_config["sources"])

        ran = cli("master-pipeline", "--db", db, "--config", master_config, "--maintenance",
                  cwd=tmp_path)
        assert ran.returncode == 0, ran.stderr[-3000:]
        assert f"{client}running the master pipeline as a client" in ran.stderr.splitlines()
        assert ran.stdout.splitlines()[0].endswith(": completed")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=DEADLINE_S) == 0
