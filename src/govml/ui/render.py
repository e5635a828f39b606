"""Pages as HTML (Jinja2, autoescaped) or as JSON, and the filters templates use.

Every text that reaches a page goes through Jinja2's autoescaping (``select_autoescape`` is
on for every template, ``.svg`` included), so a name, a card field or a comment holding
``<script>`` is shown as text. Templates never mark stored text ``|safe``.

A page is also available as JSON where that is natural: a path ending in ``.json``, or a
request whose ``Accept`` header asks for ``application/json`` and not for HTML.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

import jinja2
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

import govml
from govml.reports._format import format_number, interval_text

JSON_SUFFIX = ".json"


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """Return the template environment (loaded once per process)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("govml.ui", "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        when=when,
        minute=minute,
        day=day,
        num=num,
        interval=interval,
        digest=short_digest,
        pct=pct,
        size=size,
        breakable=breakable,
    )
    env.globals.update(govml_version=govml.__version__)
    return env


def wants_json(request: Request) -> bool:
    """Return True when the request asks for the page's JSON form."""
    if request.url.path.endswith(JSON_SUFFIX):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def strip_json(segment: str) -> str:
    """Return a path segment without a trailing ``.json``."""
    return segment.removesuffix(JSON_SUFFIX)


def page(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    *,
    data: Any = None,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Render ``template`` with ``context``, or answer ``data`` as JSON when asked for it."""
    if data is not None and wants_json(request):
        return json_response(data, status=status, headers=headers)
    html = (
        environment()
        .get_template(template)
        .render(request=request, viewer=getattr(request.state, "viewer", None), **context)
    )
    return HTMLResponse(html, status_code=status, headers=dict(headers or {}))


def json_response(
    data: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """Return ``data`` as JSON (datetimes as ISO 8601)."""
    body = json.loads(json.dumps(data, default=_plain, ensure_ascii=False))
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


# -- filters ---------------------------------------------------------------------------------


def when(value: datetime | str | None) -> str:
    """Return a moment as ``2026-12-07 03:28 UTC`` (empty for None)."""
    if value is None or value == "":
        return ""
    moment = (
        datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
    )
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def minute(value: datetime | None) -> str:
    """Return a moment as ``2026-12-07 03:28`` in UTC (the column says UTC), empty for None."""
    return "" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def day(value: datetime | None) -> str:
    """Return a moment's date (``2026-12-07``), empty for None."""
    return "" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d")


def num(value: Any) -> str:
    """Return a number for people (4 significant digits, thousands separated); ``–`` for none."""
    if value is None or isinstance(value, bool):
        return "–" if value is None else str(value)
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return str(value)
        return format_number(value)
    return str(value)


def interval(value: Any) -> str:
    """Return a confidence interval as ``[0.175, 0.2235]``; empty when there is none."""
    return "" if not value else interval_text(value)


def breakable(value: Any) -> Markup:
    """Return text (escaped) that may wrap before an ``@`` or after an ``=``, and only there.

    For e-mail addresses and ``key=value`` tags in narrow columns, which would otherwise break
    in the middle of a word.
    """
    parts = re.split(r"(?=@)|(?<==)", str(value))
    return Markup("<wbr>").join(escape(part) for part in parts)


def pct(value: Any) -> str:
    """Return a share as a percentage (``31.9 %``)."""
    if value is None:
        return "–"
    return f"{100 * float(value):.1f} %"


def size(value: Any) -> str:
    """Return a byte count for people (``1.2 MB``)."""
    if value is None:
        return "–"
    count = float(value)
    for unit in ("bytes", "kB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count:,.0f} {unit}" if unit == "bytes" else f"{count:,.1f} {unit}"
        count /= 1000
    return f"{count:,.1f} GB"


def short_digest(value: str | None, length: int = 12) -> str:
    """Return ``sha256:490b40217bbf…`` for a digest (the hex cut to ``length``)."""
    if not value:
        return "–"
    algorithm, _, hexed = value.rpartition(":")
    prefix = f"{algorithm}:" if algorithm else ""
    return f"{prefix}{hexed[:length]}…" if len(hexed) > length else value
