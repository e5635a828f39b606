"""The web UI for the people in the loop, served by `govml server` at ``/``.

Server-rendered pages (Jinja2, autoescaped) with progressive enhancement (the vendored htmx
file; every page reads and every action works without JavaScript). Sign-in exchanges a govml
token for a server-side session; every action calls the same services as the CLI and the REST
API, acting as the signed-in person, so permissions, gates and ledger entries are identical.
`create_ui` builds the application (`govml.ui.app`).
"""

from govml.ui.app import create_ui

__all__ = ["create_ui"]
