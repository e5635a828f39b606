"""Rows grouped by every combination of control and sensitive features, and the tables over them.

A *cell* is one observed combination of the control features' and the sensitive features'
values (control features first, as in Fairlearn's ``MetricFrame`` index). Results are laid
out on the *product* of each feature's sorted values, so that combinations no row has are
present (as NaN), which is how Fairlearn indexes them; with control features the product
reshapes to (control combinations, sensitive combinations), the axis the aggregates run
along.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from govml.metrics._features import Column
from govml.metrics._groups import MISSING_HINT, Groups, MissingPolicy, encode_groups_counted
from govml.metrics._validate import MetricInputError, sort_key

MISSING_FEATURE = "{role} {name!r} has {count} missing value(s)"
TOO_MANY_COMBINATIONS = (
    "the features' values make {count:,} combinations, more than {limit:,}; group by fewer "
    "features or coarser values"
)
# The product of the features' values is laid out in full (as Fairlearn does); past this
# many combinations that table, not the rows, would be what costs memory.
MAX_COMBINATIONS = 10_000_000


@dataclass(frozen=True, eq=False)
class Cells:
    """Each row's cell, the cells, and where each cell sits in the product tables.

    Attributes
    ----------
    codes : ndarray of intp
        Each row's cell, 0..len(groups) - 1.
    groups : Groups
        The cells: names are the control features then the sensitive features.
    n_control : int
        How many of the names are control features.
    levels : tuple of tuples
        Each feature's distinct values, sorted.
    """

    codes: NDArray[np.intp]
    groups: Groups
    n_control: int
    levels: tuple[tuple[Any, ...], ...]

    @property
    def names(self) -> list[str]:
        """Every feature's name, control features first."""
        return list(self.groups.names)

    @property
    def control_names(self) -> list[str]:
        """The control features' names."""
        return list(self.groups.names[: self.n_control])

    @property
    def sensitive_names(self) -> list[str]:
        """The sensitive features' names."""
        return list(self.groups.names[self.n_control :])

    @property
    def n_cells(self) -> int:
        """The number of observed cells."""
        return len(self.groups)

    @property
    def n_control_product(self) -> int:
        """Rows of the aggregate tables: control combinations (1 without control features)."""
        return math.prod(len(v) for v in self.levels[: self.n_control])

    @property
    def n_sensitive_product(self) -> int:
        """Sensitive combinations within one control combination."""
        return math.prod(len(v) for v in self.levels[self.n_control :])

    @property
    def n_product(self) -> int:
        """Rows of ``by_group``: every combination of every feature's values."""
        return self.n_control_product * self.n_sensitive_product

    @cached_property
    def position(self) -> NDArray[np.intp]:
        """Each cell's position in the product (control-major, C order)."""
        return self._positions(self.groups.keys, self.levels)

    @cached_property
    def control(self) -> NDArray[np.intp]:
        """Each cell's control combination (its row in the aggregate tables)."""
        return np.asarray(self.position // self.n_sensitive_product, dtype=np.intp)

    @cached_property
    def n_rows(self) -> NDArray[np.int64]:
        """Rows per cell."""
        return np.bincount(self.codes, minlength=self.n_cells).astype(np.int64)

    def control_positions(self, groups: Groups) -> NDArray[np.intp]:
        """Return where each group of ``groups`` (keyed by the control features) sits."""
        return self._positions(groups.keys, self.levels[: self.n_control])

    @staticmethod
    def _positions(
        keys: Sequence[tuple[Any, ...]], levels: tuple[tuple[Any, ...], ...]
    ) -> NDArray[np.intp]:
        if not levels:
            return np.zeros(len(keys), dtype=np.intp)
        lookup = [{value: i for i, value in enumerate(level)} for level in levels]
        digits = [
            np.array([lookup[f][key[f]] for key in keys], dtype=np.intp) for f in range(len(levels))
        ]
        shape = tuple(len(level) for level in levels)
        return np.asarray(np.ravel_multi_index(tuple(digits), shape), dtype=np.intp)

    def index(self) -> pd.Index[Any]:
        """Return the index of ``by_group``: one level per feature, over the product."""
        return _product_index(self.levels, self.names)

    def control_index(self) -> pd.Index[Any] | None:
        """Return the index of ``overall`` and the aggregates; None without control features."""
        if not self.n_control:
            return None
        return _product_index(self.levels[: self.n_control], self.control_names)

    @cached_property
    def _order(self) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
        order = np.argsort(self.codes, kind="stable")
        starts = np.concatenate([[0], np.cumsum(self.n_rows)]).astype(np.intp)
        return order, starts

    def rows(self, cell: int) -> NDArray[np.intp]:
        """Return the rows of ``cell``, in their original order."""
        order, starts = self._order
        return order[starts[cell] : starts[cell + 1]]

    def control_rows(self) -> list[NDArray[np.intp]]:
        """Return the rows of each observed control combination, in the order of its key."""
        per_row = self.control[self.codes]
        present = np.unique(self.control)
        order = np.argsort(per_row, kind="stable")
        bounds = np.searchsorted(per_row[order], np.append(present, self.n_control_product))
        return [order[bounds[i] : bounds[i + 1]] for i in range(len(present))]

    @cached_property
    def observed_controls(self) -> NDArray[np.intp]:
        """The control combinations some row has, ascending."""
        return np.unique(self.control)


def group_cells(
    control: list[Column], sensitive: list[Column], n_rows: int, *, missing: MissingPolicy
) -> Cells:
    """Group the rows by their control and sensitive features' values (one hash pass each).

    Raises
    ------
    MetricInputError
        On a missing value when ``missing="error"`` (naming the feature and the count), on
        values that cannot be grouped, or on more than ``MAX_COMBINATIONS`` combinations.
    """
    columns = dict(control + sensitive)
    codes, groups, counts = encode_groups_counted(columns, n_rows, missing="group")
    if missing == "error":
        _refuse_missing(codes, groups, n_control=len(control))
    levels = tuple(
        tuple(sorted({key[f] for key in groups.keys}, key=sort_key))
        for f in range(len(groups.names))
    )
    count = math.prod(len(level) for level in levels)
    if count > MAX_COMBINATIONS:
        raise MetricInputError(TOO_MANY_COMBINATIONS.format(count=count, limit=MAX_COMBINATIONS))
    cells = Cells(codes=codes, groups=groups, n_control=len(control), levels=levels)
    cells.__dict__["n_rows"] = counts  # the cached property, already counted
    return cells


def _refuse_missing(codes: NDArray[np.intp], groups: Groups, *, n_control: int) -> None:
    for f, name in enumerate(groups.names):
        missing_cells = [g for g, key in enumerate(groups.keys) if key[f] is None]
        if missing_cells:
            count = int(np.isin(codes, missing_cells).sum())
            role = "control feature" if f < n_control else "sensitive feature"
            raise MetricInputError(
                MISSING_FEATURE.format(role=role, name=name, count=count), hint=MISSING_HINT
            )


def _product_index(levels: tuple[tuple[Any, ...], ...], names: list[str]) -> pd.Index[Any]:
    index: pd.Index[Any]
    if len(levels) == 1:
        index = pd.Index(list(levels[0]), name=names[0])
    else:
        index = pd.MultiIndex.from_product([list(level) for level in levels], names=names)
    return index
