"""Card field validation and the Markdown / HTML renderers, without a store."""

from __future__ import annotations

import pytest

from govml.documents.fields import FIELD_NAMES, apply_changes, normalise_value
from govml.documents.ml_test_score import _points
from govml.documents.outline import (
    Bullets,
    Fields,
    Open,
    Outline,
    Paragraph,
    Section,
    Table,
    render_html,
    render_markdown,
)
from govml.errors import ValidationError


def test_values_take_the_form_of_their_field() -> None:
    assert normalise_value("intended_use", "  Score loans  ") == "Score loans"
    assert normalise_value("limitations", "one") == ["one"]
    assert normalise_value("ethical_considerations", "Bias | audits") == [
        {"name": "Bias", "mitigation_strategy": "audits"}
    ]
    assert normalise_value("ethical_considerations", [{"name": "Bias"}]) == [
        {"name": "Bias", "mitigation_strategy": ""}
    ]
    with pytest.raises(ValidationError, match="expected text, got int"):
        normalise_value("overview", 3)
    with pytest.raises(ValidationError, match="item 2 must not be empty"):
        normalise_value("limitations", ["a", " "])
    with pytest.raises(ValidationError, match="unknown model card field 'owner'"):
        normalise_value("owner", "x")


def test_changes_keep_the_field_order_and_say_what_changed() -> None:
    fields, changed = apply_changes({"licenses": ["MIT"]}, {"overview": "o"}, ["licenses"])
    assert fields == {"overview": "o"} and changed == ["overview", "licenses"]
    assert list(fields) == [name for name in FIELD_NAMES if name in fields]
    with pytest.raises(ValidationError, match="nothing to change"):
        apply_changes({}, {}, [])
    with pytest.raises(ValidationError, match="both set and unset"):
        apply_changes({}, {"overview": "o"}, ["overview"])


def _outline(text: str) -> Outline:
    return Outline(
        title=f"Doc {text}",
        subtitle="",
        facts=[("who", text)],
        sections=[
            Section(
                title="Part",
                status="open",
                blocks=[
                    Paragraph(text),
                    Fields(rows=[("k", text)]),
                    Table(header=("a", "b"), rows=[(text, 1)]),
                    Bullets(items=[text]),
                    Open("write it"),
                ],
            )
        ],
        kind="test",
    )


def test_user_text_is_escaped_in_markdown_and_html() -> None:
    hostile = "<script>alert(1)</script> | x\nnext"
    markdown = render_markdown(_outline(hostile))
    assert "<script>" not in markdown and "&lt;script>" in markdown
    assert "\\|" in markdown  # in the table cell
    assert "> **OPEN** — write it" in markdown
    html = render_html(_outline(hostile))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert '<span class="status open">open</span>' in html


def test_points_are_written_with_halves() -> None:
    assert [_points(v) for v in (0, 0.5, 1, 3.5)] == ["0", "½", "1", "3½"]
