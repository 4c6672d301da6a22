"""Fixtures shared by the test modules."""

from __future__ import annotations

import pytest

from tests.localserver import LocalServer


@pytest.fixture(scope="module")
def server():
    """A local HTTP server, one per test module (its routes and hit counts are the module's)."""
    with LocalServer(max_seconds=600) as srv:
        yield srv
