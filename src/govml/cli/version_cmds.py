"""``govml versions``: register and inspect immutable model versions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from govml.cli import lifecycle_cmds
from govml.cli.common import JSON_OPTION, client, parse_pairs
from govml.cli.output import console, print_fields, print_json, print_ok, print_table
from govml.domain.records import ModelVersion
from govml.errors import InputError

app = typer.Typer(no_args_is_help=True)  # named and described in govml.cli.main


@app.command("register")
def register(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Model name.", metavar="NAME"),
    artifact: Path = typer.Option(  # noqa: B008
        ..., "--artifact", help="Model file to register.", metavar="FILE"
    ),
    flavor: str | None = typer.Option(
        None,
        "--flavor",
        help="sklearn, xgboost, lightgbm, onnx or mlflow_pyfunc (default: from the suffix).",
        metavar="FLAVOR",
    ),
    train_data: Path | None = typer.Option(  # noqa: B008
        None, "--train-data", help="CSV or Parquet file.", metavar="FILE"
    ),
    validation_data: Path | None = typer.Option(  # noqa: B008
        None, "--validation-data", help="CSV or Parquet file.", metavar="FILE"
    ),
    target: str | None = typer.Option(
        None, "--target", help="Target column of the data.", metavar="COLUMN"
    ),
    param: list[str] = typer.Option(  # noqa: B008
        [], "--param", help="A hyperparameter, repeatable.", metavar="KEY=VALUE"
    ),
    params_file: Path | None = typer.Option(  # noqa: B008
        None, "--params-file", help="JSON or YAML file of hyperparameters.", metavar="FILE"
    ),
    metric: list[str] = typer.Option(  # noqa: B008
        [], "--metric", help="A training metric, repeatable.", metavar="KEY=VALUE"
    ),
    description: str = typer.Option("", "--description", help="Free text.", metavar="TEXT"),
    exclude_columns: list[str] = typer.Option(  # noqa: B008
        [],
        "--exclude-columns",
        help="Columns of the data the model does not read, left out of the input signature "
        "(comma-separated or repeated; models that record their features need none).",
        metavar="COLUMNS",
    ),
    trust: list[str] = typer.Option(  # noqa: B008
        [],
        "--trust",
        help="A type beyond the built-in allowlist that you reviewed and allow the artifact to "
        "contain (repeatable; local mode only: a server trusts what its operator sets in "
        "GOVML_TRUSTED_TYPES).",
        metavar="TYPE",
    ),
    json_out: bool = JSON_OPTION,
) -> None:
    """Register a new version of a model from an artifact file, with its lineage.

    An artifact that contains types beyond the built-in allowlist is refused, each type
    named, unless GOVML_TRUSTED_TYPES or --trust allows it; the version then records them.
    """
    params = {**_read_mapping(params_file), **parse_pairs(param, "param")}
    metrics = parse_pairs(metric, "metric")
    with client(ctx) as opened, console.status("fingerprinting data and registering…"):
        version = opened.register_version(
            name,
            artifact=artifact,
            flavor=flavor,
            train_data=train_data,
            validation_data=validation_data,
            target=target,
            params=params,
            metrics=metrics,
            description=description,
            exclude_columns=_names(exclude_columns),
            **({"trusted": trust} if trust else {}),
        )
    if json_out:
        print_json(version.to_dict())
    else:
        print_ok(f"registered {version.ref} ({version.flavor}, {version.artifact_digest})")


@app.command("list")
def list_(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Model name.", metavar="NAME"),
    json_out: bool = JSON_OPTION,
) -> None:
    """List the versions of a model."""
    with client(ctx) as opened:
        versions = opened.list_versions(name)
    if json_out:
        print_json([v.to_dict() for v in versions])
        return
    print_table(
        f"versions of {name}",
        ["version", "flavor", "aliases", "git commit", "registrant", "created", "artifact"],
        [
            (
                v.version,
                v.flavor,
                ", ".join(v.aliases),
                _commit(v),
                v.registrant,
                v.created_at.strftime("%Y-%m-%d %H:%M"),
                v.artifact_digest[:19] + "…",
            )
            for v in versions
        ],
    )


@app.command("show")
def show(
    ctx: typer.Context,
    ref: str = typer.Argument(
        ..., help="NAME@VERSION, NAME@ALIAS or NAME (latest).", metavar="NAME@VERSION"
    ),
    json_out: bool = JSON_OPTION,
) -> None:
    """Show one version with its lineage."""
    with client(ctx) as opened:
        version = opened.get_version(ref)
    if json_out:
        print_json(version.to_dict())
        return
    env = version.environment
    fields: list[tuple[str, Any]] = [
        ("version", version.ref),
        ("flavor", version.flavor),
        ("task", _task(version)),
        ("artifact", f"{version.artifact_digest} ({version.artifact_size} bytes)"),
        ("aliases", ", ".join(version.aliases) or "-"),
        ("registrant", version.registrant),
        ("created", version.created_at.isoformat()),
        ("git", _commit(version)),
        ("python", f"{env.get('python')} ({len(env.get('packages', {}))} packages)"),
        ("environment", env.get("lock_digest")),
    ]
    for ref_ in version.datasets:
        fields.append(
            (f"{ref_.role} data", f"{ref_.digest} ({ref_.row_count} rows × {ref_.columns})")
        )
    if version.signature:
        inputs = version.signature.get("inputs", [])
        fields.append(("inputs", ", ".join(f"{c['name']}:{c['type']}" for c in inputs)))
    fields.append(("trusted types", _trusted(version)))
    code_files = version.flavor_options.get("code_files")
    if isinstance(code_files, dict):  # custom code (mlflow_pyfunc): what an approver reviews
        for path, digest in sorted(code_files.items()):
            fields.append(("code file", f"{path} sha256:{digest}"))
    fields.append(("params", json.dumps(version.params, sort_keys=True)))
    fields.append(("metrics", json.dumps(version.metrics, sort_keys=True)))
    if version.description:
        fields.append(("description", version.description))
    print_fields(f"version {version.ref}", fields)


app.command("history")(lifecycle_cmds.history)
app.command("status")(lifecycle_cmds.status)


def _names(values: list[str]) -> list[str]:
    """Split comma-separated, repeatable option values into names."""
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


def _task(version: ModelVersion) -> str:
    """Say what the model predicts: its task and, for a classifier, its classes."""
    options = version.flavor_options
    task = str(options.get("task") or "-")
    classes = options.get("classes")
    if isinstance(classes, list) and classes:
        shown = ", ".join(str(label) for label in classes[:20])
        more = f" and {len(classes) - 20} more" if len(classes) > 20 else ""
        return f"{task} (classes {shown}{more})"
    return task


def _trusted(version: ModelVersion) -> str:
    """Name the types beyond the built-in allowlist the version relies on, and who allowed each."""
    from govml.flavors.trust import recorded_types

    names = recorded_types(version.flavor_options)
    if not names:
        return "-"
    by = version.flavor_options.get("trusted_by")
    by = by if isinstance(by, dict) else {}
    return ", ".join(f"{name} ({by.get(name, 'unrecorded')})" for name in names)


def _commit(version: ModelVersion) -> str:
    commit = version.code.get("git_commit")
    if not commit:
        return "-"
    return str(commit)[:12] + (" (dirty)" if version.code.get("git_dirty") else "")


def _read_mapping(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        raise InputError(f"{path}{where}: not valid JSON or YAML") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping of names to values")
    return data
