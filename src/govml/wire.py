"""What the REST API and the remote client agree on: the URL prefix and how errors travel.

An error travels as ``{"error": {"type": "NotFoundError", "message": "...", "hint": ...}}``
with the HTTP status of `status_for`, plus the fields its class carries (``problems`` of a
`PolicyError`, ``missing`` of a `GateError`, ``seq`` of a `LedgerVerificationError`, the
diagnostics of an `InvalidPolicyError`). `error_from_body` rebuilds the same exception class
with the same message on the client, so the CLI prints the same text and exits with the same
code in client mode as in local mode.

Status codes: 401 authentication, 403 permission, 404 not found, 409 a conflict with the
stored state (already exists, a promotion gate, records or ledger that do not verify), 413 a
request body over the server's limit, 422 input that cannot be used (validation, policy,
flavor), 503 the store cannot be reached, 500 anything else (with no details).
"""

from __future__ import annotations

from typing import Any, Final

from govml import errors
from govml.policy.diagnostics import Diagnostic, InvalidPolicyError

API_PREFIX: Final = "/api/v1"
INTERNAL_ERROR: Final = "InternalServerError"

# Most specific classes first: the first match of an exception's class decides.
_STATUS: Final[tuple[tuple[type[errors.GovmlError], int], ...]] = (
    (errors.AuthenticationError, 401),
    (errors.ForbiddenError, 403),
    (errors.NotFoundError, 404),
    (errors.AlreadyExistsError, 409),
    (errors.GateError, 409),
    (errors.IntegrityError, 409),
    (errors.TooLargeError, 413),
    (errors.InputError, 422),
    (errors.FlavorError, 422),
    (errors.SchemaVersionError, 503),
    (errors.StoreError, 503),
    (errors.ConfigurationError, 500),
)

_CLASSES: Final[dict[str, type[errors.GovmlError]]] = {
    cls.__name__: cls
    for cls in vars(errors).values()
    if isinstance(cls, type) and issubclass(cls, errors.GovmlError)
}
_CLASSES[InvalidPolicyError.__name__] = InvalidPolicyError


def status_for(error: errors.GovmlError) -> int:
    """Return the HTTP status that carries ``error``."""
    for cls, status in _STATUS:
        if isinstance(error, cls):
            return status
    return 400


def error_body(error: errors.GovmlError) -> dict[str, Any]:
    """Return the JSON body that carries ``error``."""
    body: dict[str, Any] = {
        "type": type(error).__name__,
        "message": error.message,
        "hint": error.hint,
    }
    if isinstance(error, InvalidPolicyError):
        body["source"] = error.source
        body["errors"] = [d.to_dict() for d in error.errors]
        body["notes"] = [d.to_dict() for d in error.notes]
    if isinstance(error, errors.PolicyError):
        body["problems"] = list(error.problems)
    if isinstance(error, errors.GateError):
        body["missing"] = list(error.missing)
    if isinstance(error, errors.LedgerVerificationError):
        body["seq"] = error.seq
    return {"error": body}


def error_from_body(status: int, body: object) -> errors.GovmlError:
    """Rebuild the exception a server sent (see `error_body`).

    An unknown ``type`` becomes the class `status_for` maps ``status`` from (a plain
    `GovmlError` when none does), so a newer server's errors still read well.
    """
    data = body.get("error") if isinstance(body, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get("message"), str):
        return errors.StoreError(f"the govml server answered HTTP {status} without an error body")
    message: str = data["message"]
    hint = data.get("hint") if isinstance(data.get("hint"), str) else None
    cls = _CLASSES.get(str(data.get("type"))) or _class_for_status(status)
    if cls is InvalidPolicyError:
        return _invalid_policy(data, message)
    if issubclass(cls, errors.GateError):
        return cls(message, missing=_strings(data.get("missing")), hint=hint)
    if issubclass(cls, errors.PolicyError):
        return cls(message, problems=_strings(data.get("problems")), hint=hint)
    if issubclass(cls, errors.LedgerVerificationError):
        seq = data.get("seq")
        return cls(message, seq=seq if isinstance(seq, int) else None, hint=hint)
    return cls(message, hint=hint)


def _class_for_status(status: int) -> type[errors.GovmlError]:
    for cls, mapped in _STATUS:
        if mapped == status:
            return cls
    return errors.GovmlError


def _strings(value: object) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


def _invalid_policy(data: dict[str, Any], message: str) -> errors.GovmlError:
    try:
        found = [Diagnostic(**item) for item in data.get("errors", [])]
        notes = [Diagnostic(**item) for item in data.get("notes", [])]
        return InvalidPolicyError(str(data["source"]), found, notes)
    except (KeyError, TypeError):
        return errors.PolicyError(message, problems=_strings(data.get("problems")))
