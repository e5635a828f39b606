"""The inventory a server process keeps, brought up to date with only what changed.

Every change govml makes is written with a ledger entry in the same transaction, and the entry
names its subject. `InventoryCache` keeps, per store, the inventory's rows and items as of one
ledger tree head; when the latest head is another, the entries since the kept one say which
models changed, and only their rows are read again (`read_inventory` restricted to their ids)
and merged. Anything it cannot attribute to models reads everything again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy.engine import Connection

from govml.services.context import ServiceContext
from govml.store.inventory_records import (
    InventoryRows,
    ledger_root_at,
    ledger_state,
    model_ids_named,
    model_order,
    read_inventory,
    subjects_since,
)

T = TypeVar("T")

REFRESH_LIMIT = 500
"""Ledger entries since the kept tree head past which the whole inventory is read again."""
UNLISTED_SUBJECTS = ("user/", "dataset/")
"""Subjects of entries that change no inventory row (people, data fingerprints)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class _Kept(Generic[T]):
    """The inventory as of one ledger tree head: its rows, items by model id, and their order."""

    state: tuple[int, str]
    rows: InventoryRows
    items: Mapping[int, T]
    order: Sequence[int]
    listed: list[T]


class InventoryCache(Generic[T]):
    """The items of each store, brought up to date when its ledger grows.

    Every change govml makes is written with a ledger entry in the same transaction, and the
    entry names its subject (``model/NAME``, ``model/NAME/versions/N``, ``policy/NAME``, ...).
    When the ledger's latest tree head is no longer the one kept, the entries since then say
    which models changed, and only their rows are read again; anything else (a policy, an
    unknown subject, a ledger that is not an extension of the one kept, many entries) reads
    the whole inventory. Nothing kept is changed in place: a request may be reading it.
    """

    def __init__(self, build: Callable[[InventoryRows], list[T]]) -> None:
        self.build = build
        self._kept: dict[str, _Kept[T]] = {}
        self._lock = threading.Lock()

    def get(self, ctx: ServiceContext) -> list[T]:
        """Return the items of the store of ``ctx`` as of its latest state."""
        with self._lock:
            kept = self._kept.get(ctx.store.url)
        with ctx.store.read() as conn:
            state = ledger_state(conn)
            if state is None:
                return self.build(read_inventory(conn))
            if kept is not None and kept.state == state:
                return kept.listed
            fresh = _refresh(conn, kept, state, self.build)
        with self._lock:
            current = self._kept.get(ctx.store.url)
            if current is None or current.state[0] <= state[0]:
                self._kept[ctx.store.url] = fresh
        return fresh.listed


def _full(
    conn: Connection, state: tuple[int, str], build: Callable[[InventoryRows], list[T]]
) -> _Kept[T]:
    rows = read_inventory(conn)
    built = build(rows)
    order = [model.id for model in rows.models]
    items = dict(zip(order, built, strict=True))
    return _Kept(state=state, rows=rows, items=items, order=order, listed=built)


def changed_models(subjects: Iterable[str]) -> set[str] | None:
    """Return the names of the models the ledger subjects are about (None: not only models)."""
    names: set[str] = set()
    for subject in subjects:
        if subject.startswith("model/"):
            names.add(subject.split("/", 2)[1])
        elif not subject.startswith(UNLISTED_SUBJECTS):
            return None
    return names


def _refresh(
    conn: Connection,
    kept: _Kept[T] | None,
    state: tuple[int, str],
    build: Callable[[InventoryRows], list[T]],
) -> _Kept[T]:
    """Return the inventory at ``state``, reading only the models changed since ``kept``."""
    if kept is None:
        return _full(conn, state, build)
    size, root = kept.state
    if state[0] < size or ledger_root_at(conn, size) != root:
        return _full(conn, state, build)  # not an extension of the ledger kept (another store?)
    subjects = subjects_since(conn, size, limit=REFRESH_LIMIT)
    names = None if subjects is None else changed_models(subjects)
    if names is None:
        return _full(conn, state, build)
    ids = model_ids_named(conn, names)
    if len(ids) < len(names):
        return _full(conn, state, build)
    if not ids:
        return _Kept(
            state=state, rows=kept.rows, items=kept.items, order=kept.order, listed=kept.listed
        )
    part = read_inventory(conn, ids.values())
    if part.policies != kept.rows.policies:
        return _full(conn, state, build)
    part_ids = [model.id for model in part.models]
    rows = merge_rows(kept.rows, part, ids.values())
    items = dict(kept.items)
    items.update(zip(part_ids, build(part), strict=True))
    order = kept.order if all(i in kept.items for i in part_ids) else model_order(conn)
    listed = [items[mid] for mid in order]
    return _Kept(state=state, rows=rows, items=items, order=order, listed=listed)


def merge_rows(kept: InventoryRows, part: InventoryRows, ids: Iterable[int]) -> InventoryRows:
    """Return ``kept`` with the rows of the models ``ids`` replaced by those in ``part``."""
    wanted = set(ids)
    by_id = {model.id: model for model in kept.models}
    by_id.update({model.id: model for model in part.models})
    merged = InventoryRows(
        models=list(by_id.values()), policies=kept.policies
    )  # the order of models is the caller's
    for name in _PER_MODEL:
        table: dict[int, Any] = {
            mid: value for mid, value in getattr(kept, name).items() if mid not in wanted
        }
        table.update(getattr(part, name))
        setattr(merged, name, table)
    return merged


_PER_MODEL = (
    "tags",
    "newest",
    "latest_evaluation",
    "newest_evaluation",
    "aliases",
    "decisions",
    "monitoring",
    "changed",
    "retired",
)
