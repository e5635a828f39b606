"""Which types a model artifact may import: the built-in allowlist, and who may extend it.

A skops artifact names every type it is rebuilt from. The sklearn flavor loads it only when
each type is on the built-in allowlist (:data:`govml.flavors.sklearn.TRUSTED_TYPES` and
:data:`~govml.flavors.sklearn.GOVML_TYPES`) or was trusted by someone who may decide it:

* the *operator*: ``GOVML_TRUSTED_TYPES`` of the process that loads the artifact (the
  server, the gateway, a local command);
* the *registrant*, in local mode only: the types a caller passes explicitly
  (``SklearnFlavor(trusted=...)``, ``client.register_version(..., trusted=[...])``,
  ``govml versions register --trust TYPE``).

Nothing stored with a version or uploaded with it grants trust: a version's flavor option
``trusted`` records which extra types its artifact needs (and ``trusted_by`` who allowed each
when it was registered), so that policies and people can see them.

Names that would let an artifact run code (``builtins.eval``, ``os.system``,
``subprocess.*``, ...: the pickle scanner's deny list) cannot be trusted by anyone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Literal

__all__ = [
    "ERR_DANGEROUS",
    "ERR_NAME",
    "ERR_SERVER_TRUST",
    "OPERATOR",
    "REGISTRANT",
    "GrantedBy",
    "TrustError",
    "check_type_names",
    "granted_by",
    "parse_type_list",
    "recorded_types",
]

OPERATOR = "operator"
"""``trusted_by`` value: the type is in ``GOVML_TRUSTED_TYPES``."""
REGISTRANT = "registrant"
"""``trusted_by`` value: the registrant trusted the type explicitly, in local mode."""
GrantedBy = Literal["operator", "registrant"]

# module.Qualified.Name: identifiers separated by dots, at least one dot (a bare name would
# be a module, and a pattern would trust types nobody reviewed).
_TYPE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
ERR_NAME = (
    "{name!r} is not a dotted type name (module.Class, e.g. mypackage.features.Encoder); "
    "patterns and bare modules cannot be trusted"
)
ERR_DANGEROUS = (
    "{name} lets an artifact run code, read files or reach the network; it cannot be trusted"
)


ERR_SERVER_TRUST = (
    "types to trust cannot be granted by a client of a govml server: the server's operator "
    "allows reviewed types with GOVML_TRUSTED_TYPES"
)


class TrustError(ValueError):
    """A type name that is malformed or must never be trusted."""


def check_type_names(names: Iterable[str]) -> frozenset[str]:
    """Validate type names to trust and return them as a set.

    Parameters
    ----------
    names : iterable of str
        Dotted type names, e.g. ``mypackage.features.Encoder``.

    Returns
    -------
    frozenset of str
        The names, stripped of surrounding blanks.

    Raises
    ------
    TrustError
        For a name that is not a dotted identifier, or one the pickle scanner classifies
        as dangerous (it could run code when the artifact is loaded or used).
    """
    if isinstance(names, str):
        raise TrustError("give a list of type names, not one string")
    checked: set[str] = set()
    for raw in names:
        if not isinstance(raw, str):
            raise TrustError(f"type names must be strings, not {type(raw).__name__}")
        name = raw.strip()
        if not _TYPE_NAME.fullmatch(name):
            raise TrustError(ERR_NAME.format(name=raw))
        if _dangerous(name):
            raise TrustError(ERR_DANGEROUS.format(name=name))
        checked.add(name)
    return frozenset(checked)


def parse_type_list(text: str) -> frozenset[str]:
    """Parse a comma-separated list of type names (``GOVML_TRUSTED_TYPES``).

    Parameters
    ----------
    text : str
        ``a.B, c.d.E``; blanks around names and empty items are ignored.

    Returns
    -------
    frozenset of str
        The validated names.

    Raises
    ------
    TrustError
        As :func:`check_type_names`.
    """
    return check_type_names(item for item in text.split(",") if item.strip())


def granted_by(
    needed: Iterable[str], *, operator: frozenset[str], registrant: frozenset[str]
) -> dict[str, GrantedBy]:
    """Say who allowed each extra type a version relies on.

    Parameters
    ----------
    needed : iterable of str
        Types beyond the built-in allowlist that the artifact imports.
    operator : frozenset of str
        ``GOVML_TRUSTED_TYPES`` of the registering process.
    registrant : frozenset of str
        Types the registrant trusted explicitly (local mode).

    Returns
    -------
    dict
        ``{type: "operator" | "registrant"}``; the operator wins when both allowed it.

    Raises
    ------
    TrustError
        When a type was allowed by neither (callers check before, so this is a bug guard).
    """
    decided: dict[str, GrantedBy] = {}
    for name in sorted(needed):
        if name in operator:
            decided[name] = "operator"
        elif name in registrant:
            decided[name] = "registrant"
        else:
            raise TrustError(f"{name} was trusted by nobody")
    return decided


def recorded_types(options: Mapping[str, object]) -> list[str]:
    """Return the extra types a version's flavor options record (``trusted``), or [].

    Parameters
    ----------
    options : Mapping
        A version's flavor options.

    Returns
    -------
    list of str
        The recorded names; anything malformed is ignored, since the record grants nothing.
    """
    value = options.get("trusted")
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, str)]


def _dangerous(name: str) -> bool:
    # Imported here: the scanner pulls in numpy, and settings are read by every command.
    from govml.checks.security.pickle_scan import classify_import

    module, _, attribute = name.rpartition(".")
    return classify_import(module, attribute) == "dangerous"
