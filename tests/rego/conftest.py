"""Fixtures for the Rego engines: a loopback OPA REST server backed by the real engine."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.rego.opa_server import OpaTestServer


@pytest.fixture
def opa_double() -> Iterator[OpaTestServer]:
    """The running test server itself, for its hooks (`token`, `slow_queries`, `preload`)."""
    with OpaTestServer() as server:
        yield server


@pytest.fixture
def opa_server(opa_double: OpaTestServer) -> Iterator[str]:
    """The URL of a fresh OPA-REST-compatible server on 127.0.0.1, stopped after the test."""
    yield opa_double.url
