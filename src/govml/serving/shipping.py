"""Client mode: the gateway's closed log files go to the server, where monitoring reads them.

A gateway in client mode (``GOVML_SERVER``) writes its prediction log locally as in local mode
(the folder is a spool), and a background thread sends each closed file to the server
(``POST /api/v1/models/{name}/prediction-log``), which checks it and writes it into its own
log. A file sent is marked with a hidden ``.NAME.sent`` file beside it; a file that could not be
sent is tried again at the next round, so nothing is lost while the server is away, and sending
a file twice is harmless (the server takes it once). Local copies are kept: the gateway checks
labels against them, and the operator prunes them.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

logger = logging.getLogger("govml.serving")

Send = Callable[..., Any]  # send(model, path, kind=..., version=...)
_VERSION = re.compile(r"^version=([0-9]+)$")
_DATE = re.compile(r"^date=[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def marker(path: Path) -> Path:
    """Return the file marking ``path`` as sent."""
    return path.with_name(f".{path.name}.sent")


def kind_of(path: Path) -> tuple[str, int | None] | None:
    """Return the kind (and version) of a log file from its partition, or None."""
    day, part = path.parent, path.parent.parent
    if not _DATE.match(day.name):
        return None
    if part.name in ("feedback", "events"):
        return part.name, None
    found = _VERSION.match(part.name)
    return None if found is None else ("predictions", int(found.group(1)))


class LogShipper:
    """Sends the closed files of one model's log to the server, from a background thread.

    Parameters
    ----------
    root : Path
        The local log folder.
    model : str
        The model.
    send : callable
        ``send(model, path, kind=..., version=...)``: the remote client's
        ``send_prediction_log``.
    every : float
        Seconds between rounds.
    on_sent, on_error : callable, optional
        Called with each file sent, and each failure (for the metrics).
    """

    def __init__(
        self,
        root: Path,
        model: str,
        send: Send,
        *,
        every: float,
        on_sent: Callable[[], None] | None = None,
        on_error: Callable[[], None] | None = None,
    ) -> None:
        self.root = root
        self.model = model
        self.send = send
        self.every = every
        self.on_sent = on_sent
        self.on_error = on_error
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def pending(self) -> list[Path]:
        """Return the closed files not sent yet, oldest partition first."""
        base = self.root / f"model={self.model}"
        return sorted(
            path
            for path in base.glob("*/date=*/part-*.parquet")
            if kind_of(path) is not None and not marker(path).exists()
        )

    def ship(self) -> int:
        """Send every pending file; return how many were sent (a failure ends the round)."""
        sent = 0
        with self._lock:
            for path in self.pending():
                found = kind_of(path)
                assert found is not None
                kind, version = found
                try:
                    self.send(self.model, path, kind=kind, version=version)
                except Exception as exc:  # the server may be away: try again next round
                    logger.warning("sending %s to the server failed: %s", path, exc)
                    if self.on_error is not None:
                        self.on_error()
                    break
                marker(path).touch()
                sent += 1
                if self.on_sent is not None:
                    self.on_sent()
        return sent

    def start(self) -> None:
        """Send pending files every ``every`` seconds until `stop`."""
        self._thread = threading.Thread(target=self._run, name="govml-log-shipper", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.ship()

    def stop(self) -> None:
        """Stop the rounds, then send what is left (the log was closed before)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.ship()
