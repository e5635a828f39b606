"""What the gateway reads from the registry, behind one small interface.

The gateway polls the store from a background thread: which versions hold the aliases,
the model's serving set-up (challenger off, in shadow or on a canary share), the gateway
keys, and, when a version changes, that version's record, artifact and training profile.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from govml.domain.records import ModelVersion
from govml.errors import GovmlError, NotFoundError
from govml.flavors import LoadedModel
from govml.serving.governance import Governance, Suspended
from govml.serving.keys import GatewayKey

STAGING = "staging"


@dataclass(frozen=True)
class Challenger:
    """The serving set-up the gateway acts on (see ``govml serving set``)."""

    mode: str = "off"
    share: float | None = None
    key: str | None = None


class RegistrySource(Protocol):
    """Reads the gateway needs; implemented over a `govml.Client`."""

    def aliases(self, name: str) -> dict[str, int]:
        """Return ``{alias: version}`` of model ``name``."""
        ...

    def challenger(self, name: str) -> Challenger:
        """Return model ``name``'s serving set-up."""
        ...

    def version(self, name: str, number: int) -> ModelVersion:
        """Return version ``number`` of model ``name``."""
        ...

    def load(self, name: str, number: int) -> LoadedModel:
        """Load that version's artifact."""
        ...

    def training_profile(self, version: ModelVersion) -> dict[str, Any] | None:
        """Return the profile of the version's training data, or None when unknown."""
        ...

    def gateway_keys(self) -> list[GatewayKey]:
        """Return the gateway keys of the store (every model; hashes, never secrets)."""
        ...

    def strict(self, name: str) -> bool:
        """Whether the policy in force for model ``name`` asks for strict serving."""
        ...

    def retirement(self, name: str) -> dict[str, Any] | None:
        """Return model ``name``'s retirement (when, by whom, why, ticket), or None."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class ClientSource:
    """A `RegistrySource` over a `govml.Client` (local store or server)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def aliases(self, name: str) -> dict[str, int]:
        """Return ``{alias: version}`` of model ``name``."""
        return dict(self.client.get_model(name).aliases)

    def challenger(self, name: str) -> Challenger:
        """Return the serving set-up; ``off`` for a store that cannot record one."""
        read = getattr(self.client, "serving_config", None)
        if read is None:
            return Challenger()
        config = read(name)
        return Challenger(mode=config.mode, share=config.share, key=config.key)

    def version(self, name: str, number: int) -> ModelVersion:
        """Return version ``number`` of model ``name``."""
        found: ModelVersion = self.client.get_version(f"{name}@{number}")
        return found

    def load(self, name: str, number: int) -> LoadedModel:
        """Load that version's artifact (its digest checked by the registry)."""
        loaded: LoadedModel = self.client.load_model(f"{name}@{number}")
        return loaded

    def training_profile(self, version: ModelVersion) -> dict[str, Any] | None:
        """Return the training data's profile (over REST in client mode), or None."""
        train = next((ref for ref in version.datasets if ref.role == "train"), None)
        if train is None:
            return None
        read = getattr(self.client, "dataset_fingerprint", None)
        if read is None:
            read = self.client.registry.dataset_fingerprint
        try:
            fingerprint: dict[str, Any] = read(train.digest)
        except NotFoundError:
            return None
        profile: dict[str, Any] | None = fingerprint.get("profile")
        return profile

    def strict(self, name: str) -> bool:
        """Whether the policy in force for model ``name``'s risk tier says ``serving.strict``."""
        section = getattr(self._policy(name), "serving", None)
        return bool(section is not None and section.strict)

    def retirement(self, name: str) -> dict[str, Any] | None:
        """Return model ``name``'s retirement, or None while it is in use.

        Read from the store's retirement record, or through a server from the ledger's
        ``model.retired`` entry (None when the caller may not read the ledger).
        """
        ctx = getattr(self.client, "ctx", None)
        if ctx is not None:  # the gateway reads the store as it reads the aliases
            from govml.store import records, risk_records

            with ctx.store.read() as conn:
                return risk_records.retirement(conn, records.model_id(conn, name))
        read_log = getattr(self.client, "audit_log", None)
        if read_log is None:
            return None
        from govml.services.model_risk import RETIRED, retirement_from_entries

        try:
            return retirement_from_entries(read_log(model=name, action=RETIRED), name)
        except GovmlError:
            return None

    def governance(self, name: str) -> Governance:
        """Return the decision sections of model ``name``'s policy and its suspension."""
        policy = self._policy(name)
        suspended = None
        oversight = getattr(self.client, "oversight", None)
        if oversight is not None:
            found = oversight.suspension(name)
            if found is not None:
                suspended = Suspended(
                    by=found.updated_by, reason=found.reason, since=found.updated_at.isoformat()
                )
        oversight_section = getattr(policy, "oversight", None)
        monitor_status = None
        refer = None if oversight_section is None else oversight_section.refer
        read_runs = getattr(self.client, "latest_monitor_runs", None)
        if refer is not None and refer.drift is not None and read_runs is not None:
            runs = read_runs(name, limit=1)
            monitor_status = runs[0].status if runs else None
        return Governance(
            reason_codes=getattr(policy, "reason_codes", None),
            oversight=getattr(policy, "oversight", None),
            retention=getattr(policy, "retention", None),
            suspended=suspended,
            monitor_status=monitor_status,
        )

    def _policy(self, name: str) -> Any:
        tier = self.client.get_model(name).risk_tier
        stored = self.client.policy_for_tier(getattr(tier, "value", tier))
        return None if stored is None else stored.policy

    def gateway_keys(self) -> list[GatewayKey]:
        """Return the gateway keys of the store (read over REST in client mode)."""
        keys: list[GatewayKey] = self.client.keys_for_gateways()
        return keys

    def referral_sender(self) -> Callable[..., Any] | None:
        """Return where referred records go: the store's review queue (None in client mode)."""
        oversight = getattr(self.client, "oversight", None)
        return None if oversight is None else oversight.record_referrals

    def log_file_sender(self) -> Callable[..., Any] | None:
        """Return where closed log files' digests go: the store's ledger (local store only)."""
        ctx = getattr(self.client, "ctx", None)
        if ctx is None:
            return None
        from govml.services.log_integrity import LogIntegrityService

        return LogIntegrityService(ctx).record_files

    def log_sender(self) -> Callable[..., Any] | None:
        """Return where closed log files go: the server, the log bucket, or nowhere (None).

        In client mode they go to the server; with a local store and ``GOVML_PREDICTION_LOG``
        set, to that bucket; otherwise they stay in the local log folder.
        """
        from govml.settings import load_settings

        send: Callable[..., Any] | None = getattr(self.client, "send_prediction_log", None)
        if send is None and (location := load_settings().prediction_log) is not None:
            from govml.store.s3_logs import S3LogSender

            send = S3LogSender(location)
        return send

    def close(self) -> None:
        """Close the client."""
        self.client.close()
