"""What every driver (FastAGI, ARI) does the same way: the call as the flow sees it, the loop that runs
the flow, the bookkeeping after a hang-up, and how a recorded file becomes the flow's Recording.

A driver only translates channel actions into its protocol; everything here is protocol-free.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path

from ivr.flow.actions import FINAL_ACTIONS, Collect
from ivr.flow.events import CallerHungUp, DigitsEntered
from ivr.flow.machine import Flow
from ivr.flow.model import CallInfo, Purpose, Recording
from store.audio import cut_wav, wav_info
from store.errors import NotAudio

logger = logging.getLogger(__name__)

ALL_KEYS = "0123456789*#"  # the keys a caller's phone sends
DATE_FORMAT = (
    "ABdY 'digits/at' IMp"  # how dates are said (SAY DATETIME's format, composed the same over ARI)
)
# Entry names (the AGI script, the first Stasis argument): leave a message; check messages (the
# caller's own box first); log in to any box (always asks the mailbox number); a callback call
# answered by a box's owner.
PURPOSES = {
    "leave": Purpose.LEAVE,
    "check": Purpose.CHECK,
    "login": Purpose.CHECK,
    "callback": Purpose.CALLBACK,
}


def describe_call(
    call_id: str,
    entry: str,
    arguments: Sequence[str],
    parameters: Mapping[str, str],
    caller_number: str,
    caller_name: str,
    channel: str,
) -> CallInfo:
    """The call as the flow sees it, from what the dialplan passed. `caller_number`/`caller_name`
    "unknown" (Asterisk's word for none) become "". Raises ValueError for an unknown entry name."""
    purpose = PURPOSES.get(entry)
    if purpose is None:
        raise ValueError(f"unknown vmbox entry {entry!r}; use leave, check, login or callback")
    mailbox = parameters.get("mailbox") or (arguments[0] if arguments else None)
    return CallInfo(
        call_id=call_id,
        purpose=purpose,
        mailbox=mailbox or None,
        caller_number="" if caller_number == "unknown" else caller_number,
        caller_name="" if caller_name == "unknown" else caller_name,
        channel=channel,
        operator=parameters.get("operator") or None,
        find_own_box=entry != "login",
        account_id=parameters.get("account", ""),
        max_message_s=seconds(parameters.get("max_message_length", "")),
    )


def seconds(text: str) -> int | None:
    """A positive whole number of seconds, or None for anything else (empty, 0, not a number): a
    limit the dialplan leaves to the box, as KAZOO ignores one that is not a positive integer."""
    return int(text) if text.isascii() and text.isdigit() and int(text) > 0 else None


def split_arguments(values: Sequence[str]) -> tuple[tuple[str, ...], dict[str, str]]:
    """Positional arguments and key=value parameters, as the dialplan may mix them."""
    arguments, parameters = [], {}
    for value in values:
        key, equals, rest = value.partition("=")
        if equals and key.isidentifier():
            parameters[key] = rest
        else:
            arguments.append(value)
    return tuple(arguments), parameters


def recorded(file: Path, max_s: int | None = None) -> Recording | None:
    """The Recording a WAV file on our side holds, or None when there is none (or it is not audio);
    cut to `max_s` seconds when it is longer."""
    try:
        if max_s is not None:
            cut_wav(file, max_s * 1000)
        length = wav_info(file).length_ms
    except (FileNotFoundError, NotAudio):
        return None
    return Recording(str(file), length)


def recording_stem(call_id: str, number: int) -> str:
    """A file-name-safe name for the call's `number`th recording (a call id may hold any character)."""
    safe_id = "".join(c if c.isalnum() or c in "._-" else "_" for c in call_id)
    return f"{safe_id}-{number}"


async def after_hangup(flow: Flow, services, info: CallInfo) -> None:
    """Tell the flow the caller is gone and run the bookkeeping it asks for (keeping a message)."""
    action = flow.handle(CallerHungUp())
    while not isinstance(action, FINAL_ACTIONS):
        action = flow.handle(await services.run(info, action))


async def drive(
    flow: Flow, info: CallInfo, services, execute: Callable[[object], Awaitable[object]]
):
    """Run the flow to its final action, each action carried out by `execute`; return that action.
    Cancelled (vmbox stopping), the flow still gets its hang-up so a message being left is kept."""
    action = flow.start()
    try:
        while not isinstance(action, FINAL_ACTIONS):
            action = flow.handle(await execute(action))
        return action
    except asyncio.CancelledError:
        if not flow.finished:
            await asyncio.shield(after_hangup(flow, services, info))
        raise
    finally:
        for problem in flow.problems:
            logger.warning("call %s: %s", info.call_id, problem)


async def collect_digits(
    action: Collect, key: str | None, next_key: Callable[[int], Awaitable[str | None]]
) -> DigitsEntered:
    """The digits of a Collect whose prompts were stopped by `key` (None: they played out):
    `next_key(timeout_ms)` waits for one more key (None when none came in time). `#` ends the entry."""
    digits = ""
    while True:
        if key == "#":
            return DigitsEntered(digits)
        if key is not None:
            digits += key
            if len(digits) >= action.max_digits:
                return DigitsEntered(digits)
        key = await next_key(action.next_timeout_ms if digits else action.first_timeout_ms)
        if key is None:
            return DigitsEntered(digits, timed_out=True)
