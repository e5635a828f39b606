"""The serving gateway (``govml serve``): validated predictions, a prediction log, live versions.

Usage::

    from govml.serving import GatewayOptions, create_app

    app = create_app(GatewayOptions(model="credit", log_dir=Path("predictions")))
    uvicorn.run(app, port=8000)

See :mod:`govml.serving.app` for the endpoints, :mod:`govml.serving.payload` for the request
shapes, :mod:`govml.serving.predlog` for the backpressure rule and
:mod:`govml.serving.logschema` for the Parquet layout.
"""

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
