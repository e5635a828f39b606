"""scikit-learn's metric functions, imported the first time one is called.

The metrics Fairlearn derives from scikit-learn's (``accuracy_score_difference``,
``roc_auc_score_group_min``, ...) are computed from statistics and only call scikit-learn
for a group the statistics leave undefined; a `SklearnMetric` stands for the function until
then, so importing ``govml.metrics`` does not import scikit-learn.
"""

from __future__ import annotations

import importlib
from typing import Any


class SklearnMetric:
    """A function of ``sklearn.metrics`` by name, imported when first called."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.__name__ = name
        self.__qualname__ = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call ``sklearn.metrics.<name>`` with the same arguments."""
        function = getattr(importlib.import_module("sklearn.metrics"), self.name)
        return function(*args, **kwargs)

    def __repr__(self) -> str:
        return f"sklearn.metrics.{self.name}"
