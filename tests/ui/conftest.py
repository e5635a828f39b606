"""Fixtures of the web UI tests: one store per backend and module, served on loopback."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from govml.server.app import create_app
from govml.server.background import serving
from govml.settings import load_settings
from tests.conftest import BACKENDS, _pg_url
from tests.ui.ui_store import UIStore, build_store

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module", params=BACKENDS)
def ui_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, str]]:
    """A govml home and a fresh database URL, once on SQLite and once on PostgreSQL."""
    home = tmp_path_factory.mktemp("ui") / "home"
    home.mkdir()
    if request.param == "sqlite":
        yield home, f"sqlite:///{home / 'govml.db'}"
        return
    pool = request.getfixturevalue("pg_pool")
    name = pool.take()
    yield home, _pg_url(name)
    pool.give_back(name)


@pytest.fixture(scope="module")
def ui_store(ui_db: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> UIStore:
    """The store of `tests.ui.ui_store`, built once per backend and module."""
    home, url = ui_db
    return build_store(home, url, tmp_path_factory.mktemp("ui-files"))


def make_app(store: UIStore, **ui_env: str) -> FastAPI:
    """Return the `govml server` application of ``store`` (``ui_env``: GOVML_UI_* values)."""
    settings = load_settings(home=store.home, database_url=store.db_url)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in ui_env.items():
            patch.setenv(f"GOVML_UI_{key.upper()}", value)
        return create_app(settings)


@pytest.fixture(scope="module")
def ui_url(ui_store: UIStore) -> Iterator[str]:
    """Base URL of `govml server` for the module's store, on a loopback port."""
    with serving(make_app(ui_store)) as url:
        yield url


def sign_in(base: str, token: str, **client: object) -> httpx.Client:
    """Return an HTTP client signed in to the UI with ``token`` (the form, as a browser)."""
    http = httpx.Client(base_url=base, follow_redirects=False, timeout=30, **client)  # type: ignore[arg-type]
    form = http.get("/sign-in")
    assert form.status_code == 200, form.text
    answer = http.post(
        "/sign-in",
        data={"csrf_token": CSRF_FIELD.search(form.text).group(1), "token": token},  # type: ignore[union-attr]
    )
    assert answer.status_code == 303, answer.text
    return http


def csrf_of(html: str) -> str:
    """Return the CSRF token of the first form of a page."""
    found = CSRF_FIELD.search(html)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)
