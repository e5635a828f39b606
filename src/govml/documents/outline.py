"""The reading form of a document: sections of blocks, rendered as Markdown or HTML.

Every document kind builds a JSON document first (what ``--format json`` prints) and then
an `Outline` of it for people: titled sections holding paragraphs, fields, tables, lists,
figures and *open items* (what govml cannot know and a person must write). One Markdown
renderer and one HTML template serve every kind, so the documents look alike and a value
shown in one format is the value shown in the other.

The HTML page is self-contained: inline style, figures as ``data:`` PNG URIs, nothing from
the network. Jinja2 escapes every value; Markdown table cells escape ``|`` and ``<``.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import jinja2

from govml.reports.markdown import table

TEMPLATE = "document.html.j2"
OPEN = "OPEN"
"""The mark of an item that people must write."""


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of plain text."""

    text: str
    kind: str = "paragraph"


@dataclass(frozen=True)
class Fields:
    """Label / value pairs."""

    rows: Sequence[tuple[str, Any]]
    kind: str = "fields"


@dataclass(frozen=True)
class Table:
    """A table: a header and rows of text cells."""

    header: Sequence[str]
    rows: Sequence[Sequence[Any]]
    caption: str = ""
    kind: str = "table"


@dataclass(frozen=True)
class Bullets:
    """A list of items."""

    items: Sequence[Any]
    kind: str = "bullets"


@dataclass(frozen=True)
class Open:
    """Something govml cannot fill in: a person must write it (and how)."""

    text: str
    kind: str = "open"


@dataclass(frozen=True)
class Figure:
    """A PNG image with a title and caption (Markdown shows the caption only)."""

    title: str
    png: bytes
    caption: str = ""
    kind: str = "figure"

    @property
    def data_uri(self) -> str:
        """The image as a ``data:image/png;base64,...`` URI."""
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


@dataclass(frozen=True)
class Code:
    """Preformatted text (a signed note, a proof)."""

    text: str
    kind: str = "code"


Block = Paragraph | Fields | Table | Bullets | Open | Figure | Code


@dataclass
class Section:
    """A titled part of a document; ``status`` marks Annex IV items (filled, partly, open)."""

    title: str
    blocks: list[Block] = field(default_factory=list)
    subsections: list[Section] = field(default_factory=list)
    status: str | None = None
    anchor: str = ""


@dataclass
class Outline:
    """A whole document for people: a title, facts under it, and sections."""

    title: str
    subtitle: str
    facts: Sequence[tuple[str, Any]]
    sections: list[Section]
    kind: str
    footer: str = ""


# -- Markdown ----------------------------------------------------------------------------------


def render_markdown(outline: Outline) -> str:
    """Return the document as GitHub-flavoured Markdown, ending with one newline."""
    lines = [f"# {_inline(outline.title)}", ""]
    if outline.subtitle:
        lines += [_inline(outline.subtitle), ""]
    if outline.facts:
        lines += [*table(("field", "value"), _cells(outline.facts)), ""]
    for section in outline.sections:
        lines += _section_markdown(section, 2)
    if outline.footer:
        lines += ["---", "", _inline(outline.footer), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _section_markdown(section: Section, level: int) -> list[str]:
    title = _inline(section.title)
    if section.status:
        title += f" — *{section.status}*"
    lines = ["#" * min(level, 6) + " " + title, ""]
    for block in section.blocks:
        lines += _block_markdown(block)
    for sub in section.subsections:
        lines += _section_markdown(sub, level + 1)
    return lines


def _block_markdown(block: Block) -> list[str]:
    if isinstance(block, Paragraph):
        return [_inline(block.text), ""]
    if isinstance(block, Fields):
        return [*(f"- **{_inline(k)}:** {_inline(str(v))}" for k, v in block.rows), ""]
    if isinstance(block, Table):
        lines = [*table(block.header, _cells(block.rows)), ""]
        if block.caption:
            lines += [f"*{_inline(block.caption)}*", ""]
        return lines
    if isinstance(block, Bullets):
        return [*(f"- {_inline(str(item))}" for item in block.items), ""]
    if isinstance(block, Open):
        return [f"> **{OPEN}** — {_inline(block.text)}", ""]
    if isinstance(block, Figure):
        note = f"*Figure: {_inline(block.title)}.* {_inline(block.caption)}".rstrip()
        return [note + " (drawn in the HTML document)", ""]
    return ["```text", block.text.replace("```", "'''"), "```", ""]


def _cells(rows: Sequence[Sequence[Any]]) -> list[list[str]]:
    return [[str(value) for value in row] for row in rows]


def _inline(text: str) -> str:
    """One line of text: newlines folded, ``<`` escaped (it comes from user data)."""
    flat = " ".join(text.split()) if any(c in text for c in "\r\n\t") else text
    return flat.replace("<", "&lt;")


# -- HTML --------------------------------------------------------------------------------------


def render_html(outline: Outline) -> str:
    """Return the document as one self-contained HTML page, ending with one newline."""
    page = _template().render(outline=outline, open_mark=OPEN, flat=_flat(outline.sections))
    return page if page.endswith("\n") else page + "\n"


def _flat(sections: Sequence[Section]) -> list[tuple[int, Section]]:
    """Sections with their depth, for the table of contents; anchors are filled in."""
    out: list[tuple[int, Section]] = []

    def walk(items: Sequence[Section], depth: int, prefix: str) -> None:
        for index, section in enumerate(items, start=1):
            section.anchor = section.anchor or f"s{prefix}{index}"
            out.append((depth, section))
            walk(section.subsections, depth + 1, f"{prefix}{index}-")

    walk(sections, 0, "")
    return out


@functools.cache
def _template() -> jinja2.Template:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("govml.reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return environment.get_template(TEMPLATE)
