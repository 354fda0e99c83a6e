"""GET DATA as Asterisk does it, in virtual time: res_agi.c's handle_getdata(), which calls
ast_app_getdata_full() (main/app.c), which starts the prompt and calls ast_readstring_full()
(main/channel.c). The prompt itself is played by asterisk.py; the digit collection is here.

    GET DATA <file> [timeout ms] [maxdigits]

Arguments, as handle_getdata reads them: fewer than 3 words is a syntax error (520); the timeout and
maxdigits go through C's atoi() (not a number → 0; extra words are ignored). Timeouts, as
ast_app_getdata_full sets them: 0 or none → 6000 ms for the first digit and 2000 ms between digits;
> 0 → that value for both; < 0 → 1,000,000,000 ms for both (treated as endless). maxdigits defaults to
1024 (the size of handle_getdata's buffer); 0 makes ast_readstring_full fail at once (-1); a negative
value stops after one digit (`pos >= len`).

Collection, as ast_readstring_full does it: the prompt is interruptible by any key (AST_DIGIT_ANY),
and that key is the first one read; after the prompt, the first digit is waited for with the first
timeout, each further one with the other. `#` ends the input and is not part of it (alone: an empty
result). Reaching maxdigits ends it. A wait running out ends it with `(timeout)`, keeping the digits
read so far. A hang-up ends it with -1.

Replies: `200 result=<digits>`, `200 result=<digits> (timeout)` (digits may be empty), `200 result=-1`
(hang-up, a prompt Asterisk cannot open, maxdigits 0).
"""

from dataclasses import dataclass

from ivr.simulator.caller import Caller, HangingUp, KeyPressed
from ivr.simulator.commands import c_integer

AST_DIGIT_ANY = "0123456789#*ABCD"  # the keys that interrupt the prompt, and that are read
ENDERS = "#"
FIRST_DIGIT_MS = 6000  # ast_app_getdata_full's fto without a timeout
NEXT_DIGIT_MS = 2000  # ...and its to
FOREVER_MS = 1_000_000_000  # a negative timeout
BUFFER = 1024  # handle_getdata's char data[1024], and the default maxdigits
SAMPLES_PER_MS = 8


@dataclass(frozen=True)
class DataRequest:
    prompt: str  # the file to play ("" plays nothing)
    first_ms: int  # the wait for the first digit, once the prompt has played out
    next_ms: int  # the wait for each further digit
    max_digits: int


@dataclass(frozen=True)
class Entry:
    digits: str  # what Asterisk returns: the keys read, without the ending `#`
    keys: str  # every key the caller pressed, the one that cut the prompt included
    ended_by: (
        str  # "complete" (# or maxdigits), "timeout", "hangup", "endless" (would wait forever)
    )
    samples: int  # virtual time spent after the prompt
    waited: int  # of which the last wait, when it ran out (a timeout)


def atoi(text: str) -> int:
    """What C's atoi() makes of `text` with glibc (strtol clamped to a long, then cut to an int)."""
    value = max(-(2**63), min(2**63 - 1, c_integer(text) or 0))
    return (value + 2**31) % 2**32 - 2**31


def parse_request(words: list[str]) -> DataRequest | None:
    """The arguments of a GET DATA line split into words; None for a syntax error (520)."""
    if len(words) < 3:
        return None
    timeout = atoi(words[3]) if len(words) > 3 else 0
    max_digits = atoi(words[4]) if len(words) > 4 else BUFFER
    if timeout == 0:
        return DataRequest(words[2], FIRST_DIGIT_MS, NEXT_DIGIT_MS, max_digits)
    timeout = FOREVER_MS if timeout < 0 else timeout
    return DataRequest(words[2], timeout, timeout, max_digits)


def collect(
    request: DataRequest,
    caller: Caller,
    start: int,
    first: KeyPressed | HangingUp | None,
    listening: bool = True,
) -> Entry:
    """ast_readstring_full from the end of the prompt (virtual instant `start`): `first` is what cut
    the prompt, if anything. A caller not `listening` (a `wait` step) presses nothing."""
    digits, keys, clock, wait, event = "", "", start, request.first_ms, first
    while True:
        if event is None:
            length = None if wait >= FOREVER_MS else wait * SAMPLES_PER_MS
            event = caller.listen(clock, length, AST_DIGIT_ANY if listening else "")
            if event is None:
                ended_by = "endless" if length is None else "timeout"
                return Entry(digits, keys, ended_by, clock + (length or 0) - start, length or 0)
            clock += event.at
        if isinstance(event, HangingUp):
            return Entry(digits, keys, "hangup", clock - start, 0)
        keys += event.key
        if event.key not in ENDERS:
            digits += event.key
        if event.key in ENDERS or len(digits) >= request.max_digits:
            return Entry(digits, keys, "complete", clock - start, 0)
        wait, event = request.next_ms, None


def reply(entry: Entry) -> str:
    """The 200 line handle_getdata prints for a finished collection."""
    if entry.ended_by in ("hangup", "endless"):
        return "200 result=-1\n"
    if entry.ended_by == "timeout":
        return f"200 result={entry.digits} (timeout)\n"
    return f"200 result={entry.digits}\n"
