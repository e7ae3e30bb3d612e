"""The catalogue of built-in sagas, and the names ``sagas.kinds`` writes out.

``sagas.kinds`` spells out what the definitions say (so that ``list`` and the help need
no workflow); these tests keep the two from drifting apart.
"""

from __future__ import annotations

from events import registry
from sagas import kinds
from sagas.catalog import DEFINITIONS, KINDS
from sagas.jobs import JOB_SAGA


def test_kinds_say_what_the_definitions_say() -> None:
    starts = {saga.start.message_type: saga.name for saga in DEFINITIONS.values()}
    assert KINDS is kinds.KINDS  # sagas.catalog's public name still works
    assert dict(KINDS) == {**starts, "JobSubmitted": JOB_SAGA.name, "EtlRunStarted": "etl-run"}
    assert tuple(DEFINITIONS) == kinds.SAGA_NAMES


def test_every_first_type_of_a_kind_is_a_registered_message() -> None:
    assert [name for name in KINDS if registry.current(name) is None] == []
