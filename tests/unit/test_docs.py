"""The README documents every CLI command and every setting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer.main

from govml.cli.main import app
from govml.settings import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def _commands(group: Any, prefix: str) -> list[str]:
    found = []
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        if hasattr(command, "commands"):
            found.extend(_commands(command, path))
        else:
            found.append(path)
    return found


def test_every_command_is_in_the_readme() -> None:
    root = typer.main.get_command(app)
    commands = _commands(root, "govml")
    assert len(commands) >= 10
    for command in commands:
        group, _, leaf = command.rpartition(" ")
        assert command in README or (group in README and leaf in README), command


def test_every_setting_is_in_the_readme() -> None:
    for name in Settings.model_fields:
        assert f"GOVML_{name.upper()}" in README, name


def test_readme_starts_with_the_two_commands() -> None:
    head = README.split("\n## ", 1)[0]
    assert "make demo" in head and "make test" in head
