"""What every govml client offers: `GovmlClient`, the SDK's one interface.

`govml.connect()` returns a `govml.Client` over a local store, or, in client mode
(``GOVML_SERVER``), a `govml.remote.RemoteClient` that calls a govml server. Both implement
this Protocol with the same signatures, return the same records and raise the same errors,
so code written against it (the CLI, the gateway, a user's script) runs unchanged in either
mode. Only the types are imported here: the module costs nothing at run time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from os import PathLike
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self, runtime_checkable

if TYPE_CHECKING:
    from govml.documents.fields import ModelCardFields
    from govml.domain.lifecycle import AliasChange, Approval, IssuedToken, Readiness, User
    from govml.domain.records import LedgerEntry, Model, ModelVersion, RiskTier
    from govml.domain.serving import ServingConfig
    from govml.evaluation import Evaluation
    from govml.flavors import LoadedModel
    from govml.ledger.attest import AttestationReport
    from govml.ledger.bundle import ProofBundle
    from govml.monitoring.records import MonitorPoint, MonitorRun
    from govml.policy.loader import LoadedPolicy
    from govml.policy.records import PolicyApplied, StoredPolicy
    from govml.services.audit import VerifyResult
    from govml.services.proofs import CheckpointResult, ExportResult, KeyInfo
    from govml.serving.keys import GatewayKey, IssuedGatewayKey


@runtime_checkable
class GovmlClient(Protocol):
    """Models, versions, policies, evaluations, lifecycle, people, documents and the ledger.

    Every method is one use case of a govml service; see `govml.Client` for what each does
    on a local store.
    """

    def init(self) -> dict[str, Any]:
        """Record the store's creation in the ledger (once) and return its status.

        A remote client refuses: a server's store is initialised on the server's host.
        """
        ...

    def create_model(
        self,
        name: str,
        *,
        risk_tier: str | RiskTier,
        owner: str | None = None,
        intended_use: str = "",
        out_of_scope_use: str = "",
        description: str = "",
        tags: Mapping[str, str] | None = None,
    ) -> Model:
        """Create a model (see `RegistryService.create_model`)."""
        ...

    def get_model(self, name: str) -> Model:
        """Return model ``name``."""
        ...

    def list_models(self) -> list[Model]:
        """Return every model."""
        ...

    def set_tag(self, name: str, key: str, value: str | None) -> Model:
        """Set a tag on a model (``value=None`` removes it)."""
        ...

    def validate_policy(self, path: str | PathLike[str]) -> LoadedPolicy:
        """Validate a policy file without storing it.

        Raises `govml.policy.InvalidPolicyError` listing every problem with its position.
        """
        ...

    def apply_policy(
        self, path: str | PathLike[str] | LoadedPolicy, *, replace: bool = False
    ) -> PolicyApplied:
        """Put a policy in force for its tiers (see `PolicyService.apply`)."""
        ...

    def get_policy(
        self, name: str | None = None, *, tier: str | None = None, version: int | None = None
    ) -> StoredPolicy:
        """Return a stored policy by name, or the one in force for ``tier``."""
        ...

    def policy_for_tier(self, tier: str) -> StoredPolicy | None:
        """Return the policy in force for risk tier ``tier``, or None when none governs it."""
        ...

    def list_policies(self) -> list[StoredPolicy]:
        """Return the newest version of every stored policy."""
        ...

    def register_version(
        self, name: str, *, trusted: Sequence[str] = (), **kwargs: Any
    ) -> ModelVersion:
        """Register a version (see `RegistryService.register_version` for the arguments).

        ``trusted`` lists types beyond the built-in allowlist that you reviewed and allow the
        artifact to contain (local mode only); the version and its ledger entry record them.
        """
        ...

    def get_version(self, ref: str) -> ModelVersion:
        """Return the version ``name@3``, ``name@alias`` or ``name`` (latest) refers to."""
        ...

    def list_versions(self, name: str) -> list[ModelVersion]:
        """Return every version of a model, oldest first."""
        ...

    def dataset_fingerprint(self, digest: str) -> dict[str, Any]:
        """Return a stored dataset fingerprint (schema, row count, profile) as a dictionary."""
        ...

    def load_model(self, ref: str, *, trusted: Sequence[str] = ()) -> LoadedModel:
        """Load a version's model, its artifact digest checked, ready to ``predict``.

        The artifact may contain types beyond the built-in allowlist only when they are in
        ``GOVML_TRUSTED_TYPES`` or in ``trusted`` (types you reviewed); what the version
        records grants nothing.
        """
        ...

    def verify_ledger(
        self,
        *,
        checkpoint: str | None = None,
        key: str | None = None,
        artifacts: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> VerifyResult:
        """Recompute the ledger and check the stored records against it; raise on mismatch.

        ``checkpoint`` is the text of a checkpoint kept elsewhere, which the ledger must
        extend; ``key`` the text of the public key to check it with (default: this home's).
        The artifacts of versions holding an alias (every version's with ``artifacts``) are
        re-hashed against their recorded digests; ``progress(done, total)`` follows that.
        """
        ...

    def sign_checkpoint(self) -> CheckpointResult:
        """Sign the ledger's latest tree head with the instance's key (C2SP checkpoint)."""
        ...

    def ledger_proof(self, seq: int, *, checkpoint: str | None = None) -> ProofBundle:
        """Return a bundle proving entry ``seq`` against the latest (or given) checkpoint."""
        ...

    def export_ledger(self, *, model: str | None = None, since: str | None = None) -> ExportResult:
        """Return a bundle of all entries (or those about ``model``) with their proofs."""
        ...

    def ledger_key(self) -> KeyInfo:
        """Return the instance's public ledger key."""
        ...

    def attest(self, ref: str) -> dict[str, Any]:
        """Return a DSSE-signed in-toto attestation of version ``ref`` (as JSON)."""
        ...

    def verify_attestation(self, text: str, *, key: str | None = None) -> AttestationReport:
        """Verify an attestation envelope (its JSON text); raise if it does not hold."""
        ...

    def audit_log(
        self, *, model: str | None = None, action: str | None = None, limit: int | None = None
    ) -> list[LedgerEntry]:
        """Return ledger entries, oldest first, optionally about one model."""
        ...

    def promote(
        self, ref: str, *, to: str, reason: str = "", ticket: str | None = None
    ) -> AliasChange:
        """Move alias ``to`` (staging / production) to version ``ref`` through its gates.

        Raises `GateError` listing every unmet condition, `ForbiddenError` without the
        deployer role.
        """
        ...

    def rollback(self, name: str, *, reason: str, ticket: str | None = None) -> AliasChange:
        """Move ``production`` back to the version that held it before the current one."""
        ...

    def readiness(self, ref: str, *, to: str = "production") -> Readiness:
        """Return the conditions version ``ref`` must meet to take alias ``to``, and which hold."""
        ...

    def approve(
        self, ref: str, *, comment: str, reject: bool = False, ticket: str | None = None
    ) -> Approval:
        """Record the acting user's approval (or rejection) of version ``ref``."""
        ...

    def list_approvals(self, ref: str) -> list[Approval]:
        """Return every decision on version ``ref``, oldest first."""
        ...

    def alias_history(self, name: str, *, alias: str | None = None) -> list[AliasChange]:
        """Return every promotion and rollback of model ``name``, oldest first."""
        ...

    def serving_config(self, name: str) -> ServingConfig:
        """Return how model ``name``'s gateway uses its challenger (off, shadow, canary)."""
        ...

    def configure_serving(
        self, name: str, *, mode: str, share: float | None = None, key: str | None = None
    ) -> ServingConfig:
        """Set model ``name``'s challenger to off, shadow or canary (``share``, sticky ``key``)."""
        ...

    def issue_gateway_key(
        self,
        name: str,
        *,
        scopes: Sequence[str],
        expires_in_days: int | None = None,
        description: str = "",
    ) -> IssuedGatewayKey:
        """Issue a key of model ``name``'s gateway with ``scopes`` (the secret is shown once)."""
        ...

    def gateway_keys(self, name: str, *, include_revoked: bool = False) -> list[GatewayKey]:
        """Return the keys of model ``name``'s gateway (live ones unless ``include_revoked``)."""
        ...

    def revoke_gateway_key(self, name: str, key_id: str) -> GatewayKey:
        """Revoke gateway key ``key_id`` of model ``name``."""
        ...

    def keys_for_gateways(self) -> list[GatewayKey]:
        """Return the keys gateways check requests against (hashes, never secrets)."""
        ...

    def add_user(
        self, name: str, *, roles: Sequence[str], expires_in_days: int | None = None
    ) -> IssuedToken:
        """Add a user with ``roles`` and return their first token (shown once).

        ``expires_in_days`` defaults to ``GOVML_TOKEN_MAX_DAYS``; every token expires.
        """
        ...

    def list_users(self) -> list[User]:
        """Return every user, by name."""
        ...

    def get_user(self, name: str) -> User:
        """Return user ``name``: their roles, when each was granted, whether active."""
        ...

    def set_roles(self, name: str, *, roles: Sequence[str]) -> User:
        """Replace the roles of user ``name``."""
        ...

    def issue_token(self, name: str, *, expires_in_days: int | None = None) -> IssuedToken:
        """Issue a new token for user ``name`` (shown once; default ``GOVML_TOKEN_MAX_DAYS``)."""
        ...

    def revoke_tokens(self, name: str) -> int:
        """Revoke every live token of user ``name``; return how many."""
        ...

    def revoke_token(self, name: str, token_id: str) -> datetime:
        """Revoke token ``token_id`` of user ``name`` (an admin, or the user); return when."""
        ...

    def disable_user(self, name: str) -> User:
        """Disable user ``name``: their tokens stop working and they can do nothing."""
        ...

    def whoami(self) -> User:
        """Return the acting user."""
        ...

    def evaluate(self, ref: str | None = None, **kwargs: Any) -> Evaluation:
        """Evaluate version ``ref`` (or predictions made elsewhere) against a policy.

        Keyword arguments are those of `EvaluationService.evaluate`: ``data``, ``target``,
        ``policy``, ``sensitive``, ``prediction_column``, ``score_column``, ``pos_label``,
        ``label``, ``n_boot``, ``random_state``, ``progress``.
        """
        ...

    def get_evaluation(self, evaluation_id: int) -> Evaluation:
        """Return stored evaluation ``evaluation_id``."""
        ...

    def list_evaluations(
        self,
        *,
        model: str | None = None,
        version: int | None = None,
        status: str | None = None,
        limit: int | None = None,
    ) -> list[Evaluation]:
        """Return stored evaluations, newest first."""
        ...

    def evaluation_evidence(self, evaluation: Evaluation, name: str) -> bytes | None:
        """Return an evaluation's evidence artifact ``name`` (JSON bytes), or None."""
        ...

    def report(
        self, kind: str, ref: str, *, format: str = "md", since: str | None = None
    ) -> str | bytes:
        """Return a document about ``ref`` as ``md``, ``html``, ``json`` (text) or ``pdf`` (bytes).

        ``kind`` is ``model-card``, ``datasheet``, ``annex-iv``, ``audit`` or ``ml-test-score``;
        ``ref`` is ``NAME@VERSION`` (model card, Annex IV), a dataset digest, prefix or
        ``NAME@VERSION:train`` (datasheet), or ``NAME`` (audit, ML Test Score); ``since``
        limits the audit report to entries from that date or time on.
        """
        ...

    def set_model_card_fields(
        self,
        name: str,
        fields: Mapping[str, Any] | None = None,
        *,
        unset: Sequence[str] = (),
    ) -> ModelCardFields:
        """Set (or ``unset``) editable model card fields of model ``name``: a new revision.

        Fields are those of `govml.documents.CARD_FIELDS` (intended_use, limitations,
        ethical_considerations, ...); each change is versioned and recorded in the ledger.
        """
        ...

    def model_card_fields(self, name: str, *, revision: int | None = None) -> ModelCardFields:
        """Return model ``name``'s editable card fields (the latest or a given revision)."""
        ...

    def model_card_history(self, name: str) -> list[ModelCardFields]:
        """Return every revision of model ``name``'s editable card fields, oldest first."""
        ...

    def monitor(
        self,
        name: str,
        *,
        window: str | None = None,
        since: str | datetime | None = None,
        until: str | datetime | None = None,
        log_dir: str | Path | None = None,
        dry_run: bool = False,
        version: int | None = None,
        min_rows: int | None = None,
        min_labels: int | None = None,
        shap_rows: int | None = None,
        engine: str = "numpy",
    ) -> MonitorRun:
        """Judge a window of model ``name``'s prediction log; store it, alert, remediate.

        The window is ``window`` (``"1d"``) ending at ``until`` (default now), or ``since`` ..
        ``until``, or the policy's ``monitoring.window``. ``log_dir`` defaults to
        ``$GOVML_HOME/predictions``. With ``dry_run`` nothing is stored and no action runs.
        ``min_rows`` and ``min_labels`` default to `govml.monitoring.DEFAULT_MIN_ROWS` and
        ``DEFAULT_MIN_LABELS``. See `govml.services.monitoring.MonitoringService.monitor`.
        """
        ...

    def monitor_history(
        self,
        name: str,
        *,
        version: int | None = None,
        check: str | None = None,
        limit: int | None = 500,
    ) -> list[MonitorPoint]:
        """Return the time series of model ``name``'s monitoring checks, oldest first.

        ``check`` keeps one check (``data_drift:age``) or a category (``data_drift``).
        """
        ...

    def monitor_run(self, name: str, run_id: int) -> MonitorRun:
        """Return stored monitoring run ``run_id`` of model ``name``, with its actions."""
        ...

    def latest_monitor_runs(self, name: str, *, limit: int = 1) -> list[MonitorRun]:
        """Return model ``name``'s newest stored monitoring runs, newest first."""
        ...

    def export_labelling_tasks(
        self,
        name: str,
        *,
        window: str | None = None,
        since: str | datetime | None = None,
        until: str | datetime | None = None,
        log_dir: str | Path | None = None,
        limit: int = 100,
        below: float | None = None,
    ) -> list[dict[str, Any]]:
        """Return the window's least confident predictions as Label Studio tasks (JSON)."""
        ...

    def import_labels(
        self,
        name: str,
        tasks: Sequence[Mapping[str, Any]],
        *,
        log_dir: str | Path | None = None,
        from_name: str | None = None,
    ) -> dict[str, Any]:
        """Write the labels of annotated Label Studio tasks into the feedback log."""
        ...

    def close(self) -> None:
        """Release the client's connections (to the database or the server)."""
        ...

    def __enter__(self) -> Self:
        """Return the client, closed when the ``with`` block ends."""
        ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the client."""
        ...
