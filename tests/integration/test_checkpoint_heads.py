"""Signing a checkpoint from the tree heads: a few rows read, the same refusals (both backends).

`audit checkpoint` checks that the latest tree head's frontier folds to its root and proves
consistency with the last signed checkpoint from tree-head subtrees, instead of rebuilding the
tree from every leaf hash. What it signs must equal the RFC 6962 root of the stored entries,
and a tree head changed behind govml's back (its root, or a consistent rewrite of entries and
tree heads under a signed checkpoint) must still be refused.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

import govml
from govml.errors import LedgerVerificationError
from govml.ledger.checkpoint import VerifierKey, open_checkpoint
from govml.ledger.merkle import Frontier, leaf_hash, root_hash
from govml.store.ledger import NewEntry, append
from govml.store.schema import APPEND_ONLY_TABLES


def _append(client: govml.Client, count: int) -> None:
    for number in range(count):
        with client.ctx.store.write() as conn:
            append(
                conn,
                actor="alice",
                now=datetime.now(UTC),
                entries=[NewEntry(action="test.event", subject="model/m", payload={"n": number})],
            )


def _write(client: govml.Client, sql: str, **params: object) -> None:
    with client.ctx.store.write() as conn:
        for table in APPEND_ONLY_TABLES:
            if client.ctx.store.dialect == "sqlite":
                conn.execute(sa.text(f"DROP TRIGGER IF EXISTS {table}_no_update"))
            else:
                conn.execute(sa.text(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}"))
        conn.execute(sa.text(sql), params)


def _stored_root(client: govml.Client) -> bytes:
    with client.ctx.store.read() as conn:
        texts = conn.execute(sa.text("SELECT entry FROM ledger_entries ORDER BY seq")).scalars()
        return root_hash([leaf_hash(text.encode()) for text in texts])


def test_signed_roots_are_the_roots_of_the_stored_entries(client: govml.Client) -> None:
    client.init()
    for more in (5, 1, 12):  # each checkpoint proven consistent with the one before
        _append(client, more)
        signed = client.sign_checkpoint()
        assert bytes.fromhex(signed.root_hash) == _stored_root(client)
        key = VerifierKey.parse(client.ledger_key().verifier_key)
        note = open_checkpoint(signed.signed_note, [key])
        assert note.root_hash == _stored_root(client)


def test_a_tree_head_whose_root_is_not_its_frontiers_is_not_signed(client: govml.Client) -> None:
    client.init()
    _append(client, 3)
    _write(
        client,
        "UPDATE ledger_checkpoints SET root_hash = '" + "0" * 64 + "' WHERE tree_size = "
        "(SELECT max(tree_size) FROM ledger_checkpoints)",
    )
    with pytest.raises(LedgerVerificationError, match="not signing: the tree head at size"):
        client.sign_checkpoint()


def test_a_consistent_rewrite_under_a_signed_checkpoint_is_not_signed(
    client: govml.Client,
) -> None:
    client.init()
    _append(client, 6)
    client.sign_checkpoint()
    _append(client, 2)
    # Entry 3 and every tree head from size 4 on rewritten consistently.
    with client.ctx.store.read() as conn:
        rows = conn.execute(
            sa.text("SELECT entry, leaf_hash FROM ledger_entries ORDER BY seq")
        ).all()
    texts = [row.entry for row in rows]
    texts[3] = texts[3].replace('"n":', '"n" :', 1)
    _write(
        client,
        "UPDATE ledger_entries SET entry = :entry, leaf_hash = :digest WHERE seq = 3",
        entry=texts[3],
        digest=leaf_hash(texts[3].encode()).hex(),
    )
    frontier = Frontier()
    for size, text in enumerate(texts, start=1):
        frontier.append(leaf_hash(text.encode()))
        _write(
            client,
            "UPDATE ledger_checkpoints SET root_hash = :root, frontier = :frontier "
            "WHERE tree_size = :size",
            root=frontier.root().hex(),
            frontier=json.dumps(frontier.to_json()),
            size=size,
        )
    with pytest.raises(LedgerVerificationError, match="not signing: the ledger is not consistent"):
        client.sign_checkpoint()
