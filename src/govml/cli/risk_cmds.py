"""``govml risks`` and ``govml models retire / revalidation``: the model-risk lifecycle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from govml.cli.common import JSON_OPTION, client
from govml.cli.output import print_fields, print_json, print_ok, print_table
from govml.domain.model_risk import FIELDS
from govml.errors import InputError

app = typer.Typer(no_args_is_help=True)  # named and described in govml.cli.main

NAME_ARGUMENT = typer.Argument(..., help="The model.", metavar="NAME")
TICKET_OPTION = typer.Option(
    None, "--ticket", help="Change ticket, such as JIRA-123.", metavar="TICKET"
)
FILE_OPTION = typer.Option(
    ..., "--file", help="YAML or JSON: a list of risks (or {risks: [...]}).", metavar="FILE"
)


def _service(opened: object) -> Any:
    from govml.services.model_risk import ModelRiskService

    context = getattr(opened, "ctx", None)
    if context is None:
        raise InputError("the model-risk commands work on the store directly: unset GOVML_SERVER")
    return ModelRiskService(context)


@app.command("set")
def set_(
    ctx: typer.Context,
    name: str = NAME_ARGUMENT,
    file: Path = FILE_OPTION,
    comment: str = typer.Option("", "--comment", help="What changed.", metavar="TEXT"),
    ticket: str | None = TICKET_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Store a new revision of a model's risk register from a file."""
    import yaml

    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{file}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{file}: not YAML: {exc}") from None
    if isinstance(data, dict) and "risks" in data:
        data = data["risks"]
    with client(ctx) as opened:
        result = _service(opened).revise_register(
            name, data, comment=comment, ticket=ticket, source=f"{file}: risks"
        )
    if json_out:
        print_json(result)
    else:
        print_ok(f"risk register of {name}: revision {result['revision']} ({result['digest']})")


@app.command("show")
def show(
    ctx: typer.Context,
    name: str = NAME_ARGUMENT,
    revision: int | None = typer.Option(
        None, "--revision", help="Default: the latest.", metavar="N"
    ),
    json_out: bool = JSON_OPTION,
) -> None:
    """Show a model's risk register."""
    with client(ctx) as opened:
        found = _service(opened).register(name, revision=revision)
    if json_out:
        print_json(found)
        return
    print_table(
        f"{name} risk register, revision {found['revision']} ({found['created_by']}, "
        f"{found['created_at']})",
        ["id", "risk", "likelihood", "impact", "mitigation", "owner", "status", "review"],
        [tuple(r[field] for field in FIELDS) for r in found["risks"]],
    )


@app.command("history")
def history(ctx: typer.Context, name: str = NAME_ARGUMENT, json_out: bool = JSON_OPTION) -> None:
    """List the revisions of a model's risk register."""
    with client(ctx) as opened:
        revisions = _service(opened).history(name)
    if json_out:
        print_json(revisions)
        return
    print_table(
        f"{name} risk register revisions",
        ["revision", "risks", "by", "at", "ticket", "comment"],
        [
            (
                r["revision"],
                len(r["risks"]),
                r["created_by"],
                r["created_at"],
                r["ticket"] or "",
                r["comment"],
            )
            for r in revisions
        ],
    )


def retire(
    ctx: typer.Context,
    name: str = NAME_ARGUMENT,
    reason: str = typer.Option(..., "--reason", help="Why it is retired.", metavar="TEXT"),
    ticket: str | None = TICKET_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Retire a model: aliases cleared, gateways stop serving it, history kept."""
    with client(ctx) as opened:
        done = _service(opened).retire(name, reason=reason, ticket=ticket)
    if json_out:
        print_json(done)
    else:
        held = ", ".join(f"{a}=v{v}" for a, v in done["aliases"].items()) or "none"
        print_ok(f"retired {name} (aliases cleared: {held})")


def revalidation(
    ctx: typer.Context, name: str = NAME_ARGUMENT, json_out: bool = JSON_OPTION
) -> None:
    """Show when each version holding an alias was validated and when revalidation is due."""
    with client(ctx) as opened:
        found = _service(opened).revalidation(name)
    if json_out:
        print_json(found)
        return
    if found["every"] is None:
        print_fields(
            f"{name} revalidation",
            [("policy", found["policy"] or "none"), ("revalidation", "not required by the policy")],
        )
        return
    print_table(
        f"{name} revalidation (every {found['every']}, warning {found['warn_before']} before)",
        ["version", "aliases", "state", "validated", "due"],
        [
            (
                v["version"],
                ", ".join(v["aliases"]),
                v["state"],
                v["validated_at"] or "-",
                v["due_at"] or "-",
            )
            for v in found["versions"]
        ],
    )


def retirement_of(opened: object, name: str) -> dict[str, Any] | None:
    """Return the retirement of model ``name`` (None in use).

    Through a server it is read from the ``model.retired`` ledger entry (None when the caller
    may not read the ledger).
    """
    if getattr(opened, "ctx", None) is None:
        from govml.errors import ForbiddenError
        from govml.services.model_risk import RETIRED, retirement_from_entries

        try:
            entries = opened.audit_log(model=name, action=RETIRED)  # type: ignore[attr-defined]
        except ForbiddenError:
            return None
        return retirement_from_entries(entries, name)
    found: dict[str, Any] | None = _service(opened).retirement(name)
    return found


def print_retirement(name: str, retired: dict[str, Any]) -> None:
    """Print who retired a model, when, why and under which ticket."""
    print_fields(
        f"{name} is retired",
        [
            ("retired at", retired["retired_at"]),
            ("by", retired["retired_by"]),
            ("reason", retired["reason"]),
            ("ticket", retired["ticket"] or "-"),
            ("aliases it held", ", ".join(f"{a}=v{v}" for a, v in retired["aliases"].items())),
        ],
    )
