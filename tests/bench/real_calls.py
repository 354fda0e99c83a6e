"""The calls of bench_real_asterisk: the scripted callers (a deposit and a check on each system, made
as a person makes them: wait until a sound starts, press, say, listen), the order in which each far end
received keys and started sounds (Asterisk's log, read as the switchboard reads it), and from that order
the keys not acted on, as bench_real_asterisk's docstring defines them (real_heard.py reads the audio).
"""

import asyncio
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tests.asterisk.heard import RATE, pcm, write_wav
from tests.asterisk.install import SOUNDS
from tests.asterisk.phone import KEY, PLAYING, Phone, sound_name
from tests.asterisk.server import Asterisk

AUDIO = "audio"  # a message, as the switchboard names it
FORWARD, BACK = "jumps forward", "jumps back"
# Speech no system under test plays: what callers say, and the messages checked.
SPEECH_SOURCES = ("tt-weasels", "demo-congrats", "demo-instruct")
SEEK_S = 3  # fast-forward and rewind step, on every system
PIN = "1234"
STAMP = re.compile(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\]")  # logger.conf: %F %T.%3q


def speech(directory: Path, seconds: float) -> Path:
    """`seconds` of speech (8 kHz WAV) that never repeats itself, so every 20 ms of it is found at one
    place in what a caller hears. Raises ValueError if the sources are too short."""
    audio = b"".join(pcm(SOUNDS / f"{name}.wav") for name in SPEECH_SOURCES)
    wanted = int(seconds * RATE) * 2
    if wanted > len(audio):
        raise ValueError(f"at most {len(audio) // 2 // RATE} s of speech")
    return write_wav(directory / f"speech-{seconds:g}s.wav", audio[:wanted])


@dataclass(frozen=True)
class Press:
    keys: str
    reaction: str  # the sound the far end must start next, or FORWARD / BACK


class Caller:
    """A phone and the presses made on it."""

    def __init__(self, phone: Phone):
        self.phone = phone
        self.presses: list[Press] = []

    async def hears(self, sound: str) -> None:
        await self.phone.hears(sound)

    async def press(self, keys: str, reaction: str) -> None:
        self.presses.append(Press(keys, reaction))
        await self.phone.press(keys)

    async def say(self, path: Path) -> None:
        await self.phone.say(path)

    async def listens(self, seconds: float) -> None:
        """The caller listens for a while: its own pace, not a wait for something to happen."""
        await asyncio.sleep(seconds)


async def deposit_vmbox(caller: Caller, said: Path) -> None:
    """Leave a message after the beep, end it with #, save it with 1; vmbox says goodbye."""
    await caller.hears("beep")
    await caller.say(said)
    await caller.press("#", "vm-review")
    await caller.hears("vm-review")
    await caller.press("1", "vm-msgsaved")
    await caller.hears("vm-goodbye")


async def deposit_app_voicemail(caller: Caller, said: Path) -> None:
    """The same with app_voicemail (review = yes): it thanks the caller after the #, and hangs up after
    "message saved" without a goodbye."""
    await caller.hears("beep")
    await caller.say(said)
    await caller.press("#", "auth-thankyou")
    await caller.hears("vm-review")
    await caller.press("1", "vm-msgsaved")
    await caller.hears("vm-msgsaved")


async def check_vmbox(caller: Caller, message_s: float) -> None:
    """Log in, play the new message with 8 (fast-forward) and 5 (rewind), keep it (1), leave (#)."""
    await caller.hears("vm-password")
    await caller.press(f"{PIN}#", "vm-youhave")
    await caller.hears("main_menu")
    await caller.press("1", "vm-message")
    await caller.hears(AUDIO)
    await caller.listens(0.2 * message_s)
    await caller.press("8", FORWARD)
    await caller.hears(AUDIO)  # vmbox restarts the message further in
    await caller.listens(0.1 * message_s)
    await caller.press("5", BACK)
    await caller.hears("message_menu_ffrw")
    await caller.press("1", "vm-msgsaved")
    await caller.hears("main_menu")
    await caller.press("#", "vm-goodbye")
    await caller.hears("vm-goodbye")


async def check_app_voicemail(caller: Caller, message_s: float) -> None:
    """The same with app_voicemail's keys: # (fast-forward) and * (rewind) during the message, 9 then
    1 to save it to the Old folder, # to leave. Each key is pressed as the prompt naming it starts."""
    await caller.hears("vm-password")
    await caller.press(f"{PIN}#", "vm-youhave")
    await caller.hears("vm-onefor")
    await caller.press("1", "vm-first")
    await caller.hears(AUDIO)
    await caller.listens(0.2 * message_s)
    await caller.press("#", FORWARD)
    await caller.listens(0.1 * message_s)
    await caller.press("*", BACK)
    await caller.hears("vm-savemessage")
    await caller.press("9", "vm-savefolder")
    await caller.hears("vm-Old")
    await caller.press("1", "vm-message")
    await caller.hears("vm-helpexit")
    await caller.press("#", "vm-goodbye")
    await caller.hears("vm-goodbye")


class Timeline:
    """The keys each channel received and the sounds it started, in the order Asterisk logged them, with
    the time of each (Asterisk's clock, in seconds)."""

    def __init__(self, asterisk: Asterisk):
        self.events: dict[str, list[Event]] = {}
        self.stop = asterisk.listen_log(self._line)

    def _line(self, line: str) -> None:
        if match := PLAYING.search(line):
            kind, value = "played", sound_name(match["sound"])
        elif match := KEY.search(line):
            kind, value = "key", match["key"]
        else:
            return
        stamp = STAMP.match(line)
        at = datetime.fromisoformat(stamp[1]).timestamp() if stamp else float("nan")
        self.events.setdefault(match["channel"], []).append(Event(kind, value, at))

    def far_end(self, phone: Phone) -> list["Event"]:
        """What the far end of `phone` received and played, without the silences it waited with."""
        return [
            event
            for event in self.events.get(phone.peer, [])
            if not (event.kind == "played" and event.value.startswith("silence/"))
        ]


@dataclass(frozen=True)
class Event:
    kind: str  # played, key
    value: str  # the sound's name (phone.sound_name), the key
    at: float  # Asterisk's clock, seconds


def keys_not_acted_on(events: list[Event], presses: list[Press], moves: list[str]) -> int:
    """The keys of `presses` that did not reach the far end, or whose press did not cause its reaction;
    `moves`: the message's jumps as heard (`jumps`)."""
    missed, at, moves = 0, 0, list(moves)
    for press in presses:
        reached = at
        for key in press.keys:
            index = next(
                (
                    i
                    for i in range(reached, len(events))
                    if (events[i].kind, events[i].value) == ("key", key)
                ),
                None,
            )
            if index is None:
                break
            reached = index + 1
        else:
            if press.reaction in (FORWARD, BACK):
                acted = bool(moves) and moves.pop(0) == press.reaction
            else:
                after = next((e.value for e in events[reached:] if e.kind == "played"), None)
                acted = after == press.reaction
            at = reached
            if acted:
                continue
        missed += len(press.keys)
    return missed
