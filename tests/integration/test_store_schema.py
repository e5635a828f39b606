"""The metadata store: migrations, triggers, schema version checks (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.conftest import populate

import govml
from govml.errors import SchemaVersionError
from govml.store.db import Store
from govml.store.schema import APPEND_ONLY_TABLES, metadata


def test_migrated_schema_matches_the_metadata(db_url: str) -> None:
    store = Store(db_url)
    try:
        inspector = sa.inspect(store.engine)
        tables = set(inspector.get_table_names()) - {"alembic_version"}
        assert tables == set(metadata.tables)
        for name, table in metadata.tables.items():
            columns = {c["name"] for c in inspector.get_columns(name)}
            assert columns == {c.name for c in table.columns}, name
        assert store.current_revision() == store.head_revision()
    finally:
        store.dispose()


def test_upgrade_is_idempotent(db_url: str) -> None:
    store = Store(db_url)
    try:
        before, after = store.upgrade()
        assert before == after == store.head_revision()
    finally:
        store.dispose()


@pytest.mark.parametrize("table", APPEND_ONLY_TABLES)
def test_append_only_tables_refuse_update_and_delete(client: govml.Client, table: str) -> None:
    populate(client)
    store = client.ctx.store
    with store.read() as conn:
        assert conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one() > 0
    column = next(iter(metadata.tables[table].primary_key.columns)).name
    for statement in (f"UPDATE {table} SET {column} = {column}", f"DELETE FROM {table}"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), store.write() as conn:
            conn.execute(sa.text(statement))


def test_newer_database_is_refused_untouched(db_url: str) -> None:
    store = Store(db_url)
    with store.write() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0099_future'"))
    store.dispose()
    with pytest.raises(SchemaVersionError, match="0099_future.*newer govml"):
        Store(db_url)
    check = Store(db_url, migrate=None)
    try:
        assert check.current_revision() == "0099_future"
    finally:
        check.dispose()


def test_out_of_date_schema_without_migrate_says_how_to_upgrade(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'empty' / 'govml.db'}"  # the db_url fixture's is migrated
    with pytest.raises(SchemaVersionError, match="has no govml schema yet") as info:
        Store(db_url, migrate=False)
    assert "govml db upgrade" in info.value.diagnostics()
