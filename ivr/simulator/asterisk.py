"""Asterisk's side of one FastAGI call: a command line in, the reply lines out, byte for byte as
res_agi.c writes them (see reference/asterisk-agi.md). No sockets here; files are read (prompts,
recordings to append to) and written (recordings) as Asterisk would.

Channel state: alive or dead (hung up by the caller or by the server's HANGUP), channel variables, a
virtual clock in samples, the caller's script, and the transcript. Order of lines around a hang-up, as
run_agi() produces it:
- the caller hangs up during a command: that command's reply (result=-1), then `HANGUP`;
- the caller hangs up between commands: `HANGUP` is sent as the next command arrives, then that
  command's reply (511 unless it may run on a dead channel);
- the server sends HANGUP: `200 result=1`, then `HANGUP`.
Dead channel: only EXEC, GET [FULL] VARIABLE, SET VARIABLE, VERBOSE, NOOP, DATABASE *, ASYNCAGI BREAK and
SPEECH DESTROY/UNLOAD GRAMMAR run; the rest get 511.
"""

import time
from array import array
from datetime import UTC
from pathlib import Path

from ivr import say
from ivr.agi.protocol import split_command
from ivr.simulator import getdata, recording
from ivr.simulator.audio import SoundError, read_samples, sound_length, wav_path, write_wav
from ivr.simulator.caller import Caller, HangingUp, KeyPressed
from ivr.simulator.channel import Channel, lookup
from ivr.simulator.commands import DEAD, UNKNOWN, c_integer, find_command
from ivr.simulator.script import HangUp, Step, describe
from ivr.simulator.transcript import (
    Exchange,
    Heard,
    HungUp,
    Logged,
    Pressed,
    Recorded,
    Transcript,
    Waited,
)

ALL_KEYS = "0123456789*#ABCD"
RATE = 8000
MAX_LINE = 2047  # res_agi.c reads commands with fgets() into a 2048-byte buffer


class Asterisk:
    """One call's channel as Asterisk runs it for a FastAGI script."""

    def __init__(
        self,
        steps: tuple[Step, ...],
        channel: Channel,
        sounds_dir: Path,
        *,
        strict: bool = True,
        variables: dict[str, str] | None = None,
        now=time.time,
    ):
        self.caller = Caller(steps)
        self.channel = channel
        self.sounds_dir = sounds_dir
        self.strict = strict
        self.transcript = Transcript()
        self.clock = 0  # samples since the call started (virtual)
        self.dead = False
        self._variables = dict(variables or {})
        self._refused = 0
        self._now = now
        if not sounds_dir.is_dir():
            self.error(
                f"the sounds directory {sounds_dir} does not exist: every prompt will be missing "
                "(Debian: apt install asterisk-core-sounds-en-wav)"
            )

    # The funnel.

    def handle(self, line: str) -> list[str]:
        """The lines (each ending in a newline) Asterisk sends for one command line (without its
        newline). Never raises for anything the server sends."""
        self.transcript.commands += 1
        first_event = len(self.transcript.events)
        out: list[str] = []
        if not self.dead and self.caller.hangs_up_now(self.clock):
            self._caller_hangs_up(out)
        out += self._dispatch(line)
        self.transcript.events.insert(
            first_event, Exchange(line, tuple(reply[:-1] for reply in out))
        )
        self.transcript.call_seconds = self.clock / RATE
        return out

    def _dispatch(self, line: str) -> list[str]:
        if line.endswith("\r"):
            self.error(
                f"command {line!r} ends with CR LF: Asterisk keeps the CR as part of the last argument"
            )
        words = split_command(line)
        command = find_command(words)
        if command is None:
            self.error(f"{line!r} is not an AGI command: Asterisk answers 510")
            return [UNKNOWN]
        if self.dead and not command.runs_dead:
            self._refused += 1
            if self._refused > 1:
                self.error(
                    f"{line!r} sent after Asterisk had already refused a command on the dead channel (511)"
                )
            return [DEAD]
        handler = _HANDLERS.get(command.name)
        if handler is None:
            self.error(
                f"{command.name.upper()} is a real Asterisk command but the simulator does not emulate it "
                "(the vmbox server is not expected to send it); answered 510"
            )
            return [UNKNOWN]
        reply = handler(self, words)
        if reply is None:
            self.error(
                f"{line!r}: invalid arguments for {command.name.upper()}: Asterisk answers 520"
            )
            return command.usage()
        return reply

    def error(self, message: str) -> None:
        """Something a real Asterisk would not have wanted: the call fails."""
        self.transcript.errors.append(message)

    def _missing(self, message: str) -> None:
        (self.transcript.errors if self.strict else self.transcript.warnings).append(message)

    def _caller_hangs_up(self, out: list[str]) -> None:
        self.dead = True
        self.transcript.caller_hung_up = True
        self.transcript.events.append(HungUp("caller"))
        out.append("HANGUP\n")

    def finish(self) -> Transcript:
        """Close the books once the connection is over: script steps never used are an error (a final
        `hangup` is fine: the server may end the call first)."""
        unused = [describe(step) for step in self.caller.left() if not isinstance(step, HangUp)]
        if unused:
            self.error(
                f"the call ended before the script was played out; unused: {'; '.join(unused)}"
            )
        self.transcript.call_seconds = self.clock / RATE
        return self.transcript

    # Sounds and playback.

    def _length(self, name: str) -> int | None:
        """A sound's length in samples, or None (reported) when Asterisk could not open it."""
        path = wav_path(name, self.sounds_dir)
        try:
            return sound_length(path)
        except FileNotFoundError:
            self._missing(f"sound {name!r} not found: no {path}")
        except SoundError as exc:
            self._missing(f"sound {name!r} cannot be played: {exc}")
        except (OSError, ValueError) as exc:  # e.g. a NUL in the name, a name too long
            self._missing(f"sound {name!r} cannot be opened: {exc}")
        return None

    def _window(self, length: int | None, keys: str) -> KeyPressed | HangingUp | None:
        """Let the caller act in a window of `length` samples starting now (nothing can happen in an
        empty one); advance the clock to the end of the window or to the caller's action."""
        event = self.caller.listen(self.clock, length, keys) if length != 0 else None
        if event is not None:
            self.clock += event.at
        elif length is not None:
            self.clock += length
        return event

    def _heard(self, heard: Heard, event) -> None:
        """Note what the caller heard, then the key that cut it."""
        self.transcript.events.append(heard)
        if isinstance(event, KeyPressed):
            self.transcript.events.append(Pressed(event.key))

    def _after(self, event, reply: str) -> list[str]:
        """The reply, then `HANGUP` when the caller hung up during the command."""
        out = [reply]
        if isinstance(event, HangingUp):
            self._caller_hangs_up(out)
        return out

    def _say(self, label: str, parts: list[say.Part], escape: str) -> list[str]:
        """Play SAY parts as one window; a missing required part ends the SAY with result -1."""
        played: list[tuple[str, int]] = []
        failed = False
        for part in parts:
            length = None if part.failure else self._length(part.file)
            if part.failure:
                self.error(f"{label}: {part.failure}")
            if length is None and (part.required or part.failure):
                failed = True
                break
            if length is not None:
                played.append((part.file, length))
        start = self.clock
        event = self._window(sum(length for _, length in played), escape)
        elapsed = self.clock - start
        heard = [file for file, _ in played] if event is None else say.reached(played, elapsed)
        key = event.key if isinstance(event, KeyPressed) else None
        self._heard(
            Heard(
                label,
                elapsed / RATE,
                tuple(heard),
                key,
                failed and event is None,
                isinstance(event, HangingUp),
            ),
            event,
        )
        result = ord(key) if key else (-1 if failed or isinstance(event, HangingUp) else 0)
        return self._after(event, f"200 result={result}\n")

    # Commands.

    def _stream_file(self, words: list[str]) -> list[str] | None:
        offset = c_integer(words[4]) if len(words) == 5 else 0
        if not 4 <= len(words) <= 5 or offset is None:
            return None
        length = self._length(words[2])
        if length is None:
            self.transcript.events.append(Heard(words[2], 0.0, missing=True))
            return [f"200 result=-1 endpos={offset}\n"]
        begin = min(max(offset, 0), length)
        start = self.clock
        event = self._window(length - begin, words[3])
        key = event.key if isinstance(event, KeyPressed) else None
        self._heard(
            Heard(
                words[2],
                (self.clock - start) / RATE,
                cut_by=key,
                hung_up=isinstance(event, HangingUp),
                offset_s=begin / RATE,
            ),
            event,
        )
        if event is None:
            return [f"200 result=0 endpos={length}\n"]
        return self._after(
            event, f"200 result={ord(key) if key else -1} endpos={begin + self.clock - start}\n"
        )

    def _say_number(self, words: list[str]) -> list[str] | None:
        number = c_integer(words[2]) if len(words) > 2 else None
        if not 4 <= len(words) <= 5 or number is None:
            return None
        return self._say(f"SAY NUMBER {number}", say.number(number), words[3])

    def _say_digits(self, words: list[str]) -> list[str] | None:
        if len(words) != 4 or c_integer(words[2]) is None:
            return None
        return self._say(f"SAY DIGITS {words[2]}", say.digits(words[2]), words[3])

    def _say_datetime(self, words: list[str]) -> list[str] | None:
        unix = c_integer(words[2]) if len(words) > 2 else None
        if len(words) < 4 or unix is None:
            return None
        fmt = words[4] if len(words) > 4 else say.DEFAULT_FORMAT
        try:
            zone = say.zone(words[5] if len(words) > 5 else "")
        except ValueError as exc:
            self.error(f"SAY DATETIME: {exc}; said in UTC")
            zone = UTC
        try:
            parts, unknown = say.datetime_parts(unix, fmt, zone, self._now())
        except (OverflowError, OSError, ValueError):
            self.error(
                f"SAY DATETIME {unix}: a time the simulator cannot convert to a date; nothing said"
            )
            parts, unknown = [], []
        if unknown:
            self.error(
                f"SAY DATETIME format {fmt!r}: Asterisk skips the unknown letter(s) {''.join(unknown)}"
            )
        return self._say(f"SAY DATETIME {unix}", parts, words[3])

    def _wait_for_digit(self, words: list[str]) -> list[str] | None:
        timeout = c_integer(words[3]) if len(words) == 4 else None
        if timeout is None:
            return None
        length = None if timeout < 0 else timeout * RATE // 1000
        start = self.clock
        event = self._window(length, ALL_KEYS)
        if event is None and length is None:
            self.error(
                "WAIT FOR DIGIT -1 waits forever and the caller's script has no key for it; the caller "
                "hangs up"
            )
            event = HangingUp(0)
        if event is None:
            self.transcript.events.append(Waited((self.clock - start) / RATE))
            return ["200 result=0\n"]
        if isinstance(event, KeyPressed):
            self.transcript.events.append(Pressed(event.key))
        return self._after(
            event, f"200 result={ord(event.key) if isinstance(event, KeyPressed) else -1}\n"
        )

    def _get_data(self, words: list[str]) -> list[str] | None:
        request = getdata.parse_request(words)
        if request is None:
            return None
        length = self._length(request.prompt) if request.prompt else 0
        if length is None:  # ast_streamfile() fails: -1 at once, the channel lives on
            self.transcript.events.append(Heard(request.prompt, 0.0, missing=True))
            return ["200 result=-1\n"]
        if request.max_digits == 0:
            self.error(
                "GET DATA with maxdigits 0: ast_readstring_full() reads nothing and Asterisk answers -1"
            )
            return ["200 result=-1\n"]
        if request.max_digits > getdata.BUFFER:
            self.error(
                f"GET DATA maxdigits {request.max_digits}: more digits than handle_getdata's "
                f"{getdata.BUFFER}-byte buffer holds"
            )
        return self._collect(request, length)

    def _collect(self, request: getdata.DataRequest, length: int) -> list[str]:
        """GET DATA's prompt (any key cuts it and is the first digit), then the digits."""
        listening = not self.caller.idles()
        start = self.clock
        event = self._window(length, getdata.AST_DIGIT_ANY if listening else "")
        if request.prompt:
            key = event.key if isinstance(event, KeyPressed) else None
            self.transcript.events.append(
                Heard(
                    request.prompt,
                    (self.clock - start) / RATE,
                    cut_by=key,
                    hung_up=isinstance(event, HangingUp),
                )
            )
        entry = getdata.collect(request, self.caller, self.clock, event, listening)
        self.clock += entry.samples
        self.transcript.events += [Pressed(key) for key in entry.keys]
        if entry.ended_by == "timeout":
            self.transcript.events.append(Waited(entry.waited / RATE))
        if entry.ended_by == "endless":
            self.error(
                "GET DATA with a negative timeout waits forever and the caller's script has no key for it; "
                "the caller hangs up"
            )
        ended = HangingUp(0) if entry.ended_by in ("hangup", "endless") else None
        return self._after(ended, getdata.reply(entry))

    def _record_file(self, words: list[str]) -> list[str] | None:
        request = recording.parse_request(words)
        if request is None:
            return None
        if request.beep:
            beep = self._length("beep")
            if beep is None:
                return [f"200 result=-1 (randomerror) endpos={request.offset}\n"]
            self.transcript.events.append(Heard("beep", beep / RATE))
            self.clock += beep
        problem = recording.unwritable(request)
        if problem:
            self.error(problem)
            return ["200 result=-1 (writefile)\n"]
        try:
            take = recording.take(request, self.caller, self.clock)
        except (SoundError, OSError) as exc:
            self.error(f"the caller's audio cannot be used: {exc}; the caller hangs up")
            take = recording.Take(array("h"), 0, "hangup")
        if take.ended_by == "endless":
            self.error(
                "RECORD FILE has no max time and no silence detection, and the caller's script ends "
                "nothing: it would record forever; the caller hangs up"
            )
        return self._store(request, take)

    def _store(self, request: recording.RecordRequest, take: recording.Take) -> list[str]:
        path = Path(request.name + ".wav")
        existing = array("h")
        if request.offset > 0 and path.exists():
            try:
                existing = read_samples(path)
            except SoundError as exc:
                self.error(f"RECORD FILE offset {request.offset}: cannot append to {path}: {exc}")
        samples = recording.file_samples(request, take, existing)
        try:
            write_wav(path, samples)
        except OSError as exc:
            self.error(f"RECORD FILE cannot write {path}: {exc}")
            return ["200 result=-1 (writefile)\n"]
        self.clock += take.samples
        if take.key:
            self.transcript.events.append(Pressed(take.key))
        ended_by = {"dtmf": f"key {take.key}", "endless": "hangup"}.get(
            take.ended_by, take.ended_by
        )
        self.transcript.events.append(Recorded(str(path), len(samples) / RATE, ended_by))
        event = HangingUp(0) if take.ended_by in ("hangup", "endless") else None
        return self._after(event, recording.reply(request, take, len(samples)))

    def _set_variable(self, words: list[str]) -> list[str]:
        if len(words) >= 4:
            self._variables[words[2]] = words[3]
            self.transcript.variables[words[2]] = words[3]
        else:
            self.error(
                f"SET VARIABLE without a value ({words[2:]}): Asterisk ignores it (and answers result=1)"
            )
        return ["200 result=1\n"]

    def _get_variable(self, words: list[str]) -> list[str] | None:
        if len(words) != 3:
            return None
        value, problem = lookup(self.channel, self._variables, words[2])
        if problem:
            self.error(problem)
        return ["200 result=0\n"] if value is None else [f"200 result=1 ({value})\n"]

    def _verbose(self, words: list[str]) -> list[str] | None:
        if len(words) < 2:
            return None
        self.transcript.events.append(Logged(words[1]))
        return ["200 result=1\n"]

    def _hangup(self, words: list[str]) -> list[str] | None:
        if len(words) > 2:
            return None
        if len(words) == 2 and words[1] != self.channel.name:
            self.error(f"HANGUP {words[1]}: no such channel (this call is {self.channel.name})")
            return ["200 result=-1\n"]
        self.dead = True
        self.transcript.server_hung_up = True
        self.transcript.events.append(HungUp("server"))
        return ["200 result=1\n", "HANGUP\n"]


_HANDLERS = {
    "answer": lambda self, words: ["200 result=0\n"],
    "noop": lambda self, words: ["200 result=0\n"],
    "stream file": Asterisk._stream_file,
    "say number": Asterisk._say_number,
    "say digits": Asterisk._say_digits,
    "say datetime": Asterisk._say_datetime,
    "wait for digit": Asterisk._wait_for_digit,
    "get data": Asterisk._get_data,
    "record file": Asterisk._record_file,
    "set variable": Asterisk._set_variable,
    "get variable": Asterisk._get_variable,
    "verbose": Asterisk._verbose,
    "hangup": Asterisk._hangup,
}
