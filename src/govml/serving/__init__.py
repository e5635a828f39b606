"""The serving gateway (``govml serve``): validated predictions, a prediction log, live versions.

Usage::

    from govml.serving import GatewayOptions, create_app

    app = create_app(GatewayOptions(model="credit", log_dir=Path("predictions")))
    uvicorn.run(app, port=8000)

See :mod:`govml.serving.app` for the endpoints, :mod:`govml.serving.keys` for the gateway's
keys, :mod:`govml.serving.payload` for the request shapes, :mod:`govml.serving.predlog` for
the backpressure rule and :mod:`govml.serving.logschema` for the Parquet layout.

The names below are imported when first used, so that the CLI and the key records
(:mod:`govml.serving.keys`) do not load numpy, pandas and the model flavors.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from govml.serving.app import Gateway, app_from_environment, create_app
    from govml.serving.options import GatewayOptions
    from govml.serving.source import ClientSource, RegistrySource

__all__ = [
    "ClientSource",
    "Gateway",
    "GatewayOptions",
    "RegistrySource",
    "app_from_environment",
    "create_app",
]

_HOMES = {
    "ClientSource": "govml.serving.source",
    "Gateway": "govml.serving.app",
    "GatewayOptions": "govml.serving.options",
    "RegistrySource": "govml.serving.source",
    "app_from_environment": "govml.serving.app",
    "create_app": "govml.serving.app",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'govml.serving' has no attribute {name!r}")
    return getattr(import_module(home), name)
