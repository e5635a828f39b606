"""Helpers shared by the CLI's command groups: global options, opening the store, parsing.

Nothing here imports a service, a store or a scientific library: command modules import
this at start-up, and what a command needs is imported inside its function.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import typer

from govml.errors import InputError

if TYPE_CHECKING:
    from govml.client_protocol import GovmlClient

JSON_OPTION = typer.Option(False, "--json", help="Print machine-readable JSON.")
STORE_HELP = "govml home folder or database URL (default: GOVML_HOME, else ./.govml)."
DEBUG_HELP = "Show tracebacks on errors."


@dataclass
class RootOptions:
    """The global options: given before the command, or after it."""

    store: str | None = None
    debug: bool = False


def root_options(ctx: typer.Context) -> RootOptions:
    """Return the global options of the running command."""
    root = ctx.find_root()
    if not isinstance(root.obj, RootOptions):
        root.obj = RootOptions()
    return root.obj


def _store_after(ctx: typer.Context, value: str | None) -> None:
    if value is not None:
        root_options(ctx).store = value


def _debug_after(ctx: typer.Context, value: bool) -> None:
    if value:
        root_options(ctx).debug = True


def global_options_after(
    store: str | None = typer.Option(
        None,
        "--store",
        help=STORE_HELP,
        metavar="PATH|URL",
        hidden=True,
        expose_value=False,
        callback=_store_after,
    ),
    debug: bool = typer.Option(
        False, "--debug", help=DEBUG_HELP, hidden=True, expose_value=False, callback=_debug_after
    ),
) -> None:
    """Declare ``--store`` and ``--debug`` as every command accepts them after its name."""


@contextmanager
def client(ctx: typer.Context) -> Iterator[GovmlClient]:
    """Open the store named by ``--store`` (or the environment) for one command."""
    from govml.client import connect

    opened = connect(root_options(ctx).store)
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
