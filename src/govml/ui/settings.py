"""Settings of the web UI (``GOVML_UI_*`` environment variables)."""

from __future__ import annotations

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from govml.errors import ConfigurationError


class UISettings(BaseSettings):
    """How long sessions last, whether a TLS proxy sits in front, how sign-ins are limited."""

    model_config = SettingsConfigDict(env_prefix="GOVML_UI_", extra="ignore")

    session_idle_minutes: int = Field(
        default=30,
        ge=1,
        le=24 * 60,
        description="A session ends after this many minutes without a request.",
    )
    session_hours: int = Field(
        default=12,
        ge=1,
        le=24 * 30,
        description="A session ends this many hours after sign-in, used or not (and never "
        "outlives the token it was opened with).",
    )
    tls_proxy: bool = Field(
        default=False,
        description="The server is reached only through a TLS-terminating proxy: cookies are "
        "`Secure` (and `__Host-` prefixed) and the expected origin is https, whatever the "
        "request's headers say.",
    )
    sign_in_attempts: int = Field(
        default=10,
        ge=1,
        le=10_000,
        description="Failed sign-ins one client address may make in 5 minutes before it is "
        "answered 429 until the window passes.",
    )


def load_ui_settings() -> UISettings:
    """Read ``GOVML_UI_*``; raise `ConfigurationError` naming the variable that is invalid."""
    try:
        return UISettings()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "settings"
        raise ConfigurationError(f"GOVML_UI_{field.upper()}: {first['msg']}") from None
