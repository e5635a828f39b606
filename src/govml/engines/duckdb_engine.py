"""The DuckDB engine: statistics by SQL over Parquet files or in-memory tables.

DuckDB reads Parquet files (a path, a folder's ``*.parquet``, a glob or a list of them)
with its own parallel, streaming scan and spills beyond ``memory_limit``; pandas, polars
and Arrow tables are queried in place.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from govml.datasets import read_table
from govml.engines.sql_engine import SqlEngine, parquet_paths
from govml.engines.sql_source import SqlSource
from govml.errors import InputError

_TYPES = {
    "BOOLEAN": "bool",
    "TINYINT": "int64",
    "SMALLINT": "int64",
    "INTEGER": "int64",
    "BIGINT": "int64",
    "UTINYINT": "int64",
    "USMALLINT": "int64",
    "UINTEGER": "int64",
    "UBIGINT": "uint64",
    "FLOAT": "float64",
    "DOUBLE": "float64",
    "VARCHAR": "string",
    '"NULL"': "null",
    "NULL": "null",
}


class DuckDBSource(SqlSource):
    """A DuckDB view over the data; DuckDB quotes with double quotes."""

    engine = "duckdb"

    def __init__(self, connection: Any, table: str) -> None:
        self._db = connection
        self.table = table
        self._types: dict[str, str] | None = None

    def quote(self, name: str) -> str:
        """Return ``name`` in double quotes, inner ones doubled."""
        return '"' + name.replace('"', '""') + '"'

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """Run ``sql``; a DuckDB error becomes an InputError with its first line."""
        import duckdb

        try:
            return [tuple(row) for row in self._db.sql(sql).fetchall()]
        except duckdb.Error as exc:
            reason = str(exc).splitlines()[0]
            raise InputError(f"DuckDB cannot compute the statistics: {reason}") from None

    def types(self) -> dict[str, str]:
        """Return each column's normalised type from DuckDB's ``DESCRIBE``."""
        if self._types is None:
            described = self._db.sql(f"DESCRIBE SELECT * FROM {self.table}").fetchall()
            self._types = {str(r[0]): _TYPES.get(str(r[1]).upper(), str(r[1])) for r in described}
        return self._types


class DuckDBEngine(SqlEngine):
    """Statistics computed by DuckDB (see the module docstring).

    Parameters
    ----------
    memory_limit : str
        DuckDB's memory cap; beyond it DuckDB spills to disk.
    threads : int, optional
        Worker threads (default: DuckDB's choice, the number of cores).
    """

    name = "duckdb"

    def __init__(self, *, memory_limit: str = "2GB", threads: int | None = None) -> None:
        self.memory_limit = memory_limit
        self.threads = threads

    @contextmanager
    def source(self, data: Any) -> Iterator[SqlSource]:
        """Open a connection with ``data`` as a view, closed afterwards."""
        import duckdb

        config: dict[str, Any] = {
            "memory_limit": self.memory_limit,
            "preserve_insertion_order": False,
        }
        if self.threads is not None:
            config["threads"] = self.threads
        db = duckdb.connect(config=config)
        # Parquet writers leave NaN out of a row group's min / max, and DuckDB's statistics
        # propagation then proves `isnan(x)` false there: NaN would be counted as values.
        db.sql("SET disabled_optimizers = 'statistics_propagation'")
        try:
            paths = parquet_paths(data)
            name = f"govml_{secrets.token_hex(4)}"
            if paths is not None:
                files = [_parquet_glob(p) for p in paths]
                listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
                db.sql(f"CREATE VIEW {name} AS SELECT * FROM read_parquet([{listed}])")
            else:
                db.register(name, read_table(data))
            yield DuckDBSource(db, name)
        finally:
            db.close()


def _parquet_glob(path: str) -> str:
    """Return a folder as the glob of its Parquet files; a file or a glob as it is.

    Raises
    ------
    InputError
        When the path does not exist.
    """
    if any(c in path for c in "*?["):
        return path
    where = Path(path)
    if where.is_dir():
        return str(where / "**" / "*.parquet")
    if not where.exists():
        raise InputError(f"no Parquet file or folder at {path}")
    return path
