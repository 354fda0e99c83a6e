"""The caller's script: what a simulated caller does, step by step (pure: text in, steps out).

One step per line or `;`-separated; blank steps and lines starting with `#` are ignored (a key `#` is
always written after `press`, so a comment cannot be mistaken for one). Keywords are case-insensitive.

    press KEYS [after DURATION]   keys 0-9 * # A-D; `after` takes one key
    wait | silence                the caller does nothing during the next command that listens
    say tone DURATION [then press KEY | then hangup]
    say FILE [then press KEY | then hangup]
    hangup [after DURATION]

DURATION is a number with a unit: `3s`, `2.5 s`, `500ms`. What each step means during a call is
decided in `caller.py`.
"""

import re
from dataclasses import dataclass
from pathlib import Path

KEYS = "0123456789*#ABCD"
SAMPLES_PER_S = 8000


class ScriptError(ValueError):
    """A script that cannot be understood; the message names the step and what is wrong."""


@dataclass(frozen=True)
class Press:
    key: str
    after: int | None = None  # samples (8 kHz) after the start of the command that accepts the key


@dataclass(frozen=True)
class Idle:
    word: str = "wait"  # "wait" or "silence": the same behaviour, two names for readability


@dataclass(frozen=True)
class Tone:
    samples: int


@dataclass(frozen=True)
class AudioFile:
    path: Path


@dataclass(frozen=True)
class HangUp:
    after: int | None = None  # samples after the start of the next command that takes time


@dataclass(frozen=True)
class Say:
    audio: Tone | AudioFile
    then: Press | HangUp | None = None  # what the caller does when the audio ends


Step = Press | Idle | Say | HangUp

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s)", re.IGNORECASE)


def parse_duration(text: str) -> int:
    """A duration such as `3s`, `2.5 s` or `500ms`, in samples at 8 kHz. Raises ScriptError."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise ScriptError(
            f"{text.strip()!r} is not a duration; write it with a unit: 3s, 2.5s, 500ms"
        )
    value, unit = float(match[1]), match[2].lower()
    return round(value * SAMPLES_PER_S / (1000 if unit == "ms" else 1))


def _keys(text: str) -> str:
    keys = "".join(text.split()).upper()
    if not keys or any(key not in KEYS for key in keys):
        raise ScriptError(f"{text.strip()!r} are not keys; keys are {KEYS}")
    return keys


def _press(rest: str) -> list[Step]:
    parts = re.split(r"\s+after\s+", rest, maxsplit=1, flags=re.IGNORECASE)
    if len(parts) == 2:
        keys = _keys(parts[0])
        if len(keys) != 1:
            raise ScriptError("`after` takes a single key")
        return [Press(keys, parse_duration(parts[1]))]
    return [Press(key) for key in _keys(rest)]


def _hangup(rest: str) -> HangUp:
    if not rest:
        return HangUp()
    word, _, delay = rest.partition(" ")
    if word.lower() != "after":
        raise ScriptError(f"`hangup {rest}`: write `hangup` or `hangup after 2s`")
    return HangUp(parse_duration(delay))


def _say(rest: str, base_dir: Path | None) -> Say:
    what, then = (re.split(r"\s+then\s+", rest, maxsplit=1, flags=re.IGNORECASE) + [""])[:2]
    word, _, duration = what.strip().partition(" ")
    if not what.strip():
        raise ScriptError("`say` needs `tone DURATION` or a file")
    if word.lower() == "tone":
        audio: Tone | AudioFile = Tone(parse_duration(duration))
    else:
        path = Path(what.strip()).expanduser()
        audio = AudioFile(path if path.is_absolute() or base_dir is None else base_dir / path)
    return Say(audio, _then(then.strip()) if then.strip() else None)


def _then(text: str) -> Press | HangUp:
    word, _, rest = text.partition(" ")
    if word.lower() == "hangup" and not rest.strip():
        return HangUp()
    if word.lower() == "press" and len(_keys(rest)) == 1:
        return Press(_keys(rest))
    raise ScriptError(f"`then {text}`: write `then press KEY` or `then hangup`")


def parse_step(text: str, base_dir: Path | None = None) -> list[Step]:
    """The steps one script step stands for (`press 12` is two). Raises ScriptError."""
    word, _, rest = text.strip().partition(" ")
    word, rest = word.lower(), rest.strip()
    if word == "press":
        return _press(rest)
    if word in ("wait", "silence") and not rest:
        return [Idle(word)]
    if word == "say":
        return [_say(rest, base_dir)]
    if word == "hangup":
        return [_hangup(rest)]
    raise ScriptError(f"unknown step {text.strip()!r}; steps are press, wait, silence, say, hangup")


def parse_script(text: str, base_dir: Path | None = None) -> tuple[Step, ...]:
    """All steps of a script, in order. Relative `say FILE` paths are taken from `base_dir` when given.
    Raises ScriptError naming the faulty step."""
    steps: list[Step] = []
    for line in text.splitlines():
        if line.strip().startswith("#"):
            continue
        for part in line.split(";"):
            if not part.strip():
                continue
            try:
                steps += parse_step(part, base_dir)
            except ScriptError as exc:
                raise ScriptError(f"step {len(steps) + 1} ({part.strip()!r}): {exc}") from None
    return tuple(steps)


def describe(step: Step) -> str:
    """A step written back as script text (for messages)."""
    if isinstance(step, Press):
        return f"press {step.key}" + (
            f" after {step.after / SAMPLES_PER_S:g}s" if step.after is not None else ""
        )
    if isinstance(step, Idle):
        return step.word
    if isinstance(step, HangUp):
        return "hangup" + (
            f" after {step.after / SAMPLES_PER_S:g}s" if step.after is not None else ""
        )
    audio = (
        f"tone {step.audio.samples / SAMPLES_PER_S:g}s"
        if isinstance(step.audio, Tone)
        else str(step.audio.path)
    )
    return f"say {audio}" + (f" then {describe(step.then)}" if step.then is not None else "")
