"""Bounded OpenMP and BLAS thread pools while explanations run.

Explainers call the model on many small batches (hundreds of rows, or one permuted row
at a time). OpenMP and BLAS pools start, spin and join threads for each call; on small
batches that costs more than the threads save, and on a machine whose cores are busy with
other work the waiting threads oversubscribe them, which turns seconds into minutes.
Explanations therefore run with :data:`EXPLAIN_THREADS` thread(s) per pool
(threadpoolctl, which scikit-learn installs, sets the limit of every pool loaded in the
process and restores it afterwards).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

EXPLAIN_THREADS = 1


@contextmanager
def limited_threads(limit: int = EXPLAIN_THREADS) -> Iterator[None]:
    """Run the block with at most ``limit`` threads in each OpenMP and BLAS pool."""
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    with threadpool_limits(limits=limit):
        yield
