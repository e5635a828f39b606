"""The Python SDK: ``client = govml.connect()``.

The client calls the same services as the CLI, so behaviour cannot differ between them. Each
service is imported when a method first needs it: opening a store and reading a version costs
no scientific stack.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import cached_property
from os import PathLike
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from govml.client_protocol import GovmlClient
from govml.errors import MissingStoreError
from govml.settings import Settings, load_settings

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
    from govml.services.access import AccessService
    from govml.services.attestation import AttestationService
    from govml.services.audit import AuditService, VerifyResult
    from govml.services.card_fields import CardFieldService
    from govml.services.context import ServiceContext
    from govml.services.documents import DocumentService
    from govml.services.evaluation import EvaluationService
    from govml.services.gateway_keys import GatewayKeyService
    from govml.services.lifecycle import LifecycleService
    from govml.services.monitoring import MonitoringService
    from govml.services.oversight import OversightService
    from govml.services.policy import PolicyService
    from govml.services.proofs import CheckpointResult, ExportResult, KeyInfo, ProofService
    from govml.services.registry import RegistryService
    from govml.services.serving import ServingService
    from govml.serving.keys import GatewayKey, IssuedGatewayKey


class Client:
    """Access to one govml store: models, versions, lineage, policies and the ledger.

    A `GovmlClient`, as `govml.remote.RemoteClient` is. ``ctx`` holds the store, the acting
    user and the clock; ``registry``, ``audit``, ``policies`` and ``evaluations`` are the
    services most methods go through.
    """

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    @cached_property
    def registry(self) -> RegistryService:
        """The registry service of this store (models, versions, datasets, artifacts)."""
        from govml.services.registry import RegistryService

        return RegistryService(self.ctx)

    @cached_property
    def audit(self) -> AuditService:
        """The audit service of this store (ledger verification and log)."""
        from govml.services.audit import AuditService

        return AuditService(self.ctx)

    @cached_property
    def policies(self) -> PolicyService:
        """The policy service of this store."""
        from govml.services.policy import PolicyService

        return PolicyService(self.ctx)

    @cached_property
    def evaluations(self) -> EvaluationService:
        """The evaluation service of this store."""
        from govml.services.evaluation import EvaluationService

        return EvaluationService(self.ctx)

    def init(self) -> dict[str, Any]:
        """Record the store's creation in the ledger (once) and return its status."""
        from govml.services.admin import AdminService

        return AdminService(self.ctx).initialize()

    # models
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
        return self.registry.create_model(
            name,
            owner=owner,
            risk_tier=risk_tier,
            intended_use=intended_use,
            out_of_scope_use=out_of_scope_use,
            description=description,
            tags=tags,
        )

    def get_model(self, name: str) -> Model:
        """Return model ``name``."""
        return self.registry.get_model(name)

    def list_models(self) -> list[Model]:
        """Return every model."""
        return self.registry.list_models()

    def set_tag(self, name: str, key: str, value: str | None) -> Model:
        """Set a tag on a model (``value=None`` removes it)."""
        return self.registry.set_tag(name, key, value)

    # policies
    def validate_policy(self, path: str | PathLike[str]) -> LoadedPolicy:
        """Validate a policy file without storing it.

        Raises `govml.policy.InvalidPolicyError` listing every problem with its position.
        """
        from govml.policy.loader import load_policy

        return load_policy(path)

    def apply_policy(
        self, path: str | PathLike[str] | LoadedPolicy, *, replace: bool = False
    ) -> PolicyApplied:
        """Put a policy in force for its tiers (see `PolicyService.apply`)."""
        return self.policies.apply(path, replace=replace)

    def get_policy(
        self, name: str | None = None, *, tier: str | None = None, version: int | None = None
    ) -> StoredPolicy:
        """Return a stored policy by name, or the one in force for ``tier``."""
        return self.policies.get(name, tier=tier, version=version)

    def policy_for_tier(self, tier: str) -> StoredPolicy | None:
        """Return the policy in force for risk tier ``tier``, or None when none governs it."""
        return self.policies.for_tier(tier)

    def list_policies(self) -> list[StoredPolicy]:
        """Return the newest version of every stored policy."""
        return self.policies.list_policies()

    # versions
    def register_version(
        self, name: str, *, trusted: Sequence[str] = (), **kwargs: Any
    ) -> ModelVersion:
        """Register a version (see `RegistryService.register_version` for the arguments).

        ``trusted`` lists types beyond the built-in allowlist that you reviewed and allow the
        artifact to contain (local mode only); the version and its ledger entry record them.
        """
        return self.registry.register_version(name, trusted=trusted, **kwargs)

    def get_version(self, ref: str) -> ModelVersion:
        """Return the version ``name@3``, ``name@alias`` or ``name`` (latest) refers to."""
        return self.registry.get_version(ref)

    def list_versions(self, name: str) -> list[ModelVersion]:
        """Return every version of a model, oldest first."""
        return self.registry.list_versions(name)

    def dataset_fingerprint(self, digest: str) -> dict[str, Any]:
        """Return a stored dataset fingerprint (schema, row count, profile) as a dictionary."""
        return self.registry.dataset_fingerprint(digest)

    def load_model(self, ref: str, *, trusted: Sequence[str] = ()) -> LoadedModel:
        """Load a version's model, its artifact digest checked, ready to ``predict``.

        The artifact may contain types beyond the built-in allowlist only when they are in
        ``GOVML_TRUSTED_TYPES`` or in ``trusted`` (types you reviewed); what the version
        records grants nothing.
        """
        return self.registry.load_model(ref, trusted=trusted)

    # ledger
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
        return self.audit.verify(
            checkpoint=checkpoint, key=key, artifacts=artifacts, progress=progress
        )

    def sign_checkpoint(self) -> CheckpointResult:
        """Sign the ledger's latest tree head with the instance's key (C2SP checkpoint)."""
        return self._proofs().checkpoint()

    def ledger_proof(self, seq: int, *, checkpoint: str | None = None) -> ProofBundle:
        """Return a bundle proving entry ``seq`` against the latest (or given) checkpoint."""
        return self._proofs().proof(seq, checkpoint=checkpoint)

    def export_ledger(self, *, model: str | None = None, since: str | None = None) -> ExportResult:
        """Return a bundle of all entries (or those about ``model``) with their proofs."""
        return self._proofs().export(model=model, since=since)

    def ledger_key(self) -> KeyInfo:
        """Return the instance's public ledger key."""
        return self._proofs().public_key()

    def attest(self, ref: str) -> dict[str, Any]:
        """Return a DSSE-signed in-toto attestation of version ``ref`` (as JSON)."""
        return self._attestation().attest(ref)

    def verify_attestation(self, text: str, *, key: str | None = None) -> AttestationReport:
        """Verify an attestation envelope (its JSON text); raise if it does not hold."""
        return self._attestation().verify(text, key=key)

    def audit_log(
        self, *, model: str | None = None, action: str | None = None, limit: int | None = None
    ) -> list[LedgerEntry]:
        """Return ledger entries, oldest first, optionally about one model."""
        return self.audit.log(model=model, action=action, limit=limit)

    # lifecycle
    def promote(
        self, ref: str, *, to: str, reason: str = "", ticket: str | None = None
    ) -> AliasChange:
        """Move alias ``to`` (staging / production) to version ``ref`` through its gates.

        Raises `GateError` listing every unmet condition, `ForbiddenError` without the
        deployer role. ``ticket`` (``JIRA-123``) is ledgered with the promotion.
        """
        return self._lifecycle().promote(ref, to=to, reason=reason, ticket=ticket)

    def rollback(self, name: str, *, reason: str, ticket: str | None = None) -> AliasChange:
        """Move ``production`` back to the version that held it before the current one.

        ``ticket`` (``CHG0012345``) is ledgered with the rollback.
        """
        return self._lifecycle().rollback(name, reason=reason, ticket=ticket)

    def readiness(self, ref: str, *, to: str = "production") -> Readiness:
        """Return the conditions version ``ref`` must meet to take alias ``to``, and which hold."""
        return self._lifecycle().readiness(ref, to=to)

    def approve(
        self, ref: str, *, comment: str, reject: bool = False, ticket: str | None = None
    ) -> Approval:
        """Record the acting user's approval (or rejection) of version ``ref``."""
        return self._lifecycle().approve(ref, comment=comment, reject=reject, ticket=ticket)

    def list_approvals(self, ref: str) -> list[Approval]:
        """Return every decision on version ``ref``, oldest first."""
        return self._lifecycle().approvals(ref)

    def alias_history(self, name: str, *, alias: str | None = None) -> list[AliasChange]:
        """Return every promotion and rollback of model ``name``, oldest first."""
        return self._lifecycle().history(name, alias=alias)

    def serving_config(self, name: str) -> ServingConfig:
        """Return how model ``name``'s gateway uses its challenger (off, shadow, canary)."""
        return self._serving().get(name)

    def configure_serving(
        self, name: str, *, mode: str, share: float | None = None, key: str | None = None
    ) -> ServingConfig:
        """Set model ``name``'s challenger to off, shadow or canary (``share``, sticky ``key``)."""
        return self._serving().configure(name, mode=mode, share=share, key=key)

    def issue_gateway_key(
        self,
        name: str,
        *,
        scopes: Sequence[str],
        expires_in_days: int | None = None,
        description: str = "",
    ) -> IssuedGatewayKey:
        """Issue a key of model ``name``'s gateway with ``scopes`` (the secret is shown once)."""
        return self._gateway_keys().issue(
            name, scopes=scopes, expires_in_days=expires_in_days, description=description
        )

    def gateway_keys(self, name: str, *, include_revoked: bool = False) -> list[GatewayKey]:
        """Return the keys of model ``name``'s gateway (live ones unless ``include_revoked``)."""
        return self._gateway_keys().list_keys(name, include_revoked=include_revoked)

    def revoke_gateway_key(self, name: str, key_id: str) -> GatewayKey:
        """Revoke gateway key ``key_id`` of model ``name``."""
        return self._gateway_keys().revoke(name, key_id)

    def keys_for_gateways(self) -> list[GatewayKey]:
        """Return the keys gateways check requests against (hashes, never secrets)."""
        return self._gateway_keys().for_gateways()

    # people
    def add_user(
        self, name: str, *, roles: Sequence[str], expires_in_days: int | None = None
    ) -> IssuedToken:
        """Add a user with ``roles`` and return their first token (shown once).

        ``expires_in_days`` defaults to ``GOVML_TOKEN_MAX_DAYS``; every token expires.
        """
        return self._access().add_user(name, roles=roles, expires_in_days=expires_in_days)

    def list_users(self) -> list[User]:
        """Return every user, by name."""
        return self._access().list_users()

    def get_user(self, name: str) -> User:
        """Return user ``name``: their roles, when each was granted, whether active."""
        return self._access().get_user(name)

    def set_roles(self, name: str, *, roles: Sequence[str]) -> User:
        """Replace the roles of user ``name``."""
        return self._access().set_roles(name, roles=roles)

    def issue_token(self, name: str, *, expires_in_days: int | None = None) -> IssuedToken:
        """Issue a new token for user ``name`` (shown once; default ``GOVML_TOKEN_MAX_DAYS``)."""
        return self._access().issue_token(name, expires_in_days=expires_in_days)

    def revoke_tokens(self, name: str) -> int:
        """Revoke every live token of user ``name``; return how many."""
        return self._access().revoke_tokens(name)

    def revoke_token(self, name: str, token_id: str) -> datetime:
        """Revoke token ``token_id`` of user ``name`` (an admin, or the user); return when."""
        revoked = self._access().revoke_token(name, token_id).revoked_at
        assert revoked is not None
        return revoked

    def disable_user(self, name: str) -> User:
        """Disable user ``name``: their tokens stop working and they can do nothing."""
        return self._access().disable_user(name)

    def whoami(self) -> User:
        """Return the acting user."""
        return self._access().whoami()

    def evaluate(self, ref: str | None = None, **kwargs: Any) -> Evaluation:
        """Evaluate version ``ref`` (or predictions made elsewhere) against a policy.

        Keyword arguments are those of `EvaluationService.evaluate`: ``data``, ``target``,
        ``policy``, ``sensitive``, ``prediction_column``, ``score_column``, ``pos_label``,
        ``label``, ``n_boot``, ``random_state``, ``progress``.
        """
        return self.evaluations.evaluate(ref, **kwargs)

    def get_evaluation(self, evaluation_id: int) -> Evaluation:
        """Return stored evaluation ``evaluation_id``."""
        return self.evaluations.get(evaluation_id)

    def list_evaluations(
        self,
        *,
        model: str | None = None,
        version: int | None = None,
        status: str | None = None,
        limit: int | None = None,
    ) -> list[Evaluation]:
        """Return stored evaluations, newest first."""
        return self.evaluations.query(model=model, version=version, status=status, limit=limit)

    def evaluation_evidence(self, evaluation: Evaluation, name: str) -> bytes | None:
        """Return an evaluation's evidence artifact ``name`` (JSON bytes), or None."""
        return self.evaluations.evidence(evaluation, name)

    # documents
    def report(
        self, kind: str, ref: str, *, format: str = "md", since: str | None = None
    ) -> str | bytes:
        """Return a document about ``ref`` as ``md``, ``html``, ``json`` (text) or ``pdf`` (bytes).

        ``kind`` is ``model-card``, ``datasheet``, ``annex-iv``, ``audit`` or ``ml-test-score``;
        ``ref`` is ``NAME@VERSION`` (model card, Annex IV), a dataset digest, prefix or
        ``NAME@VERSION:train`` (datasheet), or ``NAME`` (audit, ML Test Score); ``since``
        limits the audit report to entries from that date or time on.
        """
        return self._documents().render(kind, ref, fmt=format, since=since)

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
        return self._cards().set(name, fields, unset=unset)

    def model_card_fields(self, name: str, *, revision: int | None = None) -> ModelCardFields:
        """Return model ``name``'s editable card fields (the latest or a given revision)."""
        return self._cards().get(name, revision=revision)

    def model_card_history(self, name: str) -> list[ModelCardFields]:
        """Return every revision of model ``name``'s editable card fields, oldest first."""
        return self._cards().history(name)

    # monitoring
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
        ``DEFAULT_MIN_LABELS``. ``engine`` counts the window's drift statistics: ``numpy``
        (DuckDB reads, numpy counts) or ``spark`` (Spark reads and counts; `govml.engines`).
        See `govml.services.monitoring.MonitoringService.monitor`.
        """
        from govml.monitoring import DEFAULT_MIN_LABELS, DEFAULT_MIN_ROWS
        from govml.monitoring import Options as MonitorOptions

        options = MonitorOptions(
            min_rows=DEFAULT_MIN_ROWS if min_rows is None else min_rows,
            min_labels=DEFAULT_MIN_LABELS if min_labels is None else min_labels,
            shap_rows=shap_rows,
            engine=engine,
        )
        return self._monitoring().monitor(
            name,
            window=window,
            since=since,
            until=until,
            log_dir=log_dir,
            dry_run=dry_run,
            version=version,
            options=options,
        )

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
        return self._monitoring().history(name, version=version, check=check, limit=limit)

    def monitor_run(self, name: str, run_id: int) -> MonitorRun:
        """Return stored monitoring run ``run_id`` of model ``name``, with its actions."""
        return self._monitoring().get_run(name, run_id)

    def latest_monitor_runs(self, name: str, *, limit: int = 1) -> list[MonitorRun]:
        """Return model ``name``'s newest stored monitoring runs, newest first."""
        return self._monitoring().latest_runs(name, limit=limit)

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
        return self._monitoring().export_tasks(
            name, window=window, since=since, until=until, log_dir=log_dir, limit=limit, below=below
        )

    def import_labels(
        self,
        name: str,
        tasks: Sequence[Mapping[str, Any]],
        *,
        log_dir: str | Path | None = None,
        from_name: str | None = None,
    ) -> dict[str, Any]:
        """Write the labels of annotated Label Studio tasks into the feedback log."""
        return self._monitoring().import_labels(name, tasks, log_dir=log_dir, from_name=from_name)

    def close(self) -> None:
        """Release database connections."""
        self.ctx.close()

    def __enter__(self) -> Self:
        """Return the client, closed when the ``with`` block ends."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the client."""
        self.close()

    # -- services used by one group of methods, imported on first use ------------------------

    def _access(self) -> AccessService:
        from govml.services.access import AccessService

        return AccessService(self.ctx)

    def _attestation(self) -> AttestationService:
        from govml.services.attestation import AttestationService

        return AttestationService(self.ctx)

    def _cards(self) -> CardFieldService:
        from govml.services.card_fields import CardFieldService

        return CardFieldService(self.ctx)

    def _documents(self) -> DocumentService:
        from govml.services.documents import DocumentService

        return DocumentService(self.ctx)

    def _gateway_keys(self) -> GatewayKeyService:
        from govml.services.gateway_keys import GatewayKeyService

        return GatewayKeyService(self.ctx)

    def _lifecycle(self) -> LifecycleService:
        from govml.services.lifecycle import LifecycleService

        return LifecycleService(self.ctx)

    def _monitoring(self) -> MonitoringService:
        from govml.services.monitoring import MonitoringService

        return MonitoringService(self.ctx)

    def _proofs(self) -> ProofService:
        from govml.services.proofs import ProofService

        return ProofService(self.ctx)

    @cached_property
    def oversight(self) -> OversightService:
        """The review queue and model suspensions (`govml.services.oversight`)."""
        from govml.services.oversight import OversightService

        return OversightService(self.ctx)

    def _serving(self) -> ServingService:
        from govml.services.serving import ServingService

        return ServingService(self.ctx)


def connect(
    store: str | Path | None = None,
    *,
    database_url: str | None = None,
    artifacts: str | Path | None = None,
    user: str | None = None,
    create: bool = False,
) -> GovmlClient:
    """Open a govml store and return a `GovmlClient`: a `Client` over that store.

    With ``GOVML_SERVER`` set and neither ``store`` nor ``database_url`` given, return a
    `govml.remote.RemoteClient` that calls that server as the user of ``GOVML_TOKEN``.

    Parameters
    ----------
    store
        A govml home folder (SQLite + artifacts inside it) or a database URL. Default:
        ``GOVML_HOME`` / ``GOVML_DATABASE_URL`` from the environment, else ``./.govml``.
    database_url, artifacts, user
        Override ``GOVML_DATABASE_URL``, ``GOVML_ARTIFACTS`` and ``GOVML_USER``.
    create
        When there is no store there, create one as `govml init` does (database, artifact
        folder, ledger signing key, first ledger entry; the acting user becomes its admin).
        An existing store is opened as it is.

    Raises
    ------
    MissingStoreError
        When there is no store there and ``create`` is False; nothing is created.
    ConfigurationError
        In client mode without ``GOVML_TOKEN``.
    """
    settings = settings_for(store, database_url, artifacts, user)
    if settings.server and store is None and database_url is None:
        from govml.remote import RemoteClient  # httpx and pyarrow: client mode only

        remote = RemoteClient(settings)
        if create:
            with remote:
                remote.init()  # refused: a server's store is created on the server's host
        return remote
    from govml.services.context import ServiceContext

    try:
        return Client(ServiceContext.from_settings(settings))
    except MissingStoreError:
        if not create:
            raise
    created = Client(ServiceContext.from_settings(settings, create=True))
    try:
        created.init()
    except BaseException:
        created.close()
        raise
    return created


def settings_for(
    store: str | Path | None,
    database_url: str | None = None,
    artifacts: str | Path | None = None,
    user: str | None = None,
) -> Settings:
    """Build settings from a ``--store`` value (home folder or URL) and explicit overrides."""
    overrides: dict[str, Any] = {"database_url": database_url, "artifacts": artifacts, "user": user}
    if store is not None:
        text = str(store)
        if "://" in text:
            overrides["database_url"] = overrides["database_url"] or text
        else:
            overrides["home"] = Path(text)
    return load_settings(**overrides)
