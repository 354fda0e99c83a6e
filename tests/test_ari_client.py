"""The ARI client against the fake ARI server over real HTTP and websockets: Basic auth, errors raised
with Asterisk's status and message, and reconnection with backoff that registers the application again.
Backoff delays go through an injected clock, so nothing really waits."""

import asyncio

import pytest

from ivr.ari.client import AriClient, AriDown, AriError
from ivr.simulator.ari import FakeAri
from ivr.simulator.client import DEFAULT_SOUNDS


class StepClock:
    """Records the backoff delays the client asks for and returns at once; `on_sleep(n)` runs at the nth."""

    def __init__(self, on_sleep=None):
        self.delays: list[float] = []
        self.on_sleep = on_sleep

    def now(self) -> float:
        return 0.0

    async def sleep(self, seconds: float, wake: asyncio.Event) -> None:
        self.delays.append(seconds)
        if self.on_sleep:
            await self.on_sleep(len(self.delays))


async def free_url() -> tuple[str, int]:
    """A loopback URL nothing listens on (a fake started and stopped: its port is free again)."""
    fake = FakeAri(DEFAULT_SOUNDS)
    url = await fake.start()
    await fake.stop()
    return url, int(url.rsplit(":", 1)[1])


async def test_unreachable_asterisk_is_retried_with_backoff_until_the_app_registers():
    url, port = await free_url()
    later = FakeAri(DEFAULT_SOUNDS)

    async def asterisk_starts_at_third_retry(count: int) -> None:
        if count == 3:
            await later.start(port=port)

    clock = StepClock(asterisk_starts_at_third_retry)
    client = AriClient(url, "vmbox", "secret", "vmbox", clock)
    up = asyncio.Event()
    events = asyncio.create_task(client.run(lambda event: None, up.set, lambda: None))
    try:
        await asyncio.wait_for(up.wait(), 10)
        assert clock.delays == [1, 2, 4]
        assert later.connections == 1 and client.generation == 1
    finally:
        await client.close()
        await asyncio.gather(events, return_exceptions=True)
        await later.stop()


async def test_a_refused_login_is_retried_with_backoff_and_never_registers():
    fake = FakeAri(DEFAULT_SOUNDS, password="right")
    url = await fake.start()
    client = None

    async def give_up(count: int) -> None:
        if count == 2:
            await client.close()

    clock = StepClock(give_up)
    client = AriClient(url, "vmbox", "wrong", "vmbox", clock)
    try:
        await asyncio.wait_for(client.run(lambda event: None, lambda: None, lambda: None), 10)
        assert clock.delays == [1, 2] and fake.connections == 0
        with pytest.raises(AriDown):
            await client.request("POST", "/channels/1.1/answer")  # closed: no more requests
    finally:
        await client.close()
        await fake.stop()


async def test_refusals_carry_asterisk_s_status_and_message():
    fake = FakeAri(DEFAULT_SOUNDS)
    url = await fake.start()
    client = AriClient(url, "vmbox", "secret", "vmbox")
    try:
        with pytest.raises(AriError) as refused:
            await client.request("DELETE", "/playbacks/none")
        assert refused.value.status == 404 and "Playback not found" in str(refused.value)
        with pytest.raises(AriError) as unknown:
            await client.request("POST", "/channels/1.1/snoop")
        assert unknown.value.status == 404 and fake.errors == [
            "unexpected request POST /ari/channels/1.1/snoop?"
        ]
    finally:
        await client.close()
        await fake.stop()
    gone = AriClient(url, "vmbox", "secret", "vmbox")
    with pytest.raises(AriDown):
        await gone.request("POST", "/channels/1.1/answer")
    await gone.close()
