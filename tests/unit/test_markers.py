"""The ``postgres`` marker is on every test that runs on the PostgreSQL server, and only there."""

from __future__ import annotations

import pytest


def test_the_postgres_marker_follows_the_backend(
    request: pytest.FixtureRequest, db_url: str
) -> None:
    marked = request.node.get_closest_marker("postgres") is not None
    assert marked == db_url.startswith("postgresql")


def test_a_test_without_a_database_is_not_marked(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("postgres") is None
