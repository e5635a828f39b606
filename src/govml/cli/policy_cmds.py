"""``govml policy``: validate, apply and inspect governance policies."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from govml.cli.common import JSON_OPTION, client
from govml.cli.output import (
    console,
    err_console,
    print_error,
    print_fields,
    print_json,
    print_table,
)
from govml.errors import InputError

if TYPE_CHECKING:
    from govml.policy import Diagnostic, LoadedPolicy
    from govml.policy.records import StoredPolicy

app = typer.Typer(no_args_is_help=True)  # named and described in govml.cli.main

FILE_ARGUMENT = typer.Argument(
    ..., help="Policy file (YAML, apiVersion: govml/v1).", metavar="FILE"
)


@app.command("validate")
def validate(file: str = FILE_ARGUMENT, json_out: bool = JSON_OPTION) -> None:
    """Check a policy file without storing it: exit 0 when valid, 2 listing every problem."""
    loaded = _load(file, json_out)
    if json_out:
        print_json(loaded.to_dict())
        return
    tiers = ", ".join(loaded.policy.tiers)
    _ok(f"{file}: policy {loaded.name} is valid ({loaded.digest}); governs {tiers}")
    _print_notes(loaded.notes)


@app.command("apply")
def apply(
    ctx: typer.Context,
    file: str = FILE_ARGUMENT,
    replace: bool = typer.Option(
        False, "--replace", help="Take over tiers that another policy governs."
    ),
    json_out: bool = JSON_OPTION,
) -> None:
    """Store the policy (a new version when its content changed) and put it in force."""
    loaded = _load(file, json_out)
    with client(ctx) as opened:
        result = opened.apply_policy(loaded, replace=replace)
    if json_out:
        print_json(result.to_dict())
        return
    if result.changed:
        _ok(result.summary())
    else:
        console.print(result.summary(), markup=False, soft_wrap=True)
    _print_notes(result.notes)


@app.command("show")
def show(
    ctx: typer.Context,
    name: str | None = typer.Argument(None, help="Policy name.", metavar="NAME"),
    tier: str | None = typer.Option(
        None, "--tier", help="Show the policy in force for a tier.", metavar="TIER"
    ),
    version: int | None = typer.Option(
        None, "--version", min=1, help="Version (default: newest).", metavar="N"
    ),
    json_out: bool = JSON_OPTION,
) -> None:
    """Show a stored policy: its record and the YAML it was applied from."""
    if (name is None) == (tier is None):
        raise InputError("give a policy NAME or --tier TIER")
    with client(ctx) as opened:
        stored = opened.get_policy(name, tier=tier, version=version)
    if json_out:
        print_json(stored.to_dict())
        return
    _print_policy(stored)


@app.command("list")
def list_(ctx: typer.Context, json_out: bool = JSON_OPTION) -> None:
    """List policies: newest version of each, and the tiers it is in force for."""
    with client(ctx) as opened:
        stored = opened.list_policies()
    if json_out:
        print_json([p.to_dict(with_document=False) for p in stored])
        return
    print_table(
        "policies",
        ["name", "version", "tiers", "in force for", "digest", "applied"],
        [
            (
                p.name,
                p.version,
                ", ".join(p.tiers),
                ", ".join(p.in_force_for) or "-",
                p.digest[:19] + "…",
                f"{p.created_at:%Y-%m-%d %H:%M} by {p.created_by}",
            )
            for p in stored
        ],
    )


def _load(file: str, json_out: bool) -> LoadedPolicy:
    from govml.policy import InvalidPolicyError, load_policy

    try:
        return load_policy(file)
    except InvalidPolicyError as exc:
        if json_out:
            print_json(
                {
                    "valid": False,
                    "file": exc.source,
                    "problems": [d.to_dict() for d in exc.errors],
                    "notes": [],
                }
            )
        else:
            for problem in exc.errors:
                print_error(str(problem))
            err_console.print(exc.message, markup=False, highlight=False)
        raise typer.Exit(exc.exit_code) from None


def _ok(text: str) -> None:
    # Digests and paths make long lines; soft wrapping keeps them whole for copy and grep.
    console.print(f"[green]✓[/] {escape(text)}", soft_wrap=True)


def _print_notes(notes: Iterable[Diagnostic]) -> None:
    for note in notes:
        console.print(str(note), markup=False, soft_wrap=True)


def _print_policy(stored: StoredPolicy) -> None:
    version = f"{stored.version} of {stored.latest_version}"
    print_fields(
        f"policy {stored.name}",
        [
            ("version", version),
            ("digest", stored.digest),
            ("tiers", ", ".join(stored.tiers)),
            ("in force for", ", ".join(stored.in_force_for) or "-"),
            ("description", stored.policy.metadata.description),
            ("owner", stored.policy.metadata.owner),
            ("applied", f"{stored.created_at.isoformat()} by {stored.created_by}"),
            ("file", stored.source_name),
        ],
    )
    console.print(stored.source, markup=False, highlight=False, soft_wrap=True)
