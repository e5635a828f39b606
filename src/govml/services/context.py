"""What every service needs: the stores, who is acting, and a clock."""

from __future__ import annotations

import getpass
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from govml.errors import MissingStoreError
from govml.settings import Settings
from govml.store.artifact_stores import ArtifactStore, open_artifact_store
from govml.store.db import Store

ERR_NO_STORE = "no govml store at {where}; create one with `govml init`"
HINT_NO_STORE = "from Python: govml.connect(..., create=True)"


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class ServiceContext:
    """The stores, the acting user, and the clock, shared by the services of one client.

    ``keys`` is the folder of the instance's ledger signing key (``$GOVML_HOME/keys``); None
    when the context was built without a home folder. ``local`` is True when the actor is
    whoever runs the process (``GOVML_USER`` or the OS user: tamper-evident, not enforced) and
    False when a server authenticated it from a token; only a local context may make the
    first user of an empty store its admin. ``trusted_types`` are the types beyond the built-in
    allowlist that the operator lets artifacts loaded by this process contain
    (``GOVML_TRUSTED_TYPES``); ``custom_code`` whether the operator lets it load models that
    run their own code (``GOVML_CUSTOM_CODE``). ``prediction_log`` is the ``s3://`` location
    gateways upload their log to (``GOVML_PREDICTION_LOG``), which monitoring then reads by default.
    """

    store: Store
    artifacts: ArtifactStore
    actor: str
    token_max_days: int = 90  # GOVML_TOKEN_MAX_DAYS
    clock: Callable[[], datetime] = field(default=_utcnow)
    keys: Path | None = None
    local: bool = True
    trusted_types: frozenset[str] = frozenset()
    custom_code: bool = False
    prediction_log: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings, *, create: bool = False) -> ServiceContext:
        """Open the stores the settings point to (migrating the database if needed).

        Raises
        ------
        MissingStoreError
            When there is no store there, naming where govml looked, unless ``create``
            (`govml init`) asks for one to be made.
        """
        try:
            store = Store(settings.resolved_database_url(), create=create)
        except MissingStoreError:
            where = settings.describe_store()
            raise MissingStoreError(ERR_NO_STORE.format(where=where), hint=HINT_NO_STORE) from None
        artifacts = open_artifact_store(settings.artifacts_location())
        if settings.lineage_target:
            from govml.services.lineage_events import LineageHook

            store.after_commit.append(
                LineageHook(settings.lineage_target, namespace=settings.lineage_namespace)
            )
        return cls(
            store=store,
            artifacts=artifacts,
            actor=settings.user or _os_user(),
            keys=(settings.home / "keys").resolve(),
            token_max_days=settings.token_max_days,
            trusted_types=settings.trusted_types,
            custom_code=settings.custom_code,
            prediction_log=settings.prediction_log,
        )

    def close(self) -> None:
        """Release database connections."""
        self.store.dispose()


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
