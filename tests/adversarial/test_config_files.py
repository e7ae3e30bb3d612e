"""Each workflow's configuration file, written by hand: a checked config or a typed error.

The data pipeline's, the master pipeline's, the ETL's and the jobs' files are read by
their loaders before anything runs. Whatever the file holds (any JSON value under the
known keys, hostile strings, NaN and Infinity, text that is not JSON, bytes that are not
UTF-8), a loader returns its configuration or raises a :class:`SagalogError` naming the
file (never a json, pydantic, unicode or recursion error).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from sagalog.actors._pipeline_config import DEFAULTS, load_pipeline_config
from sagalog.events import SagalogError
from sagalog.events.master import MasterConfig
from sagalog.sagas._etl_config import _ConfigFile, load_config
from sagalog.sagas._jobs_config import load_jobs_config
from sagalog.sagas._master_config import load_master_config
from tests.adversarial.conftest import PROPERTY_TIMEOUT
from tests.adversarial.strategies import PAST_LIMITS, config_files, hostile_text

Loader = Callable[[Path], object]

environs = st.dictionaries(st.sampled_from(("HOME", "MASTER_RETRIES", "X")) | hostile_text,
                           hostile_text, max_size=3)
"""The environment a master pipeline's ``${NAME}`` references read."""


def _pipeline(path: Path) -> object:
    return load_pipeline_config(path)


def _jobs(path: Path) -> object:
    return load_jobs_config(path, path.with_name("log.db"))


def _etl(path: Path) -> object:
    return load_config(path)


def _master(path: Path, environ: Mapping[str, str] | None = None) -> object:
    return load_master_config(path, environ or {})


LOADERS: dict[str, tuple[Loader, list[str]]] = {
    "pipeline": (_pipeline, list(DEFAULTS)),
    "jobs": (_jobs, ["queues", "jobs_db", "search_index", "indexers", "failure_injection"]),
    "etl": (_etl, list(_ConfigFile.model_fields)),
    "master": (_master, list(MasterConfig.model_fields)),
}
"""Each workflow's loader, and the keys its file may hold."""


@contextmanager
def _config(content: bytes) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="sagalog-adv-config-") as folder:
        path = Path(folder, "config.json")
        path.write_bytes(content)
        yield path


def _check(load: Loader, content: bytes) -> None:
    with _config(content) as path:
        try:
            load(path)
        except SagalogError as error:
            message = str(error)
        else:
            return
        assert path.name in message, message  # the error names the file


def _encoded(text: str) -> bytes:
    """UTF-8, but a lone surrogate (a spelling of U+D800 unescaped) as its raw bytes."""
    return text.encode("utf-8", "surrogatepass")


def contents(keys: list[str]) -> st.SearchStrategy[bytes]:
    """A configuration file's bytes: JSON under ``keys``, or hostile text, all UTF-8.

    A raw lone surrogate (which no UTF-8 file holds) is written as "?": files that are
    not UTF-8 have their own test below.
    """
    return config_files(keys).map(lambda text: text.encode("utf-8", "replace"))


NUL_IN_A_PATH = {
    "pipeline": b'{"report_dir": "\\u0000"}',
    "master": b'{"paths": {"work_dir": "a\\u0000b"}}',
    "etl": b'{"sources": [{"source_id": "a", "url": "http://x/", "expected_format": "csv"}],'
           b' "download_dir": "\\u0000"}',
    "jobs": b'{"jobs_db": "\\u0000"}',
}
"""A NUL in a path field of each workflow's file."""
NUL_REFUSED = ("etl", "jobs", "master", "pipeline")
"""The loaders that refuse a NUL or a lone surrogate in a path with a SagalogError (all
of them since issue #9's fix: ``sagalog.events._jsonfile.path_problem``)."""


SURROGATE_IN_A_PATH = {
    workflow: content.replace(b"\\u0000", b"\\ud800") for workflow, content in NUL_IN_A_PATH.items()
}
"""A lone surrogate (escaped) in a path field of each workflow's file."""
_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")


def _no_nul(content: bytes) -> bool:
    """No NUL and no lone surrogate: both are refused by Path as ValueError/UnicodeError."""
    return (b"\\u0000" not in content and b"\x00" not in content
            and _ESCAPED_SURROGATE.search(content) is None)


def _files(workflow: str) -> st.SearchStrategy[bytes]:
    files = contents(LOADERS[workflow][1])
    return files if workflow in NUL_REFUSED else files.filter(_no_nul)


@pytest.mark.timeout(PROPERTY_TIMEOUT)
@given(_files("pipeline"))
def test_a_pipeline_config_file_loads_or_is_a_typed_error(content: bytes) -> None:
    """The data pipeline's file: a PipelineConfig or a SagalogError naming the file."""
    _check(_pipeline, content)


@pytest.mark.parametrize("workflow", [
    workflow if workflow in NUL_REFUSED else pytest.param(workflow, marks=pytest.mark.xfail(
        strict=True, reason=f"issue #9: a NUL in a path field of the {workflow} config raises "
        "ValueError (embedded null byte) from Path.resolve"))
    for workflow in sorted(NUL_IN_A_PATH)
])
def test_a_nul_in_a_config_path_is_a_typed_error(workflow: str) -> None:
    """A NUL in a path: SagalogError naming the file, not ValueError."""
    _check(LOADERS[workflow][0], NUL_IN_A_PATH[workflow])


@pytest.mark.parametrize("workflow", [
    workflow if workflow in NUL_REFUSED else pytest.param(workflow, marks=pytest.mark.xfail(
        strict=True, reason=f"issue #9: a lone surrogate in a path field of the {workflow} "
        "config raises UnicodeEncodeError from Path.resolve"))
    for workflow in sorted(SURROGATE_IN_A_PATH)
])
def test_a_lone_surrogate_in_a_config_path_is_a_typed_error(workflow: str) -> None:
    """``"\\ud800"`` in a path: SagalogError naming the file, not UnicodeEncodeError."""
    _check(LOADERS[workflow][0], SURROGATE_IN_A_PATH[workflow])


NOT_UTF8 = (b'{"\xed\xa0\x80": "0"}', b"\xff\xfe{}", b'{"a": "caf\xe9"}')
"""A raw lone surrogate, a UTF-16 byte-order mark, Latin-1 text."""


@pytest.mark.parametrize("content", NOT_UTF8, ids=["surrogate", "utf16-bom", "latin1"])
@pytest.mark.parametrize("workflow", [
    "etl", "jobs", "pipeline",
    "master",
])
def test_a_config_file_that_is_not_utf8_is_a_typed_error(workflow: str, content: bytes) -> None:
    """Bytes that are not UTF-8: SagalogError naming the file, never UnicodeDecodeError."""
    _check(LOADERS[workflow][0], content)


@pytest.mark.timeout(PROPERTY_TIMEOUT)
@given(_files("jobs"))
@example(b'{"indexers": [NaN]}')
def test_a_jobs_config_file_loads_or_is_a_typed_error(content: bytes) -> None:
    """The jobs' file: a JobsConfig or a SagalogError naming the file."""
    _check(_jobs, content)


@pytest.mark.timeout(PROPERTY_TIMEOUT)
@given(_files("etl"))
@example(b'{"sources": [{"source_id": "a", "url": "http://x/", "expected_format": "csv"}],'
         b' "probe_timeout": Infinity}')
def test_an_etl_config_file_loads_or_is_a_typed_error(content: bytes) -> None:
    """The ETL's file: an EtlConfig or a SagalogError naming the file."""
    _check(_etl, content)


@pytest.mark.timeout(PROPERTY_TIMEOUT)
@given(_files("master"), environs)
@example(b'{"retry": "${MASTER_RETRIES:-3}"}', {})
def test_a_master_config_file_loads_or_is_a_typed_error(
    content: bytes, environ: dict[str, str]
) -> None:
    """The master pipeline's file, with any environment: a MasterConfig or a SagalogError."""
    _check(lambda path: _master(path, environ), content)


@pytest.mark.parametrize("workflow", sorted(LOADERS))
@pytest.mark.parametrize("text", PAST_LIMITS, ids=["deep-list", "deep-object", "digits",
                                                   "digits-in-object"])
def test_a_config_file_past_the_json_readers_limits_is_a_typed_error(
    workflow: str, text: str
) -> None:
    """Nesting past Python's recursion limit, or an int past 4,300 digits: SagalogError."""
    _check(LOADERS[workflow][0], _encoded(text))
