"""Human oversight use cases: the review queue, overrides, and suspending a model.

Who may do what
---------------
* **Record a referral**: the gateway, as the user it runs as (``GOVML_USER``). In local mode
  whoever can write the store can write the queue, as with the prediction log; the ledger
  names the actor.
* **Decide a referral or override a decision**: a person holding one of the roles in the
  policy's ``oversight.reviewers`` (by default ``approver`` or ``risk_officer``; the
  ``reviewer`` role exists for people who review decisions and approve nothing). An admin
  or a deployer is not a reviewer unless given one of those roles. A reason is required.
* **Suspend or resume a model**: a deployer (or admin) or a risk officer, with a reason.

What the ledger records
-----------------------
``referral.opened`` (id, model, version, request id, record, reasons, score, the model's
decision, a digest of the inputs: never the inputs), ``referral.decided`` and
``referral.overridden`` (id, decision, whether it overrides the model, the SHA-256 of the
reviewer's comment: the comment itself stays in the table, so that it can be corrected or
erased if it holds personal data), ``serving.suspended`` / ``serving.resumed`` (model,
reason). `verify_oversight_records` replays them for ``govml audit verify``.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Connection

from govml.domain.lifecycle import Permission, Role, User
from govml.domain.oversight import Referral
from govml.domain.records import VersionRef
from govml.errors import ForbiddenError, IntegrityError, NotFoundError, ValidationError
from govml.services.access import authorize
from govml.services.context import ServiceContext
from govml.services.registry import model_subject
from govml.store import oversight_records as rows
from govml.store import records
from govml.store.ledger import NewEntry, append, iter_entries
from govml.store.oversight_records import ReferralRow, SuspensionRow

DEFAULT_REVIEWERS = ("approver", "risk_officer")
MAX_COMMENT = 2000
MAX_DECISION_TEXT = 200
MAX_LIST = 1000
STATUSES = ("pending", "decided")
ERR_COMMENT = "reason: a decision needs a reason (1 to {limit} characters)"
ERR_DECISION = "decision must be a class label or number (a string of at most {limit} characters)"
ERR_NOT_REVIEWER = (
    "{actor} ({held}) may not decide referred cases of {model}: that needs the role {roles} "
    "(the policy's oversight.reviewers)"
)
ERR_NOT_SUSPENDER = "{actor} ({held}) may not {verb} {model}: that needs deployer or risk_officer"
ERR_DECIDED = "referral {id} was decided already by {by} at {at}"
ERR_NO_REFERRAL = "no referral {id}"
ERR_DECISION_KIND = (
    "{field}: {ref} decides {kind} classes, so a decision is {expected}; got {value!r}"
)
ERR_NO_CASE = "no referral or override of {model} for request {request_id} record {record}"
ERR_STATUS = "status must be one of {choices}, got {value!r}"
ERR_REQUEST_ID = "request_id must be 1 to 128 printable characters"
ERR_RECORD = "record must be a non-negative whole number"
ERR_ALREADY = "{model} is {state} already ({done} at {at} by {by})"
ERR_NEVER_SUSPENDED = "{model} is running already: it was never suspended"


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _check_comment(comment: str) -> str:
    text = (comment or "").strip()
    if not 0 < len(text) <= MAX_COMMENT:
        raise ValidationError(ERR_COMMENT.format(limit=MAX_COMMENT))
    return text


def _check_decision(decision: Any) -> Any:
    ok = isinstance(decision, bool | int | float) or (
        isinstance(decision, str) and 0 < len(decision) <= MAX_DECISION_TEXT
    )
    if not ok or (isinstance(decision, float) and decision != decision):
        raise ValidationError(ERR_DECISION.format(limit=MAX_DECISION_TEXT))
    return decision


def _check_request(request_id: str, record: int) -> None:
    if not isinstance(request_id, str) or not 0 < len(request_id) <= 128:
        raise ValidationError(ERR_REQUEST_ID)
    if not request_id.isprintable():
        raise ValidationError(ERR_REQUEST_ID)
    if type(record) is not int or record < 0:
        raise ValidationError(ERR_RECORD)


def _fits(conn: Connection, name: str, version: int, field: str, decision: Any) -> None:
    """Refuse a decision the version could not have made (a label of the wrong kind).

    The version's output column says what a decision is: an integer class, a boolean, a
    number or a text label. A version without a recorded output takes any decision.
    """
    found = records.load_version(conn, VersionRef(name, version))
    outputs = (found.signature or {}).get("outputs") or []
    kind = str(outputs[0].get("type", "")) if outputs else ""
    expected = None
    if kind.startswith(("int", "uint")):
        ok, expected = type(decision) is int, "an integer class"
    elif kind in ("bool", "boolean"):
        ok, expected = type(decision) is bool, "true or false"
    elif kind.startswith("float"):
        ok = isinstance(decision, int | float) and not isinstance(decision, bool)
        expected = "a number"
    elif kind in ("string", "str", "object", "category"):
        ok, expected = isinstance(decision, str), "a text label"
    else:
        ok = True
    if not ok:
        raise ValidationError(
            ERR_DECISION_KIND.format(
                field=field,
                ref=f"{name}@{version}",
                kind=kind,
                expected=expected,
                value=str(decision)[:MAX_DECISION_TEXT],
            )
        )


def _same(decision: Any, model_decision: Any) -> bool:
    return decision == model_decision or str(decision) == str(model_decision)


class OversightService:
    """The review queue and model suspensions of one store."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    # -- the gateway's side ----------------------------------------------------------------

    def record_referrals(self, name: str, referred: Sequence[Referral]) -> int:
        """Queue referred records of model ``name``; return how many were new.

        A record already queued (a gateway retrying after a lost answer) is skipped, so the
        call can be repeated safely.
        """
        if not referred:
            return 0
        for item in referred:
            _check_request(item.request_id, item.record)
        now = self.ctx.clock()
        with self.ctx.store.write() as conn:
            mid = records.model_id(conn, name)
            seen = rows.existing_keys(conn, mid, [item.request_id for item in referred])
            entries = []
            for item in referred:
                key = (item.request_id, item.record)
                if key in seen:
                    continue
                seen.add(key)
                referral_id = "rf_" + secrets.token_hex(8)
                values = {
                    "id": referral_id,
                    "version": item.version,
                    "request_id": item.request_id,
                    "record": item.record,
                    "kind": "referral",
                    "reasons": [str(reason)[:500] for reason in item.reasons],
                    "score": item.score,
                    "model_decision": item.model_decision,
                    "inputs_digest": item.inputs_digest,
                    "referred_at": item.referred_at,
                    "referred_by": self.ctx.actor,
                    "status": "pending",
                }
                rows.insert_referral(conn, mid, values)
                payload = {k: v for k, v in values.items() if k not in ("referred_at", "status")}
                entries.append(
                    NewEntry(
                        action="referral.opened",
                        subject=model_subject(name),
                        payload={"model": name, **payload, "referred_by": self.ctx.actor},
                    )
                )
            if entries:
                append(conn, actor=self.ctx.actor, now=now, entries=entries)
            return len(entries)

    def suspension(self, name: str) -> SuspensionRow | None:
        """Return model ``name``'s suspension when it is suspended now, else None."""
        with self.ctx.store.read() as conn:
            found = rows.load_suspension(conn, records.model_id(conn, name))
        return found if found is not None and found.suspended else None

    # -- reviewers -------------------------------------------------------------------------

    def list(
        self, name: str | None = None, *, status: str | None = "pending", limit: int = 100
    ) -> list[ReferralRow]:
        """Return referrals (of model ``name``, or every model), oldest first."""
        if status is not None and status not in STATUSES:
            raise ValidationError(ERR_STATUS.format(choices=", ".join(STATUSES), value=status))
        with self.ctx.store.read() as conn:
            mid = None if name is None else records.model_id(conn, name)
            return rows.list_referrals(conn, mid, status=status, limit=min(limit, MAX_LIST))

    def show(self, referral_id: str) -> ReferralRow:
        """Return referral ``referral_id``."""
        with self.ctx.store.read() as conn:
            found = rows.load_referral(conn, referral_id)
        if found is None:
            raise NotFoundError(ERR_NO_REFERRAL.format(id=referral_id[:64]))
        return found

    def find(self, name: str, request_id: str, record: int = 0) -> ReferralRow:
        """Return the referral (or override) of record ``record`` of request ``request_id``."""
        _check_request(request_id, record)
        with self.ctx.store.read() as conn:
            found = rows.find_referral(conn, records.model_id(conn, name), request_id, record)
        if found is None:
            shown = request_id[:128]
            raise NotFoundError(ERR_NO_CASE.format(model=name, request_id=shown, record=record))
        return found

    def decide(self, referral_id: str, *, decision: Any, comment: str) -> ReferralRow:
        """Record a reviewer's final decision on a referred record, with the reason.

        Raises
        ------
        ForbiddenError
            When the actor holds none of the policy's reviewer roles.
        ValidationError
            For a decision that is not a label or number, or a missing reason.
        IntegrityError
            When the referral was decided already.
        """
        decision = _check_decision(decision)
        comment = _check_comment(comment)
        wanted = self._reviewer_roles(self.show(referral_id).model)
        now = self.ctx.clock()
        with self.ctx.store.write() as conn:
            found = rows.load_referral(conn, referral_id)
            if found is None:
                raise NotFoundError(ERR_NO_REFERRAL.format(id=referral_id[:64]))
            self._reviewer(conn, found.model, wanted)
            if found.status != "pending":
                raise IntegrityError(
                    ERR_DECIDED.format(id=found.id, by=found.decided_by, at=found.decided_at)
                )
            _fits(conn, found.model, found.version, "decision", decision)
            override = not _same(decision, found.model_decision)
            values = {
                "decision": decision,
                "override": override,
                "comment": comment,
                "decided_at": now,
                "decided_by": self.ctx.actor,
            }
            if not rows.decide_referral(conn, referral_id, values):
                raise IntegrityError(f"referral {referral_id} was decided meanwhile")
            payload = {
                "id": referral_id,
                "model": found.model,
                "decision": decision,
                "override": override,
                "comment_digest": _digest(comment),
            }
            append(
                conn,
                actor=self.ctx.actor,
                now=now,
                entries=[
                    NewEntry(
                        action="referral.decided",
                        subject=model_subject(found.model),
                        payload=payload,
                    )
                ],
            )
            decided = rows.load_referral(conn, referral_id)
        assert decided is not None
        return decided

    def override(
        self,
        name: str,
        *,
        version: int,
        request_id: str,
        record: int = 0,
        model_decision: Any,
        decision: Any,
        comment: str,
    ) -> ReferralRow:
        """Record a reviewer overriding a decision the model answered (not referred)."""
        _check_request(request_id, record)
        if type(version) is not int or version < 1:
            raise ValidationError("version must be a whole number from 1")
        decision = _check_decision(decision)
        model_decision = _check_decision(model_decision)
        comment = _check_comment(comment)
        wanted = self._reviewer_roles(name)
        now = self.ctx.clock()
        with self.ctx.store.write() as conn:
            mid = records.model_id(conn, name)
            self._reviewer(conn, name, wanted)
            _fits(conn, name, version, "model_decision", model_decision)
            _fits(conn, name, version, "decision", decision)
            existing = rows.find_referral(conn, mid, request_id, record)
            if existing is not None:
                raise IntegrityError(
                    f"record {record} of request {request_id} is in the review queue already "
                    f"as {existing.id}: decide it with `govml review decide {existing.id}`"
                )
            referral_id = "rf_" + secrets.token_hex(8)
            override = not _same(decision, model_decision)
            values = {
                "id": referral_id,
                "version": version,
                "request_id": request_id,
                "record": record,
                "kind": "override",
                "reasons": ["override by a reviewer"],
                "score": None,
                "model_decision": model_decision,
                "inputs_digest": None,
                "referred_at": now,
                "referred_by": self.ctx.actor,
                "status": "pending",
            }
            rows.insert_referral(conn, mid, values)
            rows.decide_referral(
                conn,
                referral_id,
                {
                    "decision": decision,
                    "override": override,
                    "comment": comment,
                    "decided_at": now,
                    "decided_by": self.ctx.actor,
                },
            )
            payload = {
                "id": referral_id,
                "model": name,
                "version": version,
                "request_id": request_id,
                "record": record,
                "model_decision": model_decision,
                "decision": decision,
                "override": override,
                "comment_digest": _digest(comment),
            }
            append(
                conn,
                actor=self.ctx.actor,
                now=now,
                entries=[
                    NewEntry(
                        action="referral.overridden",
                        subject=model_subject(name),
                        payload=payload,
                    )
                ],
            )
            made = rows.load_referral(conn, referral_id)
        assert made is not None
        return made

    def _reviewer(self, conn: Connection, name: str, wanted: tuple[str, ...]) -> User:
        user = authorize(conn, self.ctx, Permission.READ)
        if not any(role.value in wanted for role in user.roles):
            held = ", ".join(role.value for role in user.roles) or "no role"
            raise ForbiddenError(
                ERR_NOT_REVIEWER.format(
                    actor=self.ctx.actor, held=held, model=name, roles=" or ".join(wanted)
                )
            )
        return user

    def _reviewer_roles(self, name: str) -> tuple[str, ...]:
        """Return the roles the policy in force for model ``name``'s tier lets decide."""
        from govml.services.policy import PolicyService

        with self.ctx.store.read() as conn:
            model = records.load_model(conn, name)
        tier = getattr(model.risk_tier, "value", model.risk_tier)
        stored = PolicyService(self.ctx).for_tier(str(tier))
        section = None if stored is None else stored.policy.oversight
        return DEFAULT_REVIEWERS if section is None else tuple(section.reviewers)

    # -- stop ------------------------------------------------------------------------------

    def suspend(self, name: str, *, reason: str) -> SuspensionRow:
        """Suspend model ``name``: its gateways refer every record or answer 503."""
        return self._set_suspended(name, True, reason)

    def resume(self, name: str, *, reason: str) -> SuspensionRow:
        """Resume model ``name`` after a suspension."""
        return self._set_suspended(name, False, reason)

    def _set_suspended(self, name: str, suspended: bool, reason: str) -> SuspensionRow:
        text = _check_comment(reason)
        verb = "suspend" if suspended else "resume"
        now = self.ctx.clock()
        with self.ctx.store.write() as conn:
            user = authorize(conn, self.ctx, Permission.READ)
            if Permission.DEPLOY not in user.permissions() and Role.RISK_OFFICER not in user.roles:
                held = ", ".join(role.value for role in user.roles) or "no role"
                raise ForbiddenError(
                    ERR_NOT_SUSPENDER.format(actor=self.ctx.actor, held=held, verb=verb, model=name)
                )
            mid = records.model_id(conn, name)
            current = rows.load_suspension(conn, mid)
            if (current is not None and current.suspended) == suspended:
                if current is None:
                    raise ValidationError(ERR_NEVER_SUSPENDED.format(model=name))
                state = "suspended" if suspended else "running"
                verb_done = "suspended" if suspended else "resumed"
                raise ValidationError(
                    ERR_ALREADY.format(
                        model=name,
                        state=state,
                        done=verb_done,
                        at=current.updated_at.isoformat(),
                        by=current.updated_by,
                    )
                )
            values = {
                "suspended": suspended,
                "reason": text,
                "updated_at": now,
                "updated_by": self.ctx.actor,
            }
            rows.save_suspension(conn, mid, values)
            append(
                conn,
                actor=self.ctx.actor,
                now=now,
                entries=[
                    NewEntry(
                        action="serving.suspended" if suspended else "serving.resumed",
                        subject=model_subject(name),
                        payload={"model": name, "reason": text},
                    )
                ],
            )
            saved = rows.load_suspension(conn, mid)
        assert saved is not None
        return saved


def verify_oversight_records(conn: Connection) -> dict[str, int]:
    """Replay ``referral.*`` and ``serving.suspended`` / ``resumed`` against their tables.

    Raises `IntegrityError` naming the referral or model whose row differs from the ledger.
    """
    expected: dict[str, dict[str, Any]] = {}
    for entry in iter_entries(
        conn, actions=("referral.opened", "referral.decided", "referral.overridden")
    ):
        payload = entry.payload
        if entry.action == "referral.opened":
            expected[payload["id"]] = {
                "seq": entry.seq,
                "kind": "referral",
                "model": payload["model"],
                "request_id": payload["request_id"],
                "record": payload["record"],
                "model_decision": payload["model_decision"],
                "status": "pending",
            }
        elif entry.action == "referral.overridden":
            expected[payload["id"]] = {
                "seq": entry.seq,
                "kind": "override",
                "model": payload["model"],
                "request_id": payload["request_id"],
                "record": payload["record"],
                "model_decision": payload["model_decision"],
                "status": "decided",
                "decision": payload["decision"],
                "override": payload["override"],
                "comment_digest": payload["comment_digest"],
            }
        else:
            state = expected.get(payload["id"])
            if state is None:
                raise IntegrityError(
                    f"ledger entry {entry.seq} decides referral {payload['id']}, never opened"
                )
            state.update(
                seq=entry.seq,
                status="decided",
                decision=payload["decision"],
                override=payload["override"],
                comment_digest=payload["comment_digest"],
            )
    stored = rows.all_referrals(conn)
    for row in stored:
        state = expected.pop(row.id, None)
        if state is None:
            raise IntegrityError(f"referral {row.id} has no ledger entry")
        actual: dict[str, Any] = {
            "kind": row.kind,
            "model": row.model,
            "request_id": row.request_id,
            "record": row.record,
            "model_decision": row.model_decision,
            "status": row.status,
        }
        if row.status == "decided":
            actual.update(
                decision=row.decision,
                override=row.override,
                comment_digest=_digest(row.comment or ""),
            )
        for field, value in actual.items():
            if state.get(field) != value:
                raise IntegrityError(
                    f"referral {row.id} differs from ledger entry {state['seq']}: {field} is "
                    f"{json.dumps(value, default=str)} in the database but "
                    f"{json.dumps(state.get(field), default=str)} in the ledger"
                )
    if expected:
        raise IntegrityError(
            f"referral {next(iter(expected))} is in the ledger but missing from the database"
        )
    suspended: dict[str, tuple[int, bool, str]] = {}
    for entry in iter_entries(conn, actions=("serving.suspended", "serving.resumed")):
        payload = entry.payload
        suspended[payload["model"]] = (
            entry.seq,
            entry.action == "serving.suspended",
            payload["reason"],
        )
    for found in rows.all_suspensions(conn):
        seq, state_, reason = suspended.pop(found.model, (None, None, None))
        if seq is None:
            raise IntegrityError(f"suspension of {found.model!r} has no ledger entry")
        if (found.suspended, found.reason) != (state_, reason):
            raise IntegrityError(f"suspension of {found.model!r} differs from ledger entry {seq}")
    if suspended:
        raise IntegrityError(
            f"suspension of {next(iter(suspended))!r} is in the ledger but missing from the "
            "database"
        )
    return {"referrals": len(stored)}
