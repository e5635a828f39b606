"""``govml review``: the review queue of referred decisions (human oversight).

A reviewer (a role in the policy's ``oversight.reviewers``: by default approver or
risk_officer, or the ``reviewer`` role) lists the records gateways referred, reads one, and
records the final decision with a reason; ``override`` records a reviewer overriding a
decision the model answered. Each decision is a ledger entry.
"""

from __future__ import annotations

import json
from typing import Any

import typer

from govml.cli.common import JSON_OPTION, client
from govml.cli.output import print_fields, print_json, print_ok, print_table
from govml.errors import ConfigurationError

app = typer.Typer(help="The review queue: referred decisions and overrides.", no_args_is_help=True)

ERR_REMOTE = (
    "the review queue is read and decided through the server's REST API in client mode "
    "(/api/v1/models/NAME/referrals)"
)


def oversight_of(opened: Any) -> Any:
    """Return the client's oversight service; refuse in client mode (REST only)."""
    service = getattr(opened, "oversight", None)
    if service is None:
        raise ConfigurationError(ERR_REMOTE)
    return service


def parse_decision(text: str) -> Any:
    """Read a decision as a JSON number or boolean when it is one, else as a label."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, bool | int | float) else text


@app.command("list")
def list_(
    ctx: typer.Context,
    name: str | None = typer.Argument(None, help="Model name (default: every model)."),
    status: str = typer.Option("pending", "--status", help="pending, decided or all."),
    limit: int = typer.Option(100, "--limit", min=1, max=1000, help="At most this many."),
    json_out: bool = JSON_OPTION,
) -> None:
    """List referred records, oldest first (pending ones by default)."""
    with client(ctx) as opened:
        found = oversight_of(opened).list(
            name, status=None if status == "all" else status, limit=limit
        )
    if json_out:
        print_json([item.to_dict() for item in found])
        return
    print_table(
        f"{len(found)} referral(s)",
        ["id", "model", "request", "record", "score", "model said", "status", "reasons"],
        [
            (
                item.id,
                f"{item.model}@{item.version}",
                item.request_id,
                item.record,
                "" if item.score is None else f"{item.score:.3f}",
                item.model_decision,
                item.status if item.decision is None else f"{item.status}: {item.decision}",
                "; ".join(item.reasons),
            )
            for item in found
        ],
    )


@app.command("show")
def show(
    ctx: typer.Context,
    referral: str = typer.Argument(..., help="Referral id (rf_...)."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Show one referral: why it was referred, the model's decision, the reviewer's."""
    with client(ctx) as opened:
        found = oversight_of(opened).show(referral)
    if json_out:
        print_json(found.to_dict())
        return
    print_fields(
        f"referral {found.id}",
        [
            ("model", f"{found.model}@{found.version}"),
            ("request", f"{found.request_id} record {found.record}"),
            ("kind", found.kind),
            ("reasons", "; ".join(found.reasons)),
            ("score", found.score),
            ("model decision", found.model_decision),
            ("inputs digest", found.inputs_digest),
            ("referred", f"{found.referred_at.isoformat()} by {found.referred_by}"),
            ("status", found.status),
            ("decision", found.decision),
            ("overrides the model", found.override),
            ("reason", found.comment),
            ("decided", None if found.decided_at is None else found.decided_at.isoformat()),
            ("by", found.decided_by),
        ],
    )


@app.command("decide")
def decide(
    ctx: typer.Context,
    referral: str = typer.Argument(..., help="Referral id (rf_...)."),
    decision: str = typer.Option(..., "--decision", help="The final decision (a class label)."),
    reason: str = typer.Option(..., "--reason", help="Why (required; kept, ledgered by digest)."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Record the final decision on a referred record, with the reason."""
    with client(ctx) as opened:
        found = oversight_of(opened).decide(
            referral, decision=parse_decision(decision), comment=reason
        )
    if json_out:
        print_json(found.to_dict())
        return
    verb = "overrides" if found.override else "agrees with"
    print_ok(f"{found.id}: {found.decision} ({verb} the model's {found.model_decision})")


@app.command("override")
def override(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Model name."),
    request_id: str = typer.Argument(..., help="The request whose decision is overridden."),
    version: int = typer.Option(..., "--version", help="The version that answered."),
    record: int = typer.Option(0, "--record", min=0, help="Record position in the request."),
    model_decision: str = typer.Option(..., "--model-decision", help="What the model answered."),
    decision: str = typer.Option(..., "--decision", help="The reviewer's decision."),
    reason: str = typer.Option(..., "--reason", help="Why (required)."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Record a reviewer overriding a decision the model answered."""
    with client(ctx) as opened:
        found = oversight_of(opened).override(
            name,
            version=version,
            request_id=request_id,
            record=record,
            model_decision=parse_decision(model_decision),
            decision=parse_decision(decision),
            comment=reason,
        )
    if json_out:
        print_json(found.to_dict())
        return
    print_ok(f"{found.id}: {name} request {request_id} record {record} is {found.decision}")
