"""Request and response bodies of the REST API (what the OpenAPI spec describes).

Responses have the shape of the records' ``to_dict()``, which is also the shape of the CLI's
``--json`` output: times are ISO 8601 strings, free-form parts (parameters, payloads,
evaluation documents) are JSON objects.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

INT32 = 2**31 - 1
"""Largest integer a request may carry where the database stores a 32-bit integer."""

NAME = Field(max_length=1000)
TEXT = Field(default="", max_length=100_000)
DAYS = Field(
    default=None,
    ge=-INT32,
    le=INT32,
    description="Days until the token expires (default: the server's GOVML_TOKEN_MAX_DAYS, the "
    "most a token issued for oneself may live). Every token expires: null is refused.",
)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- errors -------------------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    """One error: its class, a message for a person, and what its class carries."""

    type: str = Field(description="The govml error class, e.g. NotFoundError.")
    message: str
    hint: str | None = None
    problems: list[str] | None = Field(default=None, description="Policy and input problems.")
    missing: list[str] | None = Field(default=None, description="Unmet promotion conditions.")
    seq: int | None = Field(default=None, description="First ledger entry that does not verify.")
    source: str | None = None
    errors: list[dict[str, Any]] | None = None
    notes: list[dict[str, Any]] | None = None


class ErrorBody(BaseModel):
    """Every error response."""

    error: ErrorDetail


class Health(BaseModel):
    """``GET /health``."""

    status: str
    version: str


# -- registry -----------------------------------------------------------------------------------


class ModelCreate(_Body):
    """A new model."""

    name: str = NAME
    risk_tier: str = Field(description="minimal, limited, high or unacceptable.", max_length=50)
    owner: str | None = Field(default=None, max_length=200)
    intended_use: str = TEXT
    out_of_scope_use: str = TEXT
    description: str = TEXT
    tags: dict[str, str] = Field(default_factory=dict)


class TagSet(_Body):
    """Set a tag (``value``) or remove it (``value: null``)."""

    key: str = Field(max_length=1000)
    value: str | None = Field(default=None, max_length=10_000)


class ModelOut(BaseModel):
    """A governed model."""

    name: str
    owner: str
    risk_tier: str
    intended_use: str
    out_of_scope_use: str
    description: str
    tags: dict[str, str]
    created_at: str
    created_by: str
    latest_version: int | None
    aliases: dict[str, int]


class DatasetRefOut(BaseModel):
    """A dataset a version was trained or validated on."""

    role: str
    digest: str
    row_count: int
    columns: int


class VersionOut(BaseModel):
    """A registered model version with its lineage."""

    ref: str
    model: str
    version: int
    artifact_digest: str
    artifact_size: int
    flavor: str
    flavor_options: dict[str, Any]
    signature: dict[str, Any] | None
    datasets: list[DatasetRefOut]
    code: dict[str, Any]
    environment: dict[str, Any]
    params: dict[str, Any]
    metrics: dict[str, Any]
    description: str
    mlflow_run_id: str | None
    registrant: str
    created_at: str
    aliases: list[str]


# -- policies -----------------------------------------------------------------------------------


class PolicyText(_Body):
    """A policy's YAML text and the name it is known by (a file name) in messages."""

    text: str = Field(max_length=1_000_000)
    source: str = Field(default="<request>", min_length=1, max_length=1000)


class PolicyApply(PolicyText):
    """Apply a policy; ``replace`` takes over tiers another policy governs."""

    replace: bool = False


class PolicyValidation(BaseModel):
    """A policy that validates (the shape of ``govml policy validate --json``)."""

    valid: bool
    file: str
    name: str
    digest: str
    tiers: list[str]
    problems: list[Any]
    notes: list[dict[str, Any]]


class StoredPolicyOut(BaseModel):
    """A stored policy version with its document and YAML."""

    name: str
    version: int
    latest_version: int
    digest: str
    tiers: list[str]
    in_force_for: list[str]
    description: str | None
    owner: str | None
    source_name: str
    created_at: str
    created_by: str
    document: dict[str, Any]
    source: str


class PolicyAppliedOut(BaseModel):
    """What applying a policy did, and the stored policy now in force."""

    name: str
    version: int
    digest: str
    new_version: bool
    changed: bool
    in_force_for: list[str]
    replaced: dict[str, str]
    released: list[str]
    notes: list[dict[str, Any]]
    policy: StoredPolicyOut


class TierOut(BaseModel):
    """A risk tier and the policy in force for it (null when none governs it)."""

    tier: str
    policy: StoredPolicyOut | None


# -- evaluations --------------------------------------------------------------------------------


class EvaluationOut(BaseModel):
    """A stored evaluation: its id, document digest and ``govml.evaluation/v1`` document."""

    id: int
    digest: str
    document: dict[str, Any]


# -- audit --------------------------------------------------------------------------------------


class LedgerEntryOut(BaseModel):
    """One ledger entry."""

    seq: int
    time: str
    actor: str
    action: str
    subject: str
    payload: dict[str, Any]
    leaf_hash: str


class VerifyRequest(_Body):
    """Verify the ledger; optionally prove it extends a checkpoint kept elsewhere."""

    checkpoint: str | None = Field(default=None, max_length=10_000_000)
    key: str | None = Field(default=None, max_length=100_000)
    artifacts: bool = False


class VerifyOut(BaseModel):
    """What verification checked."""

    ok: bool
    entries: int
    tree_heads: int
    root_hash: str
    models: int
    versions: int
    datasets: int
    policies: int
    evaluations: int
    users: int
    approvals: int
    alias_changes: int
    signed_checkpoints: int
    checkpoint: dict[str, Any] | None
    artifacts: dict[str, Any] | None = None


class CheckpointOut(BaseModel):
    """A signed checkpoint (C2SP signed note)."""

    origin: str
    tree_size: int
    root_hash: str
    signed_note: str
    frontier: list[str]
    key: str
    created: bool


class ProofRequest(_Body):
    """Prove entry ``seq`` against the latest checkpoint, or the one given."""

    seq: int = Field(ge=0, le=INT32)
    checkpoint: str | None = Field(default=None, max_length=10_000_000)


class ExportRequest(_Body):
    """Export entries (all, or about one model) with their proofs."""

    model: str | None = Field(default=None, max_length=200)
    since: str | None = Field(default=None, max_length=10_000_000)


class ExportOut(BaseModel):
    """An export bundle and how many newer entries it does not cover yet."""

    bundle: dict[str, Any]
    tree_size: int
    uncovered: int


class KeyOut(BaseModel):
    """The instance's public ledger key."""

    origin: str
    verifier_key: str
    key_id: str
    public_key_pem: str
    path: str
    recorded_in_entry: int | None


class AttestationVerify(_Body):
    """An attestation envelope (its JSON text) to verify, and optionally the key to trust."""

    envelope: str = Field(max_length=10_000_000)
    key: str | None = Field(default=None, max_length=100_000)


class AttestationOut(BaseModel):
    """What a verified attestation proves."""

    ok: bool
    subject: str
    sha256: str
    key: str = Field(description="The verifier key that signed it (NAME+ID+KEY).")
    ledger_entry: int
    tree_size: int


# -- lifecycle ----------------------------------------------------------------------------------


class PromoteRequest(_Body):
    """Move alias ``to`` to the version."""

    to: str = Field(max_length=100)
    reason: str = TEXT
    ticket: str | None = Field(
        default=None, max_length=200, description="Change ticket (JIRA-123), ledgered with it."
    )


class RollbackRequest(_Body):
    """Move production back to the previous production version."""

    reason: str = Field(max_length=100_000)
    ticket: str | None = Field(
        default=None, max_length=200, description="Change ticket (JIRA-123), ledgered with it."
    )


class ApproveRequest(_Body):
    """Approve (or reject) a version."""

    comment: str = Field(max_length=100_000)
    reject: bool = False
    ticket: str | None = Field(
        default=None, max_length=200, description="Change ticket (JIRA-123), ledgered with it."
    )


class AliasChangeOut(BaseModel):
    """A promotion or rollback."""

    id: int | None
    model: str
    alias: str
    action: str
    version: int
    previous: int | None
    reason: str
    actor: str
    created_at: str
    evaluation_id: int | None
    policy_digest: str | None
    approvals: list[str]


class ApprovalOut(BaseModel):
    """One person's decision on one version, and the evidence it was given on."""

    id: int | None
    model: str
    version: int
    decision: str
    role: str
    comment: str
    actor: str
    created_at: str
    evaluation_id: int | None = None
    policy_digest: str | None = None


class ConditionOut(BaseModel):
    """One promotion condition and whether it holds."""

    name: str
    met: bool
    detail: str


class VerdictOut(BaseModel):
    """Whether one decision on a version counts now (a rejection: blocks), and why not."""

    approval_id: int | None
    actor: str
    role: str
    decision: str
    counts: bool
    superseded: bool
    reason: str
    short: str


class ReadinessOut(BaseModel):
    """Whether a version may take an alias now, condition by condition."""

    model: str
    version: int
    alias: str
    ready: bool
    conditions: list[ConditionOut]
    evaluation_id: int | None
    policy_digest: str | None
    approvals: list[str]
    verdicts: list[VerdictOut] = Field(default_factory=list)


class ServingSet(_Body):
    """How the gateway uses the model's challenger (the version holding ``staging``)."""

    mode: str = Field(max_length=100, description="off, shadow or canary.")
    share: float | None = Field(
        default=None, allow_inf_nan=False, description="A canary's share of traffic, in (0, 1)."
    )
    key: str | None = Field(
        default=None, max_length=1000, description="Request field a canary's choice sticks to."
    )


class ServingOut(BaseModel):
    """A model's challenger set-up."""

    model: str
    mode: str
    share: float | None
    key: str | None
    updated_at: str | None
    updated_by: str | None


# -- people -------------------------------------------------------------------------------------


class _Lifetime(_Body):
    expires_in_days: int | None = DAYS

    @model_validator(mode="before")
    @classmethod
    def _expires(cls, data: Any) -> Any:
        # Leaving the field out asks for the server's default; an explicit null used to
        # mean "never expires", which no token does any more.
        if isinstance(data, dict) and "expires_in_days" in data and data["expires_in_days"] is None:
            raise ValueError(
                "expires_in_days: every token expires; give a number of days or leave it out"
            )
        return data


class UserCreate(_Lifetime):
    """A new user and the roles they hold."""

    name: str = NAME
    roles: list[str] = Field(max_length=20)


class RolesSet(_Body):
    """The roles a user holds from now on."""

    roles: list[str] = Field(max_length=20)


class TokenRequest(_Lifetime):
    """A new token's lifetime."""


class UserOut(BaseModel):
    """A user, their roles and when each was granted."""

    name: str
    roles: list[str]
    created_at: str
    created_by: str
    disabled_at: str | None
    active: bool
    roles_granted_at: dict[str, str] = Field(default_factory=dict)


class TokenOut(BaseModel):
    """A new bearer token; ``token`` is shown this once."""

    user: str
    token_id: str
    token: str
    expires_at: str | None


class RevokedOut(BaseModel):
    """How many live tokens were revoked."""

    user: str
    revoked: int
