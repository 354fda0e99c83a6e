"""Everything a real-Asterisk test uses, running in a thread of its own: one Asterisk, one switchboard,
and a `vmbox serve` per driver, shared by every scenario of the session. Scenarios run concurrently on
it (real calls take real time); each gets its own mailboxes and phone numbers, so none sees another's.

The harness's event loop runs all the time in its thread, whatever pytest is doing, so a call never
stalls because a test is between two awaits; tests wait for their scenario's outcome.
"""

import asyncio
import concurrent.futures
import itertools
import logging
import threading
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path

from tests.asterisk.heard import RATE, Heard, core_sounds, pcm, vmbox_prompts, write_wav
from tests.asterisk.install import Installation, required
from tests.asterisk.phone import Phone, Switchboard
from tests.asterisk.server import Asterisk
from tests.asterisk.vmbox import DRIVERS, Vmbox

logger = logging.getLogger(__name__)

SCENARIO_TIMEOUT_S = 420
# Scenarios played at once: enough to keep a session short, few enough that 2 cores keep every call's
# caller on time (a key or a word late changes what a scenario hears). Started in order, so the first
# test's scenarios play first.
PLAYING_AT_ONCE = 16


class ScenarioFailed(AssertionError):
    """A scenario failed in the harness's thread; the message is its traceback there."""


BLOCK = 10  # mailbox and phone numbers per scenario


class Scene:
    """One scenario on one driver: the vmbox it talks to, its calls, and the mailbox numbers it was given:
    the same on both drivers (each driver has its vmbox), so callers hear the same digits."""

    def __init__(self, harness: "Harness", vmbox: Vmbox, block: int):
        self.harness = harness
        self.vmbox = vmbox
        self.phones: list[Phone] = []
        self._mailboxes = itertools.count(3000 + block * BLOCK)
        # Phones are shared by both drivers' vmboxes (one Asterisk): each driver dials its own.
        self._numbers = itertools.count(
            (6000 if vmbox.driver == "fastagi" else 7000) + block * BLOCK
        )

    @property
    def driver(self) -> str:
        return self.vmbox.driver

    @property
    def api(self):
        return self.vmbox.api

    def number(self) -> str:
        """A phone number no other scenario, nor the other driver, uses (for callbacks and callers)."""
        return str(next(self._numbers))

    async def box(self, **fields) -> dict:
        """A new box with a mailbox number no other scenario uses (PIN 1234 and set up unless given)."""
        mailbox = str(next(self._mailboxes))
        defaults = {
            "pin": "1234",
            "is_setup": True,
            "media_extension": "wav",
        }  # wav: the stored samples
        return await self.api.create_box(mailbox, **{**defaults, **fields})

    async def call(
        self, entry: str, box: dict | None = None, caller_id: str = '"Alice" <1001>'
    ) -> Phone:
        """A call into `entry` (leave, check, own, login) of `box`; the caller's Phone."""
        phone = await self.vmbox.call(entry, box["mailbox"] if box else "", caller_id)
        self.phones.append(phone)
        return phone

    def answered(self, number: str) -> "asyncio.Future[Phone]":
        """The phone `number` once it has answered the next call vmbox places to it (expected from now:
        ask before the call can come)."""
        expected = self.vmbox.switchboard.expect_call(number)

        async def phone() -> Phone:
            async with asyncio.timeout(120):
                self.phones.append(await expected)
            return self.phones[-1]

        return asyncio.ensure_future(phone())

    async def messages(self, box: dict, folder: str | None = None) -> list[dict]:
        query = "?paginate=false" + (f"&filter_folder={folder}" if folder else "")
        reply = await self.api.get(f"/vmboxes/{box['id']}/messages{query}")
        assert reply.status == 200, reply.body
        return reply.data

    async def until_messages(self, box: dict, count: int) -> list[dict]:
        """The box's messages once `count` calls have left one in it (vmbox stores a hung-up call's
        message as it finishes the call, and logs "message … left in box <id>")."""
        left = f"left in box {box['id']}"
        serve = self.vmbox.serve
        await serve.changes.until(lambda: sum(left in line for line in serve.lines) >= count, 60)
        return await self.messages(box)

    async def own_vmbox(self) -> "Scene":
        """A scene on a `vmbox serve` of its own (for a scenario that stops it), same driver."""
        vmbox = await self.harness.start_vmbox(self.driver)
        self.harness.extra.append(vmbox)
        scene = Scene(self.harness, vmbox, 0)
        scene._mailboxes, scene._numbers = self._mailboxes, self._numbers
        return scene

    def speech(self, source: Path, pause_s: float = 1.0) -> Path:
        """A sound file of what a caller says: a pause (as a person takes after the beep), then `source`."""
        path = self.harness.directory / f"said-{source.stem}-{pause_s:g}.wav"
        if not path.exists():
            write_wav(path, bytes(int(pause_s * RATE) * 2) + pcm(source))
        return path

    def sounds(self, heard: Heard) -> list[str]:
        """The names of the known sounds (Asterisk's, vmbox's prompts) in what was heard, in order."""
        return [name for _, name in heard.sounds(known_sounds())]

    async def assert_heard(self, phone: Phone, expected: list[str]) -> Heard:
        """`phone` heard exactly `expected` (known sounds, in order; messages and ARI's silent waits
        aside): in Asterisk's log of what it played to the phone, and in the audio recorded on the
        phone's side, where the last sound may be missing (MixMonitor drops the audio still on its way
        when the far end hangs up right after a "goodbye"). What was heard, for more checks."""
        played = [
            name for name in phone.played if name != "audio" and not name.startswith("silence/")
        ]
        assert played == expected
        heard = await phone.heard()
        assert self.sounds(heard) in (expected, expected[:-1])
        return heard

    def log_lines(self) -> list[str]:
        """Asterisk's log lines about this scene's calls, for a failure report."""
        channels = [channel for phone in self.phones for channel in (phone.channel, phone.peer)]
        return self.harness.asterisk.log_lines(*channels) if channels else []


def known_sounds() -> dict[str, bytes]:
    return {**core_sounds(), **vmbox_prompts()}


class Harness:
    """Asterisk, the switchboard and a vmbox per driver, in a thread; scenarios scheduled on it."""

    def __init__(
        self,
        installation: Installation,
        directory: Path,
        new_database: Callable[[], str] | None = None,
    ):
        required(installation)
        self.installation = installation
        self.directory = directory
        # The ARI vmbox keeps its store in PostgreSQL (a new database each), the FastAGI one in SQLite:
        # every real call runs on both stores as on both drivers, without running twice.
        self.new_database = new_database
        self.blocks: dict[
            object, int
        ] = {}  # a block of numbers per scenario, the same on both drivers
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="real-asterisk", daemon=True
        )
        self.asterisk: Asterisk | None = None
        self.switchboard: Switchboard | None = None
        self.vmboxes: dict[str, Vmbox] = {}
        self.extra: list[Vmbox] = []
        self.outcomes: dict[tuple, concurrent.futures.Future] = {}
        self._instances = itertools.count(1)

    def start(self) -> "Harness":
        self.thread.start()
        self.run(self._start(), timeout=180)
        return self

    async def _start(self) -> None:
        self._slots = asyncio.Semaphore(PLAYING_AT_ONCE)
        (self.directory / "asterisk").mkdir(parents=True)
        self.asterisk = await Asterisk(self.installation, self.directory / "asterisk").start()
        self.switchboard = Switchboard(self.asterisk)
        for driver in DRIVERS:
            self.vmboxes[driver] = await self.start_vmbox(driver)

    async def start_vmbox(self, driver: str) -> Vmbox:
        directory = self.directory / f"vmbox-{driver}-{next(self._instances)}"
        url = self.new_database() if driver == "ari" and self.new_database else None
        return await Vmbox(driver, self.asterisk, self.switchboard, directory, url).start()

    def run(self, coroutine: Awaitable, timeout: float = SCENARIO_TIMEOUT_S):
        """Run `coroutine` on the harness's loop; its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def schedule(self, key: tuple, scenario: Callable[[Scene], Awaitable], driver: str) -> None:
        """Start `scenario` on `driver` now (once per key); `outcome(key)` waits for it."""
        if key not in self.outcomes:
            block = self.blocks.setdefault(scenario, len(self.blocks))
            self.outcomes[key] = asyncio.run_coroutine_threadsafe(
                self._play(scenario, driver, block), self.loop
            )

    async def _play(self, scenario, driver: str, block: int) -> Scene:
        scene = Scene(self, self.vmboxes[driver], block)
        try:
            async with self._slots, asyncio.timeout(SCENARIO_TIMEOUT_S - 120):
                await scenario(scene)
        except Exception as exc:
            # Raised again in the test's thread: the scenario's own traceback goes in the message.
            failure = ScenarioFailed("".join(traceback.format_exception(exc)))
            failure.scene = scene  # for the failure report
            raise failure from None
        return scene

    def outcome(self, key: tuple) -> Scene:
        """The scene of a scheduled scenario once it has ended; its failure, with Asterisk's and vmbox's
        log lines about it, if it failed."""
        try:
            return self.outcomes[key].result(SCENARIO_TIMEOUT_S)
        except Exception as exc:
            scene = getattr(exc, "scene", None)
            if scene is not None:
                print(
                    f"--- Asterisk's log about this scenario (all of it: {self.asterisk.log}) ---"
                )
                print("\n".join(scene.log_lines()))
                print(f"--- vmbox ({scene.driver}) ---")
                print("\n".join(scene.vmbox.serve.lines[-200:]))
            raise

    def stop(self) -> None:
        async def stop() -> None:
            for vmbox in [*self.vmboxes.values(), *self.extra]:
                await vmbox.stop()
            if self.switchboard:
                self.switchboard.close()
            if self.asterisk:
                await self.asterisk.stop()

        try:
            self.run(stop(), timeout=120)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
