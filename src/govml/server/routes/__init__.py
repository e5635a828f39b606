"""The REST API's routers, one module per area, all under ``/api/v1``."""
