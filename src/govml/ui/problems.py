"""Errors as a page shows them: the service's message, its hint and listed items, redacted."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from govml.errors import GovmlError
from govml.wire import error_body, status_for

if TYPE_CHECKING:
    from govml.server.redact import Redactor


def redactor_of(request: Request) -> Redactor:
    """Return the redactor of the UI application (server folders out of messages)."""
    found: Redactor = request.app.state.govml_redactor
    return found


def problem(request: Request, error: GovmlError) -> dict[str, Any]:
    """Return ``message``, ``hint`` and ``items`` (unmet conditions, problems) of ``error``."""
    body = redactor_of(request).body(error_body(error))["error"]
    items = [*body.get("missing", []), *body.get("problems", [])]
    return {"message": body["message"], "hint": body.get("hint"), "items": items}


def status_of(error: GovmlError) -> int:
    """Return the HTTP status a page answering ``error`` has (as the REST API's)."""
    return status_for(error)
