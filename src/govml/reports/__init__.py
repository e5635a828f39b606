"""Reports of an evaluation: JSON, Markdown, a self-contained HTML page, a terminal table.

An evaluation document (schema ``govml.evaluation/v1``) is what ``govml evaluate``
records; the renderers here read nothing else, plus the evidence artifacts the
evaluation stored for the plots, so any past evaluation can be rendered again::

    from govml.reports import render, report_format

    fmt = report_format("report.html")                   # "json", "md" or "html"
    text = render(document, fmt, evidence=read_artifact)  # read_artifact(name) -> bytes | None
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, get_args

from govml.errors import InputError
from govml.reports._format import reference_groups_of
from govml.reports.html import (
    EVIDENCE_DRIFT,
    EVIDENCE_EXPLANATION,
    EVIDENCE_FAIRNESS,
    render_html,
)
from govml.reports.markdown import render_markdown
from govml.reports.terminal import terminal_table

__all__ = [
    "EVIDENCE_DRIFT",
    "EVIDENCE_EXPLANATION",
    "EVIDENCE_FAIRNESS",
    "FORMATS",
    "SUFFIXES",
    "ReportFormat",
    "render",
    "report_format",
    "terminal_table",
]

ReportFormat = Literal["json", "md", "html"]

FORMATS: tuple[ReportFormat, ...] = get_args(ReportFormat)
"""Valid report formats."""

SUFFIXES: dict[str, ReportFormat] = {
    ".json": "json",
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
}
"""File suffix (lower case) to report format."""

ERR_SUFFIX = "cannot tell the report format of {path}: its suffix must be one of {valid}"
ERR_FORMAT = "invalid report format {fmt!r}; valid formats: {valid}"


def report_format(path: str | os.PathLike[str]) -> ReportFormat:
    """Return the report format a file name asks for, by its suffix (any letter case).

    Parameters
    ----------
    path : str or path-like
        Where the report will be written.

    Returns
    -------
    {"json", "md", "html"}
        ``.json``; ``.md`` or ``.markdown``; ``.html`` or ``.htm``.

    Raises
    ------
    InputError
        When the suffix is none of these; the message names the path and the suffixes.
    """
    suffix = Path(os.fspath(path)).suffix.lower()
    fmt = SUFFIXES.get(suffix)
    if fmt is None:
        valid = ", ".join(SUFFIXES)
        raise InputError(ERR_SUFFIX.format(path=os.fspath(path), valid=valid))
    return fmt


def render(
    document: Mapping[str, Any],
    fmt: ReportFormat,
    *,
    evidence: Callable[[str], bytes | None] | None = None,
) -> str:
    """Render an evaluation document.

    Parameters
    ----------
    document : mapping
        An evaluation document (schema ``govml.evaluation/v1``), JSON-safe.
    fmt : {"json", "md", "html"}
        ``json``: the document itself, indented, keys sorted; ``md``: a Markdown report;
        ``html``: one self-contained HTML page with plots.
    evidence : callable, optional
        Returns the bytes of a stored evidence artifact by name, or None when there is
        none. The HTML report draws its plots from :data:`EVIDENCE_FAIRNESS`,
        :data:`EVIDENCE_EXPLANATION` and :data:`EVIDENCE_DRIFT`, each a JSON document; a
        plot whose evidence is missing is replaced by a one-line note. Both the Markdown
        and the HTML report name the reference group of a ``reference_group`` fairness
        rule from the fairness evidence (else they say "the reference group").

    Returns
    -------
    str
        The report, ending with a newline.

    Raises
    ------
    InputError
        When ``fmt`` is not a valid format.
    """
    if fmt == "json":
        return json.dumps(dict(document), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if fmt == "md":
        return render_markdown(document, reference_groups=_reference_groups(evidence))
    if fmt == "html":
        page = render_html(document, evidence=evidence)
        return page if page.endswith("\n") else page + "\n"
    raise InputError(ERR_FORMAT.format(fmt=fmt, valid=", ".join(FORMATS)))


def _reference_groups(evidence: Callable[[str], bytes | None] | None) -> dict[str, Any]:
    blob = None if evidence is None else evidence(EVIDENCE_FAIRNESS)
    if blob is None:
        return {}
    try:
        data = json.loads(blob)
    except (UnicodeDecodeError, ValueError):
        return {}
    return reference_groups_of(data) if isinstance(data, Mapping) else {}
