"""Entry point of the ``govml`` command.

Exit codes (`govml.errors.EXIT_CODES`): 0 success, 1 a check failed (a policy rule or gate,
ledger or artifact integrity, a monitoring alert), 2 usage or input error, 3 not allowed
(authentication or permission), 4 the store or the server cannot be reached (or the port is
in use), 70 an unexpected internal error (a bug: the message asks for ``--debug``). Errors
are one line on stderr; ``--debug`` adds the traceback. Global options (``--store``,
``--debug``) go before or after the command.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence

import typer

from govml import __version__
from govml.cli.common import DEBUG_HELP, STORE_HELP, RootOptions
from govml.cli.lazy import Entry, LazyGroup
from govml.cli.output import print_error
from govml.errors import EXIT_CODES, EXIT_INTERNAL, EXIT_USAGE, GovmlError

COMMANDS: tuple[Entry, ...] = (
    Entry(
        "init",
        "govml.cli.db_cmds:init",
        "Create the store (database, artifact folder, signing key) or check an existing one.",
    ),
    Entry(
        "evaluate",
        "govml.cli.evaluate_cmds:evaluate",
        "Check a version (or outside predictions) against a policy; exit 0 pass, 1 fail, "
        "2 usage error.",
    ),
    Entry(
        "server",
        "govml.cli.server_cmds:server",
        "Serve the REST API and the web UI for this store.",
    ),
    Entry(
        "serve",
        "govml.cli.serve_cmds:serve",
        "Serve a model alias: validated predictions, prediction log, live versions.",
    ),
    Entry(
        "promote",
        "govml.cli.lifecycle_cmds:promote",
        "Move staging or production to a version through its gates (exit 1 if not).",
    ),
    Entry(
        "rollback",
        "govml.cli.lifecycle_cmds:rollback",
        "Move production back to the previous production version.",
    ),
    Entry(
        "approve",
        "govml.cli.lifecycle_cmds:approve",
        "Approve (or --reject) a version, with a comment.",
    ),
    Entry("db", "govml.cli.db_cmds:app", "Inspect and upgrade the metadata database."),
    Entry("models", "govml.cli.model_cmds:app", "Create and inspect governed models."),
    Entry("versions", "govml.cli.version_cmds:app", "Register and inspect model versions."),
    Entry("audit", "govml.cli.audit_cmds:app", "Verify the tamper-evident ledger and read it."),
    Entry(
        "policy",
        "govml.cli.policy_cmds:app",
        "Validate, apply and inspect governance policies.",
    ),
    Entry("evaluations", "govml.cli.evaluate_cmds:app", "Read stored evaluations."),
    Entry("approvals", "govml.cli.lifecycle_cmds:app", "Approvals of a version."),
    Entry("users", "govml.cli.users_cmds:app", "People, roles and tokens."),
    Entry(
        "serving",
        "govml.cli.serving_cmds:app",
        "Challenger set-up and keys of a model's gateway.",
    ),
    Entry(
        "review",
        "govml.cli.review_cmds:app",
        "The review queue: referred decisions and overrides.",
    ),
    Entry("log", "govml.cli.log_cmds:app", "The prediction log: retention and erasure."),
    Entry(
        "report",
        "govml.cli.report_cmds:app",
        "Documents: model cards, datasheets, EU AI Act Annex IV, audit reports, ML Test Score.",
    ),
    Entry(
        "monitor",
        "govml.cli.monitor_cmds:app",
        "Production monitoring: drift, performance, fairness, attribution; alerts, rollback.",
    ),
    Entry(
        "integrations",
        "govml.cli.integrations_cmds:app",
        "Grafana dashboard and Prometheus alerting rules for gateways and monitoring.",
    ),
    Entry("import", "govml.cli.import_cmds:app", "Register versions from MLflow, with lineage."),
    Entry(
        "mlflow",
        "govml.cli.mlflow_cmds:app",
        "Mirror governed aliases onto an MLflow registry (govml stays the authority).",
    ),
    Entry(
        "lineage",
        "govml.cli.lineage_cmds:app",
        "Registrations, evaluations and promotions as OpenLineage run events.",
    ),
    Entry(
        "notify",
        "govml.cli.notify_cmds:app",
        "Announce approval requests and decisions on Slack, Teams or a webhook.",
    ),
    Entry("risks", "govml.cli.risk_cmds:app", "The risk register of each model (versioned)."),
)
"""Every command of ``govml``, in the order ``govml --help`` lists them."""

EPILOG = (
    "Global options may also follow the command: govml models list --store PATH --debug.\n\n"
    "\b\nExit codes:\n" + "\n".join(f"  {code:<3} {meaning}" for code, meaning in EXIT_CODES)
)


class _Govml(LazyGroup):
    entries = COMMANDS


def _version(value: bool) -> None:
    if value:
        print(f"govml {__version__}")
        raise typer.Exit()


app = typer.Typer(
    cls=_Govml,
    name="govml",
    help="Executable model governance: registry, lineage and a tamper-evident ledger.",
    epilog=EPILOG,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def _main(
    ctx: typer.Context,
    store: str | None = typer.Option(None, "--store", help=STORE_HELP, metavar="PATH|URL"),
    debug: bool = typer.Option(False, "--debug", help=DEBUG_HELP),
    version: bool = typer.Option(
        False,
        "--version",
        help="Print govml's version and exit.",
        is_eager=True,
        expose_value=False,
        callback=_version,
    ),
) -> None:
    ctx.obj = RootOptions(store=store, debug=debug)


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
        return EXIT_USAGE
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
