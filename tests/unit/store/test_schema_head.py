"""A store at the newest schema opens without Alembic: the constant must name that schema."""

from __future__ import annotations

from govml.store.db import SCHEMA_HEAD, migrations_head


def test_schema_head_is_the_newest_migration() -> None:
    assert migrations_head() == SCHEMA_HEAD, "a migration was added: update SCHEMA_HEAD"
