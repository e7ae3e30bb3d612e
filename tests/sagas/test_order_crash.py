"""Crash safety of the order saga, run through the command line as a user runs it.

The first test places 200 orders with ``run.py order`` (about a third with an injected
service failure), SIGKILLs the process at random moments, runs ``run.py resume`` after
each kill (and kills that too, round after round), then lets a last ``resume`` finish.
After every kill and at the end it checks the log and the demo services' ledger: each
order ends exactly once, as its failure plan says, no effect happens twice, and every
compensation undoes a recorded success.

The second test checks that a log imported from any prefix of an export, then resumed
with the same flags, ends each order as the full run ended it: prefixes that end
between two appends, and prefixes that end inside one (a saga's decision kept, the
commands or the terminal event written with it cut off).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sagalog.actors import Ledger
from sagalog.sagas.orders import SERVICES, TERMINAL_TYPES, FailurePlan
from sagalog.store import open_store
from tests.support import wait_for_wal_write

pytestmark = pytest.mark.slow

RUN = Path(__file__).resolve().parents[2] / "run.py"
SEED = 20240925
ORDERS = 200
CONCURRENCY = 32
# Each of the three services fails an order with this probability, so an order fails
# with 1 - (1 - 0.126) ** 3, about a third.
FAIL_RATE = 0.126
PLAN_SEED = 11
KILLS = 8
MAX_ROUNDS = 20
ROUND_DEADLINE_S = 30.0
FINAL_DEADLINE_S = 60.0

COMMAND = {"payment": "ChargePayment", "inventory": "ReserveInventory",
           "shipping": "ScheduleShipping"}
SUCCESS = {"payment": "PaymentCharged", "inventory": "InventoryReserved",
           "shipping": "ShippingScheduled"}
FAILURE = {"payment": "PaymentFailed", "inventory": "InventoryFailed",
           "shipping": "ShippingFailed"}
UNDO = {"payment": "RefundPayment", "inventory": "RestoreInventory",
        "shipping": "CancelShipping"}
UNDONE = {"payment": "PaymentRefunded", "inventory": "InventoryRestored",
          "shipping": "ShippingCancelled"}
SERVICE_OF = {name: service for table in (COMMAND, SUCCESS, FAILURE, UNDO, UNDONE)
              for service, name in table.items()}


def failure_flags(rate, seed):
    return ["--fail-rate", str(rate), "--seed", str(seed)]


def cli(*args, cwd, timeout=60.0, quiet=True):
    """Run ``run.py [-q] ARGS`` to completion (a TimeoutExpired kills it past ``timeout``)."""
    return subprocess.run(
        [sys.executable, str(RUN), *(["-q"] if quiet else []), *args], cwd=cwd,
        capture_output=True, text=True, timeout=timeout, check=False,
    )


def head(db):
    """The log's last position, read without writing (0 before the file or table exists)."""
    try:
        with contextlib.closing(
            sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5.0)
        ) as connection:
            return connection.execute("SELECT coalesce(max(position), 0) FROM events").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def start(db, command, stderr, *extra):
    return subprocess.Popen(
        [sys.executable, str(RUN), command, "--db", str(db), *extra,
         *failure_flags(FAIL_RATE, PLAN_SEED)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr, bufsize=0,
    )


def complaints(text):
    """Lines of a child's stderr that are errors, warnings or a traceback."""
    return [line for line in text.splitlines()
            if "Traceback" in line or " ERROR " in line or " WARNING " in line]


def check_stderr(stderr_path):
    """The child logged no error, warning or traceback (a re-run gave the same outputs)."""
    text = stderr_path.read_text()
    assert complaints(text) == [], text[-3000:]


def kill_round(db, command, extra, grow_by, stderr_path, *, mid_write):
    """Start ``command``; SIGKILL it once the log grew by ``grow_by`` records.

    With ``mid_write``, the kill then waits for the next change of the WAL file, so it
    lands while a transaction is being written. Returns True if the child was killed,
    False if it finished its work (exit 0) before the log grew that much.
    """
    target = head(db) + grow_by
    with stderr_path.open("wb") as stderr:
        proc = start(db, command, stderr, *extra)
        try:
            deadline = time.monotonic() + ROUND_DEADLINE_S
            while head(db) < target:
                if proc.poll() is not None:
                    assert proc.returncode == 0, stderr_path.read_text()[-3000:]
                    return False
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{command}: the log did not reach {target} in time")
                time.sleep(0.001)  # poll interval: the child writes in its own time
            if mid_write:
                wait_for_wal_write(db, deadline)
            os.kill(proc.pid, signal.SIGKILL)
            code = proc.wait(timeout=10)
            assert code in {-signal.SIGKILL, 0}, stderr_path.read_text()[-3000:]
            killed = code == -signal.SIGKILL
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
            proc.stdout.close()
    check_stderr(stderr_path)
    return killed


def run_to_end(db, command, extra, stderr_path):
    """Run ``command`` until it exits by itself; return its stdout."""
    with stderr_path.open("wb") as stderr:
        proc = start(db, command, stderr, *extra)
        try:
            out, _ = proc.communicate(timeout=FINAL_DEADLINE_S)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
            proc.stdout.close()
    assert proc.returncode == 0, stderr_path.read_text()[-3000:]
    check_stderr(stderr_path)
    return out.decode()


@dataclass
class Orders:
    """The log and the ledger, grouped by order."""

    records: list
    placed: list = field(default_factory=list)
    terminals: dict = field(default_factory=lambda: defaultdict(list))
    by_order: dict = field(default_factory=lambda: defaultdict(list))
    ledger: list = field(default_factory=list)
    duplicates: list = field(default_factory=list)

    def of(self, order_id, type_name):
        return [r for r in self.by_order[order_id] if r.type == type_name]

    @property
    def in_flight(self):
        return [order for order in self.placed if not self.terminals[order]]


def inspect(db):
    """Read the log and the ledger; assert what must hold at any moment, even just after a kill.

    The chain is intact, positions are gapless, no event id is recorded twice, nothing
    died or became a dead letter, no order ended twice, no ledger key was applied twice,
    and every compensation (in the log and in the ledger) undoes a success recorded
    before it, for the same service and order.
    """
    with open_store(db) as store:
        report = store.verify()
        records = list(store.read_all())
    assert report.ok, str(report)
    assert report.records == len(records)
    assert [r.position for r in records] == list(range(1, len(records) + 1))
    twice = [event_id for event_id, n in Counter(r.event_id for r in records).items() if n > 1]
    assert twice == [], f"event ids recorded twice: {twice}"
    strangers = [(r.position, r.type, r.data) for r in records
                 if r.type in {"ActorDied", "HandlerFailed"}]
    assert strangers == [], f"actor deaths or dead letters: {strangers}"

    orders = Orders(records)
    for record in records:
        orders.by_order[record.correlation_id].append(record)
        if record.type == "OrderPlaced":
            orders.placed.append(record.correlation_id)
        elif record.type in TERMINAL_TYPES:
            orders.terminals[record.correlation_id].append(record)
    assert len(set(orders.placed)) == len(orders.placed), "an order was placed twice"
    assert set(orders.by_order) <= set(orders.placed), "records of an order never placed"
    ended_twice = {o: [r.type for r in t] for o, t in orders.terminals.items() if len(t) > 1}
    assert ended_twice == {}, f"orders with more than one terminal event: {ended_twice}"

    for order_id in orders.placed:
        for service in SERVICES:
            # One command per service and order, one result at most, one undo at most.
            for table in (COMMAND, UNDO, UNDONE):
                assert len(orders.of(order_id, table[service])) <= 1, (order_id, table[service])
            results = orders.of(order_id, SUCCESS[service]) + orders.of(order_id, FAILURE[service])
            assert len(results) <= 1, (order_id, [r.type for r in results])
            undo = orders.of(order_id, UNDO[service])
            if undo:
                success = orders.of(order_id, SUCCESS[service])
                assert success, f"{order_id}: {UNDO[service]} without {SUCCESS[service]}"
                assert success[0].position < undo[0].position

    with Ledger(f"{db}.ledger") as ledger:
        orders.duplicates = ledger.duplicates()
        orders.ledger = ledger.effects()
    assert orders.duplicates == [], f"effects applied twice: {orders.duplicates}"
    entries = Counter((e.adapter, e.detail["order_id"], e.effect) for e in orders.ledger)
    assert [key for key, n in entries.items() if n > 1] == [], "an effect under two keys"
    done = {(e.adapter, e.detail["order_id"]): e for e in orders.ledger if e.effect == "done"}
    for entry in orders.ledger:
        assert entry.effect in {"done", "undone"}, entry
        if entry.effect == "undone":
            did = done.get((entry.adapter, entry.detail["order_id"]))
            assert did is not None, f"undone without done: {entry}"
            assert did.id < entry.id, (did, entry)
    return orders


def unrecorded_effects(orders):
    """Effects in the ledger whose result the log does not hold (yet)."""
    logged = {(SERVICE_OF[r.type], r.correlation_id, "done") for r in orders.records
              if r.type in SUCCESS.values()}
    logged |= {(SERVICE_OF[r.type], r.correlation_id, "undone") for r in orders.records
               if r.type in UNDONE.values()}
    return {(e.adapter, e.detail["order_id"], e.effect) for e in orders.ledger} - logged


def check_final(orders, plan):
    """Assert every order ended exactly once, as the plan says, with every effect in place."""
    assert len(orders.placed) == ORDERS
    assert orders.in_flight == []
    effects = {(e.adapter, e.detail["order_id"], e.effect): e for e in orders.ledger}
    for order_id in orders.placed:
        (terminal,) = orders.terminals[order_id]
        failing = {service for service in SERVICES if plan.fails(service, order_id)}
        succeeded = {s for s in SERVICES if orders.of(order_id, SUCCESS[s])}
        undone = {s for s in SERVICES if orders.of(order_id, UNDO[s])}
        assert succeeded == set(SERVICES) - failing, order_id
        assert {s for s in SERVICES if orders.of(order_id, FAILURE[s])} == failing, order_id
        if failing:
            assert terminal.type == "OrderFailed", (order_id, failing, terminal.type)
            # Every success was undone, and the undoing was confirmed.
            assert undone == succeeded, order_id
            assert {s for s in SERVICES if orders.of(order_id, UNDONE[s])} == succeeded
            assert set(terminal.data.compensated) == succeeded, (order_id, terminal.data)
        else:
            assert terminal.type == "OrderCompleted", (order_id, terminal.type)
            assert undone == set(), f"{order_id} completed and was compensated"
        for service in SERVICES:
            # The ledger holds exactly the effects the log records, under the keys of the
            # commands that caused them: none applied and then lost in a crash.
            did = effects.get((service, order_id, "done"))
            if service in succeeded:
                (command,) = orders.of(order_id, COMMAND[service])
                assert did is not None, (service, order_id)
                assert did.idempotency_key == str(command.event_id)
            else:
                assert did is None, did
            was_undone = effects.get((service, order_id, "undone"))
            if service in undone:
                (command,) = orders.of(order_id, UNDO[service])
                assert was_undone is not None
                assert was_undone.idempotency_key == str(command.event_id)
            else:
                assert was_undone is None, was_undone
    assert len(orders.ledger) == len(effects)


def test_orders_sigkilled_and_resumed_end_once_with_no_effect_twice(tmp_path):
    """200 orders through SIGKILLed `order` and `resume` runs each end once, no effect twice."""
    db = tmp_path / "orders.db"
    plan = FailurePlan(rate=FAIL_RATE, seed=PLAN_SEED)
    rng = random.Random(SEED)
    in_flight_at_kill = []
    effects_not_logged = []
    previous = []
    kills = 0
    for round_no in range(MAX_ROUNDS):
        if kills >= KILLS:
            break
        before = inspect(db) if db.exists() else None
        placed = len(before.placed) if before else 0
        in_flight = len(before.in_flight) if before else 0
        if placed < ORDERS and (round_no % 2 == 0 or in_flight == 0):
            # A new `order` also resumes what is in flight. An order takes about 15
            # records, so the kill comes well before the child could finish.
            left = ORDERS - placed
            command, extra = "order", ["--count", str(left), "--concurrency", str(CONCURRENCY)]
            grow_by = rng.randint(min(20, 8 * left), min(900, 8 * left))
        else:
            # Each order in flight has at least its terminal event left to write.
            command, extra = "resume", []
            grow_by = rng.randint(1, max(1, in_flight))
        killed = kill_round(db, command, extra, grow_by, tmp_path / f"stderr-{round_no}.txt",
                            mid_write=round_no % 3 == 1)
        after = inspect(db)
        # What was in the log before this round is still there, unchanged.
        assert [(r.position, r.event_id) for r in after.records[: len(previous)]] == [
            (r.position, r.event_id) for r in previous
        ]
        previous = after.records
        if killed:
            kills += 1
            in_flight_at_kill.append(len(after.in_flight))
            effects_not_logged.append(len(unrecorded_effects(after)))
    assert kills >= KILLS, f"only {kills} kills in {MAX_ROUNDS} rounds"
    # The kills landed mid-work: orders were placed and not yet ended, and some kill
    # came after a service's effect and before the log recorded its result.
    assert sum(n > 0 for n in in_flight_at_kill) >= KILLS - 1, in_flight_at_kill
    assert sum(effects_not_logged) > 0, effects_not_logged

    orders = inspect(db)
    if len(orders.placed) < ORDERS:
        left = ORDERS - len(orders.placed)
        out = run_to_end(db, "order", ["--count", str(left), "--concurrency", str(CONCURRENCY)],
                         tmp_path / "stderr-order.txt")
        assert (f"{'total':<22}{left:>8}" if left > 1 else "order ") in out, out
    pending = inspect(db).in_flight
    out = run_to_end(db, "resume", [], tmp_path / "stderr-resume.txt")
    assert out.startswith(f"{len(pending)} orders in flight"), out

    orders = inspect(db)
    check_final(orders, plan)
    failed = sum(orders.terminals[o][0].type == "OrderFailed" for o in orders.placed)
    assert 0.2 * ORDERS <= failed <= 0.5 * ORDERS, f"{failed} of {ORDERS} failed"
    verified = cli("verify", "--db", str(db), cwd=tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "hash chain intact" in verified.stdout


# -- resuming from a prefix of an export -----------------------------------------------

PREFIX_SEED = 20240926
PREFIX_ORDERS = 20
PREFIX_RATE = 0.3
PREFIX_PLAN_SEED = 5
RESUME_DEADLINE_S = 90.0  # a hang guard: a resume of 20 orders takes about a second


@dataclass(frozen=True)
class FullRun:
    lines: list
    """The export's record lines."""
    outcomes: dict
    """order id -> (terminal type, compensated steps or None)."""
    checkpoint_lines: list
    """The lines a whole export ends with: one per actor's checkpoint."""


def outcomes(db):
    """Each order's terminal: its type and, for a failure, the steps it undid."""
    with open_store(db) as store:
        report = store.verify()
        records = list(store.read_all())
    assert report.ok, str(report)
    placed = {r.correlation_id for r in records if r.type == "OrderPlaced"}
    terminals = defaultdict(list)
    for record in records:
        if record.type in TERMINAL_TYPES:
            compensated = getattr(record.data, "compensated", None)
            terminals[record.correlation_id].append(
                (record.type, None if compensated is None else sorted(compensated))
            )
    assert set(terminals) <= placed
    assert {r.correlation_id for r in records if r.correlation_id} <= placed
    return placed, terminals


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    """20 orders run to the end with injected failures, and the log's export."""
    where = tmp_path_factory.mktemp("full")
    flags = failure_flags(PREFIX_RATE, PREFIX_PLAN_SEED)
    done = cli("order", "--db", "full.db", "--count", str(PREFIX_ORDERS), *flags, cwd=where)
    assert done.returncode == 0, done.stderr
    exported = cli("export", "--db", "full.db", cwd=where)
    assert exported.returncode == 0, exported.stderr
    placed, terminals = outcomes(where / "full.db")
    assert len(placed) == PREFIX_ORDERS
    assert all(len(ends) == 1 for ends in terminals.values())
    ended = {order: ends[0] for order, ends in terminals.items()}
    assert set(ended) == placed
    kinds = Counter(kind for kind, _ in ended.values())
    assert kinds["OrderCompleted"], kinds
    assert kinds["OrderFailed"], kinds
    lines = exported.stdout.split("\n")[:-1]  # JSON Lines: \n only
    records = [line for line in lines if not line.startswith('{"kind":"checkpoint"')]
    assert records == lines[:len(records)], "checkpoint lines come after the records"
    return FullRun(records, ended, lines[len(records):])


def same_append(this, then):
    """Whether two consecutive exported records were written by one append.

    An actor appends the outputs of one input to one stream together; they share the
    stream, the cause and the commit time. (An OrderPlaced has no cause.)
    """
    return this["causation_id"] is not None and all(
        this[key] == then[key] for key in ("stream_id", "causation_id", "recorded_at")
    )


def between_appends(records, length):
    """The first prefix length from ``length`` on that ends where an append ends."""
    while length < len(records) and same_append(records[length - 1], records[length]):
        length += 1
    return length


def inside_an_append(records, rule, then_types):
    """A prefix length that keeps a saga's decision (``rule``) but not what it issued.

    The first such decision past the middle of the log whose next record, written by the
    same append, is one of ``then_types``.
    """
    for index in range(len(records) // 2, len(records) - 1):
        this, then = records[index], records[index + 1]
        if (this["type"] == "SagaDecided" and this["data"]["rule"] == rule
                and then["type"] in then_types and same_append(this, then)):
            return index + 1
    pytest.fail(f"no {rule} decision followed by {then_types} in the export")
    return None


def prefix_length(lines, which):
    """How many lines of the export the case ``which`` imports."""
    records = [json.loads(line) for line in lines]
    total = len(records)
    rng = random.Random(f"{PREFIX_SEED}/{which}")
    picks = {
        "first-record": lambda: 1,
        "about-10%": lambda: between_appends(records, rng.randint(total // 20, total * 3 // 20)),
        "about-50%": lambda: between_appends(records,
                                             rng.randint(total * 2 // 5, total * 3 // 5)),
        "about-90%": lambda: between_appends(records,
                                             rng.randint(total * 17 // 20, total * 19 // 20)),
        "whole-export": lambda: total,
        "decision-without-its-commands": lambda: inside_an_append(
            records, "start-stage", set(COMMAND.values())),
        "decision-without-its-terminal-event": lambda: inside_an_append(
            records, "complete", {"OrderCompleted"}),
    }
    return picks[which]()


@pytest.mark.parametrize(
    "which",
    ["first-record", "about-10%", "about-50%", "about-90%", "whole-export",
     # A prefix may also end inside one append (the export does not mark them).
     "decision-without-its-commands", "decision-without-its-terminal-event"],
)
def test_log_imported_from_a_prefix_of_an_export_resumes_to_the_full_runs_end(
    tmp_path, full_run, which
):
    """A log imported from a prefix of an export and resumed ends each order as the full run did."""
    length = prefix_length(full_run.lines, which)
    prefix = full_run.lines[:length]
    ends = full_run.checkpoint_lines if which == "whole-export" else []  # the export itself
    (tmp_path / "prefix.jsonl").write_text("\n".join(prefix + ends) + "\n")
    imported = cli("import", "--db", "b.db", "prefix.jsonl", cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert f"imported {length} new records" in imported.stdout

    placed_in_prefix = {json.loads(line)["correlation_id"] for line in prefix
                        if json.loads(line)["type"] == "OrderPlaced"}
    try:
        resumed = cli("resume", "--db", "b.db",
                      *failure_flags(PREFIX_RATE, PREFIX_PLAN_SEED), cwd=tmp_path,
                      timeout=RESUME_DEADLINE_S, quiet=False)
    except subprocess.TimeoutExpired as error:
        placed, terminals = outcomes(tmp_path / "b.db")
        stuck = sorted(placed - set(terminals))
        said = error.stderr.decode() if isinstance(error.stderr, bytes) else error.stderr or ""
        pytest.fail(
            f"resume from a prefix of {length} of {len(full_run.lines)} lines did not end "
            f"within {RESUME_DEADLINE_S:g} s; orders never ended: {stuck}; it said: "
            f"{complaints(said)}"
        )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert complaints(resumed.stderr) == [], resumed.stderr[-3000:]

    placed, terminals = outcomes(tmp_path / "b.db")
    assert placed == placed_in_prefix
    assert placed, "the prefix holds at least one order"
    ended_twice = {order: ends for order, ends in terminals.items() if len(ends) > 1}
    assert ended_twice == {}
    assert {order: ends[0] for order, ends in terminals.items()} == {
        order: full_run.outcomes[order] for order in placed
    }
    with Ledger(tmp_path / "b.db.ledger") as ledger:
        assert ledger.duplicates() == []
    verified = cli("verify", "--db", "b.db", cwd=tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr
