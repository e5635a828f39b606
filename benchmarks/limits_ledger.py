"""`audit verify` against the machine's floor and against govml's earlier figures.

For each backend a fresh store is filled with 1,000,000 entries by ``bench_ledger.fill``
(the bytes, leaf hashes and tree heads ``append`` writes), one tree head per entry (every
entry its own transaction: the worst case) and, with ``shapes`` holding 1000, one per 1,000
entries. Each figure is the median of three fresh processes (``bench_ledger.measure``):

- govml: ``Client.verify_ledger()`` end to end (the check of every row split over the CPUs,
  the signed checkpoints, the records replay);
- floor: read every entry and tree head row through the driver and hash each entry once, in
  one process (``bench_ledger.floor_pass``): no frontier, root, column or time checks;
- anchor: govml's own figure before this work (benchmarks/README.md, same ledger shape and
  size, the machine otherwise idle): the anchor of the ledger has no other library.
"""

from __future__ import annotations

import time
from typing import Any

import bench_ledger

EARLIER_S = {
    ("sqlite", 1): 4.15,
    ("sqlite", 1000): 2.23,
    ("postgres", 1): 5.53,
    ("postgres", 1000): 2.52,
}
"""`audit verify` of 1,000,000 entries before the index on action (README, "Ledger")."""


def ledger_rows(
    entries: int = 1_000_000,
    backends: tuple[str, ...] = ("sqlite", "postgres"),
    shapes: tuple[int, ...] = (1,),
) -> list[dict[str, Any]]:
    """Return the ledger rows of bench_limits, one per backend and tree-head shape.

    Rows have the keys of the other sections (``case``, ``govml_s``, ``floor_s``,
    ``anchor``, ``anchor_s``, ``x_floor``, ``speedup``, ``same``); ``same`` is None (the
    anchor is govml's own earlier figure, on a ledger of the same shape).
    """
    out = []
    for backend in backends:
        for per_head in shapes:
            with bench_ledger.store(backend) as (client, url, home):
                started = time.perf_counter()
                bench_ledger.fill(client, entries, per_head)
                print(f"  {backend}: filled {entries:,} in {time.perf_counter() - started:.0f} s")
                verify = bench_ledger.measure(url, home, "verify")
                floor = bench_ledger.measure(url, home, "floor")
                govml_s, floor_s = verify["median"], floor["median"]
                print(
                    f"  {backend}: audit verify {govml_s:.2f} s (CPU {verify['cpu']:.1f} s + "
                    f"workers {verify['cpu_workers']:.1f} s), floor {floor_s:.2f} s "
                    f"(CPU {floor['cpu']:.1f} s)"
                )
            earlier = EARLIER_S.get((backend, per_head)) if entries == 1_000_000 else None
            shape = "per entry" if per_head == 1 else f"per {per_head:,} entries"
            out.append(
                {
                    "case": f"audit verify, {backend}, {entries:,} entries, a tree head {shape}",
                    "govml_s": govml_s,
                    "floor_s": floor_s,
                    "anchor": "govml before" if earlier else None,
                    "anchor_s": earlier,
                    "x_floor": govml_s / floor_s,
                    "speedup": earlier / govml_s if earlier else None,
                    "same": None,
                }
            )
    return out
