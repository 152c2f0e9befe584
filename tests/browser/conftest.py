"""Headless Chromium (Debian's /usr/bin/chromium, never a downloaded one) and a service.

``.ci/run`` installs chromium with apt-get when it is missing; a machine without it skips
these tests with the reason (a browser cannot be faked).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator

import pytest

from target_service.embedded.stack import StackInfo
from target_service.serve import ServiceHandle, run_service
from tests.conftest import reset_backends

CHROMIUM = os.environ.get("POLLCAP_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def service(stack: StackInfo) -> Iterator[ServiceHandle]:
    reset_backends(stack)
    env = {"POLLCAP_PRESENCE_FLUSH_MS": "100"}
    with run_service(redis_url=stack.redis_url, database_url=stack.database_url, workers=2,
                     ready_timeout_s=120,
                     env=env) as handle:
        yield handle


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        pytest.skip(f"no Chromium at {CHROMIUM} (.ci/run installs it with apt-get)")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        found = await pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                         args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            yield found
        finally:
            await found.close()
