"""The moderator console in a real browser: Debian's Chromium, driven by Playwright.

Sign in with a token, watch an urgent item arrive without reloading, read it with the rule
matches marked, claim it, message the author, approve it, and see it leave the queue.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.harness import ForumClient, RunningServices, add_moderator, unique_name

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
# No background traffic: this machine's network is closed, and the test needs none of it.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CRISIS = "I've saved up my pills and I'm going to take them all tonight. I can't do this anymore."
WAIT_MS = 45_000
WCAG_AA = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}


async def _accessibility_violations(page: Page) -> str:
    """axe-core's WCAG 2.1 A and AA checks on the page as it is now; empty when there are none."""
    results = await Axe().run(page, options=WCAG_AA)
    return results.generate_snapshot()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    assert CHROMIUM.exists(), "Debian's chromium is missing: `make test` installs it with apt-get"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


async def test_a_moderator_signs_in_sees_an_urgent_post_arrive_claims_messages_and_approves_it(
    services: RunningServices, http: aiohttp.ClientSession, browser: Browser, tmp_path: Path
) -> None:
    name = unique_name(services, "jo")
    moderator = await add_moderator(http, services, name)
    context = await browser.new_context(viewport={"width": 1280, "height": 1000})
    page = await context.new_page()
    await page.goto(f"{services.moderation}/console/")
    await expect(page.get_by_label("Moderator token")).to_be_focused()
    assert await _accessibility_violations(page) == "", "the sign-in page meets WCAG 2.1 AA (axe-core)"

    # Signing in with the keyboard alone.
    await page.get_by_label("Moderator token").fill(moderator.token or "")
    await page.get_by_label("Moderator token").press("Enter")
    await expect(page.locator("#who-name")).to_have_text(name)
    (cookie,) = await context.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert cookie["value"] != moderator.token and moderator.token not in page.url
    assert await page.evaluate("document.cookie") == "", "page scripts cannot read the session"

    await page.evaluate("window.stillTheSamePage = true")
    author = await ForumClient.join(http, services.forum, country="GB")
    status, crisis = await author.request("POST", "/v1/boards/opioids/threads", json={"title": "done", "body": CRISIS})
    assert status == 202
    entry = page.locator(f'#queue [data-item-id="post:{crisis["post_id"]}:1"]')
    await expect(entry).to_be_visible(timeout=WAIT_MS)
    await expect(entry).to_contain_text("URGENT")
    assert await page.evaluate("window.stillTheSamePage") is True, "the item arrived without a reload"

    await entry.focus()
    await page.keyboard.press("Enter")
    await expect(page.locator("#item-heading")).to_contain_text("URGENT")
    await expect(page.locator("#item-body")).to_contain_text("saved up my pills")
    assert await page.locator("#item-body mark").count() >= 1, "the words the rules matched are marked"
    await expect(page.locator("#item-resources")).to_contain_text("116 123")

    await page.get_by_role("button", name="Claim", exact=True).click()
    await expect(page.locator("#item-claim")).to_contain_text("Claimed by you")
    await page.get_by_label("Start from").select_option("check_in")
    await expect(page.get_by_label("Message", exact=True)).to_have_value(re.compile("116 123"))
    await page.get_by_role("button", name="Send message").click()
    await expect(page.locator("#item-status")).to_contain_text("Message to the author: done")
    await expect(page.locator("#item-audit li")).to_have_count(3)
    assert await _accessibility_violations(page) == "", "the queue and item view meet WCAG 2.1 AA (axe-core)"

    screenshot = tmp_path / "console.png"
    await page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 20_000
    if os.environ.get("HAVEN_CONSOLE_SCREENSHOT"):
        shutil.copy(screenshot, os.environ["HAVEN_CONSOLE_SCREENSHOT"])

    await page.get_by_label("Note (shown to the author when a post is removed)").fill("reached out; safe plan agreed")
    await page.get_by_role("button", name="Approve and publish").click()
    await expect(entry).to_have_count(0, timeout=WAIT_MS)
    await expect(page.locator("#item-audit li")).to_have_count(4)
    await expect(page.locator("#item-audit li").last).to_contain_text("approve: reached out; safe plan agreed")
    await context.close()

    status, audit = await moderator.request("GET", f"/v1/mod/audit?post_id={crisis['post_id']}")
    assert [entry["action"] for entry in audit["items"]] == ["view", "claim", "message", "approve"]
