"""``target_service.embedded.ports``: a port left in TIME-WAIT is free, a listened one is not."""

from __future__ import annotations

import socket

import pytest

from target_service.embedded.ports import check_port_free, free_port
from target_service.errors import UserError


def leave_time_wait() -> int:
    """A port whose last connection the server side closed first: it sits in TIME-WAIT."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = int(listener.getsockname()[1])
        client = socket.create_connection(("127.0.0.1", port))
        conn, _ = listener.accept()
        conn.close()  # the active close: TIME-WAIT is on the server's side, on ``port``
        client.recv(1)  # sees the FIN
        client.close()
    return port


def test_a_port_in_time_wait_is_free_for_a_server() -> None:
    port = leave_time_wait()
    with socket.socket() as plain, pytest.raises(OSError):  # the old check's false alarm
        plain.bind(("127.0.0.1", port))
    check_port_free(port)  # binds as servers do, with SO_REUSEADDR


def test_a_listened_port_is_in_use() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = int(listener.getsockname()[1])
        with pytest.raises(UserError, match=f"port {port} .* already in use"):
            check_port_free(port)


def test_free_port_gives_a_port_that_passes_the_check() -> None:
    check_port_free(free_port())
