"""Run the gateway built from the environment on uvicorn.

For ``govml serve`` and its large-request process: the gateway's own HTTP protocol (a
deadline for headers), no access log, the gateway's logger.
"""

from __future__ import annotations

import copy
import importlib.util
from typing import Any

FACTORY = "govml.serving.app:app_from_environment"


def run_gateway(**where: Any) -> None:
    """Serve the gateway of the ``GOVML_SERVE_*`` environment until uvicorn is stopped.

    Parameters
    ----------
    **where
        Where uvicorn listens and how many workers: ``host``/``port``/``workers`` or ``uds``.
    """
    import uvicorn

    from govml.serving.protocol import GatewayProtocol

    uvicorn.run(
        FACTORY,
        factory=True,
        loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        http=GatewayProtocol,
        access_log=False,
        log_config=log_config(),
        **where,
    )


def log_config() -> dict[str, Any]:
    """Uvicorn's logging set-up plus the gateway's own logger (switches, load failures)."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["govml.serving"] = {
        "handlers": ["default"],
        "level": "INFO",
        "propagate": False,
    }
    return config
