"""The web UI over real HTTP (uvicorn on loopback), on SQLite and PostgreSQL.

Sessions (cookie attributes, only a hash stored, sign-out, a revoked token or a disabled user
ending the session, failed sign-ins limited and never written), CSRF (token and origin on
every POST), security headers, a viewer's pages and forged posts, hostile text escaped,
filters in the URL, JSON forms, documents under their own policy, proofs and verification.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

import govml
from govml.domain.records import check_name
from govml.errors import ValidationError
from govml.server.background import serving
from govml.services.context import ServiceContext
from govml.settings import load_settings
from govml.store.db import Store
from govml.store.schema import approvals, ledger_entries, ui_sessions
from govml.ui.documents import DOCUMENT_POLICY
from govml.ui.headers import CONTENT_SECURITY_POLICY
from govml.ui.session import SessionEnded, Sessions
from govml.ui.settings import UISettings
from tests.ui.conftest import csrf_of, make_app, sign_in
from tests.ui.ui_store import IMAGE, SCRIPT, UIStore


@pytest.fixture(scope="module")
def db(ui_store: UIStore) -> Iterator[Store]:
    store = Store(ui_store.db_url)
    yield store
    store.dispose()


def _count(db: Store, table: sa.Table) -> int:
    with db.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def _session_cookie(response: httpx.Response) -> str:
    cookies = response.headers.get_list("set-cookie")
    (header,) = [value for value in cookies if "session" in value]
    return header


# -- sessions --------------------------------------------------------------------------------


def test_sign_in_sets_a_strict_http_only_cookie_and_stores_only_its_hash(
    ui_url: str, ui_store: UIStore, db: Store
) -> None:
    entries = _count(db, ledger_entries)
    http = httpx.Client(base_url=ui_url, follow_redirects=False)
    form = http.get("/sign-in")
    answer = http.post(
        "/sign-in", data={"csrf_token": csrf_of(form.text), "token": ui_store.tokens["carol"]}
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/models"
    header = _session_cookie(answer)
    assert header.startswith("govml_session=")
    attributes = {part.strip().lower() for part in header.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/"} <= attributes
    assert "secure" not in attributes  # plain HTTP, no TLS proxy declared
    session_id = http.cookies["govml_session"]
    with db.read() as conn:
        stored = set(conn.execute(sa.select(ui_sessions.c.id_hash)).scalars())
    assert hashlib.sha256(session_id.encode()).hexdigest() in stored
    assert session_id not in stored
    assert http.get("/models").status_code == 200
    assert _count(db, ledger_entries) == entries  # signing in is not a ledger entry


def test_behind_a_declared_tls_proxy_the_cookie_is_secure_and_host_prefixed(
    ui_store: UIStore,
) -> None:
    with serving(make_app(ui_store, tls_proxy="true")) as url:
        http = httpx.Client(base_url=url, follow_redirects=False)
        form = http.get("/sign-in")
        (cookie,) = [v for k, v in form.headers.multi_items() if k == "set-cookie"]
        assert cookie.startswith("__Host-govml_sign_in=") and "secure" in cookie.lower()
        token = csrf_of(form.text)
        http.cookies.set("__Host-govml_sign_in", token)  # httpx keeps Secure cookies to https
        answer = http.post(
            "/sign-in",
            data={"csrf_token": token, "token": ui_store.tokens["carol"]},
            headers={"Origin": "https://" + url.removeprefix("http://")},
        )
        assert answer.status_code == 303, answer.text
        header = _session_cookie(answer)
        assert header.startswith("__Host-govml_session=")
        assert {"secure", "httponly", "samesite=strict", "path=/"} <= {
            part.strip().lower() for part in header.split(";")[1:]
        }
        # the expected origin is https: a post that says http is from another origin
        refused = http.post(
            "/sign-in",
            data={"csrf_token": token, "token": ui_store.tokens["carol"]},
            headers={"Origin": url},
        )
        assert refused.status_code == 403


def test_failed_sign_ins_write_nothing_and_are_limited_per_address(
    ui_store: UIStore, db: Store
) -> None:
    entries, sessions = _count(db, ledger_entries), _count(db, ui_sessions)
    with serving(make_app(ui_store, sign_in_attempts="3")) as url:
        http = httpx.Client(base_url=url, follow_redirects=False)
        form = http.get("/sign-in")
        token = csrf_of(form.text)
        for attempt in ("govml_0123456789abcdef_wrong", "not a token", "govml_x_y"):
            answer = http.post("/sign-in", data={"csrf_token": token, "token": attempt})
            assert answer.status_code == 401
            assert "There is a problem" in answer.text
            token = csrf_of(answer.text)  # each form has a new double-submit token
        blocked = http.post(
            "/sign-in", data={"csrf_token": token, "token": ui_store.tokens["carol"]}
        )
        assert blocked.status_code == 429
        assert "Too many failed sign-ins" in blocked.text
        assert "govml_session" not in blocked.headers.get("set-cookie", "")
    assert _count(db, ledger_entries) == entries
    assert _count(db, ui_sessions) == sessions


def test_sign_in_form_needs_its_double_submit_token(ui_url: str, ui_store: UIStore) -> None:
    http = httpx.Client(base_url=ui_url, follow_redirects=False)
    token = csrf_of(http.get("/sign-in").text)
    http.cookies.clear()  # a cross-site form cannot send the cookie along
    answer = http.post("/sign-in", data={"csrf_token": token, "token": ui_store.tokens["carol"]})
    assert answer.status_code == 403
    assert "govml_session" not in answer.headers.get("set-cookie", "")


def test_signing_out_deletes_the_session(ui_url: str, ui_store: UIStore, db: Store) -> None:
    http = sign_in(ui_url, ui_store.tokens["erin"])
    cookie = http.cookies["govml_session"]
    page = http.get("/models")
    before = _count(db, ui_sessions)
    assert http.post("/sign-out", data={"csrf_token": csrf_of(page.text)}).status_code == 303
    assert _count(db, ui_sessions) == before - 1
    replay = httpx.Client(
        base_url=ui_url, follow_redirects=False, cookies={"govml_session": cookie}
    )
    answer = replay.get("/models")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/sign-in")


def test_a_revoked_token_ends_its_sessions_at_the_next_request(
    ui_url: str, ui_store: UIStore
) -> None:
    with ui_store.client("alice") as alice:
        alice.add_user("dora", roles=["viewer"])
        token = alice.issue_token("dora").token
    http = sign_in(ui_url, token)
    assert http.get("/models").status_code == 200
    with ui_store.client("alice") as alice:
        assert alice.revoke_tokens("dora") >= 1
    answer = http.get("/models")
    assert answer.status_code == 303
    assert "ended=revoked" in answer.headers["location"]
    notice = http.get(answer.headers["location"])
    assert "the token you signed in with was revoked" in notice.text


def test_a_disabled_user_is_signed_out_at_the_next_request(ui_url: str, ui_store: UIStore) -> None:
    with ui_store.client("alice") as alice:
        alice.add_user("olaf", roles=["viewer"])
        token = alice.issue_token("olaf").token
    http = sign_in(ui_url, token)
    assert http.get("/queue").status_code == 200
    with ui_store.client("alice") as alice:
        alice.disable_user("olaf")
    answer = http.get("/queue")
    assert answer.status_code == 303
    assert "ended=" in answer.headers["location"]
    assert http.get("/models", follow_redirects=True).url.path == "/sign-in"


def test_sessions_end_when_idle_and_after_their_lifetime(ui_store: UIStore) -> None:
    now = [datetime.now(UTC)]
    settings = load_settings(home=ui_store.home, database_url=ui_store.db_url)
    ctx = ServiceContext.from_settings(settings)
    ctx.clock = lambda: now[0]
    try:
        with ui_store.client("alice") as alice:
            token = alice.issue_token("frank").token
        keeper = Sessions(ctx, UISettings(session_idle_minutes=30, session_hours=2))
        idle_id, _ = keeper.sign_in(token)
        now[0] += timedelta(minutes=29)
        assert keeper.resolve(idle_id) is not None  # used: the idle clock starts again
        now[0] += timedelta(minutes=31)
        with pytest.raises(SessionEnded) as ended:
            keeper.resolve(idle_id)
        assert ended.value.code == "idle"
        assert keeper.resolve(idle_id) is None  # deleted
        busy_id, _ = keeper.sign_in(token)
        for _ in range(12):  # a request every 10 minutes for 2 hours
            now[0] += timedelta(minutes=10)
            if _ < 11:
                assert keeper.resolve(busy_id) is not None
        with pytest.raises(SessionEnded) as ended:
            keeper.resolve(busy_id)
        assert ended.value.code == "expired"
    finally:
        ctx.close()


def test_a_session_never_outlives_its_token(ui_store: UIStore) -> None:
    settings = load_settings(home=ui_store.home, database_url=ui_store.db_url)
    ctx = ServiceContext.from_settings(settings)
    try:
        with ui_store.client("alice") as alice:
            issued = alice.issue_token("frank", expires_in_days=1)
        keeper = Sessions(ctx, UISettings(session_hours=24 * 30))
        _, session = keeper.sign_in(issued.token)
        assert issued.expires_at is not None and session.expires_at == issued.expires_at
    finally:
        ctx.close()


def test_after_sign_in_only_a_path_on_this_site_is_followed(ui_url: str, ui_store: UIStore) -> None:
    for given, expected in [
        ("/queue?version=credit@2", "/queue?version=credit@2"),
        ("//evil.example/x", "/models"),
        ("/\\evil.example", "/models"),
        ("https://evil.example/", "/models"),
    ]:
        http = httpx.Client(base_url=ui_url, follow_redirects=False)
        token = csrf_of(http.get("/sign-in").text)
        answer = http.post(
            "/sign-in",
            data={"csrf_token": token, "token": ui_store.tokens["vic"], "next": given},
        )
        assert answer.headers["location"] == expected, given


# -- CSRF and forged posts -------------------------------------------------------------------


def _approvals(db: Store) -> int:
    return _count(db, approvals)


def test_every_post_needs_the_session_token_and_this_origin(
    ui_url: str, ui_store: UIStore, db: Store
) -> None:
    http = sign_in(ui_url, ui_store.tokens["carol"])
    token = csrf_of(http.get("/queue").text)
    fields = {"ref": "churn@1", "decision": "approve", "comment": "checked", "step": "confirm"}
    before, entries = _approvals(db), _count(db, ledger_entries)
    attempts: list[tuple[dict[str, Any], dict[str, str]]] = [
        (fields, {}),  # no token
        ({**fields, "csrf_token": "forged"}, {}),
        ({**fields, "csrf_token": token}, {"Origin": "http://evil.example"}),
        ({**fields, "csrf_token": token}, {"Origin": "null"}),
        ({**fields, "csrf_token": token}, {"Sec-Fetch-Site": "cross-site"}),
        ({**fields, "csrf_token": token}, {"Sec-Fetch-Site": "same-site"}),
    ]
    for data, headers in attempts:
        answer = http.post("/decisions/approval", data=data, headers=headers)
        assert answer.status_code == 403, (data, headers, answer.text[:300])
        assert "was not acted on" in answer.text
    assert (_approvals(db), _count(db, ledger_entries)) == (before, entries)
    # the same post from this site's form is recorded (the checks above can fail)
    same = http.post(
        "/decisions/approval",
        data={**fields, "csrf_token": token},
        headers={"Origin": ui_url, "Sec-Fetch-Site": "same-origin"},
    )
    assert same.status_code == 303, same.text[:500]
    assert same.headers["location"].startswith("/queue?version=churn@1&done=approved")
    assert _approvals(db) == before + 1
    with db.read() as conn:
        last = conn.execute(
            sa.select(ledger_entries).order_by(ledger_entries.c.seq.desc()).limit(1)
        ).one()
    assert (last.actor, last.action) == ("carol", "version.approved")


def test_a_viewer_sees_no_action_and_forged_posts_are_refused_by_the_services(
    ui_url: str, ui_store: UIStore, db: Store
) -> None:
    http = sign_in(ui_url, ui_store.tokens["vic"])
    pages = {
        path: http.get(path).text
        for path in (
            "/models/credit",
            "/models/credit/versions",
            "/queue?version=credit@2",
            "/people",
            "/audit",
        )
    }
    assert "Edit the model card" not in pages["/models/credit"]
    assert "Promote to" not in pages["/models/credit/versions"]
    assert 'name="decision"' not in pages["/queue?version=credit@2"]
    assert "Issue a token" not in pages["/people"]
    assert "Sign a checkpoint" not in pages["/audit"]
    token = csrf_of(pages["/audit"])
    entries = _count(db, ledger_entries)
    forged = [
        (
            "/decisions/approval",
            {"ref": "credit@2", "decision": "approve", "comment": "me", "step": "confirm"},
            "may not approve or reject versions",
        ),
        (
            "/decisions/promotion",
            {"ref": "credit@2", "to": "production", "reason": "", "step": "confirm"},
            "may not promote or roll back versions",
        ),
        (
            "/decisions/rollback",
            {"model": "credit", "reason": "x", "step": "confirm"},
            "may not promote or roll back versions",
        ),
        (
            "/models/credit/card",
            {"revision": "0", "overview": "mine"},
            "may not register models, versions or evaluations",
        ),
        ("/people/bob/tokens", {"days": ""}, "may not administer"),
        ("/audit/checkpoints", {}, "may not administer"),
    ]
    for path, data, message in forged:
        answer = http.post(path, data={**data, "csrf_token": token})
        assert answer.status_code == 403, (path, answer.status_code)
        assert message in answer.text, (path, answer.text[:800])
    assert _count(db, ledger_entries) == entries


# -- pages -----------------------------------------------------------------------------------


def test_every_page_carries_the_security_headers_and_no_outside_script(
    ui_url: str, ui_store: UIStore
) -> None:
    http = sign_in(ui_url, ui_store.tokens["alice"])
    anonymous = httpx.Client(base_url=ui_url)
    for path in (
        "/sign-in",
        "/models",
        "/models/credit",
        "/models/nope",
        "/queue",
        "/audit",
        "/policies",
        "/people",
        "/static/govml.css",
        "/models/credit/lineage",
    ):
        answer = (anonymous if path == "/sign-in" else http).get(path)
        assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "same-origin"
        assert answer.headers["x-frame-options"] == "DENY"
        if path.startswith("/static/"):
            assert "max-age" in answer.headers["cache-control"]
            continue
        assert answer.headers["cache-control"] == "no-store", path
        scripts = [part.split('"')[1] for part in answer.text.split("<script src=")[1:]]
        assert scripts == ["/static/htmx.min.js"], (path, scripts)
        assert "<script>" not in answer.text and " style=" not in answer.text, path
    htmx = http.get("/static/htmx.min.js")
    assert htmx.status_code == 200 and "0BSD" in htmx.text[:300]


def test_hostile_text_is_shown_as_text(ui_url: str, ui_store: UIStore) -> None:
    with pytest.raises(ValidationError):  # names never hold markup at all
        check_name("<script>alert(1)</script>")
    http = sign_in(ui_url, ui_store.tokens["vic"])
    for path in (
        "/models?q=hostile",
        "/models/xss-probe",
        "/models/credit/approvals",
        "/queue?version=credit@2",
        "/models/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    ):
        text = http.get(path).text
        assert "<script>alert" not in text and "<img src=x" not in text, path
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in http.get("/models/xss-probe").text
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in http.get("/models?q=hostile").text
    listed = http.get("/models.json", params={"q": "hostile"}).json()["models"]
    assert listed[0]["owner"] == IMAGE and listed[0]["description"].endswith(SCRIPT)


def test_inventory_filters_and_sort_live_in_the_url(ui_url: str, ui_store: UIStore) -> None:
    http = sign_in(ui_url, ui_store.tokens["vic"])

    def names(**params: Any) -> list[str]:
        body = http.get("/models.json", params=params).json()
        return [model["name"] for model in body["models"]]

    assert names() == ["churn", "credit", "xss-probe"]
    assert names(tier="high") == ["credit"]
    assert names(tier=["high", "limited"]) == ["churn", "credit"]
    assert names(stage="production") == ["credit"]
    assert names(stage="none") == ["churn", "xss-probe"]
    assert names(gate="none") == ["xss-probe"]
    assert names(gate="pass") == ["churn", "credit"]
    assert names(tag="domain=credit") == ["credit"]
    assert names(q="CHURN") == ["churn"]
    assert names(sort="-name") == ["xss-probe", "credit", "churn"]
    facets = http.get("/models.json", params={"tier": "high"}).json()["facets"]
    assert facets["tier"] == {"minimal": 1, "limited": 1, "high": 1, "unacceptable": 0}
    assert facets["stage"]["production"] == 1
    page = http.get("/models", params={"tier": "high", "sort": "-changed"})
    assert 'href="/models?sort=-changed"' in page.text  # clearing keeps the sort
    assert "tier=high" in page.text  # links keep the filters
    bad = http.get("/models", params={"sort": "colour"})
    assert bad.status_code == 422 and "sort: unknown column &#39;colour&#39;" in bad.text


def test_pages_answer_json_where_natural(ui_url: str, ui_store: UIStore) -> None:
    http = sign_in(ui_url, ui_store.tokens["carol"])
    model = http.get("/models/credit.json").json()
    assert model["model"]["aliases"] == {"production": 1, "staging": 2}
    assert model["readiness"]["production"]["ready"] is False
    same = http.get("/models/credit", headers={"Accept": "application/json"}).json()
    assert same["model"] == model["model"]
    queue = http.get("/queue.json").json()
    assert "credit@2" in [item["ref"] for item in queue["awaiting_you"]]
    assert queue["selected"]["ref"] == queue["awaiting_you"][0]["ref"]
    entries = http.get("/audit.json", params={"actor": "frank"}).json()["entries"]
    assert entries and {e["actor"] for e in entries} == {"frank"}
    alias = http.get("/audit.json", params={"action": "alias.*"}).json()["entries"]
    assert {e["action"] for e in alias} == {"alias.promoted"}
    assert http.get("/sign-in").status_code == 303  # already signed in
    anonymous = httpx.get(f"{ui_url}/models.json")
    assert anonymous.status_code == 401


def test_the_footer_says_the_govml_version_on_every_page(ui_url: str, ui_store: UIStore) -> None:
    http = sign_in(ui_url, ui_store.tokens["carol"])
    for path in ("/models", "/decisions/approval?ref=churn@1", "/queue?version=credit@2"):
        text = http.get(path).text
        assert f"govml {govml.__version__} · every decision" in text, path
        assert "ModelVersion(" not in text, path  # no record printed where the version goes


def test_documents_are_served_sandboxed_and_downloadable(ui_url: str, ui_store: UIStore) -> None:
    http = sign_in(ui_url, ui_store.tokens["vic"])
    view = http.get("/models/credit/documents/model-card.html", params={"version": "1"})
    assert view.status_code == 200
    assert view.headers["content-security-policy"] == DOCUMENT_POLICY
    assert "sandbox" in DOCUMENT_POLICY and "script" not in DOCUMENT_POLICY
    markdown = http.get("/models/credit/documents/audit.md")
    assert markdown.headers["content-disposition"] == 'attachment; filename="audit-credit.md"'
    assert "credit" in markdown.text
    assert http.get("/models/credit/documents/secret.html").status_code == 422


def test_an_entry_is_proven_in_the_request_and_the_ledger_verifies(
    ui_url: str, ui_store: UIStore
) -> None:
    http = sign_in(ui_url, ui_store.tokens["vic"])
    entry = http.get("/audit/entries/3.json").json()
    assert entry["proof"]["verified"] is True
    assert entry["proof"]["leaf_hash"] == entry["entry"]["leaf_hash"]
    assert json.loads(entry["canonical"])["seq"] == 3
    bundle = http.get("/audit/entries/3/proof.json")
    assert bundle.json()["entries"][0]["index"] == 3
    page = http.get("/audit")
    verified = http.post("/audit/verify", data={"csrf_token": csrf_of(page.text)})
    assert verified.status_code == 200 and "Ledger verified" in verified.text
    export = http.get("/audit/export.json", params={"model": "credit"})
    assert export.status_code == 200 and export.json()["bundle"]["entries"]
