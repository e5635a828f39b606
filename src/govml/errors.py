"""One error hierarchy for govml.

Every error carries a one-line message meant for a person and an ``exit_code`` that the CLI
uses (`EXIT_CODES`): 1 when a check failed (integrity, verification, a gate), 2 for usage or
input errors, 3 when the caller is not allowed (authentication, permission), 4 when the
store or the server cannot be reached. ``diagnostics()`` returns the text the CLI prints.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Final

EXIT_OK: Final = 0
EXIT_CHECK_FAILED: Final = 1
EXIT_USAGE: Final = 2
EXIT_NOT_ALLOWED: Final = 3
EXIT_UNAVAILABLE: Final = 4
# sysexits.h's EX_SOFTWARE: an internal error, kept apart from the usage errors' 2 so that a
# script can tell "I called it wrong" from "it broke".
EXIT_INTERNAL: Final = 70

EXIT_CODES: Final[tuple[tuple[int, str], ...]] = (
    (EXIT_OK, "success"),
    (EXIT_CHECK_FAILED, "a check failed: policy rule, gate, integrity, monitoring alert"),
    (EXIT_USAGE, "usage or input error: no store, a bad file, an unknown name"),
    (EXIT_NOT_ALLOWED, "not allowed: token missing, expired or revoked; role missing"),
    (EXIT_UNAVAILABLE, "the store or the server cannot be reached, or the port is in use"),
    (EXIT_INTERNAL, "internal error: a bug (rerun with --debug and report it)"),
)
"""Every exit code of the ``govml`` command and what it means."""


class GovmlError(Exception):
    """Base class of every error govml raises on purpose."""

    exit_code: int = EXIT_USAGE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def diagnostics(self) -> str:
        """Return the text shown to a person: the message, then the hint if any."""
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class ConfigurationError(GovmlError):
    """A setting or environment variable is invalid."""


class MissingStoreError(ConfigurationError):
    """There is no govml store where the settings point; only `govml init` creates one."""


class InputError(GovmlError):
    """A file, record or argument given by the user cannot be used."""


class ValidationError(InputError):
    """A value does not satisfy the rules of the field it was given for."""


class TooLargeError(InputError):
    """A request, upload or table is larger than the server accepts (HTTP 413)."""


class PolicyError(InputError):
    """A policy cannot be used: it does not validate, or it conflicts with the policies in force.

    ``problems`` holds one line per problem (``file:line:column: path: message``), and
    ``diagnostics()`` returns them one per line.
    """

    def __init__(
        self, message: str, *, problems: Sequence[str] = (), hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.problems = tuple(problems)

    def diagnostics(self) -> str:
        """Return the problems one per line, or the message when there are none."""
        if not self.problems:
            return super().diagnostics()
        return "\n".join(self.problems)


class NotFoundError(GovmlError):
    """A model, version, alias, dataset or artifact does not exist."""


class AlreadyExistsError(GovmlError):
    """Something with the same identity is already stored."""


class FlavorError(GovmlError):
    """A model cannot be serialised or loaded with the requested flavor."""


class UnsafeArtifactError(FlavorError):
    """An artifact would import or execute code that is not on the trusted list."""

    exit_code = EXIT_CHECK_FAILED


class IntegrityError(GovmlError):
    """Stored bytes or records do not match their recorded digest."""

    exit_code = EXIT_CHECK_FAILED


class LedgerVerificationError(IntegrityError):
    """The ledger does not verify; ``seq`` names the first entry that does not match."""

    def __init__(self, message: str, *, seq: int | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.seq = seq


class SchemaVersionError(GovmlError):
    """The database was created by a newer govml or its schema is unknown."""


class StoreError(GovmlError):
    """The metadata store or the govml server cannot be reached (or is too busy to answer)."""

    exit_code = EXIT_UNAVAILABLE


class PortInUseError(GovmlError):
    """A server cannot listen where it was asked to: the address is taken or not available."""

    exit_code = EXIT_UNAVAILABLE


class AuthenticationError(GovmlError):
    """A token is missing, unknown, expired or revoked (HTTP 401)."""

    exit_code = EXIT_NOT_ALLOWED


class ForbiddenError(GovmlError):
    """The current user is not allowed to do this (HTTP 403)."""

    exit_code = EXIT_NOT_ALLOWED


class GateError(GovmlError):
    """A promotion is refused because a governance condition is not met.

    ``missing`` holds one line per unmet condition.
    """

    exit_code = EXIT_CHECK_FAILED

    def __init__(self, message: str, *, missing: Sequence[str] = (), hint: str | None = None):
        super().__init__(message, hint=hint)
        self.missing = tuple(missing)

    def diagnostics(self) -> str:
        """Return the message, then each unmet condition on its own line."""
        lines = [super().diagnostics(), *(f"  - {item}" for item in self.missing)]
        return "\n".join(lines)


def closest(name: str, choices: Iterable[str]) -> str | None:
    """Return the choice closest to ``name``, or None when nothing is close."""
    matches = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


def did_you_mean(name: str, choices: Iterable[str]) -> str | None:
    """Return a "did you mean 'x'?" hint, or None."""
    match = closest(name, choices)
    return f"did you mean '{match}'?" if match else None
