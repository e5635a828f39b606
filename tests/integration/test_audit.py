"""Tamper detection: ledger rows and records changed behind govml's back are named."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from tests.conftest import populate

import govml
from govml.errors import IntegrityError, LedgerVerificationError
from govml.store.schema import APPEND_ONLY_TABLES


def _drop_triggers(client: govml.Client) -> None:
    with client.ctx.store.write() as conn:
        if client.ctx.store.dialect == "sqlite":
            for table in APPEND_ONLY_TABLES:
                conn.execute(sa.text(f"DROP TRIGGER {table}_no_update"))
                conn.execute(sa.text(f"DROP TRIGGER {table}_no_delete"))
        else:
            for table in APPEND_ONLY_TABLES:
                conn.execute(sa.text(f"DROP TRIGGER {table}_append_only ON {table}"))


def _raw(client: govml.Client, sql: str, **params: object) -> None:
    with client.ctx.store.write() as conn:
        conn.execute(sa.text(sql), params)


def _entry(client: govml.Client, seq: int) -> tuple[str, str]:
    with client.ctx.store.read() as conn:
        row = conn.execute(
            sa.text("SELECT entry, leaf_hash FROM ledger_entries WHERE seq = :s"), {"s": seq}
        ).one()
    return row.entry, row.leaf_hash


@pytest.fixture
def populated(client: govml.Client) -> Iterator[govml.Client]:
    populate(client)
    result = client.verify_ledger()
    assert result.entries == 8  # first user (admin), 3 models, 1 dataset, 2 versions, 1 tag
    _drop_triggers(client)
    yield client


def test_clean_store_verifies(populated: govml.Client) -> None:
    result = populated.verify_ledger()
    assert (result.models, result.versions, result.datasets) == (3, 2, 1)
    assert len(result.root_hash) == 64


def test_changed_payload_is_named(populated: govml.Client) -> None:
    entry, _ = _entry(populated, 2)
    assert '"minimal"' in entry
    _raw(
        populated,
        "UPDATE ledger_entries SET entry = :e WHERE seq = 2",
        e=entry.replace('"minimal"', '"limited"'),
    )
    with pytest.raises(LedgerVerificationError, match="entry 2") as info:
        populated.verify_ledger()
    assert info.value.seq == 2


def test_payload_and_leaf_hash_rewritten_together_are_caught_by_the_tree_head(
    populated: govml.Client,
) -> None:
    from govml.ledger.merkle import leaf_hash

    entry, _ = _entry(populated, 1)
    forged = entry.replace('"high"', '"minimal"')
    assert forged != entry
    _raw(
        populated,
        "UPDATE ledger_entries SET entry = :e, leaf_hash = :h WHERE seq = 1",
        e=forged,
        h=leaf_hash(forged.encode()).hex(),
    )
    with pytest.raises(LedgerVerificationError) as info:
        populated.verify_ledger()
    assert info.value.seq == 1


def test_deleted_row_is_named(populated: govml.Client) -> None:
    _raw(populated, "DELETE FROM ledger_entries WHERE seq = 3")
    with pytest.raises(LedgerVerificationError) as info:
        populated.verify_ledger()
    assert info.value.seq == 3


def test_swapped_rows_are_named(populated: govml.Client) -> None:
    _raw(populated, "UPDATE ledger_entries SET seq = -1 WHERE seq = 4")
    _raw(populated, "UPDATE ledger_entries SET seq = 4 WHERE seq = 5")
    _raw(populated, "UPDATE ledger_entries SET seq = 5 WHERE seq = -1")
    with pytest.raises(LedgerVerificationError) as info:
        populated.verify_ledger()
    assert info.value.seq == 4


def test_query_columns_must_agree_with_the_entry(populated: govml.Client) -> None:
    _raw(populated, "UPDATE ledger_entries SET actor = 'mallory' WHERE seq = 3")
    with pytest.raises(LedgerVerificationError) as info:
        populated.verify_ledger()
    assert info.value.seq == 3


def test_model_record_changed_by_raw_sql_is_named(populated: govml.Client) -> None:
    _raw(populated, "UPDATE models SET risk_tier = 'minimal' WHERE name = 'credit'")
    with pytest.raises(IntegrityError, match="model 'credit'.*risk_tier.*minimal.*high"):
        populated.verify_ledger()


def test_tag_changed_by_raw_sql_is_named(populated: govml.Client) -> None:
    _raw(populated, "UPDATE model_tags SET value = 'prod' WHERE key = 'stage'")
    with pytest.raises(IntegrityError, match="model 'credit'.*tags"):
        populated.verify_ledger()


def test_version_record_changed_by_raw_sql_is_named(populated: govml.Client) -> None:
    _raw(
        populated,
        "UPDATE model_versions SET metrics = :m WHERE version = 2",
        m=json.dumps({"accuracy": 0.99}),
    )
    with pytest.raises(IntegrityError, match="version credit@2 was changed"):
        populated.verify_ledger()


def test_dataset_fingerprint_changed_by_raw_sql_is_named(populated: govml.Client) -> None:
    with populated.ctx.store.read() as conn:
        digest, stored = conn.execute(sa.text("SELECT digest, fingerprint FROM datasets")).one()
    data = stored if isinstance(stored, dict) else json.loads(stored)
    data["row_count"] = 41
    _raw(
        populated,
        "UPDATE datasets SET fingerprint = :f WHERE digest = :d",
        f=json.dumps(data),
        d=digest,
    )
    with pytest.raises(IntegrityError, match=f"dataset {digest}"):
        populated.verify_ledger()


def test_model_deleted_by_raw_sql_is_named(populated: govml.Client) -> None:
    _raw(populated, "DELETE FROM models WHERE name = 'fraud'")
    with pytest.raises(IntegrityError, match="model 'fraud' is in the ledger but missing"):
        populated.verify_ledger()


@pytest.fixture(scope="module")
def sqlite_populated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[govml.Client]:
    home = tmp_path_factory.mktemp("tamper")
    client = govml.connect(home, user="alice", create=True)
    populate(client)
    _drop_triggers(client)
    yield client
    client.close()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seq=st.integers(0, 7), position=st.integers(0, 10_000), new=st.integers(1, 127))
def test_any_single_byte_change_of_any_entry_is_named(
    sqlite_populated: govml.Client, seq: int, position: int, new: int
) -> None:
    client = sqlite_populated
    original, _ = _entry(client, seq)
    raw = bytearray(original.encode())
    index = position % len(raw)
    assume(raw[index] < 128 and raw[index] != new)  # stay valid UTF-8 text, change one byte
    raw[index] = new
    try:
        _raw(client, "UPDATE ledger_entries SET entry = :e WHERE seq = :s", e=raw.decode(), s=seq)
        with pytest.raises(LedgerVerificationError) as info:
            client.verify_ledger()
        assert info.value.seq == seq
    finally:
        _raw(client, "UPDATE ledger_entries SET entry = :e WHERE seq = :s", e=original, s=seq)
    client.verify_ledger()
