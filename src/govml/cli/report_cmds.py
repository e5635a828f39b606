"""``govml report``: documents on demand; ``govml models card``: their editable fields.

Every report prints to stdout, or writes ``--out FILE`` (never over an existing file
without ``--force``). The format is ``--format`` (md, html, json, pdf), else the suffix of
``--out``, else Markdown; ``--json`` is ``--format json``. PDF needs ``--out``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer

from govml.cli.common import JSON_OPTION, client
from govml.cli.output import print_json, print_ok, print_table
from govml.documents.fields import CARD_FIELDS, ModelCardFields
from govml.errors import InputError

app = typer.Typer(no_args_is_help=True)  # named and described in govml.cli.main

SUFFIXES = {
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
    ".json": "json",
    ".pdf": "pdf",
}
ERR_EXISTS = "{path} exists; pass --force to overwrite it"
ERR_PDF_STDOUT = "PDF is binary: give --out FILE.pdf"
ERR_SUFFIX = "cannot tell the format of {path} from its suffix; give --format md, html, json or pdf"

FORMAT_OPTION = typer.Option(
    None,
    "--format",
    "-f",
    help="md, html (self-contained, with plots), json or pdf.",
    metavar="FORMAT",
)
OUT_OPTION = typer.Option(
    None, "--out", "-o", help="Write to FILE instead of stdout.", metavar="FILE"
)
REF_ARGUMENT = typer.Argument(
    ..., help="NAME@VERSION (NAME: the latest version).", metavar="NAME@VERSION"
)
NAME_ARGUMENT = typer.Argument(..., help="Model name.", metavar="NAME")
FORCE_OPTION = typer.Option(False, "--force", help="Overwrite --out if it exists.")
LOG_DIR_OPTION = typer.Option(..., "--log-dir", help="The gateway's prediction log folder.")


def _emit(
    ctx: typer.Context,
    kind: str,
    ref: str,
    *,
    fmt: str | None,
    out: Path | None,
    force: bool,
    json_out: bool,
    since: str | None = None,
) -> None:
    chosen = _format(fmt, out, json_out)
    if out is not None and out.exists() and not force:
        raise InputError(ERR_EXISTS.format(path=out))
    if out is None and chosen == "pdf":
        raise InputError(ERR_PDF_STDOUT)
    with client(ctx) as opened:
        content = opened.report(kind, ref, format=chosen, since=since)
    if out is None:
        sys.stdout.write(content if isinstance(content, str) else content.decode("utf-8"))
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        out.write_bytes(content)
    else:
        out.write_text(content, encoding="utf-8")
    print_ok(f"{kind} of {ref} written to {out} ({chosen})")


def _format(fmt: str | None, out: Path | None, json_out: bool) -> str:
    if json_out:
        if fmt not in (None, "json"):
            raise InputError(f"--json and --format {fmt} disagree")
        return "json"
    if fmt is not None:
        return fmt
    if out is not None:
        found = SUFFIXES.get(out.suffix.lower())
        if found is None:
            raise InputError(ERR_SUFFIX.format(path=out))
        return found
    return "md"


@app.command("decision")
def decision(
    ctx: typer.Context,
    request_id: str = typer.Argument(..., help="The request's id (X-Request-ID)."),
    model: str = typer.Option(..., "--model", help="The model that answered.", metavar="NAME"),
    log_dir: Path = LOG_DIR_OPTION,
    record: int = typer.Option(0, "--record", min=0, help="Record position in the request."),
    out: Path | None = OUT_OPTION,
    force: bool = FORCE_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Adverse-action notice of one decision: the reasons, the version and the ledger proof."""
    from govml.services.decision_notice import decision_notice, render_notice

    if out is not None and out.exists() and not force:
        raise InputError(ERR_EXISTS.format(path=out))
    with client(ctx) as opened:
        context = getattr(opened, "ctx", None)
        if context is None:
            raise InputError("the notice reads a log folder on this machine: use a local store")
        notice = decision_notice(context, model, request_id, log_dir, record=record)
    text = json.dumps(notice, indent=2, default=str) + "\n" if json_out else render_notice(notice)
    if out is None:
        sys.stdout.write(text)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print_ok(f"notice of {request_id} written to {out}")


@app.command("model-card")
def model_card(
    ctx: typer.Context,
    ref: str = REF_ARGUMENT,
    fmt: str | None = FORMAT_OPTION,
    out: Path | None = OUT_OPTION,
    force: bool = FORCE_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Model card (Mitchell et al.): registry, lineage, latest evaluation, written fields."""
    _emit(ctx, "model-card", ref, fmt=fmt, out=out, force=force, json_out=json_out)


@app.command("datasheet")
def datasheet(
    ctx: typer.Context,
    dataset: str = typer.Argument(
        ...,
        help="Dataset digest (sha256:…), a prefix of it, or NAME@VERSION:train|validation.",
        metavar="DATASET",
    ),
    fmt: str | None = FORMAT_OPTION,
    out: Path | None = OUT_OPTION,
    force: bool = FORCE_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Datasheet (Gebru et al.): composition from the profile, provenance from lineage."""
    _emit(ctx, "datasheet", dataset, fmt=fmt, out=out, force=force, json_out=json_out)


@app.command("annex-iv")
def annex_iv(
    ctx: typer.Context,
    ref: str = REF_ARGUMENT,
    fmt: str | None = FORMAT_OPTION,
    out: Path | None = OUT_OPTION,
    force: bool = FORCE_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """EU AI Act Annex IV technical documentation; what people must write is marked OPEN."""
    _emit(ctx, "annex-iv", ref, fmt=fmt, out=out, force=force, json_out=json_out)


@app.command("audit")
def audit(
    ctx: typer.Context,
    name: str = NAME_ARGUMENT,
    since: str | None = typer.Option(
        None,
        "--since",
        help="Only entries from this date or time (UTC), e.g. 2026-01-31.",
        metavar="DATE",
    ),
    fmt: str | None = FORMAT_OPTION,
    out: Path | None = OUT_OPTION,
    force: bool = FORCE_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Chain of custody with each ledger entry's inclusion proof and the checkpoint."""
    _emit(ctx, "audit", name, fmt=fmt, out=out, force=force, json_out=json_out, since=since)


@app.command("ml-test-score")
def ml_test_score(
    ctx: typer.Context,
    name: str = NAME_ARGUMENT,
    fmt: str | None = FORMAT_OPTION,
    out: Path | None = OUT_OPTION,
    force: bool = FORCE_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """ML Test Score (Breck et al.): 28 tests scored from the evidence govml holds."""
    _emit(ctx, "ml-test-score", name, fmt=fmt, out=out, force=force, json_out=json_out)


FIELDS_HELP = "Fields: " + ", ".join(spec.name for spec in CARD_FIELDS) + "."
_SET = typer.Option(
    [],
    "--set",
    help="FIELD=TEXT; repeat a list field's --set for several items; a risk is "
    "'RISK | MITIGATION'. " + FIELDS_HELP,
    metavar="FIELD=TEXT",
)
_UNSET = typer.Option([], "--unset", help="Remove FIELD.", metavar="FIELD")
_FROM = typer.Option(
    None,
    "--from",
    help="Set the fields of a YAML or JSON mapping FIELD: VALUE.",
    metavar="FILE",
)


def card(
    ctx: typer.Context,
    name: str = NAME_ARGUMENT,
    set_: list[str] = _SET,
    unset: list[str] = _UNSET,
    from_file: Path | None = _FROM,
    revision: int | None = typer.Option(
        None, "--revision", min=0, help="Show this revision.", metavar="N"
    ),
    history: bool = typer.Option(False, "--history", help="List every revision."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Show or change a model card's written fields (each change a ledgered revision)."""
    fields = {**_from_file(from_file), **_pairs(set_)}
    with client(ctx) as opened:
        if fields or unset:
            changed = opened.set_model_card_fields(name, fields, unset=unset)
            if json_out:
                print_json(changed.to_dict())
            else:
                what = ", ".join(changed.changed) or "no change"
                print_ok(
                    f"{name}: card revision {changed.revision} ({what}), "
                    f"ledger entry {changed.ledger_entry}"
                )
            return
        if history:
            items = opened.model_card_history(name)
            if json_out:
                print_json([item.to_dict() for item in items])
                return
            rows = [
                (
                    i.revision,
                    i.actor,
                    i.created_at.isoformat() if i.created_at else "",
                    ", ".join(i.changed),
                    i.ledger_entry,
                )
                for i in items
            ]
            print_table(
                f"card revisions of {name}", ["revision", "by", "when", "changed", "entry"], rows
            )
            return
        shown = opened.model_card_fields(name, revision=revision)
    if json_out:
        print_json(shown.to_dict())
        return
    _print_fields(shown)


def _print_fields(shown: ModelCardFields) -> None:
    if shown.revision == 0:
        print_ok(f"{shown.model}: no card field written yet ({FIELDS_HELP})")
        return
    rows = [(name, _text(value)) for name, value in shown.fields.items()]
    print_table(
        f"card of {shown.model}, revision {shown.revision} ({shown.actor}, ledger entry "
        f"{shown.ledger_entry})",
        ["field", "value"],
        rows,
    )


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return "; ".join(
        f"{item['name']} | {item['mitigation_strategy']}" if isinstance(item, dict) else str(item)
        for item in value
    )


def _pairs(pairs: Sequence[str]) -> dict[str, Any]:
    list_fields = {spec.name for spec in CARD_FIELDS if spec.kind != "text"}
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError(f"--set {pair!r}: expected FIELD=TEXT")
        if key in list_fields:
            out.setdefault(key, []).append(value)
        elif key in out:
            raise InputError(f"--set {key} given twice; it holds one text")
        else:
            out[key] = value
    return out


def _from_file(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    if not path.is_file():
        raise InputError(f"{path} does not exist")
    text = path.read_text(encoding="utf-8")
    import yaml

    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise InputError(
            f"{path} is not valid {path.suffix.lstrip('.') or 'YAML'}: {exc}"
        ) from None
    if not isinstance(data, dict):
        raise InputError(f"{path} must hold a mapping of FIELD: VALUE")
    return {str(k): v for k, v in data.items()}
