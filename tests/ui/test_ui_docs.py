"""The README documents every setting of the web UI."""

from __future__ import annotations

from pathlib import Path

from govml.ui.settings import UISettings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_every_ui_setting_is_in_the_readme() -> None:
    for name in UISettings.model_fields:
        assert f"GOVML_UI_{name.upper()}" in README, name


def test_every_screenshot_the_readme_links_exists() -> None:
    folder = Path(__file__).resolve().parents[2]
    linked = [part.split(")")[0] for part in README.split("](docs/ui/")[1:]]
    assert len(linked) >= 15
    for name in linked:
        assert (folder / "docs" / "ui" / name).is_file(), name


def test_every_sign_on_setting_is_in_the_readme() -> None:
    from govml.server.oidc import OIDCSettings

    for name in OIDCSettings.model_fields:
        assert f"GOVML_OIDC_{name.upper()}" in README, name
