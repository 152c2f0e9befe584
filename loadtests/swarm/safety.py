"""A swarm is a load generator: it targets loopback unless the user says otherwise."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from target_service.errors import UserError

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(hostname: str) -> bool:
    if hostname.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def check_host(host: str, *, allow_remote: bool) -> None:
    """Raise UserError unless ``host`` is an http(s) URL on loopback (or allow_remote)."""
    url = urlsplit(host)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise UserError(f"--host must be an http(s):// URL, got {host!r}")
    if not allow_remote and not is_loopback(url.hostname):
        raise UserError(
            f"refusing to load {url.hostname}: not a loopback address "
            "(pass --allow-remote if you own that service)"
        )


def check_master_bind(bind_host: str, *, allow_remote: bool) -> None:
    """A Locust master listens on loopback unless the user opens it (``--allow-remote``).

    Workers on other machines need it reachable (``0.0.0.0`` or an interface address);
    that is the user's decision, as for a remote ``--host``.
    """
    if bind_host in ("*", "") or not is_loopback(bind_host):
        if not allow_remote:
            raise UserError(
                f"refusing to open the Locust master on {bind_host or '*'}: not a loopback "
                "address (pass --allow-remote for workers on other machines)"
            )
