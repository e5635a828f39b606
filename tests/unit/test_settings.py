"""Settings from GOVML_* variables and --store."""

from __future__ import annotations

from pathlib import Path

import pytest

from govml.client import settings_for
from govml.errors import ConfigurationError
from govml.settings import load_settings, mask_password


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GOVML_HOME", "GOVML_DATABASE_URL", "GOVML_ARTIFACTS", "GOVML_USER"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.home == Path(".govml")
    assert settings.resolved_database_url() == f"sqlite:///{Path('.govml/govml.db').resolve()}"
    assert settings.resolved_artifacts() == Path(".govml/artifacts").resolve()


def test_postgres_urls_use_psycopg3(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVML_DATABASE_URL", "postgresql://u@h:5432/db")
    assert load_settings().resolved_database_url() == "postgresql+psycopg://u@h:5432/db"


def test_store_option_takes_a_folder_or_a_url(tmp_path: Path) -> None:
    assert settings_for(tmp_path).home == tmp_path
    url = "postgresql://u@h/db"
    assert settings_for(url).database_url == url


def test_bad_scheme_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVML_DATABASE_URL", "oracle://x")
    with pytest.raises(ConfigurationError, match="GOVML_DATABASE_URL: unsupported database"):
        load_settings()


def test_the_store_is_described_with_what_chose_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("GOVML_HOME", "GOVML_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    assert load_settings().describe_store() == (
        f"{tmp_path / '.govml'} (the default: ./.govml; set GOVML_HOME or give --store)"
    )
    assert settings_for(tmp_path / "given").describe_store() == str(tmp_path / "given")
    monkeypatch.setenv("GOVML_HOME", str(tmp_path / "env"))
    assert load_settings().describe_store() == f"{tmp_path / 'env'} (GOVML_HOME)"
    monkeypatch.setenv("GOVML_DATABASE_URL", "postgresql://govml:s3cret@db:5432/govml")
    assert load_settings().describe_store() == (
        "postgresql://govml:***@db:5432/govml (GOVML_DATABASE_URL)"
    )
    assert settings_for("postgresql://u:p@h/db").describe_store() == "postgresql://u:***@h/db"


def test_passwords_are_masked_and_nothing_else_changes() -> None:
    assert mask_password("postgresql://u:p%40ss@h:5432/db?sslmode=require") == (
        "postgresql://u:***@h:5432/db?sslmode=require"
    )
    assert mask_password("postgresql://u@h/db") == "postgresql://u@h/db"
    assert mask_password("sqlite:////tmp/a b/govml.db") == "sqlite:////tmp/a b/govml.db"
