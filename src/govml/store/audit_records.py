"""SQL that `audit verify` and `govml db status` need beyond the ledger's own tables.

The counts of models and versions, every stored dataset fingerprint (compared with the
ledger's ``dataset.recorded`` entries), and every ledger row as stored, for the decoding
verifier that names the first bad entry.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from govml.store.schema import datasets, ledger_entries, model_versions, models


def count_models(conn: Connection) -> int:
    """Return how many models the store holds."""
    return int(conn.execute(sa.select(sa.func.count()).select_from(models)).scalar_one())


def count_versions(conn: Connection) -> int:
    """Return how many model versions the store holds."""
    return int(conn.execute(sa.select(sa.func.count()).select_from(model_versions)).scalar_one())


def dataset_fingerprints(conn: Connection) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield every stored dataset's digest and fingerprint, in order of digest."""
    rows = conn.execute(
        sa.select(datasets.c.digest, datasets.c.fingerprint).order_by(datasets.c.digest)
    )
    for digest, fingerprint in rows:
        yield digest, dict(fingerprint)


def ledger_rows(conn: Connection) -> Iterator[Any]:
    """Yield every ledger row as stored, in order of ``seq``, 10,000 at a time."""
    yield from conn.execution_options(yield_per=10_000).execute(
        sa.select(ledger_entries).order_by(ledger_entries.c.seq)
    )
