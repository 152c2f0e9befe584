"""A swarm refuses non-loopback hosts unless told otherwise."""

from __future__ import annotations

import pytest

from loadtests.swarm.safety import check_host
from target_service.errors import UserError


@pytest.mark.parametrize(
    "host", ["http://127.0.0.1:8000", "http://localhost", "http://[::1]:80", "https://127.0.0.2"]
)
def test_loopback_is_allowed(host: str) -> None:
    check_host(host, allow_remote=False)


@pytest.mark.parametrize("host", ["http://example.com", "http://10.0.0.5:8000", "http://8.8.8.8"])
def test_remote_needs_allow_remote(host: str) -> None:
    with pytest.raises(UserError, match="allow-remote"):
        check_host(host, allow_remote=False)
    check_host(host, allow_remote=True)


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "ftp://127.0.0.1", ""])
def test_not_a_url(host: str) -> None:
    with pytest.raises(UserError):
        check_host(host, allow_remote=True)
