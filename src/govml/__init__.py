"""govml: executable machine-learning model governance.

>>> import govml
>>> client = govml.connect()          # ./.govml, or GOVML_HOME / GOVML_DATABASE_URL

The names below are imported when first used: ``import govml`` loads nothing else, so the
command line and a script that only needs ``govml.errors`` start at once.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from govml.client import Client, connect
    from govml.client_protocol import GovmlClient
    from govml.domain.records import Model, ModelVersion, RiskTier
    from govml.errors import GovmlError

__all__ = [
    "Client",
    "GovmlClient",
    "GovmlError",
    "Model",
    "ModelVersion",
    "RiskTier",
    "__version__",
    "connect",
]
__version__ = "0.1.0"

_EXPORTS = {
    "Client": "govml.client",
    "connect": "govml.client",
    "GovmlClient": "govml.client_protocol",
    "Model": "govml.domain.records",
    "ModelVersion": "govml.domain.records",
    "RiskTier": "govml.domain.records",
    "GovmlError": "govml.errors",
}


def __getattr__(name: str) -> Any:
    """Import a public name on first use (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'govml' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    """List the public names with the module's own."""
    return sorted({*globals(), *__all__})
