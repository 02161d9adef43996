"""Fixtures shared by the integration tests."""

from tests.routing_restarts import restarts  # noqa: F401 - a fixture
