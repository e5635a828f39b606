"""Documents through the REST API and client mode, and their HTML in a real headless browser.

The browser tests use Debian's Chromium through Playwright (no browser download); they skip,
saying why, when either is missing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.test_documents import Registry

import govml
from govml.documents.pdf import chromium_path
from govml.remote import RemoteClient
from govml.reports import render
from govml.server import create_app
from govml.server.background import serving
from govml.settings import load_settings


@pytest.fixture
def registry(db_url: str, home: Path, tmp_path: Path) -> Iterator[Registry]:
    made = Registry(db_url, home, tmp_path)
    yield made
    made.close()


OVERFLOWING = """() => {
    const page = document.documentElement.clientWidth;
    return [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > page + 1 || e.scrollWidth > e.clientWidth + 1
                 && getComputedStyle(e).overflowX === 'visible' && e.tagName !== 'PRE')
        .map(e => e.tagName + ': ' + e.textContent.slice(0, 60));
}"""
"""Elements wider than the page, or whose text spills out of them (cut off or hidden)."""
LINK_TEXT = "items => items.map(i => i.innerText.replace(/\\s+/g, ' ').trim())"


def _browser_missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install 'govml[pdf]')"
    if chromium_path() is None:
        return "no Chromium executable (apt-get install chromium, or `make install`)"
    return None


def test_client_mode_reads_documents_and_writes_card_fields(registry: Registry) -> None:
    # Issued on the real clock: the server checks a token's lifetime against the time now,
    # not against the registry's fixed clock.
    with govml.connect(registry.home, database_url=registry.db_url, user="alice") as alice:
        token = alice.issue_token("bob").token
    settings = load_settings(home=registry.home, database_url=registry.db_url)
    with serving(create_app(settings)) as url:
        remote = RemoteClient(load_settings(server=url, token=token))
        try:
            local = registry["bob"].report("model-card", "credit@1", format="json")
            over_http = remote.report("model-card", "credit@1", format="json")
            assert isinstance(local, str) and isinstance(over_http, str)
            ours, theirs = json.loads(local), json.loads(over_http)
            ours["provenance"].pop("generated_at")
            theirs["provenance"].pop("generated_at")
            assert ours == theirs
            markdown = remote.report("datasheet", "credit@1:train")
            assert isinstance(markdown, str) and markdown.startswith("# Datasheet: sha256:")
            changed = remote.set_model_card_fields("credit", {"overview": "A scorecard"})
            assert changed.revision == 3 and changed.actor == "bob"
            assert remote.model_card_fields("credit").fields["overview"] == "A scorecard"
            assert [c.revision for c in remote.model_card_history("credit")] == [1, 2, 3]
            from govml.errors import NotFoundError

            with pytest.raises(NotFoundError, match="model 'nope' does not exist"):
                remote.report("audit", "nope")
        finally:
            remote.close()


def test_html_documents_render_in_a_headless_browser(
    registry: Registry, db_url: str, tmp_path: Path
) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("rendering does not depend on the backend")
    problem = _browser_missing()
    if problem:
        pytest.skip(problem)
    from playwright.sync_api import sync_playwright

    bob = registry["bob"]
    pages = {
        kind: bob.report(kind, ref, format="html")
        for kind, ref in [
            ("model-card", "credit@1"),
            ("annex-iv", "credit@1"),
            ("audit", "credit"),
            ("ml-test-score", "credit"),
            ("datasheet", "credit@1:train"),
        ]
    }
    evaluation = bob.get_evaluation(registry.evaluation.id)
    report = render(
        evaluation.document,
        "html",
        evidence=lambda name: bob.evaluation_evidence(evaluation, name),
    )
    requests: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium_path()), args=["--no-sandbox"]
        )
        try:
            page = browser.new_page()
            page.on("request", lambda request: requests.append(request.url))
            page.set_viewport_size({"width": 1280, "height": 900})
            for kind, html in pages.items():
                assert isinstance(html, str)
                path = tmp_path / f"{kind}.html"
                path.write_text(html, encoding="utf-8")
                page.goto(path.as_uri())
                assert page.evaluate(OVERFLOWING) == [], kind
                assert page.locator("meta[name=govml-document]").get_attribute("content") == kind
                assert page.locator("h1").count() == 1
                sizes = page.eval_on_selector_all(
                    "img", "imgs => imgs.map(i => [i.complete, i.naturalWidth])"
                )
                assert all(done and width > 0 for done, width in sizes), kind
                if kind == "model-card":
                    assert len(sizes) == 3  # sex, region, sex × region
                    text = page.inner_text("body")
                    assert "Intersectional results" in text and "sex=F, region=north" in text
                    contents = page.eval_on_selector_all("nav a", LINK_TEXT)
                    headings = page.eval_on_selector_all("main h2, main h3", LINK_TEXT)
                    assert contents == headings  # same numbers, same titles, same order
                    assert contents[6:9] == [
                        "7 Quantitative analyses",
                        "7.1 Overall",
                        "7.2 Disparities between groups",
                    ]
                    assert contents[-4:] == [
                        "8 Ethical considerations",
                        "9 Human oversight and data retention",
                        "10 Model risk: retirement, risk register and change tickets",
                        "11 Caveats and recommendations",
                    ]
                if kind == "annex-iv":
                    assert page.locator("span.status.open").count() >= 2
                    titles = page.eval_on_selector_all("nav > ol > li > a", LINK_TEXT)
                    assert titles[0] == "1. General description of the AI system"  # its own numbers
            path = tmp_path / "evaluation.html"
            path.write_text(report, encoding="utf-8")
            page.goto(path.as_uri())
            assert page.evaluate(OVERFLOWING) == []
            wrapped = page.eval_on_selector_all(
                "td.check code", "codes => codes.map(c => c.innerHTML)"
            )
            assert "demographic_parity_ratio:<wbr>sex*<wbr>region" in wrapped
            pdf = browser.new_page()
            pdf.set_content(str(pages["ml-test-score"]))
            assert pdf.pdf()[:5] == b"%PDF-"
        finally:
            browser.close()
    assert all(url.startswith(("file:", "data:")) for url in requests), requests
    printed = bob.report("ml-test-score", "credit", format="pdf")
    assert isinstance(printed, bytes) and printed.startswith(b"%PDF-")
