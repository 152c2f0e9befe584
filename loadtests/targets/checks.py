"""Checks of ``--target`` and ``--host`` made before a swarm starts (one-line errors).

A broken description, a transport that cannot follow it, and a service that does
not answer at all are each a :class:`~target_service.errors.UserError`, so every
command shows one line and exits 2 instead of starting a swarm that only fails.
"""

from __future__ import annotations

import dataclasses
import socket
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from loadtests.targets.compiled import CompiledTarget, compile_target
from loadtests.targets.description import REFERENCE_PATH
from target_service.errors import UserError

if TYPE_CHECKING:
    from loadtests.clients.options import ScenarioParams

CONNECT_TIMEOUT_S = 3.0


def with_target_path(scenario: ScenarioParams) -> ScenarioParams:
    """The scenario with ``target`` made absolute (Locust runs from the project folder)."""
    if not scenario.target:
        return scenario
    return dataclasses.replace(scenario, target=str(Path(scenario.target).resolve()))


def is_reference(target: str | None) -> bool:
    """Whether ``--target`` names the reference service's own description (or none)."""
    return not target or Path(target).resolve() == REFERENCE_PATH.resolve()


def check_target(target: str | None, *, transport: str = "polling") -> CompiledTarget:
    """Load and compile the description; push transports follow the reference API only."""
    compiled = compile_target(target or None)
    if transport != "polling" and not is_reference(target):
        raise UserError(f"--realtime {transport} follows the reference service's push API "
                        "only; a --target description is polled (--realtime polling)")
    return compiled


def check_reachable(host: str, *, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """A TCP connection to ``host`` opens (else one line: which host, why)."""
    parts = urlsplit(host)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UserError(f"--host {host!r} is not a URL such as http://127.0.0.1:8000")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout_s):
            pass
    except OSError as exc:
        raise UserError(f"cannot reach the service at {host}: {exc.strerror or exc}") from None
