"""The ``govml`` command group: each command is imported when it runs, never before.

`govml --help` lists the commands from their entries (name, one line of help) without
importing any of them, and ``govml versions show`` imports the versions commands only, so
the command line answers as fast as a bare Typer program.

When a command is loaded, its help is made readable: arguments read ``NAME`` (``[NAME]`` when
optional) as click writes them, options without a metavar read ``TEXT``, ``PATH``,
``INTEGER`` or ``NUMBER`` instead of Typer's ``{name}`` and ``<list[str]>``. Each command also
takes the global options (`govml.cli.common.global_options_after`) after its name.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator, MutableMapping, Sequence
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any, get_args

import typer
import typer.main
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from govml.cli.common import global_options_after


@dataclass(frozen=True)
class Entry:
    """A command of the root group: its name, where it is defined, its help."""

    name: str
    target: str
    """``module:attribute``: a Typer app (a group of commands) or a command function."""
    help: str


class ReadableArgument(TyperArgument):
    """An argument shown as ``NAME`` (``[NAME]`` when optional) with no type beside it."""

    def get_usage_pieces(self, ctx: Any) -> list[str]:
        """Return the argument as the usage line shows it."""
        name = self.metavar or (self.name or "").upper()
        shown = name if self.required else f"[{name}]"
        return [shown + ("..." if self.nargs != 1 else "")]

    def display_type_rich(self, ctx: Any) -> str | None:
        """Show no type: the metavar says what to give."""
        return None


class _Commands(MutableMapping[str, Any]):
    """The root's commands by name, each loaded on first access."""

    def __init__(self, entries: Sequence[Entry]) -> None:
        self.entries = {entry.name: entry for entry in entries}
        self.loaded: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self.loaded:
            self.loaded[name] = load(self.entries[name])
        return self.loaded[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self.loaded[name] = command

    def __delitem__(self, name: str) -> None:
        self.loaded.pop(name, None)
        self.entries.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter({**self.entries, **self.loaded})

    def __len__(self) -> int:
        return len({**self.entries, **self.loaded})


class LazyGroup(TyperGroup):
    """A Typer group whose commands are the `entries`, imported when one is used."""

    entries: Sequence[Entry] = ()

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _Commands(self.entries)

    def list_commands(self, ctx: Any) -> list[str]:
        """Return the command names in the order of `entries`, loading none."""
        return list(self.commands)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """List the commands with their one line of help, loading none."""
        width = max(len(entry.name) for entry in self.entries)
        limit = formatter.width - 6 - width
        rows = [(entry.name, _short(entry.help, limit)) for entry in self.entries]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def load(entry: Entry) -> Any:
    """Import the command of ``entry`` and return it as a click command, help made readable."""
    module, _, attribute = entry.target.partition(":")
    found = getattr(import_module(module), attribute)
    holder = typer.Typer(rich_markup_mode=None, add_completion=False)
    if isinstance(found, typer.Typer):
        holder.add_typer(found, name=entry.name, help=entry.help)
    else:
        holder.command(entry.name, help=entry.help)(found)
    command = typer.main.get_group(holder).commands[entry.name]
    readable(command)
    return command


def readable(command: Any) -> None:
    """Give ``command`` and its sub-commands readable metavars and the global options."""
    if isinstance(command, TyperGroup):
        for sub in command.commands.values():
            readable(sub)
        return
    for param in command.params:
        if isinstance(param, TyperArgument):
            param.metavar = param.metavar or (param.name or "").upper()
            param.__class__ = ReadableArgument
        elif isinstance(param, TyperOption) and not (param.metavar or param.is_flag or param.count):
            param.metavar = _metavar(param)
    taken = {opt for param in command.params for opt in getattr(param, "opts", ())}
    command.params.extend(p for p in _global_params() if not set(p.opts) & taken)


_GLOBAL_PARAMS: list[Any] = []


def _global_params() -> list[Any]:
    """Return the hidden ``--store`` and ``--debug`` options a command takes after its name."""
    if not _GLOBAL_PARAMS:
        holder = typer.Typer(add_completion=False)
        holder.command("globals")(global_options_after)
        declared: TyperCommand = typer.main.get_command(holder)  # type: ignore[assignment]
        _GLOBAL_PARAMS.extend(declared.params)
    return _GLOBAL_PARAMS


def _metavar(option: TyperOption) -> str:
    """Return click's conventional metavar for an option's type (of one item, for a list)."""
    described = option.type_descriptor
    annotation = described.annotation
    if described.is_list:
        annotation = next(iter(get_args(annotation)), str)
    if described.is_path or annotation is Path:
        return "PATH"
    return {int: "INTEGER", float: "NUMBER"}.get(annotation, "TEXT")


def _short(text: str, limit: int) -> str:
    """Return the first sentence-line of ``text`` within ``limit`` characters."""
    line = " ".join(text.split())
    return textwrap.shorten(line, width=max(limit, 20), placeholder="...")
