"""Statistics engines: numpy in process, DuckDB over Parquet, Spark over a lake.

Every engine returns the same statistics objects (tested equal on the same data), so the
metrics, drift tests and monitoring read them without knowing where they were computed::

    from govml.engines import get_engine

    spark = get_engine("spark")            # pip install 'govml[spark]' (and Java 17)
    confusion = spark.binary_confusion(
        "s3a://lake/scores/2026-11/", y_true="default", y_pred="decision", sensitive=["sex"]
    )

Engines are found by name: the built-in ``numpy``, ``duckdb`` and ``spark``, and those that
installed packages declare in the ``govml.engines`` entry-point group (only installed entry
points are ever loaded).
"""

from govml.engines.base import Engine
from govml.engines.registry import ENGINE_NAMES, UnknownEngineError, engine_names, get_engine

__all__ = ["ENGINE_NAMES", "Engine", "UnknownEngineError", "engine_names", "get_engine"]
