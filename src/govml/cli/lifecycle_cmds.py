"""``govml promote``, ``rollback``, ``approve``, ``approvals``, ``versions history|status``."""

from __future__ import annotations

import typer
from rich.markup import escape

from govml.cli.common import JSON_OPTION, client
from govml.cli.output import console, print_json, print_ok, print_table
from govml.domain.lifecycle import AliasChange, Readiness

app = typer.Typer(no_args_is_help=True)  # named and described in govml.cli.main
REF = typer.Argument(..., help="NAME@VERSION.", metavar="NAME@VERSION")
_HISTORY_COLUMNS = (
    "when",
    "alias",
    "action",
    "version",
    "previous",
    "by",
    "evaluation",
    "approvals",
    "reason",
)

TICKET_OPTION = typer.Option(
    None, "--ticket", help="Change ticket (JIRA-123), ledgered with it.", metavar="TICKET"
)


def promote(
    ctx: typer.Context,
    ref: str = typer.Argument(
        ..., help="NAME@VERSION (or NAME@staging) to promote.", metavar="NAME@VERSION"
    ),
    to: str = typer.Option(..., "--to", help="staging or production.", metavar="ALIAS"),
    reason: str = typer.Option(
        "", "--reason", help="Why (recorded in the ledger).", metavar="TEXT"
    ),
    ticket: str | None = TICKET_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Move an alias to a version through its gates; exit 1 listing what is missing."""
    with client(ctx) as opened:
        change = opened.promote(ref, to=to, reason=reason, ticket=ticket)
    if json_out:
        print_json(change.to_dict())
        return
    print_ok(_moved(change))


def rollback(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Model name.", metavar="NAME"),
    reason: str = typer.Option(
        ..., "--reason", help="Why (recorded in the ledger).", metavar="TEXT"
    ),
    ticket: str | None = TICKET_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Move production back to the version that held it before the current one."""
    with client(ctx) as opened:
        change = opened.rollback(name, reason=reason, ticket=ticket)
    if json_out:
        print_json(change.to_dict())
        return
    print_ok(_moved(change))


def approve(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="NAME@VERSION to decide on.", metavar="NAME@VERSION"),
    comment: str = typer.Option(..., "--comment", help="The reasoning (recorded).", metavar="TEXT"),
    reject: bool = typer.Option(False, "--reject", help="Reject instead of approving."),
    ticket: str | None = TICKET_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Approve (or reject) a version: one person counts once, never on their own version."""
    with client(ctx) as opened:
        approval = opened.approve(ref, comment=comment, reject=reject, ticket=ticket)
    if json_out:
        print_json(approval.to_dict())
        return
    verb = "approved" if approval.decision == "approve" else "rejected"
    print_ok(f"{approval.actor} ({approval.role}) {verb} {approval.ref}")


@app.command("list")
def approvals_list(
    ctx: typer.Context,
    ref: str = REF,
    json_out: bool = JSON_OPTION,
) -> None:
    """List every decision on a version, oldest first."""
    with client(ctx) as opened:
        found = opened.list_approvals(ref)
    if json_out:
        print_json([a.to_dict() for a in found])
        return
    print_table(
        f"decisions on {ref}",
        ["id", "decision", "by", "role", "when", "evaluation", "comment"],
        [
            (
                a.id,
                a.decision,
                a.actor,
                a.role,
                a.created_at.strftime("%Y-%m-%d %H:%M"),
                a.evaluation_id,
                a.comment,
            )
            for a in found
        ],
    )


def history(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Model name.", metavar="NAME"),
    alias: str | None = typer.Option(
        None, "--alias", help="Only staging or production.", metavar="ALIAS"
    ),
    json_out: bool = JSON_OPTION,
) -> None:
    """Show every promotion and rollback of a model, oldest first."""
    with client(ctx) as opened:
        changes = opened.alias_history(name, alias=alias)
    if json_out:
        print_json([c.to_dict() for c in changes])
        return
    print_table(
        f"alias history of {name}",
        _HISTORY_COLUMNS,
        [
            (
                c.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                c.alias,
                c.action,
                c.version,
                c.previous,
                c.actor,
                c.evaluation_id,
                ", ".join(c.approvals),
                c.reason,
            )
            for c in changes
        ],
    )


def status(
    ctx: typer.Context,
    ref: str = REF,
    to: str = typer.Option("production", "--to", help="staging or production.", metavar="ALIAS"),
    json_out: bool = JSON_OPTION,
) -> None:
    """Say which conditions a version meets for an alias; exit 1 when one is missing."""
    with client(ctx) as opened:
        ready = opened.readiness(ref, to=to)
    if json_out:
        print_json(ready.to_dict())
    else:
        _print_readiness(ready)
    if not ready.ready:
        raise typer.Exit(1)


def _print_readiness(ready: Readiness) -> None:
    verdict = "[green]ready[/]" if ready.ready else "[red]not ready[/]"
    console.print(f"{escape(ready.model)}@{ready.version} → {escape(ready.alias)}: {verdict}")
    for condition in ready.conditions:
        mark = "[green]✓[/]" if condition.met else "[red]✗[/]"
        console.print(f"  {mark} {escape(condition.name)}: {escape(condition.detail)}")
    ignored = [v for v in ready.verdicts if not v.counts and not v.superseded]
    if ignored:
        console.print("  decisions that do not count:")
        for item in ignored:
            console.print(f"    approval {item.approval_id}: {item.reason}", markup=False)


def _moved(change: AliasChange) -> str:
    before = "" if change.previous is None else f" (was {change.previous})"
    if change.action == "rollback":
        return f"rolled {change.model}@{change.alias} back to version {change.version}{before}"
    return f"{change.model}@{change.alias} is now version {change.version}{before}"
