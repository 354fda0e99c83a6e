"""Logins at one instant, for bench_calls.py: N check calls whose PINs arrive at the same moment.

Each call is the simulator's Asterisk (ivr/simulator/asterisk.py) over real TCP, as in run_call, with
two holds: the reply that carries the PIN's closing `#` is held until every call has reached it; then
all those replies are written in one tight loop (the instant), and the time from that instant until
each call's next command (the server's answer: the PIN checked, the messages counted, "you have...")
is that call's answer time. Each answered call is held again until all are answered, as a real caller
would be listening to a prompt seconds long rather than pressing on at once; then every call plays
its script to the end, so that what it did can be checked in the store.
"""

import asyncio
import time
from collections.abc import Callable

from ivr.agi.protocol import header_block
from ivr.simulator.asterisk import Asterisk
from ivr.simulator.client import DEFAULT_SOUNDS, agi_headers, make_channel
from ivr.simulator.script import parse_script
from ivr.simulator.transcript import Transcript


class Instant:
    """Holds up to `expected` senders, then sends all they hold in one loop and notes the moment."""

    def __init__(self, expected: int):
        self.expected = expected
        self.held: list[tuple[asyncio.StreamWriter, bytes]] = []
        self.released = asyncio.Event()
        self.at = 0.0

    async def send(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        """Hold `data` for `writer` until every expected sender holds something; then all go at once."""
        self.held.append((writer, data))
        self._release_if_complete()
        await self.released.wait()

    def withdraw(self) -> None:
        """One expected sender will never come (its call ended early)."""
        self.expected -= 1
        self._release_if_complete()

    def _release_if_complete(self) -> None:
        if self.released.is_set() or len(self.held) < self.expected:
            return
        self.at = time.perf_counter()
        for writer, data in self.held:
            writer.write(data)
        self.released.set()


class Together:
    """Waits until `expected` parties have arrived (a barrier that tolerates parties leaving)."""

    def __init__(self, expected: int):
        self.expected = expected
        self.arrived = 0
        self.complete = asyncio.Event()

    async def arrive(self) -> None:
        self.arrived += 1
        self._check()
        await self.complete.wait()

    def withdraw(self) -> None:
        self.expected -= 1
        self._check()

    def _check(self) -> None:
        if self.arrived >= self.expected:
            self.complete.set()


async def login_call(
    port: int,
    script: str,
    mailbox: str,
    pin_entered: Callable[[Transcript], bool],
    instant: Instant,
    answered: Together,
    timeout: float = 600,
) -> tuple[Transcript, float | None]:
    """One check call held at its PIN; (its transcript, seconds from the instant to its answer)."""
    channel = make_channel("check", [mailbox], "2000", "", None)
    asterisk = Asterisk(parse_script(script), channel, DEFAULT_SOUNDS)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(header_block(agi_headers("127.0.0.1", port, "check", channel), [mailbox]))
    waited: float | None = None
    held = False
    try:
        async with asyncio.timeout(timeout):
            while line := await reader.readline():
                if held and waited is None:
                    waited = time.perf_counter() - instant.at
                    await answered.arrive()
                reply = "".join(asterisk.handle(line.decode().rstrip("\n"))).encode()
                if not held and pin_entered(asterisk.transcript):
                    held = True
                    await instant.send(writer, reply)
                else:
                    writer.write(reply)
    except TimeoutError:
        asterisk.error(f"the call did not end within {timeout:g} s")
    finally:
        if not held:
            instant.withdraw()
        if waited is None:
            answered.withdraw()
        writer.close()
    return asterisk.finish(), waited


async def logins(
    port: int, script: str, mailboxes: list[str], pin: str
) -> tuple[list[Transcript], list[float]]:
    """All `mailboxes` logged in to with `script` (which starts by pressing `pin`), their PINs sent
    at one instant: the transcripts, and the answer times of the calls that were answered."""
    instant, answered = Instant(len(mailboxes)), Together(len(mailboxes))

    def pin_entered(transcript: Transcript) -> bool:
        return transcript.keys == pin

    results = await asyncio.gather(
        *(login_call(port, script, box, pin_entered, instant, answered) for box in mailboxes)
    )
    return [transcript for transcript, _ in results], [w for _, w in results if w is not None]
