"""Test calls on a real Asterisk: a caller placed with AMI Originate into Local channels, and phones
vmbox calls (callbacks), each driven by the test like a person: it waits until it hears a sound, then
presses keys, says a sound file or hangs up.

- What the far end plays, the keys it receives and when MixMonitor has closed a phone's recording come
  from Asterisk's own log, read as it is written (server.py), by channel: the other half of the Local
  channel is the far end. Sounds are named as Asterisk opened them (`vm-intro`, `digits/3`, an
  absolute path, a `http://…` URL); `sound_name` reduces them to what a test asks for (`vm-intro`,
  `digits/3`, `main_menu`, or `audio` for a message, greeting or name: a file or a per-call URL).
- What the caller heard is the audio MixMonitor recorded on its side (heard.py).
- A step (press, say, hang up) is done by the caller's own dialplan (config.py: test-caller), moved
  there with AMI Redirect; its UserEvent says it is done.
"""

import asyncio
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ivr.ami_client import Message
from tests.asterisk.heard import RATE, Heard, pcm, write_wav
from tests.asterisk.server import Asterisk

TIMEOUT_S = 60.0
PLAYING = re.compile(r"<(?P<channel>[^>]+)> Playing '(?P<sound>.+)\.\w+' \(")
KEY = re.compile(r"DTMF end '(?P<key>.)' received on (?P<channel>[^,\s]+),")
CLOSED = re.compile(r"End MixMonitor Recording (?P<channel>\S+)$")
_ids = itertools.count(1)


def sound_name(opened: str) -> str:
    """What a test calls a sound Asterisk opened (see the module's docstring)."""
    if "://" not in opened and not opened.startswith("/"):
        return opened
    path = opened.split("?", 1)[0]
    folder, _, file = path.rpartition("/")
    return file.removesuffix(".wav") if folder.rsplit("/", 1)[-1] in ("en", "prompts") else "audio"


def _logged_at(line: str) -> float:
    """When Asterisk logged `line` ([YYYY-MM-DD HH:MM:SS.mmm], the harness's logger.conf format), in s."""
    return datetime.strptime(line[1:24], "%Y-%m-%d %H:%M:%S.%f").timestamp()


def peer_of(channel: str) -> str:
    """The other half of a Local channel (…;1 <-> …;2)."""
    return channel[:-1] + ("2" if channel.endswith("1") else "1")


class CallFailed(AssertionError):
    """The call did not go as the test expected; the message says what was heard so far."""


@dataclass
class Phone:
    """One end of a call under the test's control (a caller's ;1, or a called phone's ;2)."""

    switchboard: "Switchboard"
    channel: str
    uniqueid: str
    played: list[str] = field(default_factory=list)  # what the far end started playing, in order
    # (sound, when: Asterisk's log clock, s) of what each end started playing: the far end's prompts,
    # this end's own sound files (what it says)
    far_started: list[tuple[str, float]] = field(default_factory=list)
    own_started: list[tuple[str, float]] = field(default_factory=list)
    keys_received: list[str] = field(default_factory=list)  # the keys the far end got
    far_dialplan: list[str] = field(
        default_factory=list
    )  # "context,exten,App(data)" run by the far end
    far_variables: dict[str, str] = field(
        default_factory=dict
    )  # VMBOX_* variables set on the far end
    hung_up: asyncio.Event = field(default_factory=asyncio.Event)
    closed: asyncio.Event = field(default_factory=asyncio.Event)  # MixMonitor closed what it heard
    _heard_at: int = 0
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def peer(self) -> str:
        return peer_of(self.channel)

    def offer(self, kind: str, channel: str, value: str, at: float = 0.0) -> None:
        """Something that happened on this call's channels (see Switchboard), at `at` when known."""
        if kind == "played" and channel == self.peer:
            self.played.append(sound_name(value))
            self.far_started.append((sound_name(value), at))
        elif kind == "played" and channel == self.channel:
            self.own_started.append((value.rsplit("/", 1)[-1], at))
        elif kind == "key" and channel == self.peer:
            self.keys_received.append(value)
        elif kind == "dialplan" and channel == self.peer:
            self.far_dialplan.append(value)
        elif kind == "variable" and channel == self.peer:
            name, _, content = value.partition("=")
            self.far_variables[name] = content
        elif kind == "hangup" and channel == self.channel:
            self.hung_up.set()
        elif kind == "closed" and channel == self.channel:
            self.closed.set()
        self._changed.set()

    async def hears(self, wanted: str | Callable[[str], bool], timeout: float = TIMEOUT_S) -> str:
        """Wait until the far end starts playing `wanted` (a sound_name, or a test of one) after what
        the last `hears` found; that sound's name."""
        match = wanted if callable(wanted) else (lambda name: name == wanted)
        try:
            async with asyncio.timeout(timeout):
                while True:
                    for index in range(self._heard_at, len(self.played)):
                        if match(self.played[index]):
                            self._heard_at = index + 1
                            return self.played[index]
                    if self.hung_up.is_set():
                        raise CallFailed(
                            f"{self.channel} hung up before hearing {wanted!r}; heard {self.played}"
                        )
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise CallFailed(
                f"{self.channel} did not hear {wanted!r} within {timeout:g} s; heard {self.played}"
            ) from None

    async def _step(self, step: str) -> None:
        step_id = str(next(_ids))
        asterisk = self.switchboard.asterisk
        done = asyncio.ensure_future(
            asterisk.wait_for(
                lambda event: (
                    event["Event"] == "UserEvent"
                    and event.get("UserEvent") == "TestStepDone"
                    and event.get("Step") == step_id
                ),
                timeout=TIMEOUT_S,
            )
        )
        await asterisk.ami.action("Setvar", Channel=self.channel, Variable="TEST_STEP", Value=step)
        await asterisk.ami.action(
            "Setvar", Channel=self.channel, Variable="TEST_STEP_ID", Value=step_id
        )
        await asterisk.ami.action(
            "Redirect", Channel=self.channel, Context="test-caller", Exten="step", Priority=1
        )
        hung_up = asyncio.ensure_future(self.hung_up.wait())
        await asyncio.wait([done, hung_up], return_when=asyncio.FIRST_COMPLETED)
        hung_up.cancel()
        if done.done():
            done.result()  # the step's TimeoutError, if it never ended
        else:
            done.cancel()  # a step the far end cuts short by hanging up is over too

    async def press(self, keys: str) -> None:
        """Press `keys` (DTMF, 120 ms each, 120 ms apart); returns once they are sent."""
        await self._step(f"press:{keys}")

    async def say(self, sound: Path) -> None:
        """Say the sound file `sound` (8 kHz WAV) into the call; returns once it has played."""
        await self._step(f"say:{sound.with_suffix('')}")

    async def pause(self, seconds: float) -> None:
        """Say nothing for `seconds`: silence, sent as a phone sends it (e.g. waiting for a beep to end)."""
        path = self.switchboard.asterisk.directory / f"pause-{seconds:g}.wav"
        if not path.exists():
            write_wav(path, bytes(int(seconds * RATE) * 2))
        await self.say(path)

    async def hang_up(self) -> None:
        await self.switchboard.asterisk.ami.action("Hangup", Channel=self.channel)
        await self.hung_up.wait()

    async def heard(self, timeout: float = TIMEOUT_S) -> Heard:
        """What this end heard, once the call is over and MixMonitor has closed the recording."""
        async with asyncio.timeout(timeout):
            await self.closed.wait()
        return Heard(pcm(self.switchboard.asterisk.heard_dir / f"{self.uniqueid}.wav"))


class Switchboard:
    """Places calls and hands what happens on each channel (from AMI events and Asterisk's log) to the
    phone it concerns, including what happened before the test got the phone."""

    def __init__(self, asterisk: Asterisk):
        self.asterisk = asterisk
        self.phones: list[Phone] = []
        self._answered: list[tuple[str, asyncio.Future]] = []  # callbacks awaited, by number
        self._history: dict[str, list[tuple[str, str, str, float]]] = {}
        self._stop = [asterisk.ami.listen(self._event), asterisk.listen_log(self._line)]

    def _happened(self, kind: str, channel: str, value: str = "", at: float = 0.0) -> None:
        self._history.setdefault(channel, []).append((kind, channel, value, at))
        for phone in self.phones:
            if channel in (phone.channel, phone.peer):
                phone.offer(kind, channel, value, at)

    def _line(self, line: str) -> None:
        if match := PLAYING.search(line):
            self._happened("played", match["channel"], match["sound"], _logged_at(line))
        elif match := KEY.search(line):
            self._happened("key", match["channel"], match["key"])
        elif match := CLOSED.search(line):
            self._happened("closed", match["channel"])

    def _event(self, event: Message) -> None:
        kind, channel = event["Event"], event.get("Channel", "")
        if kind == "Hangup":
            self._happened("hangup", channel)
        elif kind == "Newexten" and event.get("Context", "").startswith(("vmbox", "test-dial")):
            step = f"{event['Context']},{event.get('Extension', '')},{event.get('Application')}({event.get('AppData', '')})"
            self._happened("dialplan", channel, step)
        elif kind == "VarSet" and event.get("Variable", "").startswith("VMBOX_"):
            self._happened("variable", channel, f"{event['Variable']}={event.get('Value', '')}")
        elif event["Event"] == "UserEvent" and event.get("UserEvent") == "TestPhoneAnswered":
            for number, answered in self._answered:
                if number == event.get("Number") and not answered.done():
                    answered.set_result(event)
                    break

    def _phone(self, channel: str, uniqueid: str) -> Phone:
        phone = Phone(self, channel, uniqueid)
        for happened in self._history.get(channel, []) + self._history.get(phone.peer, []):
            phone.offer(*happened)
        self.phones.append(phone)
        return phone

    async def call(
        self,
        context: str,
        exten: str,
        *,
        caller_id: str = '"Alice" <1001>',
        variables: dict[str, str] | None = None,
        timeout: float = TIMEOUT_S,
    ) -> Phone:
        """Place a call from a scripted caller to `exten@context`; the caller's Phone once answered."""
        action_id = f"call-{next(_ids)}"
        response = asyncio.ensure_future(
            self.asterisk.wait_for(
                lambda event: (
                    event["Event"] == "OriginateResponse" and event.get("ActionID") == action_id
                ),
                timeout=timeout,
            )
        )
        await self.asterisk.ami.action(
            "Originate",
            action_id,
            Channel=f"Local/{exten}@{context}/n",
            Context="test-caller",
            Exten="s",
            Priority=1,
            CallerID=caller_id,
            Async="true",
            Timeout=int(timeout * 1000),
            Variable=[f"{key}={value}" for key, value in (variables or {}).items()],
        )
        answered = await response
        if answered.get("Response") != "Success":
            raise CallFailed(f"the call to {exten}@{context} was not answered: {answered}")
        return self._phone(answered["Channel"], answered["Uniqueid"])

    def expect_call(self, number: str) -> asyncio.Future:
        """A future Phone: the next call vmbox places to `number`, once the phone has answered it."""
        answered = asyncio.get_running_loop().create_future()
        self._answered.append((number, answered))

        async def wait() -> Phone:
            event = await answered
            return self._phone(event["Channel"], event["Uniqueid"])

        return asyncio.ensure_future(wait())

    def close(self) -> None:
        for stop in self._stop:
            stop()
