"""Entry point of the ``govml`` command.

Exit codes: 0 success, 1 a check failed (ledger verification, integrity), 2 usage or input
error, 70 an unexpected internal error (a bug: the message asks for ``--debug``). Errors are one
line on stderr; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass

import typer

from govml.cli import (
    audit_cmds,
    db_cmds,
    evaluate_cmds,
    lifecycle_cmds,
    model_cmds,
    monitor_cmds,
    policy_cmds,
    report_cmds,
    serve_cmds,
    server_cmds,
    serving_cmds,
    users_cmds,
    version_cmds,
)
from govml.cli.output import print_error
from govml.errors import GovmlError

# sysexits.h's EX_SOFTWARE: an internal error, kept apart from the usage errors' 2 so that a
# script can tell "I called it wrong" from "it broke".
EXIT_INTERNAL = 70

app = typer.Typer(
    name="govml",
    help="Executable model governance: registry, lineage and a tamper-evident ledger.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@dataclass
class Options:
    """Options given before the sub-command."""

    store: str | None
    debug: bool


@app.callback()
def _main(
    ctx: typer.Context,
    store: str | None = typer.Option(
        None,
        "--store",
        help="govml home folder or database URL (default: GOVML_HOME, else ./.govml).",
        metavar="PATH|URL",
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
) -> None:
    ctx.obj = Options(store=store, debug=debug)


app.command("init", help="Create the store (database, artifact folder) or check an existing one.")(
    db_cmds.init
)
app.add_typer(db_cmds.app, name="db")
app.add_typer(model_cmds.app, name="models")
app.add_typer(version_cmds.app, name="versions")
app.add_typer(audit_cmds.app, name="audit")
app.add_typer(policy_cmds.app, name="policy")
app.command(
    "evaluate",
    help="Check a version (or outside predictions) against a policy; exit 0 pass, 1 fail, "
    "2 usage error.",
)(evaluate_cmds.evaluate)
app.add_typer(evaluate_cmds.app, name="evaluations")
app.command("server", help="Serve the REST API and the web UI for this store.")(
    server_cmds.server
)
app.command(
    "serve", help="Serve a model alias: validated predictions, prediction log, live versions."
)(serve_cmds.serve)
app.command(
    "promote", help="Move staging or production to a version through its gates (exit 1 if not)."
)(lifecycle_cmds.promote)
app.command("rollback", help="Move production back to the previous production version.")(
    lifecycle_cmds.rollback
)
app.command("approve", help="Approve (or --reject) a version, with a comment.")(
    lifecycle_cmds.approve
)
app.add_typer(lifecycle_cmds.app, name="approvals")
version_cmds.app.command("history")(lifecycle_cmds.history)
version_cmds.app.command("status")(lifecycle_cmds.status)
app.add_typer(users_cmds.app, name="users")
app.add_typer(serving_cmds.app, name="serving")
app.add_typer(report_cmds.app, name="report")
model_cmds.app.command("card")(report_cmds.card)
app.add_typer(monitor_cmds.app, name="monitor")


def invoke(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv`` and return its exit code (never raises for user errors)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        result = app(args=args, prog_name="govml", standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        print_error("aborted")
        return 1
    except typer.TyperException as exc:  # usage errors: unknown option, missing argument, ...
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            print_error(exc.format_message())
        return 2
    except GovmlError as exc:
        if debug:
            traceback.print_exc()
        print_error(exc.diagnostics())
        return exc.exit_code
    except KeyboardInterrupt:
        print_error("interrupted")
        return 130
    except Exception as exc:
        if debug:
            traceback.print_exc()
        print_error(
            f"internal error: unexpected {type(exc).__name__}: {exc} "
            "(rerun with --debug for details, and please report it)"
        )
        return EXIT_INTERNAL
    # Without standalone mode, typer returns the code of a typer.Exit instead of raising it.
    return result if isinstance(result, int) else 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(invoke())
