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
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import jinja2
import markupsafe

from govml.reports._format import no_break
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
    """A table: a header and rows of cells, each text or a list of lines.

    A list of lines is one line per item in HTML and items joined with ``;`` in Markdown.
    """

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
    """A whole document for people: a title, facts under it, and sections.

    The HTML page numbers its sections (``7``, ``7.1``) in the contents and the headings
    alike, unless ``numbered`` is False: for documents whose titles carry a numbering of
    their own (Annex IV's items).
    """

    title: str
    subtitle: str
    facts: Sequence[tuple[str, Any]]
    sections: list[Section]
    kind: str
    footer: str = ""
    numbered: bool = True


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
    return [[_cell_text(value) for value in row] for row in rows]


def _cell_text(value: Any) -> str:
    """Return a cell as one line of text (a list of lines joined with semicolons)."""
    if isinstance(value, list | tuple):
        return "; ".join(str(item) for item in value)
    return str(value)


def _inline(text: str) -> str:
    """One line of text: newlines folded, ``<`` escaped (it comes from user data)."""
    flat = " ".join(text.split()) if any(c in text for c in "\r\n\t") else text
    return flat.replace("<", "&lt;")


# -- HTML --------------------------------------------------------------------------------------


def render_html(outline: Outline) -> str:
    """Return the document as one self-contained HTML page, ending with one newline."""
    numbers = _number(outline.sections)
    page = _template().render(
        outline=outline,
        open_mark=OPEN,
        numbers=numbers if outline.numbered else {},
        toc_depth=CONTENTS_DEPTH,
    )
    return page if page.endswith("\n") else page + "\n"


CONTENTS_DEPTH = 2
"""How many levels of sections the HTML contents list (sections and their subsections)."""


def _number(sections: Sequence[Section]) -> dict[str, str]:
    """Fill in every section's anchor; return each anchor's number (``7``, ``7.1``, ...)."""
    numbers: dict[str, str] = {}

    def walk(items: Sequence[Section], prefix: str) -> None:
        for index, section in enumerate(items, start=1):
            number = f"{prefix}{index}"
            section.anchor = section.anchor or "s" + number.replace(".", "-")
            numbers[section.anchor] = number
            walk(section.subsections, f"{number}.")

    walk(sections, "")
    return numbers


@functools.cache
def _template() -> jinja2.Template:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("govml.reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["inline"] = inline_html
    return environment.get_template(TEMPLATE)


def inline_html(value: Any) -> markupsafe.Markup:
    """Return text as HTML: escaped, `code` spans as ``<code>``, digests breakable anywhere.

    Line breaks are kept out of ``≥ 0.8``, ``95 %`` and intervals (`no_break`); a sha256
    digest may break anywhere, so that it never widens a table past the page.
    """
    parts = str(value).split("`")
    if len(parts) % 2 == 0:  # an unpaired backquote is text
        parts = [str(value)]
    return markupsafe.Markup("").join(
        markupsafe.Markup("<code>{}</code>").format(part) if index % 2 else _text_html(part)
        for index, part in enumerate(parts)
    )


_DIGEST = re.compile(r"(sha256:)?[0-9a-f]{64}")


def _text_html(text: str) -> markupsafe.Markup:
    pieces = []
    last = 0
    for match in _DIGEST.finditer(text):
        pieces.append(markupsafe.escape(no_break(text[last : match.start()])))
        pieces.append(markupsafe.Markup('<span class="digest">{}</span>').format(match.group(0)))
        last = match.end()
    pieces.append(markupsafe.escape(no_break(text[last:])))
    return markupsafe.Markup("").join(pieces)
