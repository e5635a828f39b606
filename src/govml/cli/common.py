"""Helpers shared by the CLI's command groups."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import typer

from govml.client import Client, connect
from govml.errors import InputError

JSON_OPTION = typer.Option(False, "--json", help="Print machine-readable JSON.")


@contextmanager
def client(ctx: typer.Context) -> Iterator[Client]:
    """Open the store named by ``--store`` (or the environment) for one command."""
    store = getattr(ctx.find_root().obj, "store", None)
    opened = connect(store)
    try:
        yield opened
    finally:
        opened.close()


def parse_pairs(pairs: Sequence[str], what: str) -> dict[str, Any]:
    """Parse ``key=value`` arguments; values are JSON when they parse as JSON, else strings."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise InputError(f"{what} {pair!r}: expected KEY=VALUE")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out
