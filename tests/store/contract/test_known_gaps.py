"""The table of known gaps names tests that exist (a misspelt line would hide nothing)."""

from __future__ import annotations

import importlib

from tests.store.contract.conftest import BACKENDS, KNOWN_GAPS


def test_every_known_gap_names_an_existing_contract_test_of_a_backend() -> None:
    for key in KNOWN_GAPS:
        file, _, test = key.partition("::")
        function, _, parameters = test.partition("[")
        module = importlib.import_module(f"tests.store.contract.{file.removesuffix('.py')}")
        assert callable(getattr(module, function, None)), f"{key}: no such test"
        if parameters:
            assert parameters.split("-")[0].rstrip("]") in BACKENDS, f"{key}: no backend"
