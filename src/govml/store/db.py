"""The metadata store: one SQLAlchemy engine, schema migrations, read and write transactions.

Writes are serialised, which is what the ledger needs (entry numbers and tree heads follow each
other without gaps): on SQLite every write transaction starts with ``BEGIN IMMEDIATE`` (WAL
mode, so readers are never blocked); on PostgreSQL it takes a transaction-scoped advisory lock.

A store whose schema is at `SCHEMA_HEAD` opens without loading Alembic (a second of start-up
on a busy machine); Alembic is imported to migrate, or to read a revision it does not know.

`Store.write` is re-entrant: a write opened while the same thread already holds one on the
same store joins it as a savepoint, so a service called inside another's transaction (a
monitoring rollback through the lifecycle service) commits with it or not at all, and a
failure inside the inner block undoes only that block. A `Store.read` inside an open write
reads through the write's connection, so it sees what the transaction wrote.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from govml.errors import ConfigurationError, MissingStoreError, SchemaVersionError, StoreError

if TYPE_CHECKING:
    from alembic.config import Config

SCHEMA_HEAD: Final = "0014_model_risk"
"""The revision of the newest migration (a test checks it against `migrations_head`)."""

# Any constant works; it only has to be the same for every govml process on a database.
logger = logging.getLogger("govml.store")
_APPENDED = "govml_appended"  # govml.store.ledger.APPENDED: entries appended in a write
_PG_WRITE_LOCK = 0x60_76_4D_4C
_WRITE = "govml_write"
_VERSION_TABLE = "alembic_version"


class _OpenWrite:
    """A write transaction in progress: its store, the thread running it, its connection."""

    __slots__ = ("conn", "store", "thread")

    def __init__(self, store: Store, conn: Connection) -> None:
        self.store, self.conn, self.thread = store, conn, threading.get_ident()


# The write transactions open in this context, innermost last. The thread is checked too:
# a thread started with a copy of the context (asyncio.to_thread) must not share the
# connection, which belongs to the thread that opened it.
_OPEN_WRITES: ContextVar[tuple[_OpenWrite, ...]] = ContextVar("govml_open_writes", default=())


class Store:
    """A connection to govml's metadata database.

    Parameters
    ----------
    url
        SQLAlchemy URL (``sqlite:///path`` or ``postgresql://...``).
    migrate
        Apply pending migrations on first use (the default). When False, an out-of-date
        schema raises `SchemaVersionError` instead; when None, the schema is not looked at
        (for `upgrade`, which reports the revisions itself).
    create
        Create the store when the database holds none (the default; `govml init`). When
        False, a database without a govml schema, or a SQLite file that does not exist, raises
        `MissingStoreError` and nothing is created: not the file, not its folder.
    """

    def __init__(self, url: str, *, migrate: bool | None = True, create: bool = True) -> None:
        self.url = normalise_database_url(url)
        self.engine = _create_engine(self.url, create=create)
        # Called with the ledger entries of each committed write (see `write`).
        self.after_commit: list[Callable[[Sequence[Any]], None]] = []
        try:
            if not create:
                self._check_exists()
            if migrate is not None:
                self._ensure_schema(migrate=migrate)
        except BaseException:
            self.engine.dispose()
            raise

    @property
    def dialect(self) -> str:
        """Return the dialect name: ``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """Yield a connection in a read transaction (the open write's, inside one)."""
        joined = self._open_write()
        if joined is not None:
            yield joined
            return
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """Yield a connection in a serialised write transaction, committed on exit.

        Inside a write this thread already holds on this store, yield that connection in a
        savepoint instead: released on exit, rolled back (alone) on an exception, committed
        only when the outermost write commits. Once the outermost write has committed, each
        of ``after_commit`` is called with the ledger entries it appended (if any); a hook
        that fails is logged and changes nothing: the write is done.
        """
        joined = self._open_write()
        if joined is not None:
            mark = len(joined.info.get(_APPENDED, ()))
            try:
                with joined.begin_nested():
                    yield joined
            except BaseException:
                del joined.info.get(_APPENDED, [])[mark:]  # rolled back with the savepoint
                raise
            return
        appended: list[Any] = []
        with self.engine.connect().execution_options(**{_WRITE: True}) as conn:
            conn.info.pop(_APPENDED, None)
            try:
                with conn.begin():
                    token = _OPEN_WRITES.set((*_OPEN_WRITES.get(), _OpenWrite(self, conn)))
                    try:
                        yield conn
                    finally:
                        _OPEN_WRITES.reset(token)
                appended = conn.info.get(_APPENDED) or []
            finally:
                conn.info.pop(_APPENDED, None)  # the connection goes back to the pool
        if appended:
            self._committed(appended)

    def _committed(self, entries: Sequence[Any]) -> None:
        for hook in list(self.after_commit):
            try:
                hook(entries)
            except Exception:
                logger.warning("an after-commit hook failed", exc_info=True)

    def _open_write(self) -> Connection | None:
        """Return the connection of this thread's open write on this store, if any."""
        thread = threading.get_ident()
        for open_write in reversed(_OPEN_WRITES.get()):
            if open_write.store is self and open_write.thread == thread:
                return open_write.conn
        return None

    def current_revision(self) -> str | None:
        """Return the schema revision recorded in the database, None when empty."""
        with self.engine.connect() as conn:
            return _recorded_revision(conn)

    def head_revision(self) -> str:
        """Return the newest schema revision this govml knows."""
        return migrations_head()

    def upgrade(self) -> tuple[str | None, str]:
        """Apply pending migrations; return the revisions before and after."""
        from alembic import command

        with self.write() as conn:
            before = _recorded_revision(conn)
            self._check_known(before)
            if before != self.head_revision():
                config = _alembic_config()
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
        return before, self.head_revision()

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def _revision_or_unreachable(self) -> str | None:
        try:
            return self.current_revision()
        except OperationalError as exc:
            raise StoreError(f"cannot open the database {safe_url(self.url)}: {exc.orig}") from None

    def _check_exists(self) -> None:
        if self._revision_or_unreachable() is None:
            raise MissingStoreError(f"the database {safe_url(self.url)} holds no govml store")

    def _ensure_schema(self, *, migrate: bool) -> None:
        current = self._revision_or_unreachable()
        if current == SCHEMA_HEAD:
            return
        self._check_known(current)
        if current == self.head_revision():
            return
        if not migrate:
            state = "has no govml schema yet" if current is None else f"is at {current!r}"
            raise SchemaVersionError(
                f"the database {safe_url(self.url)} {state}; this govml needs "
                f"schema revision {self.head_revision()!r}",
                hint="run `govml db upgrade`",
            )
        self.upgrade()

    def _check_known(self, revision: str | None) -> None:
        if revision is None:
            return
        from alembic.script import ScriptDirectory

        script = ScriptDirectory.from_config(_alembic_config())
        known = {rev.revision for rev in script.walk_revisions()}
        if revision not in known:
            raise SchemaVersionError(
                f"the database {safe_url(self.url)} has schema revision {revision!r}, which this "
                f"govml does not know (newest known: {self.head_revision()!r}): it was created "
                "by a newer govml",
                hint="upgrade govml to open it; nothing was changed",
            )


def migrations_head() -> str:
    """Return the revision of the newest migration, read from the migration scripts."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def _recorded_revision(conn: Connection) -> str | None:
    """Return the revision in Alembic's version table, None when there is none."""
    if not sa.inspect(conn).has_table(_VERSION_TABLE):
        return None
    found = conn.execute(sa.text(f"SELECT version_num FROM {_VERSION_TABLE}")).scalar()
    return None if found is None else str(found)


def _alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(files("govml.store") / "migrations"))
    return config


def _create_engine(url: str, *, create: bool) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigurationError(f"GOVML_DATABASE_URL: cannot parse {url!r}") from None
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed.database, create=create)
    if parsed.get_backend_name() == "postgresql":
        engine = sa.create_engine(url, pool_recycle=3600)
        sa.event.listen(engine, "begin", _pg_begin)
        return engine
    raise ConfigurationError(f"GOVML_DATABASE_URL: unsupported database {parsed.drivername!r}")


def _sqlite_engine(url: str, database: str | None, *, create: bool) -> Engine:
    if not database or database == ":memory:":
        raise ConfigurationError("GOVML_DATABASE_URL: an in-memory SQLite database is not a store")
    if create:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    elif not Path(database).is_file():
        # Opening it would create an empty file: a store only `govml init` makes.
        raise MissingStoreError(f"the SQLite database {database} does not exist")
    # A small pool keeps connections (and their PRAGMAs) between transactions of one process.
    engine = sa.create_engine(url, pool_size=4, max_overflow=8, connect_args={"timeout": 60})
    sa.event.listen(engine, "connect", _sqlite_connect)
    sa.event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event emit BEGIN itself instead of pysqlite's implicit one.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=60000")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")


def _pg_begin(conn: Connection) -> None:
    if conn.get_execution_options().get(_WRITE):
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_WRITE_LOCK})")


def normalise_database_url(url: str) -> str:
    """Map ``postgres://`` and ``postgresql://`` to the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def safe_url(url: str) -> str:
    """Render a URL without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable url>"
