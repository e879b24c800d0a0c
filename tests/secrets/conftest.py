"""Fixtures of the secrets tests: the loopback cluster of the drift tests, and git isolated from
the user's and the system's configuration."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.drift.conftest import cluster, cluster_loop  # noqa: F401 - fixtures used here too


@pytest.fixture(scope="module", autouse=True)
def _isolated_git() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
        patch.setenv("GIT_CONFIG_NOSYSTEM", "1")
        yield
