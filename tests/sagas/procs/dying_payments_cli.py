"""The real command line, with a payment service that dies every time it starts.

Run as ``dying_payments_cli.py ARGS...``: it runs ``sagalog`` with ARGS as a program (its
logs on stderr) and exits with its code, but first makes ``PaymentService`` fail in its
``on_attach`` hook (outside any handler, so the actor itself dies, as a bug or a broken
configuration of a real service would make it). The patch is applied where the command
line dispatches, after it has turned its logs on: the runtime's modules are imported
then, in the order a user's ``sagalog`` imports them.
"""

from __future__ import annotations

import argparse
import sys

import sagalog.cli


def _refuse_to_start(_self: object, _checkpoint: int) -> None:
    msg = "payment gateway unreachable at start-up"
    raise RuntimeError(msg)


def _dispatch_with_a_dying_payment_service(arguments: argparse.Namespace) -> int:
    from sagalog.actors.orders import PaymentService  # as late as the CLI imports it

    PaymentService.on_attach = _refuse_to_start  # type: ignore[method-assign,assignment]
    return _dispatch(arguments)


if __name__ == "__main__":
    _dispatch = sagalog.cli.dispatch
    sagalog.cli.dispatch = _dispatch_with_a_dying_payment_service
    sys.exit(sagalog.cli.main(sys.argv[1:], program=True))
