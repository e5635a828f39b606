"""Fresh PostgreSQL databases for the tests of one pytest process, reset and reused.

Copying the migrated template for every test (``CREATE DATABASE ... TEMPLATE``) writes its
whole 8.6 MB through PostgreSQL's WAL: 0.05 to 0.25 s on an idle machine, 0.4 s and more
while two pytest workers and their servers keep both cores busy. A database a test has finished with
is instead brought back to the template's state and handed to the next test: every other
connection to it is ended, its tables are emptied (``DELETE`` with triggers off for that
transaction, as a superuser may), the template's rows are written back and its sequences
restarted. Only a database whose schema is still the template's is reused: a test that
dropped a trigger, added a table or changed a column leaves a database that is dropped, as
is one whose reset fails for any reason (a server that is not ours to reset, say).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

# Everything about the schema a test could change: relations and their kinds, columns,
# constraints, indexes, triggers (and whether they are enabled), functions, row security,
# grants, and settings attached to the database. Equal text means the same schema.
_SCHEMA_FINGERPRINT = """
SELECT md5(coalesce(string_agg(item, E'\\n' ORDER BY item), '')) FROM (
  SELECT 'rel ' || n.nspname || '.' || c.relname || ' ' || c.relkind::text || ' '
         || c.relrowsecurity::text || ' ' || coalesce(c.relacl::text, '') AS item
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
     AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%'
  UNION ALL
  SELECT 'col ' || c.table_schema || '.' || c.table_name || '.' || c.column_name || ' '
         || c.data_type || ' ' || c.is_nullable || ' ' || coalesce(c.column_default, '')
    FROM information_schema.columns c
   WHERE c.table_schema NOT IN ('pg_catalog', 'information_schema')
  UNION ALL
  SELECT 'con ' || conrelid::regclass::text || '.' || conname || ' '
         || pg_get_constraintdef(oid)
    FROM pg_constraint WHERE connamespace = 'public'::regnamespace
  UNION ALL
  SELECT 'idx ' || pg_get_indexdef(i.indexrelid)
    FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
   WHERE c.relnamespace = 'public'::regnamespace
  UNION ALL
  SELECT 'trg ' || tgrelid::regclass::text || '.' || tgname || ' ' || tgenabled::text || ' '
         || pg_get_triggerdef(oid)
    FROM pg_trigger WHERE NOT tgisinternal
  UNION ALL
  SELECT 'fn ' || p.oid::regprocedure::text || ' ' || md5(p.prosrc)
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
  UNION ALL
  SELECT 'ns ' || nspname FROM pg_namespace
  UNION ALL
  SELECT 'rule ' || ev_class::regclass::text || '.' || rulename FROM pg_rewrite
   WHERE ev_class IN (SELECT oid FROM pg_class WHERE relnamespace = 'public'::regnamespace)
     AND rulename <> '_RETURN'
  UNION ALL
  SELECT 'pol ' || polrelid::regclass::text || '.' || polname FROM pg_policy
  UNION ALL
  SELECT 'set ' || array_to_string(setconfig, ',') FROM pg_db_role_setting
   WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
) AS schema_items
"""
_TABLES = "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
_SEQUENCES = (
    "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public' "
    "ORDER BY sequencename"
)
_OTHERS = (
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
    "WHERE datname = :name AND pid <> pg_backend_pid()"
)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class _Template:
    """What a fresh copy of the template holds: its schema's fingerprint, rows, sequences."""

    def __init__(self, conn: sa.Connection) -> None:
        self.fingerprint: str = conn.execute(sa.text(_SCHEMA_FINGERPRINT)).scalar_one()
        self.tables: list[str] = list(conn.execute(sa.text(_TABLES)).scalars())
        # Each table's rows as JSON text, written back by json_populate_recordset.
        self.rows: dict[str, str] = {}
        for table in self.tables:
            found = conn.execute(
                sa.text(f"SELECT CAST(json_agg(t) AS text) FROM {_quoted(table)} AS t")
            ).scalar_one()
            if found is not None:
                self.rows[table] = found
        self.sequences: list[tuple[str, int | None]] = [
            (name, value) for name, value in conn.execute(sa.text(_SEQUENCES))
        ]


class PgPool:
    """Databases copied from one migrated template, reset and reused between tests."""

    def __init__(self, admin: sa.Engine, template: str, url_of: Callable[[str], str]) -> None:
        self._admin = admin
        self._template = template
        self._url_of = url_of
        self._free: list[str] = []
        self._made: set[str] = set()
        engine = self._engine(template)
        try:
            with engine.connect() as conn:
                self._state = _Template(conn)
        finally:
            engine.dispose()

    def _engine(self, name: str) -> sa.Engine:
        return sa.create_engine(self._url_of(name), poolclass=NullPool)

    def take(self) -> str:
        """The name of a database in the template's state, for one test."""
        if self._free:
            return self._free.pop()
        name = f"govml_t_{uuid.uuid4().hex[:12]}"
        with self._admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{self._template}"'))
        self._made.add(name)
        return name

    def give_back(self, name: str) -> None:
        """Reset a database a test has finished with for the next one, or drop it."""
        if self._reset(name):
            self._free.append(name)
        else:
            self.drop(name)

    def drop(self, name: str) -> None:
        """Drop one of the databases."""
        with self._admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self._made.discard(name)

    def close(self) -> None:
        """Drop every database this pool made."""
        for name in sorted(self._made):
            self.drop(name)
        self._free.clear()

    def _reset(self, name: str) -> bool:
        state = self._state
        try:
            with self._admin.connect() as conn:
                conn.execute(sa.text(_OTHERS), {"name": name})
            engine = self._engine(name)
            try:
                with engine.begin() as conn:
                    if conn.execute(sa.text(_SCHEMA_FINGERPRINT)).scalar_one() != state.fingerprint:
                        return False
                    # Triggers (the append-only ones, foreign keys) are off for this
                    # transaction only; a non-superuser cannot do this and gets a new copy.
                    conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
                    # DELETE, not TRUNCATE: a test leaves a few rows, and TRUNCATE gives
                    # every table and index a new file (0.15 s against 0.01 s).
                    for table in state.tables:
                        conn.execute(sa.text(f"DELETE FROM {_quoted(table)}"))
                    _restore(conn, state)
            finally:
                engine.dispose()
        except sa.exc.SQLAlchemyError:
            return False
        return True


def _restore(conn: sa.Connection, state: _Template) -> None:
    """Write the template's rows back into the emptied tables and restart the sequences."""
    for table, rows in state.rows.items():
        name = _quoted(table)
        conn.execute(
            sa.text(
                f"INSERT INTO {name} SELECT * FROM "
                f"json_populate_recordset(NULL::{name}, CAST(:rows AS json))"
            ),
            {"rows": rows},
        )
    for sequence, value in state.sequences:
        if value is None:
            conn.execute(sa.text(f"ALTER SEQUENCE {_quoted(sequence)} RESTART"))
        else:
            conn.execute(
                sa.text("SELECT setval(:name, :value)"),
                {"name": _quoted(sequence), "value": value},
            )
