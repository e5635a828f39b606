"""`Store.write` is re-entrant: an inner write joins the open one as a savepoint.

On the real SQLite and PostgreSQL stores: the inner block commits with the outer one, a
failure inside the inner block undoes only that block, a failure of the outer block undoes
both, a read inside a write sees the write's rows, and another thread never joins.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from govml.store.db import Store


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    opened = Store(db_url)
    with opened.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE scratch (x INTEGER NOT NULL)"))
    yield opened
    opened.dispose()


def _values(store: Store) -> list[int]:
    with store.engine.connect() as conn:
        return [int(x) for x in conn.execute(sa.text("SELECT x FROM scratch ORDER BY x")).scalars()]


def _insert(conn: sa.Connection, x: int) -> None:
    conn.execute(sa.text("INSERT INTO scratch (x) VALUES (:x)"), {"x": x})


def test_an_inner_write_is_the_outer_transaction(store: Store) -> None:
    with store.write() as outer:
        _insert(outer, 1)
        with store.write() as inner:
            assert inner is outer
            _insert(inner, 2)
        assert _values(store) == []  # nothing is committed before the outer block ends
    assert _values(store) == [1, 2]


def test_a_failed_inner_write_undoes_only_itself(store: Store) -> None:
    with store.write() as outer:
        _insert(outer, 1)
        with pytest.raises(RuntimeError), store.write() as inner:
            _insert(inner, 2)
            raise RuntimeError("inner")
        _insert(outer, 3)
    assert _values(store) == [1, 3]


def test_a_failed_outer_write_undoes_the_inner_one(store: Store) -> None:
    with pytest.raises(RuntimeError), store.write() as outer:
        with store.write() as inner:
            _insert(inner, 2)
        _insert(outer, 1)
        raise RuntimeError("outer")
    assert _values(store) == []
    with store.write() as conn:  # the store is usable, and no longer nested
        _insert(conn, 4)
    assert _values(store) == [4]


def test_a_read_inside_a_write_sees_its_rows(store: Store) -> None:
    with store.write() as conn:
        _insert(conn, 7)
        with store.read() as reading:
            assert reading is conn
            assert reading.execute(sa.text("SELECT x FROM scratch")).scalars().all() == [7]
    with store.read() as reading:  # outside any write: a connection of its own
        assert reading.execute(sa.text("SELECT x FROM scratch")).scalars().all() == [7]


def test_another_thread_does_not_join(store: Store) -> None:
    seen: list[list[int]] = []

    def read_elsewhere() -> None:
        with store.read() as conn:
            seen.append([int(x) for x in conn.execute(sa.text("SELECT x FROM scratch")).scalars()])

    with store.write() as conn:
        _insert(conn, 5)
        thread = threading.Thread(target=read_elsewhere)
        thread.start()
        thread.join()
    assert seen == [[]]  # its own transaction does not see the uncommitted row
    assert _values(store) == [5]


def test_two_stores_on_one_database_do_not_join(store: Store, db_url: str) -> None:
    other = Store(db_url)
    try:
        with store.write() as conn, other.read() as reading:
            _insert(conn, 9)
            assert reading is not conn
    finally:
        other.dispose()
