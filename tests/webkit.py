"""The web page's tests: vmbox running as `vmbox serve` runs it (REST API with the page, FastAGI,
store) on ephemeral loopback ports, a fresh browser context on it per test, and phone calls placed
with `vmbox call`.

Everything runs in the session's event loop, the browser's (tests/conftest.py): a test module says
so with `pytestmark = WEB`, and its async fixtures with `@web_fixture`.
"""

import asyncio
import re
import sys
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, expect

from ivr.config import IvrSettings
from tests.callkit import System, settings_for, start
from tests.conftest import Reply, make_tone

WEB = pytest.mark.asyncio(loop_scope="session")
web_fixture = pytest_asyncio.fixture(loop_scope="session")

SCREENSHOTS = Path(__file__).resolve().parent / "web" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
PIN = "1357"
ZONE = "America/New_York"
# A fixed time to leave messages at, so that the screenshots stay the same from run to run (the
# fixture keeps messages for a century).
LEFT_AT = int(datetime(2026, 11, 26, 19, 31, 18, tzinfo=UTC).timestamp())

# `vmbox` run as a module of the checkout under test (the current directory), whichever checkout
# the environment's installed `vmbox` script belongs to.
VMBOX = [sys.executable, "-m", "ivr.cli"]


@dataclass
class Web:
    system: System
    context: BrowserContext
    page: Page
    box: dict  # the box the tests log in to (mailbox 3000, PIN 1357)
    audio_dir: Path

    @property
    def base(self) -> str:
        return self.system.api.base

    async def fetch(self, path: str, headers: dict | None = None) -> Reply:
        """A GET of `path` (from the root) without a token, as a browser's first visit."""
        async with self.system.api.session.get(self.base + path, headers=headers) as response:
            return Reply(response.status, await response.read(), response.headers.copy())

    async def open(self) -> Page:
        """The page, loaded, its script ready, showing the login form."""
        await self.page.goto(self.base + "/")
        # Focused once the page's script has asked who the cookie is and shown the form.
        await expect(self.page.get_by_label("Mailbox", exact=True)).to_be_focused()
        return self.page

    async def log_in(self, mailbox: str = "3000", pin: str = PIN) -> Page:
        page = await self.open()
        await page.get_by_label("Mailbox", exact=True).fill(mailbox)
        await page.get_by_label("PIN", exact=True).fill(pin)
        await page.get_by_role("button", name="Log in", exact=True).click()
        return page

    async def message(self, seconds: float, caller: tuple[str, str], **metadata) -> dict:
        """A message of `seconds` of tone in the box, left through the API."""
        audio = make_tone(self.audio_dir, seconds, f"message-{seconds}.wav")
        name, number = caller
        return await self.system.api.create_message(
            self.box["id"], audio, caller_id_name=name, caller_id_number=number, **metadata
        )

    async def call(self, *args: str) -> str:
        """What `vmbox call` printed for a call to this vmbox's FastAGI server."""
        host, port = self.system.running.agi_address
        process = await asyncio.create_subprocess_exec(
            *VMBOX,
            "call",
            "--host",
            host,
            "--port",
            str(port),
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0, out.decode() + err.decode()
        return out.decode()


@web_fixture
async def web(browser: Browser, tmp_path: Path):
    """vmbox running with box 3000 (PIN 1357, New York time) and a desktop-sized page on it."""
    # Three wrong PINs lock a box (the phone's counter, which the page's login shares); messages are
    # kept a century, so tests may leave them at fixed times.
    settings = settings_for(tmp_path, ivr=IvrSettings(lockout_failures=3))
    settings = replace(settings, store=replace(settings.store, retention_days=36500))
    async with await start(settings) as system:
        box = await system.api.create_box("3000", pin=PIN, timezone=ZONE, is_setup=True)
        context = await browser.new_context(
            viewport=DESKTOP, locale="en-US", timezone_id="UTC", base_url=system.api.base
        )
        (tmp_path / "audio").mkdir()
        page = await context.new_page()
        uncaught = []  # the page's script failing where nothing caught it is a bug of the page
        page.on("pageerror", lambda error: uncaught.append(error))
        try:
            yield Web(system, context, page, box, tmp_path / "audio")
        finally:
            await context.close()
        assert not uncaught, uncaught


def shown_time(unix: int, zone: str) -> str:
    """How an en-US page writes a time (Intl's medium date and short time), in `zone`."""
    at = datetime.fromtimestamp(unix, ZoneInfo(zone))
    return f"{at:%b} {at.day}, {at.year}, {at.hour % 12 or 12}:{at:%M}"


def heard_files(printed: str) -> list[tuple[str, float]]:
    """(sound, seconds) of each `hears` line `vmbox call` printed."""
    return [
        (match[1], float(match[2]))
        for match in re.finditer(r"^hears\s+(\S+)\s+([\d.]+) s", printed, re.MULTILINE)
    ]


async def screenshot(page: Page, name: str) -> Path:
    """Save what the page shows as tests/web/screenshots/<name>.png (the README shows them)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=path, animations="disabled", caret="hide")
    return path
