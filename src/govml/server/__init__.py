"""``govml server``: the REST API (FastAPI) over the same services as the CLI and the SDK."""

from govml.server.app import create_app
from govml.server.limits import DEFAULT_MAX_UPLOAD_BYTES

__all__ = ["DEFAULT_MAX_UPLOAD_BYTES", "create_app"]
