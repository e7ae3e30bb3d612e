"""``at``: every saga as it stood at a position or a time of a real order log."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from sagalog.actors import Ledger, Runtime
from sagalog.sagas.catalog import DEFINITIONS
from sagalog.sagas.history import (
    PositionOutOfRangeError,
    SagaRow,
    TimeOutOfRangeError,
    position_at,
    render_states,
    state_at,
)
from sagalog.sagas.orders import FailurePlan, add_order_workflow, place_order
from sagalog.store import open_store
from tests.support import log_bytes

RUN = Path(__file__).resolve().parents[3] / "run.py"


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two orders: o-1 completes; o-2's inventory fails, so its payment and shipping are undone."""
    path = tmp_path_factory.mktemp("at") / "log.db"
    with Ledger(f"{path}.ledger") as ledger, Runtime(str(path)) as runtime:
        add_order_workflow(runtime, ledger, FailurePlan())
        place_order(runtime, "o-1")
        runtime.wait_until_idle(timeout=30)
    with Ledger(f"{path}.ledger") as ledger, Runtime(str(path)) as runtime:
        add_order_workflow(runtime, ledger, FailurePlan(always=frozenset({"inventory"})))
        place_order(runtime, "o-2")
        runtime.wait_until_idle(timeout=30)
    return path


def _position(path: Path, type_name: str, correlation: str) -> int:
    with open_store(path) as store:
        return next(record.position for record in store.read_correlation(correlation)
                    if record.type == type_name)


def _rows(path: Path, position: int) -> dict[str, SagaRow]:
    with open_store(path) as store:
        return {row.saga_id: row for row in state_at(store, DEFINITIONS, position)}


def test_mid_run_a_saga_is_running_its_stage_with_each_step_status(log: Path) -> None:
    """When stage 2's commands are issued, o-2 runs it: product done, the three running."""
    rows = _rows(log, _position(log, "ChargePayment", "o-2"))
    assert list(rows) == ["o-1", "o-2"]
    assert rows["o-1"].status == "completed"
    row = rows["o-2"]
    assert (row.saga, row.status, row.stage, row.reason) == (
        "order", "running", "payment, inventory, shipping", "")
    assert row.steps == {"product": "succeeded", "payment": "running",
                         "inventory": "running", "shipping": "running"}


def test_after_a_failure_the_saga_is_compensating_and_says_why(log: Path) -> None:
    failed_at = _position(log, "InventoryFailed", "o-2")
    row = _rows(log, failed_at)["o-2"]
    assert row.status == "compensating"
    assert row.reason == f"inventory failed: InventoryFailed at {failed_at}"
    assert row.steps["inventory"] == "failed"


def test_at_the_end_every_saga_has_ended(log: Path) -> None:
    with open_store(log) as store:
        last = store.last_position()
    rows = _rows(log, last)
    assert rows["o-1"].status == "completed"
    row = rows["o-2"]
    assert (row.status, row.stage) == ("failed", "-")
    assert row.steps == {"product": "succeeded", "payment": "compensated",
                         "inventory": "failed", "shipping": "compensated"}
    table = render_states(list(rows.values()), last)
    assert table.splitlines()[0].split() == ["saga", "saga", "id", "status", "stage", "reason",
                                             "steps"]
    assert table.splitlines()[-1] == f"2 sagas as of position {last}: 0 in flight"


def test_a_saga_started_after_the_position_is_not_shown(log: Path) -> None:
    rows = _rows(log, _position(log, "OrderCompleted", "o-1"))
    assert list(rows) == ["o-1"]


def test_a_position_outside_the_log_is_refused(log: Path) -> None:
    with open_store(log) as store:
        last = store.last_position()
        for position in (0, last + 1):
            with pytest.raises(PositionOutOfRangeError, match=f"position {position} is not"):
                state_at(store, DEFINITIONS, position)


def test_a_time_is_the_last_position_recorded_by_then(log: Path, tmp_path: Path) -> None:
    """Through a store or a target; a time before the first record names where it begins."""
    with open_store(log, read_only=True) as store:
        first, last = store.read_position(1), store.read_position(store.last_position())
        assert first is not None
        assert last is not None
        assert position_at(store, last.recorded_at + timedelta(days=1)) == last.position
        assert position_at(store, first.recorded_at) >= 1
        with pytest.raises(TimeOutOfRangeError, match=(
                r"no record at or before .* \(the log begins at "
                + first.recorded_at.isoformat(timespec="microseconds").replace("+", r"\+"))):
            position_at(store, first.recorded_at - timedelta(microseconds=1))
    assert position_at(log, last.recorded_at) == last.position  # a target, opened read-only
    empty = tmp_path / "empty.db"
    with open_store(empty):
        pass
    with pytest.raises(TimeOutOfRangeError, match=r"\(the log is empty\)"):
        position_at(empty, last.recorded_at)


def sagalog(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(RUN), "-q", *arguments], capture_output=True,
                          text=True, timeout=60, check=False)


def test_the_cli_by_position_and_by_time_reads_without_writing(log: Path) -> None:
    """``at P --format json`` and ``at --as-of T`` agree with the fold; the log is untouched."""
    before = log_bytes(log)
    charged = _position(log, "ChargePayment", "o-2")
    by_position = sagalog("at", str(charged), "--format", "json", "--db", str(log))
    assert by_position.returncode == 0, by_position.stderr
    document = json.loads(by_position.stdout)
    assert document["position"] == charged
    assert [s["status"] for s in document["sagas"]] == ["completed", "running"]
    with open_store(log) as store:
        moment = store.read_position(charged).recorded_at  # type: ignore[union-attr]
        # The commands were appended in one transaction, so they share its time.
        then = max(r.position for r in store.read_all() if r.recorded_at <= moment)
    by_time = sagalog("at", "--as-of", moment.isoformat(), "--db", str(log))
    assert by_time.returncode == 0, by_time.stderr
    lines = by_time.stdout.splitlines()
    assert lines[-1] == f"2 sagas as of position {then}: 1 in flight"
    assert lines[2].split()[:3] == ["order", "o-2", "running"]
    assert log_bytes(log) == before


@pytest.mark.parametrize(("arguments", "message"), [
    (["at", "100000"], "position 100000 is not in the log (it holds 1 to"),
    (["at", "--as-of", "2000-01-01"], "no record at or before 2000-01-01T00:00:00.000000+00:00"),
])
def test_bad_input_is_one_line_and_exit_2(log: Path, arguments: list[str], message: str) -> None:
    result = sagalog(*arguments, "--db", str(log))
    assert result.returncode == 2
    assert result.stderr.startswith(f"sagalog: error: {message}")
    assert result.stderr.count("\n") == 1
