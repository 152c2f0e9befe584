"""The demo page in a real browser: two contexts chat over each transport; hidden tabs rest."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from target_service.serve import ServiceHandle

pytestmark = pytest.mark.slow  # a browser per test: 10-20 s each on a shared machine
TRANSPORTS = ["polling", "dynamic", "long-poll", "sse", "websocket"]
_ids = itertools.count()


async def open_page(browser: Browser, service: ServiceHandle, *, transport: str, channel: str,
                    name: str) -> Page:
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{service.url}/demo?transport={transport}&channel={channel}&name={name}")
    await page.wait_for_function("window.pollcap && window.pollcap.ready")
    return page


async def say(page: Page, text: str) -> None:
    await page.fill("#content", text)
    await page.click("button[type=submit]")


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_two_browsers_exchange_messages(
    browser: Browser, service: ServiceHandle, transport: str
) -> None:
    channel = f"demo-{transport}-{next(_ids)}"
    ann = await open_page(browser, service, transport=transport, channel=channel, name="ann")
    bob = await open_page(browser, service, transport=transport, channel=channel, name="bob")
    await asyncio.sleep(0.5)  # both subscribed (push) or past their first poll
    await say(ann, f"hello from ann over {transport}")
    await expect(bob.locator("#messages li")).to_contain_text(
        [f"hello from ann over {transport}"], timeout=15_000)
    await say(bob, "hi ann")
    await expect(ann.locator("#messages li")).to_contain_text(
        [f"hello from ann over {transport}", "hi ann"], timeout=15_000)
    for page in (ann, bob):
        received: list[dict[str, Any]] = await page.evaluate("window.pollcap.received")
        seqs = [m["seq"] for m in received]
        assert seqs == sorted(set(seqs)), seqs  # each once, in order
        assert await page.locator("#transport").inner_text() == transport
        await page.context.close()


HIDE_JS = """hidden => {
  Object.defineProperty(document, 'hidden', {configurable: true, get: () => hidden});
  Object.defineProperty(document, 'visibilityState', {configurable: true,
                        get: () => hidden ? 'hidden' : 'visible'});
  document.dispatchEvent(new Event('visibilitychange'));
}"""


async def test_hidden_tab_stops_polling(browser: Browser, service: ServiceHandle) -> None:
    """usePolling pauses while the tab is hidden and resumes when it is shown again."""
    page = await open_page(browser, service, transport="polling", channel="demo-hidden",
                           name="cat")
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if "/api/chat/" in r.url else None)
    await asyncio.sleep(4.5)
    visible = len(polls)
    assert visible >= 2, polls  # every 2 s while visible
    await page.evaluate(HIDE_JS, True)
    await asyncio.sleep(0.3)
    before = len(polls)
    await asyncio.sleep(5.0)
    assert len(polls) == before, polls[before:]  # not one poll while hidden
    await page.evaluate(HIDE_JS, False)
    await asyncio.sleep(1.0)
    assert len(polls) > before  # polls at once when shown again
    await page.context.close()
