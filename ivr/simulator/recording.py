"""RECORD FILE as res_agi.c's handle_recordfile does it, in virtual time (no writing here: the
caller's audio is read through `speech()` and the target directory checked; asterisk.py writes).

    RECORD FILE <file> <format> <escape digits> <timeout ms|-1> [offset samples] [BEEP] [s=<silence s>]

Arguments are read exactly as Asterisk reads them: fewer than 6 words or a timeout that is not a number
is a syntax error; argv[6] is the sample offset when it reads as a number; a beep plays when argv[6] is
neither a number nor contains `=`, or when argv[7] does not contain `=` (so `BEEP` may come before or
after the offset); the silence is the first of argv[6..8] holding an `s`, when it reads `s=N`.

How a recording ends, and what is left in the file:
- a key in the escape digits: `result=<ASCII> (dtmf)`, the last 200 ms are cut off;
- the max time: `result=0 (timeout)`, nothing cut;
- silence (s=N): Asterisk's DSP counts silent 20 ms frames; once more than N s of silence, the file is cut
  back by N-1 s (about 1 s of silence stays). The result is what handle_recordfile really prints: the
  last ast_waitfor() value, i.e. the milliseconds left of the max time (99980 without a max time), NOT 0.
  Servers must key on the word `(timeout)`, as reference/asterisk-agi.md advises;
- a hang-up: `result=-1 (hangup)`, the partial file kept as it is.
The offset (if any) keeps that many samples of the existing file and appends after them. The virtual
time the recording takes is counted after the beep: keys and hang-ups from the script come during the
recording proper, never during the beep.
"""

import os
from array import array
from dataclasses import dataclass
from pathlib import Path

from ivr.simulator.audio import FRAME, Speech, speech
from ivr.simulator.caller import Caller, HangingUp, KeyPressed
from ivr.simulator.commands import c_integer
from ivr.simulator.script import HangUp, Press

SAMPLES_PER_MS = 8
DTMF_TRIM = 200 * SAMPLES_PER_MS
ENDLESS_WAIT_RESULT = (
    99980  # ast_waitfor() with no timeout waits 100000 ms at a time, minus one 20 ms frame
)


@dataclass(frozen=True)
class RecordRequest:
    name: str  # the file name without extension
    fmt: str
    escape: str
    max_ms: int  # < 0: no maximum
    offset: int
    beep: bool
    silence_ms: int  # 0: no silence detection


def parse_request(words: list[str]) -> RecordRequest | None:
    """The arguments of a RECORD FILE line split into words; None for a syntax error (520)."""
    if len(words) < 6 or (max_ms := c_integer(words[5])) is None:
        return None
    extra = words[6:9]
    offset = c_integer(extra[0]) if extra else None
    beep = bool(extra) and offset is None and "=" not in extra[0]
    beep = beep or (len(extra) > 1 and "=" not in extra[1])
    silence_ms = 0
    found = next((word[word.index("s") :] for word in extra if "s" in word), "")
    if len(found) > 2 and found.startswith("s="):
        silence_ms = max(0, c_integer(found[2:]) or 0) * 1000
    return RecordRequest(words[2], words[3], words[4], max_ms, offset or 0, beep, silence_ms)


def unwritable(request: RecordRequest) -> str | None:
    """Why the simulator cannot create the file (Asterisk answers `(writefile)`), or None."""
    if request.fmt != "wav":
        return f"RECORD FILE format {request.fmt!r}: the simulator writes only 'wav' (8 kHz 16-bit mono)"
    if "\x00" in request.name:
        return f"RECORD FILE {request.name!r}: a file name cannot hold a NUL byte"
    if not request.name.startswith("/"):
        return (
            f"RECORD FILE {request.name!r} is relative: Asterisk would write it under its own data "
            "directory, out of vmbox's reach; use an absolute path"
        )
    directory = Path(request.name).parent
    if not directory.is_dir():
        return f"RECORD FILE {request.name!r}: directory {directory} does not exist"
    if not os.access(directory, os.W_OK):
        return f"RECORD FILE {request.name!r}: directory {directory} is not writable"
    return None


@dataclass(frozen=True)
class Take:
    audio: array  # what the caller said (zeros after it), as captured before any trimming
    samples: int  # samples captured = virtual time the recording took
    ended_by: str  # "dtmf", "hangup", "max time", "silence", "endless" (would never end: the caller gives up)
    key: str = ""


def silence_end(flags: tuple[bool, ...], silence_ms: int) -> int | None:
    """Samples captured when Asterisk's silence detector stops the recording (None without s=)."""
    if silence_ms <= 0:
        return None
    run = 0
    frame = 0
    while True:
        run = run + 1 if (frame >= len(flags) or flags[frame]) else 0
        frame += 1
        if run * 20 > silence_ms:
            return frame * FRAME


def take(request: RecordRequest, caller: Caller, start: int) -> Take:
    """How the recording goes: what the caller says and does, and what ends it. May raise SoundError
    (or FileNotFoundError) for the caller's audio file."""
    say = caller.speech()
    spoken = speech(say.audio) if say else Speech(array("h"), ())
    ends = []
    if request.max_ms >= 0:
        ends.append((request.max_ms * SAMPLES_PER_MS, 0, "max time", ""))
    quiet = silence_end(spoken.silent, request.silence_ms)
    if quiet is not None:
        ends.append((quiet, 3, "silence", ""))
    limit = min((end[0] for end in ends), default=None)
    event = (
        _after_speech(say, len(spoken.samples), limit, request, caller)
        if say
        else (caller.listen(start, limit, request.escape))
    )
    if isinstance(event, KeyPressed):
        ends.append((event.at, 1, "dtmf", event.key))
    elif isinstance(event, HangingUp):
        ends.append((event.at, 2, "hangup", ""))
    if not ends:
        ends.append((len(spoken.samples), 4, "endless", ""))
    samples, _, ended_by, key = min(ends)
    audio = spoken.samples[:samples] + array("h", bytes(2 * max(0, samples - len(spoken.samples))))
    return Take(audio, samples, ended_by, key)


def _after_speech(
    say, length: int, limit: int | None, request: RecordRequest, caller: Caller
) -> KeyPressed | HangingUp | None:
    """The `then` of a `say` step: a key or a hang-up when the audio ends. If the recording ends first,
    or the key is not one that ends it, the action waits for the next command."""
    then = say.then
    if then is None:
        return None
    if (limit is None or length < limit) and not (
        isinstance(then, Press) and then.key not in request.escape
    ):
        return KeyPressed(then.key, length) if isinstance(then, Press) else HangingUp(length)
    caller.keep(then if isinstance(then, Press) else HangUp())
    return None


def file_samples(request: RecordRequest, result: Take, existing: array) -> array:
    """The samples the file holds afterwards: the kept part of the existing file (offset), the capture,
    then Asterisk's trimming (200 ms after a key, silence beyond ~1 s after a silence stop)."""
    data = existing[: max(0, request.offset)] + result.audio
    if result.ended_by == "dtmf":
        return data[: max(0, len(data) - DTMF_TRIM)]
    if result.ended_by == "silence":
        return data[: max(0, len(data) - (request.silence_ms - 1000) * SAMPLES_PER_MS)]
    return data


def reply(request: RecordRequest, result: Take, endpos: int) -> str:
    """The 200 line for a finished recording."""
    if result.ended_by == "dtmf":
        return f"200 result={ord(result.key)} (dtmf) endpos={endpos}\n"
    if result.ended_by in ("hangup", "endless"):
        return f"200 result=-1 (hangup) endpos={endpos}\n"
    if result.ended_by == "silence":
        left = (
            (request.max_ms - result.samples // SAMPLES_PER_MS)
            if request.max_ms >= 0
            else ENDLESS_WAIT_RESULT
        )
        return f"200 result={left} (timeout) endpos={endpos}\n"
    return f"200 result=0 (timeout) endpos={endpos}\n"
