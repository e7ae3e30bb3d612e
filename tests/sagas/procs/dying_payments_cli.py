"""The real command line, with a payment service that dies every time it starts.

Run as ``dying_payments_cli.py ARGS...``: it makes ``PaymentService`` fail in its
``on_attach`` hook (outside any handler, so the actor itself dies, as a bug or a broken
configuration of a real service would make it), then runs ``sagalog`` with ARGS as a
program (its logs on stderr), and exits with its code.
"""

from __future__ import annotations

import sys

from sagalog.actors.orders import PaymentService
from sagalog.cli import main


def _refuse_to_start(_self: PaymentService, _checkpoint: int) -> None:
    msg = "payment gateway unreachable at start-up"
    raise RuntimeError(msg)


if __name__ == "__main__":
    PaymentService.on_attach = _refuse_to_start  # type: ignore[method-assign]
    sys.exit(main(sys.argv[1:], program=True))
