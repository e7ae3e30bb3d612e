"""The hypothesis profiles of the adversarial suite: ``ci`` (1,000 examples) and ``dev``.

CI sets ``CI``; there every property runs 1,000 examples, derandomized (the same examples
every run, so a red CI is a change in the code, never a new draw) and with no example
database (a fresh clone has none to read). A developer's run draws 100 fresh examples a
time and keeps failures in ``.hypothesis/`` to replay first. ``--hypothesis-profile=ci``
selects the CI profile by hand.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

PROPERTY_TIMEOUT = 600
"""Seconds a property may take (pytest-timeout's default is 120): 1,000 examples of the
slowest take about 60 s of CPU, more on a machine shared with other work."""

settings.register_profile(
    "ci", max_examples=1000, deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "dev", max_examples=100, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def pytest_configure(config: pytest.Config) -> None:
    """``ci`` when the CI variable is set, else ``dev``, unless the command line chose one."""
    if config.getoption("hypothesis_profile", None) is None:
        settings.load_profile("ci" if os.environ.get("CI") else "dev")
