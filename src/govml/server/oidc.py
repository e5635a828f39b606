"""OpenID Connect sign-on for `govml server`: settings, the provider's metadata, the id_token.

The authorisation code flow with PKCE (RFC 7636, ``S256``), a ``state`` and a ``nonce``:

1. `OIDCClient.start` makes a fresh state, nonce and code verifier and the provider's
   authorisation URL (Authlib); the UI keeps the three in a signed, short-lived cookie.
2. The provider sends the browser back with a code; the UI checks the state against its
   cookie, then `OIDCClient.identity` exchanges the code and the verifier for tokens at the
   token endpoint (client secret in HTTP Basic).
3. The id_token's signature is verified against the provider's published keys (JWKS; fetched
   again once when a key id is unknown), with asymmetric algorithms only, and its claims with
   joserfc: ``iss`` is the configured issuer, ``aud`` holds the client id (and ``azp`` is it
   when there are several audiences), ``exp`` and ``iat`` hold (60 s leeway), ``nonce`` is ours.
4. The user name is one claim (``GOVML_OIDC_USERNAME_CLAIM``), the groups another; roles come
   only from ``GOVML_OIDC_ROLE_MAP`` (a group nobody mapped grants nothing).

Settings are ``GOVML_OIDC_*`` environment variables; sign-on is off while
``GOVML_OIDC_ISSUER`` is empty. Authlib and joserfc are the ``oidc`` extra, imported only when
sign-on is configured.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import Field, SecretStr
from pydantic import ValidationError as PydanticValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from govml.domain.lifecycle import Role
from govml.errors import AuthenticationError, ConfigurationError, ValidationError
from govml.services.sign_on import Vouched

LEEWAY_S = 60
HTTP_TIMEOUT_S = 10.0
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA")
"""Signature algorithms accepted on an id_token: asymmetric only (never ``none`` or HMAC)."""
EXTRA_HINT = "install the extra: pip install 'govml[oidc]'"


class OIDCSettings(BaseSettings):
    """Which provider, which client, and how its claims become a govml user and roles."""

    model_config = SettingsConfigDict(env_prefix="GOVML_OIDC_", extra="ignore")

    issuer: str = Field(default="", description="The provider's issuer URL; empty: sign-on off.")
    client_id: str = Field(default="", description="This server's client id at the provider.")
    client_secret: SecretStr = Field(default=SecretStr(""), description="Its client secret.")
    role_map: str = Field(
        default="",
        description='JSON: each group to a govml role or list of roles, e.g. {"risk": '
        '"risk_officer", "ml-leads": ["contributor", "deployer"]}.',
    )
    username_claim: str = Field(default="preferred_username", description="The user name.")
    groups_claim: str = Field(default="groups", description="The list of groups.")
    scopes: str = Field(default="openid profile email", description="Scopes asked for.")
    redirect_url: str = Field(
        default="",
        description="The callback URL registered at the provider; default: this server's own "
        "URL + /sign-in/oidc/callback.",
    )
    provider_name: str = Field(default="single sign-on", description="Shown on the button.")

    @property
    def enabled(self) -> bool:
        """True when an issuer is configured."""
        return bool(self.issuer)


@dataclass(frozen=True, kw_only=True)
class SignOnConfig:
    """Checked settings: the role map parsed, the secret present, the issuer acceptable."""

    issuer: str
    client_id: str
    client_secret: str
    role_map: Mapping[str, tuple[Role, ...]]
    username_claim: str
    groups_claim: str
    scopes: str
    redirect_url: str
    provider_name: str


def load_sign_on(settings: OIDCSettings | None = None) -> SignOnConfig | None:
    """Read and check ``GOVML_OIDC_*``; None when sign-on is off.

    Raises
    ------
    ConfigurationError
        Naming the variable that is missing or invalid.
    """
    try:
        settings = settings or OIDCSettings()
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "settings"
        raise ConfigurationError(f"GOVML_OIDC_{field.upper()}: {first['msg']}") from None
    if not settings.enabled:
        return None
    issuer = settings.issuer  # compared exactly: some providers' issuers end with a slash
    _check_url("GOVML_OIDC_ISSUER", issuer)
    if settings.redirect_url:
        _check_url("GOVML_OIDC_REDIRECT_URL", settings.redirect_url)
    for name, value in (
        ("CLIENT_ID", settings.client_id),
        ("CLIENT_SECRET", settings.client_secret.get_secret_value()),
    ):
        if not value:
            raise ConfigurationError(f"GOVML_OIDC_{name} is required when GOVML_OIDC_ISSUER is set")
    if "openid" not in settings.scopes.split():
        raise ConfigurationError("GOVML_OIDC_SCOPES must include openid")
    return SignOnConfig(
        issuer=issuer,
        client_id=settings.client_id,
        client_secret=settings.client_secret.get_secret_value(),
        role_map=parse_role_map(settings.role_map),
        username_claim=settings.username_claim,
        groups_claim=settings.groups_claim,
        scopes=settings.scopes,
        redirect_url=settings.redirect_url,
        provider_name=settings.provider_name,
    )


def _check_url(variable: str, url: str) -> None:
    """Refuse anything but https, except plain http to a loopback address (tests, a laptop)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname and _loopback(parts.hostname):
        return
    raise ConfigurationError(
        f"{variable}: {url!r} is not an https URL (plain http only to a loopback address)"
    )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_role_map(text: str) -> dict[str, tuple[Role, ...]]:
    """Parse ``GOVML_OIDC_ROLE_MAP``: a JSON object of group -> role or list of roles.

    Raises
    ------
    ConfigurationError
        When it is not such an object, names an unknown role, or maps nothing.
    """
    where = "GOVML_OIDC_ROLE_MAP"
    try:
        raw = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"{where}: not JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(raw, dict) or not raw:
        raise ConfigurationError(
            f'{where}: give a JSON object of groups to roles, e.g. {{"risk": "risk_officer"}}; '
            "without it nobody who signs on gets a role"
        )
    found: dict[str, tuple[Role, ...]] = {}
    for group, value in raw.items():
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise ConfigurationError(f"{where}: group {group!r} must map to a role or a list")
        try:
            found[str(group)] = tuple(Role.parse(name) for name in names)
        except ValidationError as error:
            raise ConfigurationError(f"{where}: group {group!r}: {error.message}") from None
    return found


def mapped_roles(config: SignOnConfig, groups: list[str]) -> tuple[Role, ...]:
    """Return the roles the role map gives ``groups``, in the canonical order."""
    granted = {role for group in groups for role in config.role_map.get(group, ())}
    return tuple(role for role in Role if role in granted)


@dataclass(frozen=True, kw_only=True)
class PendingSignOn:
    """What the browser must bring back: the state, and what proves this login is ours."""

    url: str
    state: str
    nonce: str
    verifier: str


class SignOnError(AuthenticationError):
    """The provider's answer cannot be trusted or used (nothing was written)."""


class OIDCClient:
    """The provider's metadata and keys (fetched once, keys again on an unknown key id)."""

    def __init__(self, config: SignOnConfig) -> None:
        self.config = config
        self._metadata: dict[str, Any] | None = None
        self._keys: Any = None
        self._lock = threading.Lock()
        try:
            _oauth2_client()
            import joserfc  # noqa: F401
        except ImportError:
            raise ConfigurationError(
                "GOVML_OIDC_ISSUER is set but the OpenID Connect libraries are missing",
                hint=EXTRA_HINT,
            ) from None

    def metadata(self) -> dict[str, Any]:
        """Return the provider's discovery document, checked (fetched on first use)."""
        with self._lock:
            if self._metadata is None:
                url = f"{self.config.issuer.rstrip('/')}/.well-known/openid-configuration"
                found = _get_json(url)
                if found.get("issuer") != self.config.issuer:
                    raise SignOnError(
                        f"the provider at {url} names its issuer {found.get('issuer')!r}, not "
                        f"{self.config.issuer!r} (GOVML_OIDC_ISSUER)"
                    )
                for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                    if not isinstance(found.get(key), str):
                        raise SignOnError(f"the provider's metadata at {url} has no {key}")
                methods = found.get("code_challenge_methods_supported")
                if methods is not None and "S256" not in methods:
                    raise SignOnError("the provider does not support PKCE with S256")
                self._metadata = found
            return self._metadata

    def start(self, redirect_uri: str) -> PendingSignOn:
        """Return the provider's authorisation URL with a fresh state, nonce and verifier."""
        from authlib.common.security import generate_token  # type: ignore[import-untyped]

        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier = generate_token(64)
        with self._client(redirect_uri) as client:
            url, _ = client.create_authorization_url(
                self.metadata()["authorization_endpoint"],
                state=state,
                code_verifier=verifier,
                nonce=nonce,
            )
        return PendingSignOn(url=url, state=state, nonce=nonce, verifier=verifier)

    def identity(self, *, code: str, redirect_uri: str, pending: PendingSignOn) -> Vouched:
        """Exchange ``code`` for tokens and return the identity of the verified id_token.

        Raises
        ------
        SignOnError
            When the token endpoint refuses, or the id_token is missing, forged, expired, for
            another client or another login (nonce), or lacks the user name claim.
        """
        from authlib.common.errors import AuthlibBaseError  # type: ignore[import-untyped]

        try:
            with self._client(redirect_uri) as client:
                tokens = client.fetch_token(
                    self.metadata()["token_endpoint"],
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=pending.verifier,
                )
        except (AuthlibBaseError, httpx.HTTPError) as error:
            raise SignOnError(f"the provider's token endpoint refused the code: {error}") from None
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise SignOnError("the provider answered without an id_token (is 'openid' a scope?)")
        claims = self.verify(id_token, nonce=pending.nonce)
        return self._identity(claims)

    def verify(self, id_token: str, *, nonce: str) -> dict[str, Any]:
        """Return the claims of ``id_token`` after checking its signature and claims."""
        from joserfc import jwt
        from joserfc.errors import JoseError

        algorithms = [a for a in self._algorithms() if a in ALGORITHMS]
        try:
            token = jwt.decode(id_token, self._key_set(refresh=False), algorithms=algorithms)
        except JoseError as first:
            if type(first).__name__ not in ("InvalidKeyIdError", "MissingKeyError"):
                raise SignOnError(f"the id_token does not verify: {first}") from None
            try:  # the provider may have rotated its keys
                token = jwt.decode(id_token, self._key_set(refresh=True), algorithms=algorithms)
            except JoseError as error:
                raise SignOnError(f"the id_token does not verify: {error}") from None
        registry = jwt.JWTClaimsRegistry(
            leeway=LEEWAY_S,
            iss={"essential": True, "value": self.config.issuer},
            sub={"essential": True},
            aud={"essential": True, "value": self.config.client_id},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        try:
            registry.validate(token.claims)
        except JoseError as error:
            raise SignOnError(f"the id_token's claims are not acceptable: {error}") from None
        audience = token.claims.get("aud")
        several = isinstance(audience, list) and len(audience) > 1
        if several and token.claims.get("azp") != self.config.client_id:
            raise SignOnError("the id_token has several audiences and another azp")
        return dict(token.claims)

    def _identity(self, claims: dict[str, Any]) -> Vouched:
        username = claims.get(self.config.username_claim)
        if not isinstance(username, str) or not username.strip():
            raise SignOnError(
                f"the id_token has no {self.config.username_claim!r} claim to name the user "
                "(GOVML_OIDC_USERNAME_CLAIM)"
            )
        raw_groups = claims.get(self.config.groups_claim, [])
        groups = [raw_groups] if isinstance(raw_groups, str) else raw_groups
        if not isinstance(groups, list):
            groups = []
        named = tuple(str(group) for group in groups if isinstance(group, str))
        return Vouched(
            issuer=self.config.issuer,
            subject=str(claims["sub"]),
            username=username.strip(),
            groups=named,
            roles=mapped_roles(self.config, list(named)),
        )

    def _algorithms(self) -> list[str]:
        found = self.metadata().get("id_token_signing_alg_values_supported") or ["RS256"]
        return [str(a) for a in found]

    def _key_set(self, *, refresh: bool) -> Any:
        from joserfc.jwk import KeySet

        uri = self.metadata()["jwks_uri"]
        with self._lock:
            if self._keys is None or refresh:
                published: Any = _get_json(uri)
                self._keys = KeySet.import_key_set(published)
            return self._keys

    def _client(self, redirect_uri: str) -> Any:
        return _oauth2_client()(
            client_id=self.config.client_id,
            client_secret=self.config.client_secret,
            scope=self.config.scopes,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic",  # noqa: S106 - a method name
            timeout=HTTP_TIMEOUT_S,
        )


def _oauth2_client() -> Any:
    """Return Authlib's OAuth 2 client over httpx.

    Authlib 1.9 prefers a package named httpx2 and warns when it falls back to httpx, which
    govml already depends on; the warning says nothing to an operator, so it is not shown.
    """
    import authlib.deprecate  # type: ignore[import-untyped]  # noqa: F401 - its filter goes first

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from authlib.integrations.httpx_client import (  # type: ignore[import-untyped]
            OAuth2Client,
        )
    return OAuth2Client


def _get_json(url: str) -> dict[str, Any]:
    try:
        answer = httpx.get(url, timeout=HTTP_TIMEOUT_S, follow_redirects=False)
        answer.raise_for_status()
        found = answer.json()
    except (httpx.HTTPError, ValueError) as error:
        raise SignOnError(f"the sign-on provider cannot be read at {url}: {error}") from None
    if not isinstance(found, dict):
        raise SignOnError(f"the sign-on provider answered {url} with no JSON object")
    return found
