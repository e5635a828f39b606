"""An adverse-action notice for one decision: what was decided, why, and the proof.

`decision_notice` finds the record in the prediction log (by request id and position), takes
its explanation from the log when the request asked for one, else explains the logged inputs
again with the version that answered (the same method and reason codes as the gateway), and
adds what a person is owed and an auditor checks:

* the model and version, the decision (a reviewer's final decision when the case was
  referred or overridden, with the model's beside it);
* the principal reasons, in the policy's adverse-action wording (ECOA / Regulation B,
  GDPR Art. 22, EU AI Act Art. 86);
* the ledger entries that prove it: the ``log.files_closed`` entry naming the log file that
  holds the record by its SHA-256 (re-hashed here), and the review queue's entries.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from govml.errors import IntegrityError, NotFoundError, ValidationError
from govml.services.context import ServiceContext
from govml.services.retention import file_digest
from govml.store import oversight_records, records
from govml.store.ledger import iter_entries

TOP_REASONS = 4
ERR_NOT_LOGGED = "request {request_id} record {record} of {model} is not in the log at {folder}"
ERR_REQUEST_ID = "request id must be 1 to 128 printable characters"
ERR_NOT_A_CLASS = (
    "the reviewer's decision {decided!r} is not a class of {ref} ({classes}): the notice cannot "
    "give reasons for it"
)
ERR_PSEUDONYMISED = (
    "{ref}'s inputs {names} are pseudonymised in the log: the decision cannot be explained "
    "again (ask for ?explain=k at the gateway to log explanations)"
)


@dataclass(frozen=True)
class Found:
    """A logged record: the file holding it (under the log folder) and its row."""

    path: Path
    relative: str
    row: dict[str, Any]
    version: int


def _find(root: Path, model: str, request_id: str, record: int) -> Found | None:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    for path in sorted(root.glob(f"model={model}/version=*/date=*/*.parquet")):
        if path.name.startswith("."):
            continue
        ids = pq.read_table(path, columns=["request_id"]).column("request_id")
        if not pc.any(pc.equal(ids, request_id)).as_py():
            continue
        for row in pq.read_table(path).to_pylist():
            if row["request_id"] == request_id and row["record"] == record:
                if row.get("variant") == "shadow":
                    continue
                version = int(path.parent.parent.name.removeprefix("version="))
                return Found(path, str(path.relative_to(root)), row, version)
    return None


def decision_notice(
    ctx: ServiceContext, model: str, request_id: str, log_dir: Path, *, record: int = 0
) -> dict[str, Any]:
    """Return the notice of one decision as JSON-safe data (see `render_notice`).

    Raises
    ------
    NotFoundError
        When the log holds no such record.
    IntegrityError
        When the file holding it no longer matches the digest the ledger names.
    """
    if not 0 < len(request_id) <= 128 or not request_id.isprintable():
        raise ValidationError(ERR_REQUEST_ID)
    with ctx.store.read() as conn:
        found_model = records.load_model(conn, model)
        mid = records.model_id(conn, model)
        case = oversight_records.find_referral(conn, mid, request_id, record)
    found = _find(Path(log_dir), model, request_id, record)
    if found is None:
        raise NotFoundError(
            ERR_NOT_LOGGED.format(
                request_id=request_id[:128], record=record, model=model, folder=log_dir
            )
        )
    decided = found.row.get("prediction")
    final = decided
    if case is not None and case.status == "decided":
        final = case.decision
    # A person who reversed the model decided otherwise: the reasons (and whether the notice
    # is one of adverse action) are those of the final decision, not of the model's.
    reversed_ = not (final == decided or str(final) == str(decided))
    explanation = _explanation(ctx, model, found, final if reversed_ else None)
    proof = _proof(ctx, model, found, case)
    return {
        "model": model,
        "version": found.version,
        "ref": f"{model}@{found.version}",
        "intended_use": found_model.intended_use,
        "request_id": request_id,
        "record": record,
        "time": found.row["time"].isoformat(),
        "model_decision": decided,
        "referred": found.row.get("decision") == "referred",
        "final_decision": final,
        "reviewed": None if case is None else case.to_dict(),
        "adverse": explanation.get("adverse"),
        "reasons_for": "the reviewer's decision" if reversed_ else "the model's decision",
        "method": explanation.get("method"),
        "reasons": explanation.get("reasons", []),
        "contributions": explanation.get("contributions", []),
        "proof": proof,
    }


def _explanation(
    ctx: ServiceContext, model: str, found: Found, decided: Any = None
) -> dict[str, Any]:
    """Return the record's explanation toward the model's decision, or toward ``decided``.

    The logged explanation serves the model's decision; a reviewer's different decision is
    explained again from the logged inputs, toward that class.
    """
    logged = found.row.get("explanation")
    if logged and decided is None:
        explanation: dict[str, Any] = json.loads(logged)
        if "reasons" in explanation:
            return explanation
    import pandas as pd

    from govml.domain.signature import Signature
    from govml.services.policy import PolicyService
    from govml.services.registry import RegistryService
    from govml.serving.explain import DecisionExplainer
    from govml.serving.reasons import explain_records

    registry = RegistryService(ctx)
    ref = f"{model}@{found.version}"
    version = registry.get_version(ref)
    inputs = Signature.from_dict(version.signature or {}).inputs
    values = {spec.name: [found.row["inputs"][spec.name]] for spec in inputs}
    hidden = [
        name
        for name, column in values.items()
        if isinstance(column[0], str) and column[0].startswith("hmac-sha256:")
    ]
    if hidden:
        raise ValidationError(ERR_PSEUDONYMISED.format(ref=ref, names=", ".join(hidden)))
    train = next((item for item in version.datasets if item.role == "train"), None)
    profile = None
    if train is not None:
        profile = registry.dataset_fingerprint(train.digest).get("profile")
    loaded = registry.load_model(ref)
    explainer = DecisionExplainer(loaded, tuple(inputs), profile, ref)
    frame = pd.DataFrame(values)
    tier = getattr(registry.get_model(model).risk_tier, "value", None)
    stored = PolicyService(ctx).for_tier(str(tier))
    codes = None if stored is None else stored.policy.reason_codes
    if decided is None:
        predictions = loaded.predict(frame)
    else:
        known = explainer.classes or []
        if known and not any(decided == c or str(decided) == str(c) for c in known):
            shown = ", ".join(str(c) for c in known)
            raise ValidationError(ERR_NOT_A_CLASS.format(decided=decided, ref=ref, classes=shown))
        match = next((c for c in known if decided == c or str(decided) == str(c)), decided)
        predictions = np.asarray([match], dtype=object)
    (explained,) = explain_records(explainer, frame, values, predictions, TOP_REASONS, codes)
    return explained


def _proof(ctx: ServiceContext, model: str, found: Found, case: Any) -> dict[str, Any]:
    actual = file_digest(found.path)
    closed = None
    reviewed: list[int] = []
    with ctx.store.read() as conn:
        for entry in iter_entries(conn, actions=("log.files_closed", "log.erased")):
            payload = entry.payload
            if payload.get("model") != model:
                continue
            for item in payload["files"]:
                name = item.get("new_path") if entry.action == "log.erased" else item["path"]
                digest = item.get("new") if entry.action == "log.erased" else item["sha256"]
                if name == found.relative:
                    closed = {"seq": entry.seq, "action": entry.action, "sha256": digest}
        if case is not None:
            for entry in iter_entries(
                conn, actions=("referral.opened", "referral.decided", "referral.overridden")
            ):
                if entry.payload.get("id") == case.id:
                    reviewed.append(entry.seq)
    if closed is not None and closed["sha256"] != actual:
        raise IntegrityError(
            f"log file {found.relative} hashes to {actual}, but ledger entry {closed['seq']} "
            f"names {closed['sha256']}"
        )
    return {"log_file": found.relative, "sha256": actual, "ledger": closed, "review": reviewed}


def render_notice(notice: dict[str, Any]) -> str:
    """Return the notice as Markdown for the person the decision is about."""
    adverse = bool(notice.get("adverse"))
    title = "Notice of adverse action" if adverse else "Statement of reasons for a decision"
    lines = [
        f"# {title}",
        "",
        f"Decision on request `{notice['request_id']}` (record {notice['record']}) made on "
        f"{notice['time']} by the automated model **{notice['ref']}**"
        + (f" ({notice['intended_use']})." if notice.get("intended_use") else "."),
        "",
        f"**Decision:** {notice['final_decision']}",
    ]
    reviewed = notice.get("reviewed")
    if reviewed is not None and reviewed.get("status") == "decided":
        lines += [
            "",
            f"A person ({reviewed['decided_by']}) reviewed this case and made the final "
            f"decision on {reviewed['decided_at']}; the model had answered "
            f"{notice['model_decision']}.",
        ]
    elif notice.get("referred"):
        lines += ["", "This case was referred to a person and awaits their decision."]
    heading = "Principal reasons" if adverse else "Main factors"
    lines += ["", f"## {heading}", ""]
    if notice.get("reasons_for") == "the reviewer's decision":
        lines += [
            "The factors in the applicant's information that weigh toward the reviewer's decision:",
            "",
        ]
    reasons = notice.get("reasons") or []
    if not reasons:
        lines.append("No factor weighed toward this decision.")
    for index, reason in enumerate(reasons, 1):
        code = f" ({reason['code']})" if reason.get("code") else ""
        lines.append(f"{index}. {reason['text']}{code}")
    proof = notice["proof"]
    ledger = proof.get("ledger")
    lines += [
        "",
        "## Record",
        "",
        f"- Explanation method: {notice.get('method')}",
        f"- Prediction log file: `{proof['log_file']}` (SHA-256 `{proof['sha256']}`)",
        "- Ledger entry naming that file: "
        + ("none yet" if ledger is None else f"{ledger['seq']} ({ledger['action']})"),
    ]
    if proof.get("review"):
        lines.append("- Review ledger entries: " + ", ".join(str(s) for s in proof["review"]))
    lines += [
        "",
        "You may ask for a person to review this decision and for the information used.",
        "",
    ]
    return "\n".join(lines)
