"""Packages whose public names are imported on first use (PEP 562).

A package lists each public name and the module that defines it, and hands the list to
:func:`attach`; importing the package (or a light submodule of it) then loads none of the
heavy libraries its other modules use until one of those names is read. The package names
the same modules under ``if TYPE_CHECKING:`` so type checkers see every name.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable, Collection, Mapping
from typing import Any

SUBMODULE = ":"
"""Suffix of an export that is a submodule itself (``"govml.metrics.reference_group:"``)."""


class _Package(types.ModuleType):
    """A package keeping some function names bound when submodules of the same name load."""

    _shadowed: frozenset[str] = frozenset()

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self._shadowed and isinstance(value, types.ModuleType):
            return  # the import system binding the submodule: it stays in sys.modules
        super().__setattr__(name, value)


def attach(
    package: str,
    exports: Mapping[str, str],
    *,
    aliases: Mapping[str, str] | None = None,
    shadowed: Collection[str] = (),
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return the package's ``__getattr__`` and ``__dir__``.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    exports : mapping
        Each public name and the module defining it (a submodule: its name + ``":"``).
    aliases : mapping, optional
        Other names for exports (``{"_generated_metric_dict": "GENERATED_METRICS"}``).
    shadowed : collection of str
        Public functions named like the submodules that define them: the name stays the
        function when the submodule is imported.
    """
    module = sys.modules[package]
    other_names = dict(aliases or {})
    if shadowed:
        module.__class__ = type("_Package", (_Package,), {"_shadowed": frozenset(shadowed)})

    def __getattr__(name: str) -> Any:
        where = exports.get(other_names.get(name, name))
        if where is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        if where.endswith(SUBMODULE):
            value: Any = importlib.import_module(where[: -len(SUBMODULE)])
        else:
            value = getattr(importlib.import_module(where), other_names.get(name, name))
        module.__dict__[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*module.__dict__, *exports, *other_names})

    return __getattr__, __dir__
