"""Settings from ``GOVML_*`` environment variables (pydantic-settings).

``GOVML_HOME`` is the folder that holds everything by default (``./.govml``): the SQLite
database ``govml.db`` and the artifact folder ``artifacts/``. ``GOVML_DATABASE_URL`` and
``GOVML_ARTIFACTS`` move either elsewhere (a PostgreSQL URL; a shared folder or an
``s3://bucket/prefix`` in AWS S3 or MinIO, see `govml.store.artifact_stores`).
``GOVML_TRUSTED_TYPES`` is the operator's list of types, beyond the built-in allowlist, that
model artifacts loaded by this process may contain (see `govml.flavors.trust`).
``GOVML_TICKET_URL`` turns change-ticket ids into links in documents and the web UI;
``GOVML_LINEAGE_TARGET`` sends OpenLineage run events as governed actions are committed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from govml.errors import ConfigurationError


class Settings(BaseSettings):
    """Where govml keeps its metadata and artifacts, and who is acting."""

    model_config = SettingsConfigDict(env_prefix="GOVML_", extra="ignore")

    home: Path = Field(default=Path(".govml"), description="Folder for the embedded store.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file govml.db in the home."
    )
    artifacts: str | None = Field(
        default=None,
        description="Artifact store: a folder, file:// or s3://BUCKET/PREFIX (endpoint, region "
        "and credentials from the standard AWS settings); default: artifacts/ in the home.",
    )
    prediction_log: str | None = Field(
        default=None,
        description="s3://BUCKET/PREFIX that gateways upload their closed prediction log files "
        "to and monitoring reads (default: the local folder $GOVML_HOME/predictions only).",
    )
    token_max_days: int = Field(
        default=90,
        ge=1,
        le=3650,
        description="Longest lifetime in days of a token a user issues for themself (and of "
        "tokens stored without an expiry); only an admin issues longer ones, for others.",
    )
    user: str | None = Field(
        default=None, description="Identity recorded as the actor in local mode (default: OS user)."
    )
    server: str | None = Field(
        default=None,
        description="URL of a govml server; when set, the SDK and CLI call it instead of a store.",
    )
    token: str | None = Field(
        default=None, description="Bearer token for the govml server (from `govml users add`)."
    )
    trusted_types: Annotated[frozenset[str], NoDecode] = Field(
        default=frozenset(),
        description="Comma-separated dotted type names that model artifacts loaded by this "
        "process may contain beyond the built-in allowlist; set by the operator after review.",
    )

    custom_code: bool = Field(
        default=False,
        description="Whether this process may load models that run the code they ship with "
        "(MLflow python_function models), where the policy in force for the model's tier also "
        "says security.serialization: custom_code; set by the operator.",
    )
    ticket_url: str | None = Field(
        default=None,
        description="Link of a change ticket, with {ticket} where its id goes (such as "
        "https://jira.example/browse/{ticket}); documents and the web UI link ticket ids.",
    )
    lineage_target: str | None = Field(
        default=None,
        description="Where registrations, evaluations, promotions and rollbacks are also sent "
        "as OpenLineage run events as they are committed: an http(s):// endpoint (Marquez: "
        ".../api/v1/lineage) or a file appended to. A failed send is warned, never undone.",
    )
    lineage_namespace: str = Field(
        default="govml", min_length=1, max_length=200, description="OpenLineage namespace."
    )

    @field_validator("ticket_url")
    @classmethod
    def _ticket_pattern(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        return check_ticket_pattern(value)

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        scheme = value.split(":", 1)[0].split("+", 1)[0]
        if scheme not in {"sqlite", "postgresql", "postgres"}:
            raise ValueError(
                f"unsupported database scheme '{scheme}'; use sqlite:///PATH or "
                "postgresql://USER@HOST:PORT/DB"
            )
        return value

    @field_validator("artifacts", mode="before")
    @classmethod
    def _artifact_location(cls, value: Any) -> str | None:
        if value is None or value == "":
            return None
        from govml.store.artifact_stores import check_location

        try:
            return check_location(os.fspath(value))
        except ConfigurationError as exc:
            raise ValueError(exc.message) from None

    @field_validator("prediction_log")
    @classmethod
    def _log_location(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        from govml.store.s3_logs import split_location

        try:
            split_location(value)
        except ConfigurationError as exc:
            raise ValueError(exc.message) from None
        return value.rstrip("/")

    @field_validator("server")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"server URL {value!r} must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("trusted_types", mode="before")
    @classmethod
    def _type_names(cls, value: Any) -> frozenset[str]:
        if not value:  # unset, empty, or the default (settings validate their defaults too)
            return frozenset()
        # Imported here: only a process that sets the variable pays for the check.
        from govml.flavors.trust import check_type_names, parse_type_list

        if isinstance(value, str):
            return parse_type_list(value)
        return check_type_names(value)

    def resolved_database_url(self) -> str:
        """Return the database URL, defaulting to ``sqlite:///<home>/govml.db``."""
        if self.database_url:
            from govml.store.db import normalise_database_url

            return normalise_database_url(self.database_url)
        return f"sqlite:///{(self.home / 'govml.db').resolve()}"

    def resolved_artifacts(self) -> Path:
        """Return the local artifact folder, defaulting to ``<home>/artifacts``.

        For a store that is not a folder (``s3://...``) this is the home's ``artifacts``
        folder, which that store does not use; :meth:`artifacts_location` names the store.
        """
        location = self.artifacts
        if location is None or ("://" in location and not location.startswith("file://")):
            return (self.home / "artifacts").resolve()
        return Path(location.removeprefix("file://")).resolve()

    def artifacts_location(self) -> str:
        """Return where the artifact store is: an absolute folder or a URI (``s3://...``)."""
        location = self.artifacts
        if location is not None and "://" in location and not location.startswith("file://"):
            return location
        return str(self.resolved_artifacts())

    def describe_store(self) -> str:
        """Say where the store is and, when a variable or the default chose it, which.

        ``/srv/models/.govml (GOVML_HOME)``, ``postgresql://govml:***@db/govml
        (GOVML_DATABASE_URL)``; a database URL is shown without its password.
        """
        if self.database_url:
            where = mask_password(self.database_url)
            chosen = os.environ.get("GOVML_DATABASE_URL") == self.database_url
            return f"{where} (GOVML_DATABASE_URL)" if chosen else where
        where = str(self.home.resolve())
        variable = os.environ.get("GOVML_HOME")
        if variable and Path(variable) == self.home:
            return f"{where} (GOVML_HOME)"
        if not variable and self.home == Path(".govml"):
            return f"{where} (the default: ./.govml; set GOVML_HOME or give --store)"
        return where


def check_ticket_pattern(pattern: str) -> str:
    """Return a ticket URL pattern, or raise ValueError saying what is wrong with it."""
    if not pattern.startswith(("http://", "https://")):
        raise ValueError(f"ticket URL {pattern!r} must start with http:// or https://")
    if pattern.count("{ticket}") != 1 or pattern.replace("{ticket}", "").count("{"):
        raise ValueError(
            f"ticket URL {pattern!r} must hold {{ticket}} once (and no other braces), such "
            "as https://jira.example/browse/{ticket}"
        )
    return pattern


def ticket_link(ticket: str, pattern: str | None = None) -> str | None:
    """Return the link of change ticket ``ticket`` under ``pattern`` (default: the setting).

    The id is percent-encoded into the pattern's ``{ticket}``; None when no pattern is set.
    """
    if pattern is None:
        pattern = load_settings().ticket_url
    if pattern is None:
        return None
    return pattern.replace("{ticket}", quote(ticket, safe="-._"))


def mask_password(url: str) -> str:
    """Return ``url`` with its password, if any, replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; ``overrides`` win over the environment.

    Raises
    ------
    ConfigurationError
        When a variable has an invalid value; the message names the variable.
    """
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "settings"
        raise ConfigurationError(
            f"GOVML_{field.upper()}: {first['msg'].removeprefix('Value error, ')}"
        ) from None
