"""Fixtures for the drift tests: a loopback Kubernetes API server (see `tests/drift/cluster.py`)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.drift.cluster import FakeCluster, background_loop


@pytest.fixture(scope="session")
def cluster_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """One event loop, in a background thread, for all the fake clusters of the session."""
    with background_loop() as loop:
        yield loop


@pytest.fixture
def cluster(cluster_loop: asyncio.AbstractEventLoop) -> Iterator[FakeCluster]:
    """A fresh API server on 127.0.0.1 with the default resources and no objects."""
    with FakeCluster(cluster_loop) as fake:
        yield fake
