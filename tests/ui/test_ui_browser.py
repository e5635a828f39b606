"""The web UI in a real browser: Debian's Chromium, headless, driven by Playwright.

Against `govml server` on loopback, on SQLite and on PostgreSQL: each role signs in and sees
what it may do; the approval flow from the queue (two approvers, then a deployer promotes); a
self-approval refused on the page with the service's message; the inventory's facets with and
without JavaScript; the audit explorer's verification; a cross-site form and hostile text
doing nothing; and axe-core (``tests/ui/package.json``, injected by the test) finding no
serious or critical accessibility violation on any page.

Set ``GOVML_UI_SCREENSHOTS=FOLDER`` to save a 1280-pixel-wide screenshot of each page checked.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ui.ui_store import SCRIPT, UIStore

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 900}
BLOCKING = ("serious", "critical")

pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file(), reason=f"{CHROMIUM} is absent: install Debian's chromium package"
)
playwright_api = pytest.importorskip("playwright.sync_api", reason="needs govml[pdf] (playwright)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()


def _page(browser: Any, **options: Any) -> Any:
    context = browser.new_context(viewport=VIEWPORT, **options)
    context.set_default_timeout(15_000)
    return context.new_page()


def signed_in(browser: Any, url: str, token: str, **options: Any) -> Any:
    """Return a page of a new browser context, signed in through the form."""
    page = _page(browser, **options)
    page.goto(f"{url}/sign-in")
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/models$"))
    return page


def _heading(page: Any) -> str:
    return str(page.locator("h1").first.inner_text())


def test_each_role_signs_in_and_sees_what_it_may_do(
    browser: Any, ui_url: str, ui_store: UIStore
) -> None:
    expectations = {
        # user: (page, text shown only to those who may act, shown?)
        "alice": ("/people", "Add a person", True),
        "bob": ("/models/credit", "Edit the model card", True),
        "carol": ("/queue", "Your decision", True),
        "erin": ("/queue?version=credit@2", "Approve: it may go to production", True),
        "frank": ("/models/credit/versions", "Promote to production", True),
        "vic": ("/models/credit", "Edit the model card", False),
    }
    for user, (path, text, shown) in expectations.items():
        page = signed_in(browser, ui_url, ui_store.tokens[user])
        assert _heading(page) == "Models"
        assert user in page.locator(".masthead__who").inner_text()
        page.goto(ui_url + path)
        assert (text in page.content()) is shown, (user, path)
        page.context.close()
    vic = signed_in(browser, ui_url, ui_store.tokens["vic"])
    vic.goto(f"{ui_url}/queue?version=credit@2")
    assert vic.locator("input[name=decision]").count() == 0
    assert "Nothing awaits a decision you may take" in vic.content()
    vic.click("text=Sign out")
    vic.wait_for_url(re.compile(r".*/sign-in\?ended=signed-out$"))
    assert "You have signed out" in vic.content()
    vic.goto(f"{ui_url}/models")
    assert "/sign-in" in vic.url
    vic.context.close()


def _approve_from_queue(browser: Any, url: str, token: str, ref: str, comment: str) -> None:
    page = signed_in(browser, url, token)
    page.goto(f"{url}/queue")
    page.click(f"text={ref}")
    page.check("#decision-approve")
    page.fill("#comment", comment)
    page.click("text=Continue")
    assert _heading(page) == "Check your decision before it is recorded"
    assert comment in page.locator(".check-answers").inner_text()
    page.click(f"button:has-text('Approve {ref}')")
    page.wait_for_url(re.compile(r".*done=approved.*"))
    assert f"You approved {ref}" in page.locator(".notice").inner_text()
    page.context.close()


def test_two_approvers_then_a_deployer_promote_from_the_queue(
    browser: Any, ui_url: str, ui_store: UIStore
) -> None:
    _approve_from_queue(browser, ui_url, ui_store.tokens["carol"], "credit@2", "metrics fine")
    _approve_from_queue(browser, ui_url, ui_store.tokens["erin"], "credit@2", "risk accepted")
    page = signed_in(browser, ui_url, ui_store.tokens["frank"])
    page.goto(f"{ui_url}/queue")
    page.click("text=credit@2")
    page.click("a:has-text('Promote to production')")
    assert "The gate of production" in page.content()
    page.fill("#reason", "two approvals, gate passed")
    page.click("text=Continue")
    assert _heading(page) == "Check the promotion before it happens"
    page.click("button:has-text('Promote credit@2 to production')")
    page.wait_for_url(re.compile(r".*/models/credit/versions\?done=promoted.*"))
    row = page.locator("#v2").inner_text()
    assert "production" in row
    page.context.close()
    with ui_store.client("vic") as vic:
        assert vic.get_model("credit").aliases["production"] == 2
        recorded = [(e.actor, e.action) for e in vic.audit_log(model="credit")][-3:]
    assert recorded == [
        ("carol", "version.approved"),
        ("erin", "version.approved"),
        ("frank", "alias.promoted"),
    ]


def test_a_self_approval_is_refused_on_the_page(
    browser: Any, ui_url: str, ui_store: UIStore
) -> None:
    page = signed_in(browser, ui_url, ui_store.tokens["ivan"])
    page.goto(f"{ui_url}/queue?version=churn@1")
    assert "you registered it" in page.content()
    page.goto(f"{ui_url}/decisions/approval?ref=churn@1")
    page.check("#decision-approve")
    page.fill("#comment", "my own work is fine")
    page.click("text=Continue")
    page.click("button:has-text('Approve churn@1')")
    summary = page.locator(".error-summary").inner_text()
    assert "The decision was not recorded" in summary
    assert "separation of duties: ivan registered churn@1 and cannot approve it" in summary
    page.context.close()
    with ui_store.client("vic") as vic:
        assert not [a for a in vic.list_approvals("churn@1") if a.actor == "ivan"]


def _rows(page: Any) -> list[str]:
    return [str(name) for name in page.locator("td.cell-model > a").all_inner_texts()]


def test_inventory_facets_with_and_without_javascript(
    browser: Any, ui_url: str, ui_store: UIStore
) -> None:
    page = signed_in(browser, ui_url, ui_store.tokens["vic"])
    assert _rows(page) == ["churn", "credit", "xss-probe"]
    page.check("#inventory input[name=tier][value=high]")  # htmx swaps the results in
    page.wait_for_url(re.compile(r".*/models\?tier=high$"))
    page.wait_for_function("document.querySelectorAll('td.cell-model > a').length === 1")
    assert _rows(page) == ["credit"]
    page.reload()  # the URL alone gives the same view
    assert _rows(page) == ["credit"]
    page.context.close()
    plain = signed_in(browser, ui_url, ui_store.tokens["vic"], java_script_enabled=False)
    plain.check("input[name=tier][value=limited]")
    plain.click("text=Apply filters")
    plain.wait_for_url(re.compile(r".*tier=limited.*"))
    assert _rows(plain) == ["churn"]
    plain.click("a.chip--filter")  # remove the filter again
    assert _rows(plain) == ["churn", "credit", "xss-probe"]
    plain.click("th >> text=Model")  # sort by name, descending
    assert _rows(plain) == ["xss-probe", "credit", "churn"]
    plain.context.close()


def test_the_audit_explorer_verifies_the_ledger_and_an_entry(
    browser: Any, ui_url: str, ui_store: UIStore
) -> None:
    page = signed_in(browser, ui_url, ui_store.tokens["vic"])
    page.goto(f"{ui_url}/audit?actor=frank")
    page.click("button:has-text('Verify the ledger')")
    page.wait_for_selector("text=Ledger verified")
    assert "Every record above was replayed from the ledger" in page.content()
    page.goto(f"{ui_url}/audit?action=alias.promoted")
    page.locator("table a").last.click()  # the oldest: covered by the signed checkpoint
    assert "Inclusion proof" in page.content()
    assert page.locator("h2 .tag--verified").count() == 1
    assert "its inclusion path of" in page.content()
    page.goto(f"{ui_url}/audit?action=alias.promoted")
    page.locator("table a").first.click()  # the newest: promoted after the last checkpoint
    if page.locator("h2 .tag--verified").count() == 0:
        assert "is not covered by the checkpoint" in page.locator(".notice").inner_text()
    page.context.close()


def test_a_cross_site_form_and_hostile_text_do_nothing(
    browser: Any, ui_url: str, ui_store: UIStore
) -> None:
    page = signed_in(browser, ui_url, ui_store.tokens["carol"])
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    with ui_store.client("vic") as vic:
        before = len(vic.list_approvals("churn@1"))
    page.set_content(
        f'<form id="f" method="post" action="{ui_url}/decisions/approval">'
        '<input name="ref" value="churn@1"><input name="decision" value="approve">'
        '<input name="comment" value="forged"><input name="step" value="confirm">'
        '<input name="csrf_token" value="guessed"></form>'
    )
    with page.expect_navigation():
        page.eval_on_selector("#f", "form => form.submit()")
    assert "/queue" not in page.url
    assert "was not acted on" in page.content() or "/sign-in" in page.url
    with ui_store.client("vic") as vic:
        assert len(vic.list_approvals("churn@1")) == before
    for path in ("/models?q=hostile", "/models/xss-probe", "/models/credit/approvals"):
        page.goto(ui_url + path)
        assert SCRIPT in page.locator("main").inner_text(), path
    assert dialogs == []
    page.context.close()


def _check_page(page: Any, name: str, failures: list[str], folder: Path | None) -> None:
    """Run axe-core on the page; record serious or critical violations; take a screenshot."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    for violation in result["violations"]:
        if violation["impact"] in BLOCKING:
            targets = [node["target"] for node in violation["nodes"]][:3]
            failures.append(f"{name}: {violation['id']} ({violation['impact']}) at {targets}")
    if folder is not None:
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_no_serious_or_critical_accessibility_violation_on_any_page(
    browser: Any, ui_url: str, ui_store: UIStore
) -> None:
    if not AXE.is_file():
        pytest.skip(f"{AXE} is absent: run `npm ci` in tests/ui (the Makefile's install does)")
    if not ui_store.db_url.startswith("sqlite"):
        # The pages are rendered from the same records whatever the backend; the other tests
        # of this module sign in and act on both.
        pytest.skip("accessibility does not depend on the backend")
    shots = os.environ.get("GOVML_UI_SCREENSHOTS")
    folder = Path(shots) if shots else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    anonymous = _page(browser, bypass_csp=True)  # axe is injected as an inline script
    anonymous.goto(f"{ui_url}/sign-in")
    _check_page(anonymous, "sign-in", failures, folder)
    anonymous.context.close()
    pages = {
        "alice": [
            ("models", "/models"),
            ("model-overview", "/models/credit"),
            ("model-versions", "/models/credit/versions"),
            ("model-lineage", "/models/credit/lineage?version=1"),
            ("model-evaluations", "/models/credit/evaluations"),
            ("model-compare", "/models/credit/compare"),
            ("model-approvals", "/models/credit/approvals"),
            ("model-monitoring", "/models/credit/monitoring"),
            ("model-documents", "/models/credit/documents"),
            ("model-ledger", "/models/credit/ledger"),
            ("model-card-edit", "/models/xss-probe/card"),
            ("audit", "/audit"),
            ("audit-entry", "/audit/entries/3"),
            ("policies", "/policies"),
            ("policy", "/policies/gate"),
            ("policy-diff", "/policies/gate/diff"),
            ("people", "/people"),
            ("not-found", "/models/nope"),
            ("decision-rollback", "/decisions/rollback?model=credit"),
        ],
        "carol": [
            ("queue", "/queue?version=churn@1"),
            ("decision-approval", "/decisions/approval?ref=churn@1"),
        ],
        "frank": [("decision-promotion", "/decisions/promotion?ref=churn@1&to=staging")],
    }
    for user, visits in pages.items():
        page = signed_in(browser, ui_url, ui_store.tokens[user], bypass_csp=True)
        for name, path in visits:
            page.goto(ui_url + path)
            _check_page(page, name, failures, folder)
        if user == "carol":  # the check-your-answers step and a form with errors
            page.goto(f"{ui_url}/decisions/approval?ref=churn@1")
            page.click("text=Continue")
            _check_page(page, "decision-errors", failures, folder)
            page.check("#decision-reject")
            page.fill("#comment", "the data are too old")
            page.click("text=Continue")
            _check_page(page, "decision-check-answers", failures, folder)
        if user == "alice":
            page.goto(f"{ui_url}/audit")
            page.click("button:has-text('Verify the ledger')")
            page.wait_for_selector("text=Ledger verified")
            _check_page(page, "audit-verified", failures, folder)
        page.context.close()
    assert not failures, "\n".join(failures)
