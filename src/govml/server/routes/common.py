"""What every router shares: the error responses the OpenAPI spec lists."""

from __future__ import annotations

from typing import Any

from govml.server.schemas import ErrorBody

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing, unknown, expired or revoked token."},
    403: {"model": ErrorBody, "description": "The user's roles do not allow this."},
    404: {"model": ErrorBody, "description": "No such model, version, policy or record."},
    409: {"model": ErrorBody, "description": "Conflicts with the stored state."},
    413: {"model": ErrorBody, "description": "Request body over the server's limit."},
    422: {"model": ErrorBody, "description": "Input that cannot be used."},
}
