"""What users put in front of the running workflows: job submissions and order commands.

A job submission is any text (``sagalog jobs submit FILE``): it is refused at submission
with a typed error, or the router, a real actor in a real runtime, records exactly one
decision for it (JobAccepted or JobRejected) and carries on. An order command is the
``order`` command's flags and an order id: the plan is refused with a SagalogError (or
by argparse, exit 2), or the order is placed; the log verifies either way.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import event, example, given
from hypothesis import strategies as st

from sagalog.actors import Runtime
from sagalog.actors.jobs import JobRouter
from sagalog.cli import failure_plan, parser
from sagalog.events import SagalogError
from sagalog.events.jobs import JobAccepted, JobRejected, JobsConfig
from sagalog.sagas.jobs import submit_job
from sagalog.sagas.orders import FailurePlan, place_order
from tests.adversarial.conftest import PROPERTY_TIMEOUT
from tests.adversarial.strategies import hostile_text, json_values, shallow_json_texts, spell

CONFIG = JobsConfig(jobs_db="/nonexistent/jobs.db", search_index="/nonexistent/search.db")
"""Only the router runs here: the paths are carried, never opened."""

"""What the router accepts today but cannot store (issue #9: poison outputs in jobs)."""


@pytest.fixture(scope="module")
def router() -> Iterator[Runtime]:
    with Runtime("memory:adversarial-jobs", durability="off") as runtime:
        runtime.add(JobRouter, name="jobs:router")
        yield runtime
        report = runtime.store.verify()  # once, at the end: each verify reads the whole log
        assert report.ok, report


PARSER = parser()
"""The command line, built once (21 ms a time)."""


names = st.one_of(*[st.text(alphabet="abcz-_ \u00e9\u2028", min_size=1, max_size=8)] * 3,
                  hostile_text)
"""Mostly names a job may hold (so many jobs are accepted), sometimes hostile ones."""
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), names)
job_ids = st.one_of(st.from_regex(r"\A[a-z][a-z0-9-]{0,10}\Z"),
                    st.from_regex(r"\A[a-z][a-z0-9-]{0,10}\Z"), hostile_text)
jobs = st.one_of(
    st.fixed_dictionaries({
        "type": st.just("custom"), "job_id": job_ids, "tenant": names,
        "pipeline": names, "parameters": st.dictionaries(names, scalars, max_size=3)}),
    st.fixed_dictionaries({
        "type": st.just("default"), "job_id": job_ids, "description": names,
        "documents": st.lists(st.fixed_dictionaries({
            "id": names, "title": names, "body": names}), max_size=2)}),
    st.dictionaries(st.sampled_from(("type", "job_id", "tenant", "documents")) | hostile_text,
                    json_values, max_size=4),
)
payloads = st.one_of(st.builds(spell, jobs, ascii_only=st.booleans()), shallow_json_texts)
"""A job file's text: a job (often valid), a near miss, or anything at all."""


def _decisions(runtime: Runtime, after: int) -> list[object]:
    return [record.data for record in runtime.store.read_all(after + 1)
            if isinstance(record.data, (JobAccepted, JobRejected))]


def _submit_and_decide(runtime: Runtime, raw: str, *, in_property: bool = True) -> None:
    before = runtime.store.last_position()
    try:
        submit_job(runtime.store, raw, "adversarial", CONFIG)
    except SagalogError:
        assert runtime.store.last_position() == before, "a refused submission was stored"
        return
    assert runtime.wait_until_idle(timeout=10.0), "the router did not finish the submission"
    decisions = _decisions(runtime, before)
    assert len(decisions) == 1, decisions
    if in_property:  # hypothesis records events only inside a @given test
        event(type(decisions[0]).__name__)


@pytest.mark.timeout(PROPERTY_TIMEOUT)
@given(payloads)
@example('{"type": "custom", "job_id": "a1", "tenant": "t", "pipeline": "p"}')
@example('{"type": "custom", "job_id": "a2", "tenant": "\u2028", "pipeline": "p\\u2029"}')
@example('{"type": "custom", "job_id": 1' + "0" * 5_000 + "}")
def test_a_job_submission_is_refused_or_decided_once(router: Runtime, raw: str) -> None:
    """Any text: a typed refusal, or exactly one recorded decision of the router.

    Texts holding NaN, Infinity, a NUL or a lone surrogate included: the router rejects
    what the log cannot store.
    """
    _submit_and_decide(router, raw)


POISON_JOBS = (
    '{"type": "custom", "job_id": "n1", "tenant": "a\\u0000b", "pipeline": "p"}',
    ('{"type": "custom", "job_id": "n2", "tenant": "t", "pipeline": "p", '
     '"parameters": {"x": NaN}}'),
)


@pytest.mark.parametrize("raw", POISON_JOBS, ids=["nul", "nan"])
def test_a_job_the_log_cannot_store_is_rejected_not_poison(raw: str) -> None:
    """A job holding NUL, NaN or a lone surrogate is decided once (rejected), not retried."""
    with Runtime("memory:", durability="off") as runtime:
        runtime.add(JobRouter, name="jobs:router")
        before = runtime.store.last_position()
        submit_job(runtime.store, raw, "adversarial", CONFIG)
        runtime.wait_until_idle(timeout=3.0)
        assert len(_decisions(runtime, before)) == 1


def test_a_deeply_nested_job_submission_is_refused_or_decided_once(router: Runtime) -> None:
    """A payload nested 100,000 deep: typed refusal or one decision, not RecursionError."""
    _submit_and_decide(router, "[" * 100_000 + "]" * 100_000, in_property=False)


flag_values = st.one_of(st.sampled_from(("payment", "inventory", "shipping", "nan", "inf",
                                         "-1", "0.5", "1e400", "")), hostile_text)
flags = st.lists(st.tuples(st.sampled_from(("--fail", "--fail-rate", "--seed", "--count",
                                            "--concurrency")), flag_values), max_size=3)
order_ids = st.one_of(st.from_regex(r"\A[a-z0-9-]{1,12}\Z"), hostile_text)
@given(flags, st.booleans(), order_ids,
       st.integers() | st.sampled_from((10**30, -1)))
@example([("--fail-rate", "nan")], False, "o-1", 1250)
@example([("--fail", "\x00")], False, "o-2", 1250)
@example([], True, "o\u2028\x00", 1250)
def test_an_order_command_is_refused_or_placed(
    pairs: list[tuple[str, str]], missing: bool, order_id: str, amount: int
) -> None:
    """The order flags and an order: refused (SagalogError or argparse's exit 2) or placed."""
    argv = ["order", *(part for pair in pairs for part in (pair[0], pair[1]))]
    if missing:
        argv.append("--product-missing")
    try:
        plan = failure_plan(PARSER.parse_args(argv))
    except SystemExit as exit_:
        code = exit_.code
    except SagalogError:
        return
    else:
        _place(order_id, amount, plan)
        return
    assert code == 2  # argparse's own refusal: a usage line and one error line


def _place(order_id: str, amount: int, plan: FailurePlan) -> None:
    with Runtime("memory:", durability="off") as runtime:
        try:
            place_order(runtime, order_id, amount, plan=plan)
        except SagalogError:
            assert runtime.store.last_position() == 0
        else:
            assert runtime.store.last_position() == 2  # the order and its plan's decision
        assert runtime.store.verify().ok


def test_an_order_id_with_a_lone_surrogate_is_a_typed_error() -> None:
    """``place_order`` with an id holding U+D800: SagalogError, not UnicodeEncodeError."""
    _place("o-\ud800", 1250, FailurePlan())
