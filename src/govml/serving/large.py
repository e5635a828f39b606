"""Large requests answered by a second gateway process that runs at a lower CPU priority.

Decoding, checking and scoring a request of megabytes takes seconds of CPU. In the gateway's
own process it competes with the small requests for the interpreter lock, whatever thread it
runs in. With ``large_process`` on (``govml serve``'s default), a request whose body is larger
than `SMALL_BODY` (or sent without a length) is read by the gateway as before (its limits and
timeouts, its key checked) and then passed, whole, to a second gateway process over a Unix
socket in a private folder; the answer comes back as it is. That process is a replica of the
gateway (the same store, model, alias, options and prediction log, see
`govml.serving.issued`), started at the first large request and niced (``large_nice``,
10 by default) so that the operating system gives the small requests' process the CPU
first and the large requests what is left.

- The second process checks the request's key again, logs what it answers (its own log files,
  in the same folder), and takes the request id the gateway gave the request, so that the
  gateway knows the id and the record count of every answer it relays (``/feedback`` takes
  their labels at once).
- Until it is ready, and whenever it cannot be reached, large requests are answered in the
  gateway's own process as without it; a process that ended is started again at the next large
  request, at most once every ``large_restart_seconds`` (30 s). A request the process took but
  did not answer (it ended meanwhile) is a 503 with ``Retry-After``: it is not scored twice.
- ``/metrics`` adds the second process's counters and histograms to the gateway's own; the
  requests, their durations and every gauge are the gateway's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from govml.serving.http import Headers, Response

if TYPE_CHECKING:
    import httpx

    from govml.serving.options import GatewayOptions

logger = logging.getLogger("govml.serving")

SOCKET_NAME: Final = "gateway.sock"
READY_POLL_SECONDS: Final = 0.5
START_SECONDS: Final = 120.0
"""How long the second process may take to load the model and answer ``/ready``."""
ANSWER_TIMEOUT_SECONDS: Final = 600.0
"""Longest wait for the second process's answer to one large request."""
METRICS_TIMEOUT_SECONDS: Final = 2.0
PARENT_POLL_SECONDS: Final = 1.0
_FORWARDED: Final = (b"authorization", b"content-type", b"content-encoding")
_OWN_HEADERS: Final = frozenset({"content-length", "content-type", "x-request-id", "connection"})


class Unanswered(Exception):
    """The second process took the request but did not answer it."""


class LargeProcess:
    """The second gateway process: started on demand, asked over a Unix socket, stopped last.

    Parameters
    ----------
    options : GatewayOptions
        The gateway's options; the second process gets the same but ``large_process`` and
        ``metrics_auth`` (its socket is reachable only by this user).
    """

    def __init__(self, options: GatewayOptions) -> None:
        self.options = options
        self.folder: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.ready = False
        self._client: httpx.AsyncClient | None = None
        self._starting: asyncio.Task[None] | None = None
        self._last_start = -options.large_restart_seconds

    def wanted(self) -> bool:
        """Start the process if it is not running (and may be started now); True when ready."""
        if self.ready and self.process is not None and self.process.poll() is None:
            return True
        self.ready = False
        if (
            self._starting is None
            and time.monotonic() - self._last_start >= self.options.large_restart_seconds
        ):
            self._last_start = time.monotonic()
            self._starting = asyncio.get_running_loop().create_task(
                self._start(), name="govml-large-process"
            )
        return False

    def describe(self) -> dict[str, Any]:
        """Return the process's id (None when not running), whether it answers, its nice value."""
        running = self.process is not None and self.process.poll() is None
        return {
            "pid": self.process.pid if running and self.process is not None else None,
            "ready": self.ready and running,
            "nice": self.options.large_nice,
        }

    async def relay(
        self, body: bytes, query: bytes, scope_headers: Any, request_id: str
    ) -> Response:
        """Send a request (its body read by the gateway) to the second process; return its answer.

        Raises
        ------
        ConnectionError
            The process could not be reached: nothing was sent, answer the request here.
        Unanswered
            The request was sent but not answered.
        """
        import httpx

        assert self._client is not None
        headers = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope_headers
            if name in _FORWARDED
        }
        headers["x-request-id"] = request_id
        url = "http://gateway/predict" + (f"?{query.decode('latin-1')}" if query else "")
        try:
            answer = await self._client.post(url, content=body, headers=headers)
        except (httpx.ConnectError, FileNotFoundError) as exc:
            self.ready = False
            raise ConnectionError(str(exc)) from exc
        except httpx.ConnectTimeout as exc:  # alive but busy: nothing was sent
            raise ConnectionError(str(exc)) from exc
        except httpx.HTTPError as exc:
            self.ready = False
            raise Unanswered(f"{type(exc).__name__}: {exc}") from exc
        kept: Headers = [
            (name.encode("latin-1"), value.encode("latin-1"))
            for name, value in answer.headers.items()
            if name.lower() not in _OWN_HEADERS
        ]
        content_type = answer.headers.get("content-type", "application/json").encode("latin-1")
        return Response(answer.status_code, answer.content, content_type, kept)

    async def metrics(self) -> bytes | None:
        """Return the second process's ``/metrics``, or None when it is not running."""
        if not self.ready or self._client is None:
            return None
        import httpx

        try:
            answer = await self._client.get(
                "http://gateway/metrics", timeout=METRICS_TIMEOUT_SECONDS
            )
        except httpx.HTTPError:
            return None
        return answer.content if answer.status_code == 200 else None

    async def _start(self) -> None:
        try:
            await self._launch()
        except Exception:
            logger.exception("the large-request process could not be started")
            await self._stop_process()
        finally:
            self._starting = None

    async def _launch(self) -> None:
        import httpx

        await self._stop_process()
        self.folder = Path(tempfile.mkdtemp(prefix="govml-large-"))  # mode 0700
        socket = self.folder / SOCKET_NAME
        own = replace(self.options, large_process=False, metrics_auth=False)
        environ = {**os.environ, **own.to_environment()}
        self.process = subprocess.Popen(  # noqa: S603 - this interpreter, this module
            [
                sys.executable,
                "-m",
                "govml.serving.large",
                str(socket),
                str(self.options.large_nice),
                str(os.getpid()),
            ],
            env=environ,
            stdin=subprocess.DEVNULL,
        )
        transport = httpx.AsyncHTTPTransport(uds=str(socket), retries=0)
        # A connection per request: a process that ended is then a refused connection (the
        # request is answered here), never a kept connection that breaks mid-request.
        self._client = httpx.AsyncClient(
            transport=transport,
            limits=httpx.Limits(max_keepalive_connections=0),
            timeout=httpx.Timeout(ANSWER_TIMEOUT_SECONDS, connect=5.0),
        )
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"it ended with status {self.process.returncode}")
            if socket.exists():
                try:
                    answer = await self._client.get("http://gateway/ready", timeout=5.0)
                except httpx.HTTPError:
                    answer = None
                if answer is not None and answer.status_code == 200:
                    self.ready = True
                    logger.info(
                        "large requests go to process %d (nice %d)",
                        self.process.pid,
                        self.options.large_nice,
                    )
                    return
            await asyncio.sleep(READY_POLL_SECONDS)
        raise RuntimeError(f"it was not ready within {START_SECONDS:.0f} s")

    async def stop(self) -> None:
        """Stop the second process (it writes its log first) and remove its socket's folder."""
        if self._starting is not None:
            self._starting.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._starting
        await self._stop_process()

    async def _stop_process(self) -> None:
        self.ready = False
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()  # uvicorn shuts the gateway down: the log is written
            loop = asyncio.get_running_loop()
            try:
                await asyncio.wait_for(loop.run_in_executor(None, process.wait), 30.0)
            except TimeoutError:
                process.kill()
                await loop.run_in_executor(None, process.wait)
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


def main(argv: list[str]) -> None:
    """Run the second gateway process on the Unix socket ``argv[0]`` at nice ``argv[1]``.

    ``argv[2]`` is the gateway's process id: when the gateway ends without stopping this
    process (it was killed), this process stops itself (writing its log) and removes the
    socket's folder.
    """
    socket, nice, parent = argv[0], int(argv[1]), int(argv[2])
    current = os.getpriority(os.PRIO_PROCESS, 0)
    if nice > current:
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    import signal
    import threading

    from govml.serving.runner import run_gateway

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        logger.warning("the gateway (process %d) ended: stopping", parent)
        shutil.rmtree(Path(socket).parent, ignore_errors=True)  # nobody can reach it now
        os.kill(os.getpid(), signal.SIGTERM)  # uvicorn's shutdown: the log is written

    threading.Thread(target=watch, name="govml-parent-watch", daemon=True).start()
    run_gateway(uds=socket)


if __name__ == "__main__":
    main(sys.argv[1:])
