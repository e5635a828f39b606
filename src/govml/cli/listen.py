"""Check that a server can listen where it is asked to, before it says it is serving."""

from __future__ import annotations

import errno
import socket

from govml.errors import PortInUseError

ERR_IN_USE = "port {port} on {host} is in use"
HINT_IN_USE = "stop what listens there, or give another --port"
ERR_CANNOT_LISTEN = "cannot listen on {host}:{port}: {reason}"


def check_can_listen(host: str, port: int) -> None:
    """Raise `PortInUseError` when a server could not listen on ``host:port`` now.

    Binds and closes a socket as the server will (``SO_REUSEADDR``, so a port left in
    ``TIME_WAIT`` by a server that just stopped counts as free).
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise PortInUseError(
            ERR_CANNOT_LISTEN.format(host=host, port=port, reason=exc.strerror)
        ) from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError(
                    ERR_IN_USE.format(port=port, host=host), hint=HINT_IN_USE
                ) from None
            raise PortInUseError(
                ERR_CANNOT_LISTEN.format(host=host, port=port, reason=exc.strerror)
            ) from None
