"""A hostile user against the web UI over real HTTP (uvicorn on loopback), SQLite and PostgreSQL.

What `test_ui_http` does not already try: markup in every URL parameter and in a policy's YAML
and the ledger's payloads, error pages' headers, forged sign-outs and cross-site simple posts,
a session planted or left behind in the browser, more ways out after sign-in, bodies and
query strings of any size, path traversal in document downloads and static files, a
self-approval posted by hand, and revoking one token by id through the REST API.
"""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import pytest
import sqlalchemy as sa

from govml.store.db import Store
from govml.store.schema import approvals, ledger_entries, tokens, ui_sessions
from govml.ui.headers import CONTENT_SECURITY_POLICY
from govml.ui.limits import MAX_BODY_BYTES
from tests.ui.conftest import csrf_of, sign_in
from tests.ui.ui_store import POLICY, UIStore

HOSTILE = "<script>alert(1)</script>"
Q = quote(HOSTILE, safe="")


@pytest.fixture(scope="module")
def db(ui_store: UIStore) -> Iterator[Store]:
    store = Store(ui_store.db_url)
    yield store
    store.dispose()


def _count(db: Store, table: sa.Table) -> int:
    with db.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def _raw(html: str) -> bool:
    """Return True when hostile markup reached the page unescaped."""
    return "<script>alert" in html or "<img src=x" in html


def test_markup_in_any_url_parameter_is_shown_as_text_and_never_a_500(
    ui_url: str, ui_store: UIStore
) -> None:
    http = sign_in(ui_url, ui_store.tokens["alice"])
    paths = [
        f"/models?q={Q}&tier={Q}&owner={Q}&tag={Q}&stage={Q}&gate={Q}&monitoring={Q}",
        f"/models?sort={Q}",
        f"/queue?version={Q}",
        f"/queue?version=credit@2&done={Q}",
        f"/audit?actor={Q}&model={Q}&action={Q}",
        f"/audit?since={Q}&until={Q}",
        f"/audit/entries/{Q}",
        f"/policies/{Q}",
        f"/policies/gate?version={Q}",
        f"/policies/gate/diff?a={Q}&b={Q}",
        f"/people/{Q}",
        f"/models/credit?version={Q}",
        f"/models/credit/versions?version={Q}",
        f"/models/credit/compare?candidate={Q}&baseline={Q}",
        f"/models/credit/documents?version={Q}",
        f"/models/credit/documents/{Q}.html",
        f"/models/credit/documents/model-card.{Q}",
        f"/models/credit/monitoring?window={Q}",
        f"/models/credit/ledger?page={Q}",
        f"/models/credit/evaluations/{Q}/plots/0.png",
        f"/decisions/approval?ref={Q}",
        f"/decisions/promotion?ref={Q}&to={Q}",
        f"/decisions/rollback?model={Q}",
        f"/{Q}",
        f"/models/{Q}/card",
        f"/static/{Q}",
    ]
    for path in paths:
        answer = http.get(path)
        assert answer.status_code < 500, (path, answer.status_code)
        assert not _raw(answer.text), path
        assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path
    anonymous = httpx.Client(base_url=ui_url)
    for path in (f"/sign-in?next={Q}&ended={Q}", f"/sign-in?next=%22%3E{Q}"):
        answer = anonymous.get(path)
        assert answer.status_code == 200 and not _raw(answer.text), path


def test_error_pages_carry_the_security_headers(ui_url: str, ui_store: UIStore) -> None:
    http = sign_in(ui_url, ui_store.tokens["vic"])
    answers = {
        404: http.get("/models/no-such-model"),
        405: http.put("/models"),
        422: http.get("/audit?since=yesterday"),
        413: http.post("/sign-out", content=b"x" * (MAX_BODY_BYTES + 1)),
        403: http.post("/decisions/approval", data={"ref": "credit@2"}),
    }
    for status, answer in answers.items():
        assert answer.status_code == status, (status, answer.text[:300])
        assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, status
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["content-type"].startswith("text/html")


def test_markup_in_a_policy_and_in_ledger_payloads_is_shown_as_text(
    ui_url: str, ui_store: UIStore, tmp_path: Path
) -> None:
    hostile = POLICY.replace(
        "metadata: {name: gate, owner: risk@example.com}",
        "# <script>alert('yaml')</script>\n"
        'metadata: {name: gate, owner: "<img src=x onerror=alert(1)>", '
        'description: "</textarea><script>alert(2)</script>"}',
    )
    assert hostile != POLICY
    path = tmp_path / "hostile.yaml"
    path.write_text(hostile, encoding="utf-8")
    with ui_store.client("alice") as alice:
        applied = alice.apply_policy(path)
    version = applied.policy.version
    http = sign_in(ui_url, ui_store.tokens["vic"])
    pages = [
        "/policies",
        "/policies/gate",
        f"/policies/gate?version={version}",
        f"/policies/gate/diff?a=1&b={version}",
        "/audit",
        "/audit?actor=alice",
        "/audit?actor=carol",
    ]
    entries = http.get("/audit.json", params={"actor": "carol"}).json()["entries"]
    pages += [f"/audit/entries/{entry['seq']}" for entry in entries]  # a comment with <script>
    for page in pages:
        answer = http.get(page)
        assert answer.status_code == 200, page
        assert not _raw(answer.text), page
    shown = http.get("/policies/gate").text
    assert "&lt;img src=x onerror=" in shown or "&lt;script&gt;" in shown
    entry = http.get(f"/audit/entries/{entries[0]['seq']}").text
    assert "&lt;script&gt;" in entry
    json_form = http.get("/policies.json")
    assert json_form.headers["content-type"] == "application/json"
    assert json_form.headers["x-content-type-options"] == "nosniff"


def test_forged_sign_out_and_cross_site_simple_posts_do_nothing(
    ui_url: str, ui_store: UIStore, db: Store
) -> None:
    http = sign_in(ui_url, ui_store.tokens["carol"])
    token = csrf_of(http.get("/queue").text)
    forged = [
        ("/sign-out", {}, {}),
        ("/sign-out", {"csrf_token": token}, {"Origin": "http://evil.example"}),
        ("/sign-out", {"csrf_token": token}, {"Sec-Fetch-Site": "cross-site"}),
    ]
    for path, data, headers in forged:
        answer = http.post(path, data=data, headers=headers)
        assert answer.status_code == 403, (path, headers)
    assert http.get("/queue").status_code == 200  # still signed in
    before = (_count(db, approvals), _count(db, ledger_entries))
    fields = "ref=churn%401&decision=approve&comment=x&step=confirm&csrf_token=" + token
    simple = http.post(  # a cross-site <form enctype="text/plain"> or fetch without preflight
        "/decisions/approval",
        content=fields,
        headers={"Content-Type": "text/plain", "Origin": "http://evil.example"},
    )
    assert simple.status_code == 403 and "was not acted on" in simple.text
    in_header = http.post(  # the token in htmx's header, but from another origin
        "/decisions/approval",
        data={"ref": "churn@1", "decision": "approve", "comment": "x", "step": "confirm"},
        headers={"X-CSRF-Token": token, "Origin": "https://evil.example"},
    )
    assert in_header.status_code == 403
    assert (_count(db, approvals), _count(db, ledger_entries)) == before


def _session_ids(db: Store) -> set[str]:
    with db.read() as conn:
        return set(conn.execute(sa.select(ui_sessions.c.id_hash)).scalars())


def test_signing_in_again_ends_the_session_the_browser_held(
    ui_url: str, ui_store: UIStore, db: Store
) -> None:
    first = sign_in(ui_url, ui_store.tokens["carol"])
    carol_session = first.cookies["govml_session"]
    carol_hash = hashlib.sha256(carol_session.encode()).hexdigest()
    assert carol_hash in _session_ids(db)
    # the same browser signs in again as someone else: carol's session must not stay alive
    form = first.get("/sign-in?next=/queue", follow_redirects=False)
    assert form.status_code == 303  # already signed in: sent on, no form
    fresh = httpx.Client(base_url=ui_url, follow_redirects=False)
    fresh.cookies.set("govml_session", carol_session)
    fresh.cookies.set("govml_sign_in", "planted")
    answer = fresh.post("/sign-in", data={"csrf_token": "planted", "token": ui_store.tokens["vic"]})
    assert answer.status_code == 303
    assert carol_hash not in _session_ids(db)
    new_id = answer.cookies["govml_session"]
    assert new_id != carol_session
    replay = httpx.Client(base_url=ui_url, follow_redirects=False)
    replay.cookies.set("govml_session", carol_session)
    assert replay.get("/queue").status_code == 303  # the old cookie names nothing any more
    # a cookie an attacker planted is never adopted as a session: a new id is issued
    planted = httpx.Client(base_url=ui_url, follow_redirects=False)
    planted.cookies.set("govml_session", "chosen-by-the-attacker")
    assert planted.get("/models").status_code == 303
    token = csrf_of(planted.get("/sign-in").text)
    signed = planted.post("/sign-in", data={"csrf_token": token, "token": ui_store.tokens["vic"]})
    assert signed.cookies["govml_session"] != "chosen-by-the-attacker"
    planted_hash = hashlib.sha256(b"chosen-by-the-attacker").hexdigest()
    assert planted_hash not in _session_ids(db)


def test_after_sign_in_no_way_leads_to_another_site(ui_url: str, ui_store: UIStore) -> None:
    for given in [
        "//evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "https://evil.example",
        "http:/evil.example",
        "javascript:alert(1)",
        "/\t/evil.example",
        "/\r\nLocation: https://evil.example",
        " //evil.example",
    ]:
        http = httpx.Client(base_url=ui_url, follow_redirects=False)
        token = csrf_of(http.get("/sign-in").text)
        answer = http.post(
            "/sign-in", data={"csrf_token": token, "token": ui_store.tokens["vic"], "next": given}
        )
        location = answer.headers["location"]
        assert location == "/models", (given, location)
        again = http.get("/sign-in", params={"next": given})  # signed in: sent on at once
        assert again.headers["location"] == "/models", given
    for given in ["/%2F%2Fevil.example", "/.//evil.example", "/@evil.example"]:
        http = httpx.Client(base_url=ui_url, follow_redirects=False)
        token = csrf_of(http.get("/sign-in").text)
        answer = http.post(
            "/sign-in", data={"csrf_token": token, "token": ui_store.tokens["vic"], "next": given}
        )
        target = httpx.URL(ui_url).join(answer.headers["location"])
        assert target.host == urlsplit(ui_url).hostname, (given, target)


def test_bodies_over_the_limit_are_refused_before_they_are_read(
    ui_url: str, ui_store: UIStore, db: Store
) -> None:
    anonymous = httpx.Client(base_url=ui_url, follow_redirects=False, timeout=60)
    declared = anonymous.post(
        "/sign-in",
        content=b"token=" + b"x" * (8 * MAX_BODY_BYTES),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert declared.status_code == 413 and "Too large" in declared.text
    assert declared.headers["content-security-policy"] == CONTENT_SECURITY_POLICY

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it is read
        yield b"comment="
        for _ in range(4 * MAX_BODY_BYTES // 65536):
            yield b"x" * 65536

    http = sign_in(ui_url, ui_store.tokens["carol"])
    entries = _count(db, ledger_entries)
    streamed = http.post(
        "/decisions/approval",
        content=chunks(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert streamed.status_code == 413, streamed.text[:300]
    assert "was not read" in streamed.text
    token = csrf_of(http.get("/queue").text)
    long_comment = http.post(
        "/decisions/approval",
        data={"ref": "credit@2", "decision": "reject", "comment": "x" * 100_000, "step": "review"}
        | {"csrf_token": token},
    )
    assert long_comment.status_code == 400 and "characters or fewer" in long_comment.text
    assert _count(db, ledger_entries) == entries


def test_huge_query_strings_are_answered_without_a_500(ui_url: str, ui_store: UIStore) -> None:
    http = sign_in(ui_url, ui_store.tokens["vic"])
    answer = http.get("/models", params={"q": "x" * 60_000})
    assert answer.status_code == 200
    answer = http.get("/audit", params={"actor": "x" * 60_000})
    assert answer.status_code < 500
    host, port = urlsplit(ui_url).hostname, urlsplit(ui_url).port
    assert host is not None and port is not None
    with socket.create_connection((host, port), timeout=30) as raw:
        raw.sendall(b"GET /models?q=" + b"x" * 300_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        status_line = raw.recv(200).split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1.1 4"), status_line  # the HTTP server's own refusal


def test_path_traversal_in_downloads_and_static_files_finds_nothing(
    ui_url: str, ui_store: UIStore
) -> None:
    http = sign_in(ui_url, ui_store.tokens["vic"])
    for path in [
        "/models/credit/documents/..%2F..%2Fetc%2Fpasswd.html",
        "/models/credit/documents/%2e%2e%2f%2e%2e%2fgovml.db.html",
        "/models/credit/documents/model-card.html?version=../../x",
        "/models/credit/documents/datasheet.html?role=../../etc/passwd",
        "/models/..%2f..%2fetc/documents/model-card.html",
        "/static/..%2f..%2fapp.py",
        "/static/%2e%2e/app.py",
        "/static/..%5c..%5capp.py",
        "/audit/checkpoints/..%2f1.note",
    ]:
        answer = http.get(path)
        assert answer.status_code in (400, 404, 422), (path, answer.status_code)
        assert "root:" not in answer.text and "import " not in answer.text, path
        assert answer.headers["content-type"].startswith("text/html"), path


def test_a_self_approval_posted_by_hand_is_refused_with_the_services_message(
    ui_url: str, ui_store: UIStore, db: Store
) -> None:
    http = sign_in(ui_url, ui_store.tokens["ivan"])
    token = csrf_of(http.get("/queue").text)
    before = (_count(db, approvals), _count(db, ledger_entries))
    answer = http.post(
        "/decisions/approval",
        data={"ref": "churn@1", "decision": "approve", "comment": "mine", "step": "confirm"}
        | {"csrf_token": token},
        headers={"Origin": ui_url, "Sec-Fetch-Site": "same-origin"},
    )
    assert answer.status_code == 403
    assert "ivan registered churn@1 and cannot approve it" in answer.text
    assert (_count(db, approvals), _count(db, ledger_entries)) == before


def _live(db: Store, token_id: str) -> bool:
    with db.read() as conn:
        revoked = conn.execute(
            sa.select(tokens.c.revoked_at).where(tokens.c.id == token_id)
        ).scalar_one()
    return revoked is None


def test_one_token_is_revoked_by_id_through_the_rest_api(
    ui_url: str, ui_store: UIStore, db: Store
) -> None:
    admin = {"Authorization": f"Bearer {ui_store.tokens['alice']}"}
    api = httpx.Client(base_url=f"{ui_url}/api/v1", timeout=30)
    issued = api.post("/users/frank/tokens", headers=admin, json={}).json()
    kept = api.post("/users/frank/tokens", headers=admin, json={}).json()
    mine = {"Authorization": f"Bearer {issued['token']}"}
    assert api.get("/whoami", headers=mine).status_code == 200
    # another non-admin may not revoke frank's token; frank may revoke his own
    vic = {"Authorization": f"Bearer {ui_store.tokens['vic']}"}
    refused = api.delete(f"/users/frank/tokens/{issued['token_id']}", headers=vic)
    assert refused.status_code == 403 and _live(db, issued["token_id"])
    answer = api.delete(f"/users/frank/tokens/{issued['token_id']}", headers=admin)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["user"], body["token_id"]) == ("frank", issued["token_id"])
    assert body["revoked_at"]
    assert api.get("/whoami", headers=mine).status_code == 401
    assert api.get("/whoami", headers={"Authorization": f"Bearer {kept['token']}"}).is_success
    again = api.delete(f"/users/frank/tokens/{issued['token_id']}", headers=admin)
    assert again.status_code == 409 and "already revoked" in again.json()["error"]["message"]
    unknown = api.delete("/users/frank/tokens/0000000000000000", headers=admin)
    assert unknown.status_code == 404 and "has no token" in unknown.json()["error"]["message"]
    own = {"Authorization": f"Bearer {kept['token']}"}
    assert api.delete(f"/users/frank/tokens/{kept['token_id']}", headers=own).status_code == 200
    with db.read() as conn:
        last = conn.execute(
            sa.select(ledger_entries).order_by(ledger_entries.c.seq.desc()).limit(1)
        ).one()
    assert (last.actor, last.action, last.subject) == ("frank", "token.revoked", "user/frank")
