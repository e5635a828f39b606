"""Client mode: the SDK and the CLI calling a govml server instead of a local store.

With ``GOVML_SERVER`` and ``GOVML_TOKEN`` set, `govml.connect()` returns a `RemoteClient`:
a `govml.client_protocol.GovmlClient` like `govml.Client`, with the same methods returning
the same records and raising the same errors (with the same messages), so every CLI command
behaves and prints as in local mode. What the caller may do is decided by the server, from
the token's user and their roles.

Data and models travel as the server needs them: tables (DataFrames, CSV or Parquet files)
are read here and sent as Parquet, an in-memory model is serialised here with its flavor, a
policy file is validated here and sent as its YAML text.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from os import PathLike
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from govml import __version__
from govml.datasets import read_table
from govml.documents.fields import ModelCardFields
from govml.domain.lifecycle import AliasChange, Approval, IssuedToken, Readiness, User
from govml.domain.records import LedgerEntry, Model, ModelVersion, RiskTier, check_name
from govml.domain.serving import ServingConfig
from govml.errors import (
    ConfigurationError,
    InputError,
    IntegrityError,
    NotFoundError,
    PolicyError,
    StoreError,
    did_you_mean,
)
from govml.evaluation import Evaluation
from govml.flavors import LoadedModel, flavor_for, get_flavor
from govml.flavors.trust import ERR_SERVER_TRUST, TrustError, check_type_names
from govml.ledger.attest import AttestationReport
from govml.ledger.bundle import ProofBundle
from govml.ledger.checkpoint import VerifierKey
from govml.lineage import code_lineage, environment_lineage
from govml.monitoring import MonitorPoint, MonitorRun
from govml.policy import Diagnostic, LoadedPolicy, load_policy
from govml.policy.records import PolicyApplied, StoredPolicy
from govml.services.audit import VerifyResult
from govml.services.documents import FORMATS as DOCUMENT_FORMATS
from govml.services.proofs import CheckpointResult, ExportResult, KeyInfo
from govml.serving.keys import GatewayKey, IssuedGatewayKey
from govml.settings import Settings
from govml.wire import API_PREFIX, error_from_body

ERR_NO_BEARER = "GOVML_TOKEN is not set: client mode (GOVML_SERVER={server}) needs a bearer token"
HINT_ASK_ADMIN = "ask an admin for one (`govml users add NAME --role ROLE` prints it once)"
ERR_INIT = (
    "`govml init` works on a store where it runs; in client mode (GOVML_SERVER={server}) the "
    "store is the server's"
)
HINT_INIT = "the server's administrator runs `govml init` on the server host"
ERR_UNREACHABLE = "cannot reach govml server at {server}: {reason}"
ERR_TIMEOUT = "govml server at {server} did not answer in time: {reason}"
ERR_DIGEST = "{what} from the server does not match its digest {digest}"
PARQUET = "application/vnd.apache.parquet"
# Reading a response may take as long as an evaluation on large data.
TIMEOUT = httpx.Timeout(connect=10.0, read=3600.0, write=600.0, pool=10.0)

_REGISTER_KEYWORDS = frozenset(
    {
        "model",
        "artifact",
        "flavor",
        "train_data",
        "validation_data",
        "target",
        "params",
        "metrics",
        "description",
        "input_example",
        "code_path",
        "mlflow_run_id",
        "exclude_columns",
    }
)
_EVALUATE_KEYWORDS = frozenset(
    {
        "data",
        "target",
        "policy",
        "training_data",
        "sensitive",
        "prediction_column",
        "score_column",
        "pos_label",
        "label",
        "n_boot",
        "random_state",
        "progress",
    }
)


class RemoteClient:
    """A `GovmlClient` whose every method calls a govml server's REST API.

    Parameters
    ----------
    settings
        ``server`` (``GOVML_SERVER``) is the server's URL, ``token`` (``GOVML_TOKEN``) the
        bearer token that says who is calling. No local store is opened.
    transport
        How requests reach the server (default: HTTP over the network); tests give one
        that calls the server's application in the same process.

    Raises
    ------
    ConfigurationError
        When the server URL or the token is missing.
    """

    def __init__(self, settings: Settings, *, transport: httpx.BaseTransport | None = None) -> None:
        if not settings.server:
            raise ConfigurationError("GOVML_SERVER is not set: no govml server to call")
        if not settings.token:
            raise ConfigurationError(
                ERR_NO_BEARER.format(server=settings.server), hint=HINT_ASK_ADMIN
            )
        self.server = settings.server
        self.trusted_types = settings.trusted_types
        self._http = httpx.Client(
            base_url=self.server + API_PREFIX,
            headers={
                "Authorization": f"Bearer {settings.token}",
                "User-Agent": f"govml/{__version__}",
            },
            timeout=TIMEOUT,
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"RemoteClient({self.server!r})"

    def init(self) -> dict[str, Any]:
        """Refuse: a store is initialised where it is, by the server's administrator."""
        raise InputError(ERR_INIT.format(server=self.server), hint=HINT_INIT)

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
        body = {
            "name": name,
            "risk_tier": str(risk_tier.value if isinstance(risk_tier, RiskTier) else risk_tier),
            "owner": owner,
            "intended_use": intended_use,
            "out_of_scope_use": out_of_scope_use,
            "description": description,
            "tags": {str(k): str(v) for k, v in (tags or {}).items()},
        }
        return Model.from_dict(self._json("POST", "/models", json=body))

    def get_model(self, name: str) -> Model:
        """Return model ``name``."""
        return Model.from_dict(self._json("GET", f"/models/{_segment(name)}"))

    def list_models(self) -> list[Model]:
        """Return every model."""
        return [Model.from_dict(item) for item in self._json("GET", "/models")]

    def set_tag(self, name: str, key: str, value: str | None) -> Model:
        """Set a tag on a model (``value=None`` removes it)."""
        body = {"key": key, "value": value}
        return Model.from_dict(self._json("POST", f"/models/{_segment(name)}/tags", json=body))

    # policies
    def validate_policy(self, path: str | PathLike[str]) -> LoadedPolicy:
        """Validate a policy file here and on the server, without storing it.

        Raises `govml.policy.InvalidPolicyError` listing every problem with its position.
        """
        loaded = load_policy(path)
        self._json("POST", "/policies/validate", json=_policy_text(loaded))
        return loaded

    def apply_policy(
        self, path: str | PathLike[str] | LoadedPolicy, *, replace: bool = False
    ) -> PolicyApplied:
        """Put a policy in force for its tiers (see `PolicyService.apply`)."""
        loaded = path if isinstance(path, LoadedPolicy) else load_policy(path)
        body = {**_policy_text(loaded), "replace": replace}
        data = self._json("POST", "/policies", json=body)
        return PolicyApplied(
            policy=StoredPolicy.from_dict(data["policy"]),
            new_version=bool(data["new_version"]),
            changed=bool(data["changed"]),
            replaced=dict(data["replaced"]),
            released=tuple(data["released"]),
            notes=tuple(Diagnostic(**note) for note in data["notes"]),
        )

    def get_policy(
        self, name: str | None = None, *, tier: str | None = None, version: int | None = None
    ) -> StoredPolicy:
        """Return a stored policy by name, or the one in force for ``tier``."""
        params = {"version": version}
        if name is not None and tier is None:
            path = f"/policies/{_segment(name)}"
        elif tier is not None and name is None:
            path = f"/tiers/{_segment(tier)}/policy"
        else:
            raise PolicyError("give a policy name or a tier, not both or neither")
        return StoredPolicy.from_dict(self._json("GET", path, params=params))

    def policy_for_tier(self, tier: str) -> StoredPolicy | None:
        """Return the policy in force for risk tier ``tier``, or None when none governs it."""
        data = self._json("GET", f"/tiers/{_segment(tier)}")
        return None if data["policy"] is None else StoredPolicy.from_dict(data["policy"])

    def list_policies(self) -> list[StoredPolicy]:
        """Return the newest version of every stored policy."""
        return [StoredPolicy.from_dict(item) for item in self._json("GET", "/policies")]

    # versions
    def register_version(
        self, name: str, *, trusted: Sequence[str] = (), **kwargs: Any
    ) -> ModelVersion:
        """Register a version (see `RegistryService.register_version` for the arguments).

        The model (or artifact file), the data, and this machine's code lineage (the git
        checkout of ``code_path`` or the working directory) and Python environment are sent to
        the server, which records them as a local registration would.
        """
        _check_keywords("register_version", kwargs, _REGISTER_KEYWORDS)
        if trusted:
            # The server trusts what its operator set; nothing a client sends extends it.
            raise InputError(ERR_SERVER_TRUST)
        model, artifact = kwargs.get("model"), kwargs.get("artifact")
        if (model is None) == (artifact is None):
            raise InputError("give exactly one of a model object or an artifact file")
        fields: dict[str, Any] = {
            "target": kwargs.get("target"),
            "params": _json_text(kwargs.get("params") or {}, "params"),
            "metrics": _json_text(kwargs.get("metrics") or {}, "metrics"),
            "description": kwargs.get("description", ""),
            "mlflow_run_id": kwargs.get("mlflow_run_id"),
            "code": json.dumps(code_lineage(_path_or_none(kwargs.get("code_path")))),
            "environment": json.dumps(environment_lineage()),
            "exclude_columns": json.dumps(list(kwargs.get("exclude_columns") or [])),
        }
        files: dict[str, tuple[str, bytes, str]] = {}
        flavor: str | None = kwargs.get("flavor")
        if model is not None:
            chosen = get_flavor(flavor) if flavor else flavor_for(model)
            serialized = chosen.dump(model)
            fields["flavor"] = serialized.flavor
            fields["flavor_options"] = json.dumps(serialized.options)
            files["artifact"] = ("model", serialized.data, "application/octet-stream")
        else:
            path = Path(str(artifact))
            if not path.is_file():
                raise InputError(f"artifact file {path} does not exist")
            fields["flavor"] = flavor
            files["artifact"] = (path.name, path.read_bytes(), "application/octet-stream")
        for role in ("train_data", "validation_data", "input_example"):
            if kwargs.get(role) is not None:
                files[role] = (f"{role}.parquet", _parquet(kwargs[role]), PARQUET)
        data = self._json(
            "POST", f"/models/{_segment(name)}/versions", data=_form(fields), files=files
        )
        return ModelVersion.from_dict(data)

    def get_version(self, ref: str) -> ModelVersion:
        """Return the version ``name@3``, ``name@alias`` or ``name`` (latest) refers to."""
        return ModelVersion.from_dict(self._json("GET", f"/versions/{_segment(ref)}"))

    def list_versions(self, name: str) -> list[ModelVersion]:
        """Return every version of a model, oldest first."""
        data = self._json("GET", f"/models/{_segment(name)}/versions")
        return [ModelVersion.from_dict(item) for item in data]

    def dataset_fingerprint(self, digest: str) -> dict[str, Any]:
        """Return a stored dataset fingerprint (schema, row count, profile) as a dictionary."""
        fingerprint: dict[str, Any] = self._json("GET", f"/datasets/{_segment(digest)}")
        return fingerprint

    def load_model(self, ref: str, *, trusted: Sequence[str] = ()) -> LoadedModel:
        """Download a version's artifact, check its digest, and load it ready to ``predict``.

        It is loaded in this process, which trusts its own ``GOVML_TRUSTED_TYPES`` and
        ``trusted``; what the version records grants nothing.
        """
        try:
            allowed = self.trusted_types | check_type_names(trusted)
        except TrustError as exc:
            raise InputError(f"trusted: {exc}") from None
        version = self.get_version(ref)
        data = self._call("GET", f"/versions/{_segment(version.ref)}/artifact").content
        _check_digest(data, version.artifact_digest, f"the artifact of {version.ref}")
        return get_flavor(version.flavor, trusted=allowed).load(data, version.flavor_options)

    # ledger
    def verify_ledger(
        self,
        *,
        checkpoint: str | None = None,
        key: str | None = None,
        artifacts: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> VerifyResult:
        """Have the server recompute the ledger and check the stored records against it.

        ``checkpoint`` is the text of a checkpoint kept elsewhere, which the ledger must
        extend; ``key`` the text of the public key to check it with (default: the server's).
        With ``artifacts`` the server re-hashes every version's artifact (by default those of
        versions holding an alias); ``progress`` is not reported over HTTP.
        """
        body = {"checkpoint": checkpoint, "key": key, "artifacts": artifacts}
        data = self._json("POST", "/audit/verify", json=body)
        data.pop("ok", None)
        return VerifyResult(**data)

    def sign_checkpoint(self) -> CheckpointResult:
        """Have the server sign the ledger's latest tree head with the instance's key."""
        return CheckpointResult(**self._json("POST", "/audit/checkpoints"))

    def ledger_proof(self, seq: int, *, checkpoint: str | None = None) -> ProofBundle:
        """Return a bundle proving entry ``seq`` against the latest (or given) checkpoint."""
        body = {"seq": seq, "checkpoint": checkpoint}
        return ProofBundle.from_json(self._json("POST", "/audit/proofs", json=body))

    def export_ledger(self, *, model: str | None = None, since: str | None = None) -> ExportResult:
        """Return a bundle of all entries (or those about ``model``) with their proofs."""
        data = self._json("POST", "/audit/export", json={"model": model, "since": since})
        return ExportResult(
            bundle=ProofBundle.from_json(data["bundle"]),
            tree_size=int(data["tree_size"]),
            uncovered=int(data["uncovered"]),
        )

    def ledger_key(self) -> KeyInfo:
        """Return the instance's public ledger key."""
        data = self._json("GET", "/audit/key")
        return KeyInfo(
            origin=data["origin"],
            verifier_key=data["verifier_key"],
            key_id=data["key_id"],
            pem=data["public_key_pem"],
            path=data["path"],
            recorded_in_entry=data["recorded_in_entry"],
        )

    def attest(self, ref: str) -> dict[str, Any]:
        """Return a DSSE-signed in-toto attestation of version ``ref`` (as JSON)."""
        envelope: dict[str, Any] = self._json("GET", f"/versions/{_segment(ref)}/attestation")
        return envelope

    def verify_attestation(self, text: str, *, key: str | None = None) -> AttestationReport:
        """Verify an attestation envelope (its JSON text); raise if it does not hold."""
        data = self._json("POST", "/audit/attestations/verify", json={"envelope": text, "key": key})
        return AttestationReport(
            subject=data["subject"],
            sha256=data["sha256"],
            key=VerifierKey.parse(data["key"]),
            entry_index=int(data["ledger_entry"]),
            tree_size=int(data["tree_size"]),
        )

    def audit_log(
        self, *, model: str | None = None, action: str | None = None, limit: int | None = None
    ) -> list[LedgerEntry]:
        """Return ledger entries, oldest first, optionally about one model."""
        params = {"model": model, "action": action, "limit": limit}
        return [
            LedgerEntry.from_dict(item) for item in self._json("GET", "/audit/log", params=params)
        ]

    # lifecycle
    def promote(
        self, ref: str, *, to: str, reason: str = "", ticket: str | None = None
    ) -> AliasChange:
        """Move alias ``to`` (staging / production) to version ``ref`` through its gates.

        Raises `GateError` listing every unmet condition, `ForbiddenError` without the
        deployer role.
        """
        body = {"to": to, "reason": reason, "ticket": ticket}
        return AliasChange.from_dict(
            self._json("POST", f"/versions/{_segment(ref)}/promote", json=body)
        )

    def rollback(self, name: str, *, reason: str, ticket: str | None = None) -> AliasChange:
        """Move ``production`` back to the version that held it before the current one."""
        body = {"reason": reason, "ticket": ticket}
        return AliasChange.from_dict(
            self._json("POST", f"/models/{_segment(name)}/rollback", json=body)
        )

    def readiness(self, ref: str, *, to: str = "production") -> Readiness:
        """Return the conditions version ``ref`` must meet to take alias ``to``, and which hold."""
        path = f"/versions/{_segment(ref)}/readiness"
        return Readiness.from_dict(self._json("GET", path, params={"to": to}))

    def approve(
        self, ref: str, *, comment: str, reject: bool = False, ticket: str | None = None
    ) -> Approval:
        """Record the acting user's approval (or rejection) of version ``ref``."""
        body = {"comment": comment, "reject": reject, "ticket": ticket}
        return Approval.from_dict(
            self._json("POST", f"/versions/{_segment(ref)}/approvals", json=body)
        )

    def list_approvals(self, ref: str) -> list[Approval]:
        """Return every decision on version ``ref``, oldest first."""
        data = self._json("GET", f"/versions/{_segment(ref)}/approvals")
        return [Approval.from_dict(item) for item in data]

    def alias_history(self, name: str, *, alias: str | None = None) -> list[AliasChange]:
        """Return every promotion and rollback of model ``name``, oldest first."""
        data = self._json("GET", f"/models/{_segment(name)}/history", params={"alias": alias})
        return [AliasChange.from_dict(item) for item in data]

    def serving_config(self, name: str) -> ServingConfig:
        """Return how model ``name``'s gateway uses its challenger (off, shadow, canary)."""
        return ServingConfig.from_dict(self._json("GET", f"/models/{_segment(name)}/serving"))

    def configure_serving(
        self, name: str, *, mode: str, share: float | None = None, key: str | None = None
    ) -> ServingConfig:
        """Set model ``name``'s challenger to off, shadow or canary (``share``, sticky ``key``)."""
        body = {"mode": mode, "share": share, "key": key}
        path = f"/models/{_segment(name)}/serving"
        return ServingConfig.from_dict(self._json("PUT", path, json=body))

    def issue_gateway_key(
        self,
        name: str,
        *,
        scopes: Sequence[str],
        expires_in_days: int | None = None,
        description: str = "",
    ) -> IssuedGatewayKey:
        """Issue a key of model ``name``'s gateway with ``scopes`` (the secret is shown once)."""
        body = {
            "scopes": list(scopes),
            "expires_in_days": expires_in_days,
            "description": description,
        }
        data = self._json("POST", f"/models/{_segment(name)}/gateway-keys", json=body)
        return IssuedGatewayKey.from_dict(data)

    def gateway_keys(self, name: str, *, include_revoked: bool = False) -> list[GatewayKey]:
        """Return the keys of model ``name``'s gateway (live ones unless ``include_revoked``)."""
        params = {"include_revoked": include_revoked}
        data = self._json("GET", f"/models/{_segment(name)}/gateway-keys", params=params)
        return [GatewayKey.from_dict(item) for item in data]

    def revoke_gateway_key(self, name: str, key_id: str) -> GatewayKey:
        """Revoke gateway key ``key_id`` of model ``name``."""
        path = f"/models/{_segment(name)}/gateway-keys/{_segment(key_id)}/revoke"
        return GatewayKey.from_dict(self._json("POST", path))

    def keys_for_gateways(self) -> list[GatewayKey]:
        """Return the keys gateways check requests against (hashes, never secrets)."""
        return [GatewayKey.from_dict(item) for item in self._json("GET", "/gateway-keys")]

    def send_prediction_log(
        self, name: str, path: Path, *, kind: str, version: int | None = None
    ) -> dict[str, Any]:
        """Send a closed prediction log file of model ``name`` to the server's log.

        ``kind`` is ``predictions`` (of ``version``), ``feedback`` or ``events``. Sending the
        same file again is harmless: the server takes it once.
        """
        form = _form({"kind": kind, "version": version})
        with path.open("rb") as data:
            files = {"file": (path.name, data, PARQUET)}
            url = f"/models/{_segment(name)}/prediction-log"
            receipt: dict[str, Any] = self._json("POST", url, data=form, files=files)
        return receipt

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
        """Judge a window of the server's prediction log of ``name`` (see `Client.monitor`).

        ``min_rows`` and ``min_labels`` left out are the server's defaults; the server counts
        with its own engine, so ``engine`` must stay ``numpy``.
        """
        _server_log(log_dir, self.server)
        if engine != "numpy":
            raise InputError(
                f"--engine {engine} works with a local store: the server counts the window itself",
                hint="run govml monitor where the store and the log are (a scheduled job)",
            )
        body = {
            "window": window,
            "since": _time_text(since),
            "until": _time_text(until),
            "dry_run": dry_run,
            "version": version,
            **({} if min_rows is None else {"min_rows": min_rows}),
            **({} if min_labels is None else {"min_labels": min_labels}),
            "shap_rows": shap_rows,
        }
        path = f"/models/{_segment(name)}/monitor"
        return MonitorRun.from_dict(self._json("POST", path, json=body))

    def monitor_history(
        self,
        name: str,
        *,
        version: int | None = None,
        check: str | None = None,
        limit: int | None = 500,
    ) -> list[MonitorPoint]:
        """Return the time series of model ``name``'s monitoring checks, oldest first."""
        params = {"version": version, "check": check, "limit": limit}
        data = self._json("GET", f"/models/{_segment(name)}/monitoring/history", params=params)
        return [MonitorPoint.from_dict(item) for item in data]

    def monitor_run(self, name: str, run_id: int) -> MonitorRun:
        """Return stored monitoring run ``run_id`` of model ``name``, with its actions."""
        path = f"/models/{_segment(name)}/monitoring/runs/{int(run_id)}"
        return MonitorRun.from_dict(self._json("GET", path))

    def latest_monitor_runs(self, name: str, *, limit: int = 1) -> list[MonitorRun]:
        """Return model ``name``'s newest stored monitoring runs, newest first."""
        path = f"/models/{_segment(name)}/monitoring/runs"
        data = self._json("GET", path, params={"limit": limit})
        return [MonitorRun.from_dict(item) for item in data]

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
        _server_log(log_dir, self.server)
        body = {
            "window": window,
            "since": _time_text(since),
            "until": _time_text(until),
            "limit": limit,
            "below": below,
        }
        tasks: list[dict[str, Any]] = self._json(
            "POST", f"/models/{_segment(name)}/monitoring/tasks", json=body
        )
        return tasks

    def import_labels(
        self,
        name: str,
        tasks: Sequence[Mapping[str, Any]],
        *,
        log_dir: str | Path | None = None,
        from_name: str | None = None,
    ) -> dict[str, Any]:
        """Write the labels of annotated Label Studio tasks into the server's feedback log."""
        _server_log(log_dir, self.server)
        body = {"tasks": [dict(task) for task in tasks], "from_name": from_name}
        result: dict[str, Any] = self._json(
            "POST", f"/models/{_segment(name)}/monitoring/labels", json=body
        )
        return result

    # people
    def add_user(
        self, name: str, *, roles: Sequence[str], expires_in_days: int | None = None
    ) -> IssuedToken:
        """Add a user with ``roles`` and return their first token (shown once).

        ``expires_in_days`` defaults to the server's ``GOVML_TOKEN_MAX_DAYS``.
        """
        body = {"name": name, "roles": list(roles), **_lifetime(expires_in_days)}
        return IssuedToken.from_dict(self._json("POST", "/users", json=body))

    def list_users(self) -> list[User]:
        """Return every user, by name."""
        return [User.from_dict(item) for item in self._json("GET", "/users")]

    def get_user(self, name: str) -> User:
        """Return user ``name``: their roles, when each was granted, whether active."""
        check_name(name, what="user name")
        found = self.list_users()
        for user in found:
            if user.name == name:
                return user
        names = [user.name for user in found]
        raise NotFoundError(f"user {name!r} does not exist", hint=did_you_mean(name, names))

    def set_roles(self, name: str, *, roles: Sequence[str]) -> User:
        """Replace the roles of user ``name``."""
        body = {"roles": list(roles)}
        return User.from_dict(self._json("PUT", f"/users/{_segment(name)}/roles", json=body))

    def issue_token(self, name: str, *, expires_in_days: int | None = None) -> IssuedToken:
        """Issue a new token for user ``name`` (shown once; default lifetime: the server's)."""
        body = _lifetime(expires_in_days)
        return IssuedToken.from_dict(
            self._json("POST", f"/users/{_segment(name)}/tokens", json=body)
        )

    def revoke_tokens(self, name: str) -> int:
        """Revoke every live token of user ``name``; return how many."""
        return int(self._json("DELETE", f"/users/{_segment(name)}/tokens")["revoked"])

    def revoke_token(self, name: str, token_id: str) -> datetime:
        """Revoke token ``token_id`` of user ``name`` (an admin, or the user); return when."""
        path = f"/users/{_segment(name)}/tokens/{_segment(token_id)}"
        return datetime.fromisoformat(str(self._json("DELETE", path)["revoked_at"]))

    def disable_user(self, name: str) -> User:
        """Disable user ``name``: their tokens stop working and they can do nothing."""
        return User.from_dict(self._json("POST", f"/users/{_segment(name)}/disable"))

    def whoami(self) -> User:
        """Return the user the token belongs to."""
        return User.from_dict(self._json("GET", "/whoami"))

    # evaluations
    def evaluate(self, ref: str | None = None, **kwargs: Any) -> Evaluation:
        """Evaluate version ``ref`` (or predictions made elsewhere) against a policy.

        Keyword arguments are those of `EvaluationService.evaluate`. The data is sent as
        Parquet and the policy file as its YAML text; a policy sent this way cannot name
        files on the server (a vulnerability database): use the policy in force for that.
        ``progress`` is not called, since the server runs every stage.
        """
        _check_keywords("evaluate", kwargs, _EVALUATE_KEYWORDS)
        if "data" not in kwargs or "target" not in kwargs:
            raise TypeError("evaluate() needs the keyword arguments 'data' and 'target'")
        sensitive = kwargs.get("sensitive")
        fields: dict[str, Any] = {
            "ref": ref,
            "target": kwargs["target"],
            "sensitive": None if sensitive is None else json.dumps(list(sensitive)),
            "prediction_column": kwargs.get("prediction_column"),
            "score_column": kwargs.get("score_column"),
            "pos_label": None
            if kwargs.get("pos_label") is None
            else _json_text(kwargs["pos_label"], "pos_label"),
            "label": kwargs.get("label"),
            "n_boot": kwargs.get("n_boot"),
            "random_state": kwargs.get("random_state"),
        }
        files = {"data": ("data.parquet", _parquet(kwargs["data"]), PARQUET)}
        if kwargs.get("training_data") is not None:
            files["training_data"] = ("train.parquet", _parquet(kwargs["training_data"]), PARQUET)
        policy = kwargs.get("policy")
        if policy is not None:
            loaded = policy if isinstance(policy, LoadedPolicy) else load_policy(policy)
            fields["policy_source"] = loaded.source
            files["policy"] = ("policy.yaml", loaded.text.encode("utf-8"), "application/yaml")
        return _evaluation(self._json("POST", "/evaluations", data=_form(fields), files=files))

    def get_evaluation(self, evaluation_id: int) -> Evaluation:
        """Return stored evaluation ``evaluation_id``."""
        return _evaluation(self._json("GET", f"/evaluations/{int(evaluation_id)}"))

    def list_evaluations(
        self,
        *,
        model: str | None = None,
        version: int | None = None,
        status: str | None = None,
        limit: int | None = None,
    ) -> list[Evaluation]:
        """Return stored evaluations, newest first."""
        params = {"model": model, "version": version, "status": status, "limit": limit}
        return [_evaluation(item) for item in self._json("GET", "/evaluations", params=params)]

    def evaluation_evidence(self, evaluation: Evaluation, name: str) -> bytes | None:
        """Return an evaluation's evidence artifact ``name`` (JSON bytes), or None."""
        digest = evaluation.evidence_digest(name)
        if digest is None:
            return None
        path = f"/evaluations/{int(evaluation.id)}/evidence/{_segment(name)}"
        data = self._call("GET", path).content
        _check_digest(data, digest, f"evidence {name!r} of evaluation {evaluation.id}")
        return data

    # documents
    def report(
        self, kind: str, ref: str, *, format: str = "md", since: str | None = None
    ) -> str | bytes:
        """Return a document about ``ref`` as ``md``, ``html``, ``json`` (text) or ``pdf`` (bytes).

        The server renders Markdown, HTML and JSON; a PDF is printed here from the HTML, so
        the server needs no browser.
        """
        if format not in DOCUMENT_FORMATS:
            raise InputError(
                f"unknown format {format!r}; formats are {', '.join(DOCUMENT_FORMATS)}"
            )
        fetched = "html" if format == "pdf" else format
        path = f"/documents/{_segment(kind)}/{_segment(ref)}"
        text = self._call("GET", path, params={"format": fetched, "since": since}).text
        if format == "pdf":
            from govml.documents.pdf import html_to_pdf

            return html_to_pdf(text)
        return text

    def set_model_card_fields(
        self,
        name: str,
        fields: Mapping[str, Any] | None = None,
        *,
        unset: Sequence[str] = (),
    ) -> ModelCardFields:
        """Set (or ``unset``) editable model card fields of model ``name``: a new revision."""
        body = {"fields": dict(fields or {}), "unset": list(unset)}
        return ModelCardFields.from_dict(
            self._json("PUT", f"/models/{_segment(name)}/card", json=body)
        )

    def model_card_fields(self, name: str, *, revision: int | None = None) -> ModelCardFields:
        """Return model ``name``'s editable card fields (the latest or a given revision)."""
        data = self._json("GET", f"/models/{_segment(name)}/card", params={"revision": revision})
        return ModelCardFields.from_dict(data)

    def model_card_history(self, name: str) -> list[ModelCardFields]:
        """Return every revision of model ``name``'s editable card fields, oldest first."""
        data = self._json("GET", f"/models/{_segment(name)}/card/history")
        return [ModelCardFields.from_dict(item) for item in data]

    def close(self) -> None:
        """Close the connection to the server."""
        self._http.close()

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

    # -- HTTP ------------------------------------------------------------------------------

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._call(method, path, **kwargs).json()

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.request(method, path, params=query, **kwargs)
        except httpx.TimeoutException as exc:
            raise StoreError(ERR_TIMEOUT.format(server=self.server, reason=exc)) from None
        except httpx.TransportError as exc:
            raise StoreError(ERR_UNREACHABLE.format(server=self.server, reason=exc)) from None
        if response.is_success:
            return response
        try:
            body = response.json()
        except ValueError:
            body = None
        raise error_from_body(response.status_code, body)


def _segment(value: str) -> str:
    """Return ``value`` as one URL path segment (a '/' cannot start another)."""
    return quote(str(value), safe="@")


def _lifetime(days: int | None) -> dict[str, int]:
    """Return the token lifetime field of a request (left out: the server's default)."""
    return {} if days is None else {"expires_in_days": days}


def _check_keywords(method: str, given: Mapping[str, Any], known: frozenset[str]) -> None:
    for name in given:
        if name not in known:
            raise TypeError(f"{method}() got an unexpected keyword argument {name!r}")


def _policy_text(loaded: LoadedPolicy) -> dict[str, str]:
    return {"text": loaded.text, "source": loaded.source}


def _parquet(source: object) -> bytes:
    """Return a table (DataFrame, Arrow table, CSV or Parquet path) as Parquet bytes."""
    table: pa.Table = read_table(source)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    data: bytes = sink.getvalue().to_pybytes()
    return data


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _json_text(value: Any, what: str) -> str:
    try:
        return json.dumps(value, default=_plain)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{what}: {exc}") from None


def _form(fields: Mapping[str, Any]) -> dict[str, str]:
    return {key: str(value) for key, value in fields.items() if value is not None}


def _path_or_none(value: Any) -> Path | None:
    return None if value is None else Path(str(value))


def _check_digest(data: bytes, digest: str, what: str) -> None:
    if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
        raise IntegrityError(ERR_DIGEST.format(what=what, digest=digest))


def _evaluation(data: Mapping[str, Any]) -> Evaluation:
    return Evaluation(id=int(data["id"]), document=dict(data["document"]), digest=data["digest"])


def _server_log(log_dir: str | Path | None, server: str) -> None:
    if log_dir is not None:
        raise InputError(
            f"in client mode (GOVML_SERVER={server}) monitoring reads the server's own "
            "prediction log; --log-dir applies to a local store only"
        )


def _time_text(value: str | datetime | None) -> str | None:
    if isinstance(value, datetime):
        return value.isoformat()
    return value
