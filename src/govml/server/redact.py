"""Server paths out of answers: the folders a message may name, replaced by their setting.

Errors are written for a person at a terminal, where naming the file is the helpful thing
("cannot read the key file /srv/govml/keys/…"). Sent over HTTP they would tell a client where
the server keeps its database, keys, artifacts and uploads, so the server replaces each folder it
knows by the name of the setting that points to it (``$GOVML_HOME``, ``$GOVML_ARTIFACTS``,
``$TMPDIR``) before an error leaves it. Answers that name a file of the server (the ledger key,
the feedback file labels were written to) name it the same way (`public_path`).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from starlette.requests import Request

_FIELDS = ("message", "hint", "source")
_LISTS = ("problems", "missing")


class Redactor:
    """Replace known server folders in error bodies by a label.

    Parameters
    ----------
    places
        Label and folder pairs, e.g. ``{"$GOVML_HOME": Path("/srv/govml")}``. The root folder
        and relative paths are ignored (replacing them would garble every message).
    """

    def __init__(self, places: Mapping[str, Path]) -> None:
        pairs: dict[str, str] = {}
        for label, folder in places.items():
            for form in _forms(folder):
                pairs.setdefault(form, label)
        # Longest first, so /srv/govml/artifacts wins over /srv/govml.
        ordered = sorted(pairs, key=len, reverse=True)
        self._labels = pairs
        self._pattern = (
            re.compile("|".join(re.escape(path) + r"(?=$|[/\\\s'\":;,)\]])" for path in ordered))
            if ordered
            else None
        )

    def text(self, value: str) -> str:
        """Return ``value`` with every known folder replaced by its label."""
        if self._pattern is None:
            return value
        return self._pattern.sub(lambda match: self._labels[match.group(0)], value)

    def path(self, value: str) -> str:
        """Return a server path as a client may see it: its folder by its label, else its name."""
        text = self.text(value)
        return Path(text).name if Path(text).is_absolute() else text

    def body(self, body: dict[str, Any]) -> dict[str, Any]:
        """Return an error body (``{"error": {...}}``) with its texts redacted."""
        error = dict(body.get("error", {}))
        for key in _FIELDS:
            if isinstance(error.get(key), str):
                error[key] = self.text(error[key])
        for key in _LISTS:
            if isinstance(error.get(key), list):
                error[key] = [self.text(v) if isinstance(v, str) else v for v in error[key]]
        return {**body, "error": error}


def public_path(request: Request, value: str) -> str:
    """Return ``value``, a path on the server, as the answer to ``request`` may name it."""
    redactor: Redactor | None = getattr(request.app.state, "govml_redactor", None)
    if redactor is None:  # an application built without one names no folder at all
        return Path(value).name
    return redactor.path(value)


def server_places(home: Path | None, artifacts: Path) -> dict[str, Path]:
    """Return the folders a server's messages may name, by the setting that points to each."""
    places = {"$GOVML_ARTIFACTS": artifacts, "$TMPDIR": Path(tempfile.gettempdir())}
    if home is not None:
        places["$GOVML_HOME"] = home
    return places


def _forms(folder: Path) -> list[str]:
    """Return the spellings of ``folder`` a message may contain (as given, resolved)."""
    forms = []
    for candidate in (folder, folder.absolute(), folder.resolve()):
        text = os.fspath(candidate).rstrip("/\\")
        if candidate.is_absolute() and text and Path(text).parent != Path(text):
            forms.append(text)
    return forms
