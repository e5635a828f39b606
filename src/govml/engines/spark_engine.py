"""The Spark engine: statistics by Spark SQL over a DataFrame or a Parquet / Delta path.

The statistics are aggregations (``GROUP BY`` and ``SUM``), so Spark computes them where the
data is, in as many executors as the cluster has, and only the aggregated rows (groups ×
labels, sketch buckets, category counts: kilobytes) reach the driver.

``data`` is a ``pyspark.sql.DataFrame``, or the path of a Parquet file or folder, or of a
Delta table (a folder with ``_delta_log``; the session needs the Delta Lake package). On a
cluster the path is what the session reads: ``s3a://bucket/table`` with the Hadoop S3A
connector, ``abfss://...``, ``gs://...``. Without a session of its own the engine uses the
active one, or starts ``local[2]``.

Needs ``pip install 'govml[spark]'`` (pyspark 4) and Java 17.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from govml.engines.sql_engine import SqlEngine, parquet_paths
from govml.engines.sql_source import SqlSource
from govml.errors import ConfigurationError, InputError

ERR_NO_PYSPARK = "the spark engine needs pyspark"
HINT_NO_PYSPARK = "pip install 'govml[spark]'"
ERR_NO_JAVA = "the spark engine needs Java 17 or later, and no java was found"
HINT_NO_JAVA = "install a JDK (Debian: apt-get install openjdk-17-jre-headless) or set JAVA_HOME"
HINT_NO_FILESYSTEM = (
    "the session has no file system for that scheme: read s3a:// paths with the Hadoop S3A "
    "connector on its classpath (spark.jars.packages=org.apache.hadoop:hadoop-aws:<Spark's "
    "Hadoop version>; EMR, Dataproc and Databricks have it), or give a local path"
)
ERR_NOT_DATA = "the spark engine reads a Spark DataFrame or a Parquet / Delta path, got {type}"
DEFAULT_MASTER = "local[2]"

_TYPES = {
    "ByteType": "int64",
    "ShortType": "int64",
    "IntegerType": "int64",
    "LongType": "int64",
    "FloatType": "float64",
    "DoubleType": "float64",
    "BooleanType": "bool",
    "StringType": "string",
    "VarcharType": "string",
    "CharType": "string",
    "NullType": "null",
}


def java_available() -> bool:
    """Return True when a ``java`` program is on the PATH or under ``JAVA_HOME``."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return True
    return shutil.which("java") is not None


def local_session(master: str = DEFAULT_MASTER, **config: str) -> Any:
    """Return the active Spark session, or start one on ``master`` with ``config``.

    Raises
    ------
    ConfigurationError
        When pyspark or Java is missing, naming what to install.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigurationError(ERR_NO_PYSPARK, hint=HINT_NO_PYSPARK) from None
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if not java_available():
        raise ConfigurationError(ERR_NO_JAVA, hint=HINT_NO_JAVA)
    if master.startswith("local"):
        # Python workers (a model scoring in a pandas UDF) run this interpreter, which has
        # govml and the model's libraries; PySpark reads the variable when the context starts.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.master(master)
        .appName("govml")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.driver.memory", os.environ.get("GOVML_SPARK_DRIVER_MEMORY", "2g"))
    )
    for key, value in config.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


_PYTHON_ERROR = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Warning)\b.*$")


def spark_errors() -> tuple[type[BaseException], ...]:
    """Return the exception types a Spark call raises: PySpark's, and the JVM's through py4j."""
    from py4j.protocol import Py4JJavaError  # type: ignore[import-untyped]
    from pyspark.errors import PySparkException

    return (PySparkException, Py4JJavaError)


def error_line(exc: BaseException) -> str:
    """Return the line of a Spark error that says what went wrong.

    An error of Python code on an executor (a model scoring in a pandas UDF) is the last
    line of its traceback; a JVM error passed through py4j is its Java exception's first
    line; any other error is its first line.
    """
    java = getattr(exc, "java_exception", None)
    text = str(exc) if java is None else str(java.toString())
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    if "Traceback (most recent call last)" in text:
        python = []
        for line in lines:
            if line.startswith("at "):  # the JVM's stack, after Python's traceback
                break
            if _PYTHON_ERROR.match(line) and not line.startswith(("org.", "java.", "scala.")):
                python.append(line)
        if python:
            return python[-1]
    return lines[0]


class SparkSource(SqlSource):
    """A temporary view of a Spark DataFrame; Spark quotes with backticks."""

    engine = "spark"
    null_safe_equal = "<=>"

    def __init__(self, session: Any, frame: Any, table: str) -> None:
        self._spark = session
        self._frame = frame
        self.table = table
        self._types: dict[str, str] | None = None

    def quote(self, name: str) -> str:
        """Return ``name`` in backticks, inner ones doubled."""
        return "`" + name.replace("`", "``") + "`"

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """Run ``sql`` on the cluster; return the (aggregated) rows."""
        try:
            return [tuple(row) for row in self._spark.sql(sql).collect()]
        except spark_errors() as exc:
            raise InputError(f"Spark cannot compute the statistics: {error_line(exc)}") from None

    def types(self) -> dict[str, str]:
        """Return each column's normalised type from the DataFrame's schema."""
        if self._types is None:
            self._types = {
                field.name: _TYPES.get(type(field.dataType).__name__, field.dataType.simpleString())
                for field in self._frame.schema.fields
            }
        return self._types


class SparkEngine(SqlEngine):
    """Statistics computed by Spark SQL (see the module docstring).

    Parameters
    ----------
    session : pyspark.sql.SparkSession, optional
        The session to run in; default: the active one, else ``local[2]``.
    """

    name = "spark"

    def __init__(self, *, session: Any = None) -> None:
        self._session = session

    @property
    def session(self) -> Any:
        """The Spark session (started on first use)."""
        if self._session is None:
            self._session = local_session()
        return self._session

    def read(self, data: Any) -> Any:
        """Return ``data`` as a Spark DataFrame (a path is read as Parquet or Delta).

        Raises
        ------
        InputError
            When ``data`` is neither a DataFrame nor a path, or the path cannot be read.
        """
        if type(data).__module__.startswith("pyspark") and hasattr(data, "schema"):
            return data
        paths = parquet_paths(data)
        if paths is None:
            raise InputError(ERR_NOT_DATA.format(type=type(data).__name__))
        reader = self.session.read
        try:
            if len(paths) == 1 and _is_delta(paths[0]):
                return reader.format("delta").load(paths[0])
            return reader.parquet(*paths)
        except spark_errors() as exc:
            text = str(exc)
            hint = None
            if "S3AFileSystem" in text or "No FileSystem for scheme" in text:
                hint = HINT_NO_FILESYSTEM
            raise InputError(
                f"Spark cannot read {', '.join(paths)}: {error_line(exc)}", hint=hint
            ) from None

    @contextmanager
    def source(self, data: Any) -> Iterator[SqlSource]:
        """Register ``data`` as a temporary view, dropped afterwards."""
        frame = self.read(data)
        name = f"govml_{secrets.token_hex(4)}"
        frame.createOrReplaceTempView(name)
        try:
            yield SparkSource(self.session, frame, name)
        finally:
            self.session.catalog.dropTempView(name)


def _is_delta(path: str) -> bool:
    if "://" in path and not path.startswith("file://"):
        return path.rstrip("/").endswith(".delta")
    return (Path(path.removeprefix("file://")) / "_delta_log").is_dir()
