"""The tests' PostgreSQL pool hands out databases in the template's state, or new ones."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.conftest import _pg_url
from tests.pg_pool import PgPool

import govml
from govml.store.schema import APPEND_ONLY_TABLES


def _count(url: str, sql: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(sql)).scalar_one())
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_used_database_comes_back_as_a_fresh_copy(pg_pool: PgPool, tmp_path: Path) -> None:
    name = pg_pool.take()
    url = _pg_url(name)
    with govml.connect(tmp_path / "a", database_url=url, user="alice") as client:
        client.init()
        client.create_model("credit", risk_tier="high")
        first = _count(url, "SELECT id FROM models")
    pg_pool.give_back(name)
    assert pg_pool.take() == name  # reused, not copied again
    assert _count(url, "SELECT count(*) FROM ledger_entries") == 0
    assert _count(url, "SELECT count(*) FROM models") == 0
    assert _count(url, "SELECT count(*) FROM alembic_version") == 1
    with govml.connect(tmp_path / "b", database_url=url, user="alice") as client:
        client.init()
        client.create_model("credit", risk_tier="high")  # the name is free again
        assert client.verify_ledger().models == 1
    assert _count(url, "SELECT id FROM models") == first  # the sequences started again
    pg_pool.give_back(name)


@pytest.mark.postgres
def test_a_database_whose_schema_a_test_changed_is_dropped(pg_pool: PgPool) -> None:
    name = pg_pool.take()
    table = sorted(APPEND_ONLY_TABLES)[0]
    engine = sa.create_engine(_pg_url(name))
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP TRIGGER {table}_append_only ON {table}"))
    engine.dispose()
    pg_pool.give_back(name)
    assert pg_pool.take() != name
    assert (
        _count(_pg_url("test"), f"SELECT count(*) FROM pg_database WHERE datname = '{name}'") == 0
    )
