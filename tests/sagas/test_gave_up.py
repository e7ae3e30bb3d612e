"""An actor the runtime gives up on ends every wait with that error, promptly.

After ``max_restarts`` deaths the runtime stops restarting an actor; before, nothing told
the waiters: ``order`` waited 600 s and said only "N orders did not end", and ``worker
--until-idle`` waited for ever. Real subprocesses of the command line, whose payment
service dies each time it starts (``procs/dying_payments_cli.py``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sagalog.actors import Runtime
from sagalog.sagas.orders import place_order

PROC = Path(__file__).resolve().parent / "procs" / "dying_payments_cli.py"
GAVE_UP = ("sagalog: error: actor 'PaymentService' gave up after dying 11 times; its work "
           "is left in the log, unhandled (last cause: RuntimeError: payment gateway "
           "unreachable at start-up)")


def dying_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The command line, its payment service dying; 60 s is "never" (it used to wait 600 s)."""
    return subprocess.run([sys.executable, str(PROC), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60, check=False)


def test_order_ends_with_the_actor_given_up_on_and_its_cause(tmp_path: Path) -> None:
    """`order` exits 2 with one line naming the actor and why it died, not a timeout."""
    result = dying_cli("order", "--db", "shop.db", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines()[-1] == GAVE_UP


def test_worker_until_idle_ends_with_the_actor_given_up_on(tmp_path: Path) -> None:
    """`worker --until-idle` exits 2 with the same line instead of waiting for ever."""
    with Runtime(tmp_path / "shop.db", role="client") as client:  # runs no handler
        place_order(client, "o-1")
    result = dying_cli("worker", "--db", "shop.db", "--until-idle", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines()[-1] == GAVE_UP


def test_the_runtime_logs_each_death_on_the_command_lines_stderr(tmp_path: Path) -> None:
    """The runtime's own log lines reach the real CLI's stderr: every death, then the
    verdict, bound to the actor (the command line once muted them by enabling logging
    before the runtime's lazy imports disabled them again)."""
    result = dying_cli("order", "--db", "shop.db", cwd=tmp_path)
    deaths = [line for line in result.stderr.splitlines()
              if "[actor=PaymentService]" in line and "actor died: RuntimeError(" in line]
    assert len(deaths) == 11, result.stderr
    assert "restart limit reached, not restarting" in deaths[-1]
    assert any("ERROR" in line and "gave up after dying 11 times" in line
               for line in result.stderr.splitlines()[:-1]), result.stderr
