"""How documents read: numbered contents, HTML cells, monitoring entries in words."""

from __future__ import annotations

import re
from typing import Any

import pytest

from govml.documents._common import monitoring_text
from govml.documents.outline import (
    Outline,
    Paragraph,
    Section,
    Table,
    inline_html,
    render_html,
    render_markdown,
)

SCRIPT = "<script>alert(1)</script>"


def _outline(*, numbered: bool = True) -> Outline:
    quantitative = Section(
        title="Quantitative analyses",
        subsections=[
            Section(title=f"Part {n}", subsections=[Section(title="Deep")]) for n in (1, 2)
        ],
    )
    sections = [Section(title=f"Section {n}") for n in range(1, 7)]
    sections += [quantitative, Section(title="Ethical considerations")]
    return Outline(
        title="Doc", subtitle="", facts=[], sections=sections, kind="model-card", numbered=numbered
    )


def test_contents_nest_subsections_and_number_them_as_the_headings() -> None:
    page = render_html(_outline())
    nav = page[page.index("<nav") : page.index("</nav>")]
    contents = re.findall(r'<span class="number">([\d.]+)</span> ([^<]+)</a>', nav)
    assert contents[6:] == [
        ("7", "Quantitative analyses"),
        ("7.1", "Part 1"),
        ("7.2", "Part 2"),
        ("8", "Ethical considerations"),
    ]  # two levels: 7.1.1 is in the text, not the contents
    main = page[page.index("<main>") :]
    headings = re.findall(r'<h\d><span class="number">([\d.]+)</span> ([^<]+)', main)
    assert [h for h in headings if h[0] != "7.1.1" and h[0] != "7.2.1"] == contents
    assert ("7.1.1", "Deep") in headings
    assert nav.count("<ol>") == 2  # the list and the one under section 7
    assert 'href="#s7-1"' in nav and 'id="s7-1"' in main


def test_a_document_with_its_own_numbers_is_not_numbered_again() -> None:
    page = render_html(_outline(numbered=False))
    assert 'class="number"' not in page


def test_list_cells_are_lines_in_html_and_joined_in_markdown() -> None:
    outline = Outline(
        title="t",
        subtitle="",
        facts=[],
        kind="ml-test-score",
        sections=[
            Section(title="s", blocks=[Table(header=("a", "b"), rows=[("x", ("one", SCRIPT))])])
        ],
    )
    assert "| x | one; &lt;script>alert(1)&lt;/script> |" in render_markdown(outline)
    html = render_html(outline)
    assert "<td>one<br>&lt;script&gt;alert(1)&lt;/script&gt;</td>" in html
    assert SCRIPT not in html


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            f"run `govml x {SCRIPT}` now",
            "run <code>govml x &lt;script&gt;alert(1)&lt;/script&gt;</code> now",
        ),
        (f"odd ` {SCRIPT}", "odd ` &lt;script&gt;alert(1)&lt;/script&gt;"),
        ("≥ 0.8 [0.1, 0.2]", "≥\u00a00.8 [0.1,\u00a00.2]"),
        (
            "data sha256:" + "ab" * 32 + ".",
            'data <span class="digest">sha256:' + "ab" * 32 + "</span>.",
        ),
    ],
)
def test_inline_html_escapes_and_marks_code_and_digests(text: str, expected: str) -> None:
    assert str(inline_html(text)) == expected


def test_paragraphs_render_code_spans_in_html() -> None:
    outline = Outline(
        title="t", subtitle="", facts=[], kind="datasheet",
        sections=[Section(title="s", blocks=[Paragraph("see `govml report`")])],
    )  # fmt: skip
    assert "<p>see <code>govml report</code></p>" in render_html(outline)


RUN: dict[str, Any] = {
    "run_id": 2,
    "model": "credit",
    "window": {"start": "2026-03-03T00:00:00Z", "end": "2026-03-04T00:00:00Z"},
    "status": "critical",
    "policy": {"name": "watch", "version": 1, "digest": "sha256:" + "a" * 64},
    "versions": [
        {"version": 2, "rows": 600, "labelled": 600, "status": "critical",
         "checks": ["data_drift"], "flagged": ["data_drift:x1", "performance:accuracy"]},
    ],
}  # fmt: skip


@pytest.mark.parametrize(
    ("action", "payload", "expected"),
    [
        (
            "monitoring.run",
            RUN,
            "run 2 on 2026-03-03 00:00 UTC to 2026-03-04 00:00 UTC: critical under policy watch "
            "v1; version 2: 600 rows (600 labelled), critical; flagged data_drift:x1, "
            "performance:accuracy",
        ),
        (
            "monitoring.alert",
            {"run_id": 2, "version": 2, "detail": {"status": "alert", "checks": [
                {"message": "x1: psi 0.4 ≥ alert 0.25"}, {"message": "accuracy 0.6 breaks ≥ 0.75"}
            ]}},
            "run 2: version 2 alert: x1: psi 0.4 ≥ alert 0.25; accuracy 0.6 breaks ≥ 0.75",
        ),
        (
            "monitoring.rollback",
            {"run_id": 2, "version": 2,
             "detail": {"from_version": 2, "to_version": 1, "alias_change": 7}},
            "run 2: production rolled back from version 2 to 1 (alias change 7)",
        ),
        (
            "monitoring.rollback_refused",
            {"run_id": 3, "version": 2, "detail": {"reason": "bob may not deploy"}},
            "run 3: rollback of version 2 refused: bob may not deploy",
        ),
        (
            "monitoring.webhook",
            {"run_id": 2, "version": 2, "detail": {"event": "monitoring.alert", "delivered": False,
             "url": "https://hooks.example/x", "attempts": [{}, {}, {}]}},
            "run 2: monitoring.alert for version 2 not delivered to https://hooks.example/x "
            "(3 attempt(s))",
        ),
        # A payload of an unexpected shape still reads as words, never raises.
        ("monitoring.run", {"run_id": 9, "window": "x", "policy": None, "versions": [7, None]},
         "run 9 on — to —: None under no policy; version None: None rows (None labelled), None; "
         "flagged nothing; version None: None rows (None labelled), None; flagged nothing"),
        ("monitoring.alert", {"detail": [1, 2]}, "run None: version None None: "),
    ],
)  # fmt: skip
def test_monitoring_entries_read_as_words(
    action: str, payload: dict[str, Any], expected: str
) -> None:
    text = monitoring_text(action, payload)
    assert text == expected
    assert "{" not in text and "\\u" not in text
