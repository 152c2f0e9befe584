"""Live targets for the description tests: the reference service and the example app."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from target_service.embedded.stack import StackInfo
from target_service.serve import run_service

EXAMPLE_APP = "loadtests.targets.examples.offset_chat:app"
LOSSY_APP = "loadtests.targets.examples.offset_chat:lossy_app"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def reference_host(clean_backends: StackInfo) -> Iterator[str]:
    with run_service(redis_url=clean_backends.redis_url,
                     database_url=clean_backends.database_url) as service:
        yield service.url


@dataclass(frozen=True)
class ExampleService:
    url: str
    pid: int


def serve_example(app: str, *, factory: bool = False) -> Iterator[ExampleService]:
    """An example app under uvicorn (one worker: its state is in-process)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", *(["--factory"] if factory else []), app,
         "--port", str(port), "--log-level", "warning"],
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                urllib.request.urlopen(f"{url}/rooms/x/feed", timeout=1)
            except urllib.error.HTTPError:
                break  # 401: it answers
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the example target did not start") from None
                time.sleep(0.1)
        yield ExampleService(url=url, pid=proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def example_host() -> Iterator[str]:
    """The offset-chat example's URL."""
    for service in serve_example(EXAMPLE_APP):
        yield service.url


@pytest.fixture
def example_service() -> Iterator[ExampleService]:
    """The offset-chat example: URL and PID."""
    yield from serve_example(EXAMPLE_APP)


@pytest.fixture
def lossy_example_host() -> Iterator[str]:
    """The offset-chat example that acknowledges every 4th message and drops it."""
    for service in serve_example(LOSSY_APP, factory=True):
        yield service.url
