"""OpenID Connect sign-on against a real provider on loopback, on SQLite and PostgreSQL.

The provider is the npm package ``oidc-provider`` (``tests/ui/package.json``), started by the
test with a client for `govml server` and its own signing key, which the test also holds so
that it can forge id_tokens the provider's published key verifies but whose claims are wrong.
The whole flow runs over HTTP (the provider's login and consent pages, the callback) and once
in Chromium: a known person is matched by their identity key and given the roles their groups
map to, a new person is added, a person whose groups map to nothing is refused, a state not
started here is refused, every refusal writes nothing, every sign-on is in the ledger, and
tokens keep working for machines, signing out revokes the token the sign-on issued for the
session, and a user bound to one account at the provider cannot be signed on by another.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

import govml
from govml.errors import ConfigurationError
from govml.server.background import serving
from govml.server.oidc import OIDCClient, OIDCSettings, SignOnError, load_sign_on
from govml.services.sign_on import SIGN_ON_ACTOR
from govml.store.db import Store
from govml.store.schema import ledger_entries, tokens, ui_sessions
from tests.ui.conftest import csrf_of

pytest.importorskip("authlib", reason="needs govml[oidc]")
jwt = pytest.importorskip("joserfc.jwt", reason="needs govml[oidc]")
jwk = pytest.importorskip("joserfc.jwk", reason="needs govml[oidc]")

HERE = Path(__file__).parent
PROVIDER = HERE / "oidc_provider.mjs"
NODE = shutil.which("node")
CLIENT_ID, CLIENT_SECRET = "govml-tests", "a-client-secret-for-tests-only"
ROLE_MAP = {"risk": "risk_officer", "ml": ["contributor"], "leads": ["approver", "deployer"]}
ACCOUNTS = {
    "rita-idp": {"username": "RITA", "groups": ["risk"]},
    "nils-idp": {"username": "nils", "groups": ["ml", "not-mapped"]},
    "ghost-idp": {"username": "ghost", "groups": ["nobody"]},
    "olga-idp": {"username": "olga", "groups": ["ml"]},
    "bad-name-idp": {"username": "<script>", "groups": ["ml"]},
    "rita-renamed-idp": {"username": "Rita", "groups": ["risk", "leads"]},
    "tom-idp": {"username": "tom", "groups": ["ml"]},
}
FORM = re.compile(r'<form[^>]*action="([^"]+)"')
HIDDEN = re.compile(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"')

pytestmark = pytest.mark.skipif(
    NODE is None or not (HERE / "node_modules" / "oidc-provider").is_dir(),
    reason="needs node and `npm ci` in tests/ui (oidc-provider)",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def key() -> Any:
    return jwk.RSAKey.generate_key(2048, parameters={"kid": "tests-1", "alg": "RS256"})


@pytest.fixture(scope="module")
def sso(
    ui_db: tuple[Path, str],
    key: Any,
    monkeypatch_module: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, Any]]:
    """`govml server` with sign-on configured, and the provider it trusts, on loopback."""
    home, url = ui_db
    with govml.connect(home, database_url=url, user="alice", create=True) as alice:
        alice.init()
        admin_token = alice.issue_token("alice").token
        alice.add_user("rita", roles=["viewer"])
        alice.add_user("olga", roles=["contributor"])
        alice.disable_user("olga")
    port = _free_port()
    issuer = f"http://127.0.0.1:{port}"
    for name, value in {
        "ISSUER": issuer,
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": CLIENT_SECRET,
        "ROLE_MAP": json.dumps(ROLE_MAP),
        "PROVIDER_NAME": "Test IdP",
    }.items():
        monkeypatch_module.setenv(f"GOVML_OIDC_{name}", value)
    from govml.server.app import create_app
    from govml.settings import load_settings

    app = create_app(load_settings(home=home, database_url=url))
    with serving(app) as base:
        config = {
            "port": port,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uri": f"{base}/sign-in/oidc/callback",
            "accounts": ACCOUNTS,
            "jwks": {"keys": [key.as_dict(private=True)]},
        }
        log = tmp_path_factory.mktemp("oidc") / "provider.log"
        provider = subprocess.Popen(
            [str(NODE), str(PROVIDER), json.dumps(config)],
            cwd=HERE,
            stdout=subprocess.PIPE,
            stderr=log.open("w"),
            text=True,
        )
        try:
            line = provider.stdout.readline() if provider.stdout else ""
            assert line.startswith("ready"), f"the provider did not start: {line!r}"
            store = Store(url)
            yield {"base": base, "issuer": issuer, "admin": admin_token, "store": store, "log": log}
            store.dispose()
        finally:
            provider.terminate()
            provider.wait(timeout=10)


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def _entries(store: Store, after: int) -> list[tuple[str, str, str, dict[str, Any]]]:
    with store.read() as conn:
        rows = conn.execute(
            sa.select(ledger_entries).where(ledger_entries.c.seq > after).order_by("seq")
        ).all()
    return [(r.actor, r.action, r.subject, json.loads(r.entry)["payload"]) for r in rows]


def _last(store: Store) -> int:
    with store.read() as conn:
        return int(conn.execute(sa.select(sa.func.max(ledger_entries.c.seq))).scalar_one())


def sign_on(base: str, login: str) -> tuple[httpx.Client, httpx.Response]:
    """Go through the provider's login and consent pages as ``login``; return the last answer."""
    http = httpx.Client(base_url=base, follow_redirects=True, timeout=30)
    answer = http.get("/sign-in/oidc?next=/queue")
    for fields in ({"login": login, "password": "any"}, {}):
        action = FORM.search(answer.text)
        assert action is not None, answer.text[:500]
        hidden = dict(HIDDEN.findall(answer.text))
        answer = http.post(str(answer.url.join(action.group(1))), data={**hidden, **fields})
    return http, answer


def test_a_known_person_is_matched_and_given_the_roles_their_groups_map_to(
    sso: dict[str, Any],
) -> None:
    before = _last(sso["store"])
    http, answer = sign_on(sso["base"], "rita-idp")
    assert answer.status_code == 200, answer.text[:800]
    assert "You are signed in as rita" in answer.text
    assert 'http-equiv="refresh" content="0; url=/queue"' in answer.text
    queue = http.get("/queue")
    assert queue.url.path == "/queue" and "rita" in queue.text and "risk_officer" in queue.text
    recorded = _entries(sso["store"], before)
    assert [(a, act, s) for a, act, s, _ in recorded] == [
        (SIGN_ON_ACTOR, "user.roles_set", "user/rita"),
        (SIGN_ON_ACTOR, "token.issued", "user/rita"),
    ]
    source = {"issuer": sso["issuer"], "subject": "rita-idp"}
    assert recorded[0][3] == {"roles": ["risk_officer"], "sign_on": source}
    assert recorded[1][3]["sign_on"] == source and recorded[1][3]["days"] == 1
    again_before = _last(sso["store"])
    sign_on(sso["base"], "rita-idp")
    actions = [act for _a, act, _s, _p in _entries(sso["store"], again_before)]
    assert actions == ["token.issued"]  # roles unchanged: only the sign-on itself


def test_a_new_person_is_added_with_only_the_mapped_roles(sso: dict[str, Any]) -> None:
    before = _last(sso["store"])
    http, answer = sign_on(sso["base"], "nils-idp")
    assert "You are signed in as nils" in answer.text
    recorded = _entries(sso["store"], before)
    assert recorded[0][:3] == (SIGN_ON_ACTOR, "user.added", "user/nils")
    assert recorded[0][3]["roles"] == ["contributor"]
    people = http.get("/people", headers={"Accept": "application/json"}).json()["users"]
    (nils,) = [user for user in people if user["name"] == "nils"]
    assert nils["roles"] == ["contributor"] and nils["created_by"] == SIGN_ON_ACTOR


@pytest.mark.parametrize(
    ("login", "message"),
    [
        ("ghost-idp", "none of their groups (nobody) is given a govml role"),
        ("olga-idp", "user &#39;olga&#39; is disabled"),
        ("bad-name-idp", "user name (the id_token&#39;s &#39;preferred_username&#39; claim)"),
    ],
)
def test_refused_sign_ons_write_nothing(sso: dict[str, Any], login: str, message: str) -> None:
    before = _last(sso["store"])
    http, answer = sign_on(sso["base"], login)
    assert answer.url.path == "/sign-in/oidc/callback"
    assert answer.status_code in (403, 422), answer.status_code
    assert message in answer.text
    assert "<script>" not in answer.text.split("<main", 1)[1]
    assert _last(sso["store"]) == before
    assert http.get("/models", follow_redirects=False).status_code == 303


def test_a_callback_this_site_did_not_start_is_refused(sso: dict[str, Any]) -> None:
    before = _last(sso["store"])
    http = httpx.Client(base_url=sso["base"], timeout=30)
    answer = http.get("/sign-in/oidc/callback?code=stolen&state=guessed")
    assert answer.status_code == 400
    assert "did not start on this site" in answer.text
    started = http.get("/sign-in/oidc")  # a state cookie now, but another state in the URL
    assert started.status_code == 303 and started.headers["location"].startswith(sso["issuer"])
    assert "code_challenge_method=S256" in started.headers["location"]
    answer = http.get("/sign-in/oidc/callback?code=stolen&state=guessed")
    assert answer.status_code == 400
    refused = http.get("/sign-in/oidc/callback?error=access_denied&error_description=no")
    assert refused.status_code == 401 and "access_denied: no" in refused.text
    assert _last(sso["store"]) == before


def test_tokens_still_work_for_machines(sso: dict[str, Any]) -> None:
    answer = httpx.get(
        f"{sso['base']}/api/v1/whoami", headers={"Authorization": f"Bearer {sso['admin']}"}
    )
    assert answer.status_code == 200, answer.text
    page = httpx.get(f"{sso['base']}/sign-in").text
    assert "Sign in with Test IdP" in page and 'name="token"' in page


def _signed(key: Any, **changes: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": changes.pop("iss", "ISSUER"),
        "sub": "someone",
        "aud": CLIENT_ID,
        "exp": now + 300,
        "iat": now,
        "nonce": "the-nonce",
        "preferred_username": "someone",
    }
    claims.update(changes)
    return str(jwt.encode({"alg": "RS256", "kid": "tests-1"}, claims, key))


def test_the_id_token_is_checkedagainst_the_providers_keys_and_this_login(
    sso: dict[str, Any], key: Any
) -> None:
    client = OIDCClient(load_sign_on())  # type: ignore[arg-type]
    issuer = sso["issuer"]
    good = _signed(key, iss=issuer)
    assert client.verify(good, nonce="the-nonce")["sub"] == "someone"
    stranger = jwk.RSAKey.generate_key(2048, parameters={"kid": "tests-1"})
    forged = [
        (_signed(stranger, iss=issuer), "does not verify"),
        (_signed(key, iss=issuer), "nonce"),  # checked with another nonce below
        (_signed(key, iss="http://127.0.0.1:1"), "iss"),
        (_signed(key, iss=issuer, aud="another-client"), "aud"),
        (_signed(key, iss=issuer, exp=int(time.time()) - 3600), "expired"),
        (_signed(key, iss=issuer, aud=[CLIENT_ID, "other"], azp="other"), "azp"),
    ]
    for number, (token, word) in enumerate(forged):
        nonce = "another-nonce" if number == 1 else "the-nonce"
        with pytest.raises(SignOnError, match=word):
            client.verify(token, nonce=nonce)
    header = json.dumps({"alg": "none"}).encode()
    import base64

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    unsigned = f"{part(header)}.{part(json.dumps({'iss': issuer}).encode())}."
    with pytest.raises(SignOnError):
        client.verify(unsigned, nonce="the-nonce")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"role_map": '{"risk": "risk_oficer"}'}, "GOVML_OIDC_ROLE_MAP: group 'risk'"),
        ({"role_map": "{}"}, "GOVML_OIDC_ROLE_MAP: give a JSON object"),
        ({"role_map": "[1"}, "GOVML_OIDC_ROLE_MAP: not JSON"),
        ({"issuer": "http://idp.example.com"}, "GOVML_OIDC_ISSUER"),
        ({"client_secret": ""}, "GOVML_OIDC_CLIENT_SECRET is required"),
        ({"scopes": "profile"}, "GOVML_OIDC_SCOPES must include openid"),
    ],
)
def test_settings_are_checked_at_start(changes: dict[str, str], message: str) -> None:
    values = {
        "issuer": "https://idp.example.com",
        "client_id": "govml",
        "client_secret": "secret",
        "role_map": '{"risk": "risk_officer"}',
        **changes,
    }
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        load_sign_on(OIDCSettings(**values))  # type: ignore[arg-type]
    assert load_sign_on(OIDCSettings(issuer="")) is None


CHROMIUM = Path("/usr/bin/chromium")


def test_a_person_signs_on_in_a_real_browser(sso: dict[str, Any]) -> None:
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium package")
    api = pytest.importorskip("playwright.sync_api", reason="needs govml[pdf] (playwright)")
    with api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{sso['base']}/models/nothing-here")  # asks for sign-in, then comes back
        assert "/sign-in" in page.url
        shots = os.environ.get("GOVML_UI_SCREENSHOTS")
        if shots and sso["base"] and "sqlite" in str(sso["store"].url):
            page.screenshot(path=str(Path(shots) / "sign-in-sso.png"), full_page=True)
        page.click("text=Sign in with Test IdP")
        page.fill("input[name=login]", "nils-idp")
        page.fill("input[name=password]", "anything")
        page.click("button[type=submit]")
        page.click("button[type=submit]")  # the provider's consent page
        page.wait_for_url(re.compile(r".*/models/nothing-here$"))
        assert "nils" in page.locator(".masthead__who").inner_text()
        assert "contributor" in page.locator(".masthead__who").inner_text()
        page.goto(f"{sso['base']}/queue")
        assert page.url.endswith("/queue")
        browser.close()


def test_govml_server_refuses_to_start_with_bad_sign_on_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from govml.cli.main import invoke

    home = tmp_path / "home"
    with govml.connect(home, user="alice", create=True) as alice:
        alice.init()
    monkeypatch.setenv("GOVML_OIDC_ISSUER", "https://idp.example.com")
    monkeypatch.setenv("GOVML_OIDC_CLIENT_ID", "govml")
    monkeypatch.setenv("GOVML_OIDC_CLIENT_SECRET", "secret")
    monkeypatch.setenv("GOVML_OIDC_ROLE_MAP", '{"risk": "risk-officer"}')
    assert invoke(["--store", str(home), "server", "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert "GOVML_OIDC_ROLE_MAP: group 'risk': unknown role 'risk-officer'" in err


def test_the_ledger_verifies_after_the_sign_ons(
    sso: dict[str, Any], ui_db: tuple[Path, str]
) -> None:
    for login in ("rita-idp", "nils-idp"):  # whichever tests ran before, both have signed on
        sign_on(sso["base"], login)
    home, url = ui_db
    with govml.connect(home, database_url=url, user="alice") as alice:
        result = alice.verify_ledger()
        signed_on = [e for e in alice.audit_log() if e.actor == SIGN_ON_ACTOR]
    assert result.entries == _last(sso["store"]) + 1
    assert {e.action for e in signed_on} >= {"user.added", "user.roles_set", "token.issued"}


def test_the_issuer_is_compared_exactly(sso: dict[str, Any]) -> None:
    slashed = OIDCSettings(
        issuer=sso["issuer"] + "/",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,  # type: ignore[arg-type]
        role_map=json.dumps(ROLE_MAP),
    )
    client = OIDCClient(load_sign_on(slashed))  # type: ignore[arg-type]
    with pytest.raises(SignOnError, match="names its issuer"):
        client.metadata()  # the provider's issuer has no trailing slash


def _session_token(store: Store, http: httpx.Client) -> str:
    import hashlib

    session_id = http.cookies["govml_session"]
    digest = hashlib.sha256(session_id.encode()).hexdigest()
    with store.read() as conn:
        found = conn.execute(
            sa.select(ui_sessions.c.token_id).where(ui_sessions.c.id_hash == digest)
        ).scalar_one()
    return str(found)


def _revoked_at(store: Store, token_id: str) -> Any:
    with store.read() as conn:
        return conn.execute(
            sa.select(tokens.c.revoked_at).where(tokens.c.id == token_id)
        ).scalar_one()


def test_signing_out_revokes_the_token_the_sign_on_issued_for_the_session(
    sso: dict[str, Any],
) -> None:
    store = sso["store"]
    http, answer = sign_on(sso["base"], "tom-idp")
    assert "You are signed in as tom" in answer.text
    token_id = _session_token(store, http)
    assert _revoked_at(store, token_id) is None
    before = _last(store)
    page = http.get("/models")
    out = http.post("/sign-out", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/sign-in?ended=signed-out"
    assert _revoked_at(store, token_id) is not None  # no live token is left for a day
    recorded = _entries(store, before)
    assert [(a, act, s, p) for a, act, s, p in recorded] == [
        ("tom", "token.revoked", "user/tom", {"token_id": token_id})
    ]
    assert http.get("/models", follow_redirects=False).status_code == 303
    # a token an admin issued, signed in with through the form, is left alone at sign-out
    issued = httpx.post(
        f"{sso['base']}/api/v1/users/tom/tokens",
        headers={"Authorization": f"Bearer {sso['admin']}"},
        json={},
    ).json()
    form = httpx.Client(base_url=sso["base"], timeout=30)
    sign_in_page = form.get("/sign-in")
    form.post("/sign-in", data={"csrf_token": csrf_of(sign_in_page.text), "token": issued["token"]})
    form.post("/sign-out", data={"csrf_token": csrf_of(form.get("/models").text)})
    assert _revoked_at(store, issued["token_id"]) is None


def test_another_account_with_a_bound_users_name_is_refused(sso: dict[str, Any]) -> None:
    store = sso["store"]
    sign_on(sso["base"], "rita-idp")  # binds rita to the subject rita-idp (if not already)
    before = _last(store)
    http, answer = sign_on(sso["base"], "rita-renamed-idp")  # same name, another subject
    assert answer.url.path == "/sign-in/oidc/callback" and answer.status_code == 403
    assert "user &#39;rita&#39; is bound to another account at" in answer.text
    assert "subject is &#39;rita-renamed-idp&#39;" in answer.text
    assert _last(store) == before  # no roles set, no token: nothing written
    assert http.get("/models", follow_redirects=False).status_code == 303
    again, answer = sign_on(sso["base"], "rita-idp")  # the bound account still signs on
    assert "You are signed in as rita" in answer.text
    with store.read() as conn:
        from govml.services.sign_on import bound_identity

        assert bound_identity(conn, "rita") == (sso["issuer"], "rita-idp")
        assert bound_identity(conn, "alice") is None  # never signed on
    shown = again.get("/people/rita", headers={"Accept": "application/json"}).json()
    assert shown["sign_on"] == {"issuer": sso["issuer"], "subject": "rita-idp"}
    page = again.get("/people/rita").text
    assert "bound to the account with subject <code>rita-idp</code>" in page
