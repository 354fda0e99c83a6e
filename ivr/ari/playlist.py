"""What the flow's items become over ARI: a playlist of `sound:` media URIs (pure but for the clock
that SAY DATETIME's "today/yesterday" formats would read).

ARI has no SAY commands: numbers, digit strings and dates are composed from Asterisk's `digits/*`
sounds exactly as its SAY NUMBER / SAY DIGITS / SAY DATETIME would play them (ivr/say.py), so a caller
hears the same over ARI as over FastAGI. Prompts and recorded audio are located by the callables the
driver passes (a core sound by name, a shipped prompt or a message by URL or shared path).

Digit waits: a Collect waits for the next key with a silent playback (`silence/N`, core sounds of 1
to 10 s) rather than a timer in vmbox, so the wait is timed by Asterisk from the instant the prompts
end, exactly as WAIT FOR DIGIT is, and a key stops it like any playback.
"""

import time
from collections.abc import Callable
from datetime import UTC

from ivr import say
from ivr.calls import ALL_KEYS, DATE_FORMAT
from ivr.flow.actions import DateTime, Digits, Number, Prompt, Sound

LONGEST_SILENCE_S = 10


def sound(name: str) -> str:
    return f"sound:{name}"


def say_media(item, now: Callable[[], float] = time.time) -> list[str]:
    """The `digits/*` media for a Number, Digits or DateTime item."""
    if isinstance(item, Number):
        parts = say.number(item.value)
    elif isinstance(item, Digits):
        parts = say.digits("".join(c for c in item.value if c in ALL_KEYS) or "0")
    elif isinstance(item, DateTime):
        try:
            zone = say.zone(item.timezone)
        except ValueError:
            zone = UTC
        parts, _ = say.datetime_parts(item.unix, DATE_FORMAT, zone, now())
    else:
        raise TypeError(f"cannot say {item!r}")
    return [sound(part.file) for part in parts if part.file]


def media_for(item, prompt: Callable[[str], str], audio: Callable[[str], str]) -> list[str]:
    """The media URIs for one item: `prompt(name)` and `audio(handle)` locate prompts and recordings."""
    if isinstance(item, Prompt):
        return [prompt(item.name)]
    if isinstance(item, Sound):
        return [audio(item.audio.handle)]
    return say_media(item)


def silence(ms: int) -> list[str]:
    """Silent media lasting `ms` (rounded up to whole seconds, at least one)."""
    seconds = max(1, -(-ms // 1000))
    whole, rest = divmod(seconds, LONGEST_SILENCE_S)
    return [sound(f"silence/{LONGEST_SILENCE_S}")] * whole + (
        [sound(f"silence/{rest}")] if rest else []
    )


def playback_id(call_id: str, number: int, keys: str) -> str:
    """The id vmbox gives a playback: the call, a counter, and the keys that stop it (`*` as s, `#` as h),
    so a log line (or a test's fake Asterisk) shows what the caller could do while it played."""
    tag = keys.replace("*", "s").replace("#", "h") or "none"
    return f"{call_id}-{number}-{tag}"


def keys_of(playback: str) -> str:
    """The stop keys a playback id names (the inverse of playback_id's tag)."""
    tag = playback.rsplit("-", 1)[-1]
    return "" if tag == "none" else tag.replace("s", "*").replace("h", "#")
