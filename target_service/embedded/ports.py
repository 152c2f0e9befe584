"""Loopback ports: a free one for a new server, and a check that a chosen one can listen.

The check binds with ``SO_REUSEADDR``, as every server we start does (uvicorn, Valkey,
PostgreSQL): connections of a previous run left in TIME-WAIT do not stop a server from
listening, so they must not make the check answer "in use" either. A port really held
by a listener still fails the bind.
"""

from __future__ import annotations

import socket

from target_service.errors import UserError


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def check_port_free(port: int, *, host: str = "127.0.0.1") -> None:
    """Raise ``UserError`` unless a server could listen on ``host:port`` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            sock.listen(1)
        except OSError as exc:
            raise UserError(
                f"port {port} on {host} is already in use (cannot listen: {exc.strerror})"
            ) from None
