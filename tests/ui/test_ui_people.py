"""The People pages over real HTTP and in a real browser, on SQLite and PostgreSQL.

An admin adds a person (their first token shown once and working), replaces their roles,
issues and revokes ONE token (the others keep working), revokes all, disables them, through
the same service as ``govml users``: the same refusals with the same message, the same ledger
entries under the admin's name. A non-admin's forged posts are refused and write nothing.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from govml.store.db import Store
from govml.store.schema import ledger_entries
from tests.ui.conftest import csrf_of, sign_in
from tests.ui.ui_store import SCRIPT, UIStore

TOKEN = re.compile(r"<code>(govml_[0-9a-f]{16}_[A-Za-z0-9_-]+)</code>")
CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="module")
def db(ui_store: UIStore) -> Iterator[Store]:
    store = Store(ui_store.db_url)
    yield store
    store.dispose()


def _entries(db: Store, after: int = 0) -> list[tuple[str, str, str, dict[str, Any]]]:
    with db.read() as conn:
        rows = conn.execute(
            sa.select(ledger_entries).where(ledger_entries.c.seq > after).order_by("seq")
        ).all()
    return [(r.actor, r.action, r.subject, json.loads(r.entry)["payload"]) for r in rows]


def _last_seq(db: Store) -> int:
    with db.read() as conn:
        return int(conn.execute(sa.select(sa.func.max(ledger_entries.c.seq))).scalar_one())


def _post(http: httpx.Client, path: str, page: str, **data: Any) -> httpx.Response:
    """POST ``data`` to ``path`` with the CSRF token of the page ``page``."""
    token = csrf_of(http.get(page).text)
    return http.post(path, data={**data, "csrf_token": token})


def test_an_admin_adds_a_person_whose_token_is_shown_once_and_works(
    ui_url: str, ui_store: UIStore, db: Store
) -> None:
    alice = sign_in(ui_url, ui_store.tokens["alice"])
    before = _last_seq(db)
    answer = _post(alice, "/people", "/people", name="nina", role=["viewer", "contributor"])
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    token = TOKEN.search(answer.text).group(1)  # type: ignore[union-attr]
    assert "nina is added" in answer.text
    recorded = _entries(db, before)
    assert [(a, act, s) for a, act, s, _ in recorded] == [
        ("alice", "user.added", "user/nina"),
        ("alice", "token.issued", "user/nina"),
    ]
    assert recorded[0][3]["roles"] == ["viewer", "contributor"]
    assert token not in alice.get("/people/nina").text  # never shown again
    nina = sign_in(ui_url, token)
    assert "nina" in nina.get("/models").text
    again = _post(alice, "/people", "/people", name="NINA", role=["viewer"])
    assert again.status_code == 409
    assert "is the same person as existing user &#39;nina&#39;" in again.text
    bad = _post(alice, "/people", "/people", name=SCRIPT, role=["viewer"])
    assert bad.status_code == 422
    assert "<script>alert" not in bad.text
    none = _post(alice, "/people", "/people", name="nora")
    assert none.status_code == 422 and "give at least one role" in none.text
    assert _last_seq(db) == before + 2


def test_roles_are_replaced_and_a_self_grant_is_refused_with_the_services_message(
    ui_url: str, ui_store: UIStore, db: Store
) -> None:
    alice = sign_in(ui_url, ui_store.tokens["alice"])
    _post(alice, "/people", "/people", name="otto", role=["viewer"])
    before = _last_seq(db)
    answer = _post(alice, "/people/otto/roles", "/people/otto", role=["approver", "viewer"])
    assert answer.status_code == 200, answer.text
    assert "The roles of otto are now: viewer, approver." in answer.text
    assert _entries(db, before) == [
        ("alice", "user.roles_set", "user/otto", {"roles": ["viewer", "approver"]})
    ]
    refused = _post(alice, "/people/alice/roles", "/people/alice", role=["admin", "approver"])
    assert refused.status_code == 403
    assert "alice cannot grant themself approver" in refused.text
    demoted = _post(alice, "/people/alice/roles", "/people/alice", role=["viewer"])
    assert "an admin cannot remove their own admin role" in demoted.text
    unknown = _post(alice, "/people/otto/roles", "/people/otto", role=["aprover"])
    assert unknown.status_code == 422 and "unknown role" in unknown.text
    assert _last_seq(db) == before + 1
    with ui_store.client("vic") as vic:
        assert [r.value for r in vic.get_user("otto").roles] == ["viewer", "approver"]


def test_one_token_is_revoked_and_the_others_keep_working(
    ui_url: str, ui_store: UIStore, db: Store
) -> None:
    alice = sign_in(ui_url, ui_store.tokens["alice"])
    first = TOKEN.search(_post(alice, "/people", "/people", name="pia", role=["viewer"]).text)
    second = TOKEN.search(_post(alice, "/people/pia/tokens", "/people/pia", days="7").text)
    first_token, second_token = first.group(1), second.group(1)  # type: ignore[union-attr]
    first_id = first_token.split("_")[1]
    one, two = sign_in(ui_url, first_token), sign_in(ui_url, second_token)
    path = f"/people/pia/tokens/{first_id}/revoke"
    review = _post(alice, path, "/people/pia", step="review")
    assert f"Revoke token {first_id} of pia?" in review.text
    before = _last_seq(db)
    done = alice.post(path, data={"step": "confirm", "csrf_token": csrf_of(review.text)})
    assert f"Token {first_id} of pia is revoked" in done.text
    assert _entries(db, before) == [("alice", "token.revoked", "user/pia", {"token_id": first_id})]
    assert "ended=revoked" in one.get("/models").headers["location"]
    assert two.get("/models").status_code == 200
    twice = alice.post(path, data={"step": "confirm", "csrf_token": csrf_of(review.text)})
    assert twice.status_code == 409 and "was already revoked" in twice.text
    stranger = _post(alice, "/people/bob/tokens/" + first_id + "/revoke", "/people", step="confirm")
    assert stranger.status_code == 404 and "has no token" in stranger.text
    malformed = _post(alice, "/people/pia/tokens/zz/revoke", "/people", step="confirm")
    assert malformed.status_code == 422
    assert _last_seq(db) == before + 1
    own = _post(
        two,
        f"/people/pia/tokens/{second_token.split('_')[1]}/revoke",
        "/people/pia",
        step="confirm",
    )
    assert own.status_code == 303  # the person revoked the token of this very session
    ended = two.get(own.headers["location"])
    assert "ended=revoked" in ended.headers["location"]


def test_disabling_asks_first_and_ends_every_session(
    ui_url: str, ui_store: UIStore, db: Store
) -> None:
    alice = sign_in(ui_url, ui_store.tokens["alice"])
    token = TOKEN.search(_post(alice, "/people", "/people", name="quinn", role=["viewer"]).text)
    quinn = sign_in(ui_url, token.group(1))  # type: ignore[union-attr]
    review = _post(alice, "/people/quinn/disable", "/people/quinn", step="review")
    assert "Disable quinn?" in review.text
    before = _last_seq(db)
    done = alice.post(
        "/people/quinn/disable", data={"step": "confirm", "csrf_token": csrf_of(review.text)}
    )
    assert "quinn is disabled" in done.text
    actions = [(a, act) for a, act, _s, _p in _entries(db, before)]
    assert actions == [("alice", "token.revoked"), ("alice", "user.disabled")]
    assert "ended=" in quinn.get("/models").headers["location"]
    myself = _post(alice, "/people/alice/disable", "/people/alice", step="confirm")
    assert myself.status_code == 403 and "an admin cannot disable themself" in myself.text


def test_a_non_admins_forged_posts_are_refused_and_write_nothing(
    ui_url: str, ui_store: UIStore, db: Store
) -> None:
    bob = sign_in(ui_url, ui_store.tokens["bob"])
    page = bob.get("/people/carol").text
    assert "Issue a token" not in page and "Save the roles" not in page
    assert "Add a person" not in bob.get("/people").text
    mine = bob.get("/people/bob").text
    assert "Issue a token" in mine and "Save the roles" not in mine
    token = csrf_of(page)
    with db.read() as conn:
        carol_id = conn.execute(
            sa.text(
                "SELECT t.id FROM tokens t JOIN users u ON u.id = t.user_id WHERE u.name = 'carol'"
            )
        ).scalar_one()
    before = _last_seq(db)
    forged = [
        ("/people", {"name": "mallory", "role": "admin"}),
        ("/people/bob/roles", {"role": ["contributor", "approver"]}),
        ("/people/carol/roles", {"role": "viewer"}),
        ("/people/carol/tokens", {"days": "3650"}),
        (f"/people/carol/tokens/{carol_id}/revoke", {"step": "confirm"}),
        ("/people/carol/revoke", {"step": "confirm"}),
        ("/people/carol/disable", {"step": "confirm"}),
    ]
    for path, data in forged:
        answer = bob.post(path, data={**data, "csrf_token": token})
        assert answer.status_code == 403, (path, answer.status_code)
        assert "may not administer policies, users or checkpoints" in answer.text, path
    no_csrf = bob.post("/people/bob/tokens", data={"days": "1"})
    assert no_csrf.status_code == 403 and "was not acted on" in no_csrf.text
    assert _last_seq(db) == before


# -- in a real browser ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium package")
    api = pytest.importorskip("playwright.sync_api", reason="needs govml[pdf] (playwright)")
    with api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        yield launched
        launched.close()


def _signed_in(browser: Any, url: str, token: str) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(f"{url}/sign-in")
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/models$"))
    return page


def _axe(page: Any) -> list[str]:
    if not AXE.is_file():
        pytest.skip(f"{AXE} is absent: run `npm ci` in tests/ui")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']})"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_an_admin_manages_a_person_in_the_browser(
    browser: Any, ui_url: str, ui_store: UIStore
) -> None:
    page = _signed_in(browser, ui_url, ui_store.tokens["alice"])
    page.goto(f"{ui_url}/people")
    assert _axe(page) == []
    page.fill("#name", "rosa")
    page.check("#add-role-contributor")
    page.fill("#add-days", "30")
    page.click("button:has-text('Add the person')")
    secret = page.locator(".secret code").inner_text()
    assert secret.startswith("govml_")
    page.click("a:has-text('rosa')")
    page.check("#role-deployer")
    page.click("button:has-text('Save the roles of rosa')")
    assert "The roles of rosa are now: contributor, deployer." in page.content()
    page.click("button:has-text('Issue a token')")
    assert page.locator(".secret code").count() == 1
    first_id = secret.split("_")[1]
    page.click(f"#token-{first_id} button")
    page.click(f"button:has-text('Revoke token {first_id}')")
    assert f"Token {first_id} of rosa is revoked" in page.content()
    assert "revoked" in page.locator(f"#token-{first_id}").inner_text()
    assert _axe(page) == []
    shots = os.environ.get("GOVML_UI_SCREENSHOTS")
    if shots and ui_store.db_url.startswith("sqlite"):
        Path(shots).mkdir(parents=True, exist_ok=True)
        page.goto(f"{ui_url}/people/rosa")
        page.screenshot(path=str(Path(shots) / "person.png"), full_page=True)
        page.goto(f"{ui_url}/people")
        page.screenshot(path=str(Path(shots) / "people.png"), full_page=True)
    refused = page.goto(f"{ui_url}/people/alice")
    assert refused is not None and refused.status == 200
    page.check("#role-approver")
    page.click("button:has-text('Save the roles of alice')")
    assert "alice cannot grant themself approver" in page.locator(".error-summary").inner_text()
    page.context.close()


def test_one_token_is_revoked_by_id_from_the_cli_locally_and_through_the_server(
    ui_url: str,
    ui_store: UIStore,
    db: Store,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from govml.cli.main import invoke

    with ui_store.client("alice") as alice:
        local, remote, kept = (alice.issue_token("erin", expires_in_days=3) for _ in range(3))
    # on the store directly, as alice
    monkeypatch.setenv("GOVML_DATABASE_URL", ui_store.db_url)
    monkeypatch.setenv("GOVML_USER", "alice")
    store = ["--store", str(ui_store.home)]
    before = _last_seq(db)
    assert invoke([*store, "users", "revoke", "erin", "--token", local.token_id]) == 0
    assert f"revoked token {local.token_id} of erin" in capsys.readouterr().out
    assert _entries(db, before) == [
        ("alice", "token.revoked", "user/erin", {"token_id": local.token_id})
    ]
    assert invoke([*store, "users", "revoke", "erin", "--token", local.token_id]) != 0
    assert "was already revoked" in capsys.readouterr().err
    # through `govml server`, as erin herself with the token that stays
    for name in ("GOVML_DATABASE_URL", "GOVML_USER"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("GOVML_SERVER", ui_url)
    monkeypatch.setenv("GOVML_TOKEN", kept.token)
    argv = ["users", "revoke", "erin", "--token", remote.token_id, "--json"]
    assert invoke(argv) == 0, capsys.readouterr().err
    answer = json.loads(capsys.readouterr().out)
    assert (answer["user"], answer["token_id"]) == ("erin", remote.token_id)
    assert answer["revoked_at"]
    assert _entries(db, before)[-1] == (
        "erin",
        "token.revoked",
        "user/erin",
        {"token_id": remote.token_id},
    )
    api = httpx.Client(base_url=f"{ui_url}/api/v1")
    for issued, status in ((remote, 401), (kept, 200)):
        bearer = {"Authorization": f"Bearer {issued.token}"}
        assert api.get("/whoami", headers=bearer).status_code == status
    assert invoke(["users", "revoke", "erin", "--token", "0000000000000000"]) != 0
    assert "has no token" in capsys.readouterr().err
