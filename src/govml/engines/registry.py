"""Engines found by name: the built-in ones and the ``govml.engines`` entry-point group."""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import entry_points
from typing import Any

from govml.engines.base import Engine
from govml.errors import InputError, did_you_mean

ENTRY_POINT_GROUP = "govml.engines"
ENGINE_NAMES = ("numpy", "duckdb", "spark")
_BUILT_IN = {
    "numpy": "govml.engines.numpy_engine:NumpyEngine",
    "duckdb": "govml.engines.duckdb_engine:DuckDBEngine",
    "spark": "govml.engines.spark_engine:SparkEngine",
}
ERR_UNKNOWN = "unknown statistics engine {name!r}; the engines are {names}"


class UnknownEngineError(InputError):
    """No engine has the name asked for."""


def engine_names() -> list[str]:
    """Return the names of the built-in engines and of the installed ones."""
    installed = [ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)]
    return list(dict.fromkeys([*ENGINE_NAMES, *installed]))


def get_engine(name: str, **options: Any) -> Engine:
    """Return the engine called ``name``, built with ``options``.

    Parameters
    ----------
    name : str
        ``numpy``, ``duckdb``, ``spark`` or the name of an installed entry point.
    **options
        Passed to the engine's constructor (``session=`` for Spark, for example).

    Raises
    ------
    UnknownEngineError
        When no engine has that name (with a suggestion).
    ConfigurationError
        When the engine needs a package or a program that is not installed (Spark: pyspark
        and Java), naming what to install.
    """
    target = _BUILT_IN.get(name)
    if target is not None:
        module, _, attribute = target.partition(":")
        factory = getattr(import_module(module), attribute)
    else:
        found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
        if not found:
            names = engine_names()
            raise UnknownEngineError(
                ERR_UNKNOWN.format(name=name, names=", ".join(names)),
                hint=did_you_mean(name, names),
            )
        factory = found[0].load()
    engine = factory(**options)
    if not isinstance(engine, Engine):
        raise InputError(f"the engine {name!r} does not provide the statistics engine methods")
    return engine
